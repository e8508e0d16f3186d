"""Reading what providers send, one field at a time.

A missing or malformed field raises ValueError with a reason that names the provider and
the field ("The Cal.com webhook has no uid."), which the webhook door answers with 400.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime


def header(headers: Mapping[str, str], name: str) -> str:
    """Return a header's value in any case of its name ("" when absent)."""
    # Django's request.headers ignores case; a plain dict (tests, replays) does not.
    value = headers.get(name)
    if value is None:
        lower = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lower), "")
    return value or ""


@dataclass(frozen=True)
class Fields:
    """The field readers of one source, named in its errors ("The DocuSeal webhook")."""

    source: str

    def text(self, raw: Any, field: str) -> str:
        """Return a required, non-blank string, stripped."""
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError(f"{self.source} has no {field}.")
        return raw.strip()

    def integer(self, raw: Any, field: str) -> int:
        """Return a required whole number, given as a number or as its digits."""
        number = self.optional_integer(raw, field)
        if number is None:
            raise ValueError(f"{self.source} has no {field}.")
        return number

    def optional_integer(self, raw: Any, field: str) -> int | None:
        """Return a whole number, or None when the field is absent or empty."""
        if raw is None or raw == "":
            return None
        # bool is an int to Python, never an id to a provider.
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ValueError(f"{self.source}'s {field} is not a number: {raw!r}.")
        try:
            return int(raw)
        except ValueError as exc:
            raise ValueError(f"{self.source}'s {field} is not a number: {raw!r}.") from exc

    def moment(self, raw: Any, field: str) -> datetime:
        """Return a required ISO 8601 date and time; one without an offset is UTC."""
        if not isinstance(raw, str):
            raise ValueError(f"{self.source} has no {field}.")
        try:
            parsed = parse_datetime(raw)
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(f"{self.source}'s {field} is not a date and time: {raw!r}.")
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
