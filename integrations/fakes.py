"""In-memory stand-ins for tests and the demo."""

from typing import Any


class RecordingSender:
    """An outbox sender that records payloads instead of calling a provider.

    Give it errors to raise first, one per call, to script an outage:
    `RecordingSender(TemporaryProviderError("503"))` fails once, then records.
    """

    def __init__(self, *errors: Exception) -> None:
        self.sent: list[dict[str, Any]] = []
        self.errors = list(errors)

    def __call__(self, payload: dict[str, Any]) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(payload)
