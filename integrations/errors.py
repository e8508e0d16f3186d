"""The errors every provider module turns its failures into."""

import traceback

# How much of a traceback to keep in a last_error column.
TRACEBACK_SUMMARY_CHARS = 4000


class ProviderError(Exception):
    """The provider refused the call for good (bad data, unknown record): retrying won't help."""


class TemporaryProviderError(ProviderError):
    """The provider could not answer now (timeout, connection error, 429, 5xx): retry later.

    `retry_after` is the wait in seconds the provider asked for (a 429's Retry-After), if any.
    """

    def __init__(self, *args: object, retry_after: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after = retry_after


class OptedOut(ProviderError):
    """The recipient opted out with the provider (replied STOP to Twilio): the provider
    refuses every message to that number until they opt in again there, so the customer is
    to be marked as not to be contacted.

    `notice` says so in a sentence for the customer's timeline, with the provider's code.
    """

    def __init__(self, *args: object, notice: str = "") -> None:
        super().__init__(*args)
        self.notice = notice


class SignatureError(Exception):
    """A webhook's signature or secret does not match: answer 401/403 and store nothing."""


class InvalidPayload(ValueError):
    """A webhook body we cannot read (not JSON, too deep...): answer 400 and store nothing."""


class UnhandledEvent(ValueError):
    """A well-formed webhook about something we do not act on: answer 200, store nothing.

    Raised at the door, before anything is stored (a Cal.com PING, a DocuSeal template.*
    event), unlike webhooks.IgnoreEvent, which a processor raises on a stored event.
    A ValueError, so that code reading a body "or raising ValueError" keeps working.
    """


def traceback_summary(exc: BaseException) -> str:
    """Return the exception with its last frames, short enough to read in the admin."""
    text = "".join(traceback.format_exception(exc, limit=-5))
    return text[-TRACEBACK_SUMMARY_CHARS:]
