"""Reading what providers send, one field at a time.

A missing or malformed field raises ValueError with a reason that names the provider and
the field ("The Cal.com webhook has no uid."), which the webhook door answers with 400.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

# A provider's ids are positive and fit the 64-bit columns that keep them (PostgreSQL's
# bigint); a larger one failed the event's processing on every retry, on the insert.
MAX_ID = 2**63 - 1
# The moments a provider may date something: none of them run before 2000, and no booking
# or signature is dated decades ahead. Year 1 failed its processing (its local time is
# year 0), and year 9999 stayed on the agenda.
EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_MOMENT_AHEAD = timedelta(days=10 * 366)
# How far ahead of ours a provider's clock may date what has already happened (when an
# event was sent): more, and every later event of the record looked older than it.
CLOCK_AHEAD = timedelta(days=1)


def without_nul(data: Any) -> Any:
    """Return parsed provider data with NUL characters taken out of its texts and keys.

    PostgreSQL's text refuses NUL, so a lead's name, a message or a note carrying one
    (`%00` in a form, `\\u0000` in JSON) failed its processing on every retry. Every door
    a provider's data comes in by uses this: the webhooks' parsers, a stored event's
    payload, and the answers of our calls (`http.answer_json`). Walked without recursion:
    the data may be nested as deep as its parser allows.
    """
    if isinstance(data, str):
        return data.replace("\x00", "")
    pending = [data] if isinstance(data, dict | list) else []
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key in [k for k in item if isinstance(k, str) and "\x00" in k]:
                item[key.replace("\x00", "")] = item.pop(key)
            pairs = list(item.items())
        else:
            pairs = list(enumerate(item))
        for key, value in pairs:
            if isinstance(value, str):
                if "\x00" in value:
                    item[key] = value.replace("\x00", "")
            elif isinstance(value, dict | list):
                pending.append(value)
    return data


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
        """Return a required provider id (see optional_integer)."""
        number = self.optional_integer(raw, field)
        if number is None:
            raise ValueError(f"{self.source} has no {field}.")
        return number

    def optional_integer(self, raw: Any, field: str) -> int | None:
        """Return a provider's id (1 to MAX_ID), or None when the field is absent or empty.

        Given as a number or as its ASCII digits: int() would also take "+7", "1_000",
        " 7 " and other scripts' digits ("٣"), which no provider sends.
        """
        if raw is None or raw == "":
            return None
        # bool is an int to Python, never an id to a provider.
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ValueError(f"{self.source}'s {field} is not a number: {raw!r}.")
        if isinstance(raw, str) and not (raw.isascii() and raw.isdigit()):
            raise ValueError(f"{self.source}'s {field} is not a number: {raw[:40]!r}.")
        if isinstance(raw, str) and len(raw) > len(str(MAX_ID)):
            raise ValueError(f"{self.source}'s {field} is out of range: {raw[:40]!r}.")
        number = int(raw)
        if not 1 <= number <= MAX_ID:
            raise ValueError(f"{self.source}'s {field} is out of range: {number}.")
        return number

    def moment(
        self, raw: Any, field: str, *, max_ahead: timedelta = LATEST_MOMENT_AHEAD
    ) -> datetime:
        """Return a required ISO 8601 date and time; one without an offset is UTC.

        Refused outside EARLIEST_MOMENT to `max_ahead` from now (see is_plausible_moment).
        """
        if not isinstance(raw, str):
            raise ValueError(f"{self.source} has no {field}.")
        try:
            parsed = parse_datetime(raw)
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(f"{self.source}'s {field} is not a date and time: {raw!r}.")
        moment = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
        if not is_plausible_moment(moment, max_ahead=max_ahead):
            raise ValueError(f"{self.source}'s {field} is out of range: {raw!r}.")
        return moment


def is_plausible_moment(moment: datetime, *, max_ahead: timedelta = LATEST_MOMENT_AHEAD) -> bool:
    """Whether an aware moment a provider sent falls from EARLIEST_MOMENT to `max_ahead`
    from now: LATEST_MOMENT_AHEAD for what is planned (a booking), CLOCK_AHEAD for what
    has happened (when an event was sent)."""
    try:
        return EARLIEST_MOMENT <= moment <= timezone.now() + max_ahead
    except OverflowError:  # an offset that moves year 1 or 9999 out of the calendar
        return False
