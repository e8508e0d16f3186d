"""Cal.com: check and read its booking webhooks.

Every webhook is a JSON object `{"triggerEvent", "createdAt", "payload"}`; for the booking
triggers, `payload` is the booking: its `uid`, times, organizer, attendees and the
booking form's `responses`. A reschedule makes a new booking: `uid` is the new one and
`rescheduleUid` the original's. Cal.com sends no event id, and a "Ping test" from its
settings page arrives as triggerEvent `PING` with a sample payload.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from integrations import payloads, webhooks
from integrations.errors import SignatureError, UnhandledEvent

_FIELDS = payloads.Fields("The Cal.com webhook")

# The hex HMAC-SHA256 of the raw body under the webhook's secret.
# https://cal.com/docs/developing/guides/automation/webhooks#verifying-the-authenticity-of-the-received-payload
SIGNATURE_HEADER = "X-Cal-Signature-256"
# Some senders and proxies write the digest as "sha256=<hex>", as GitHub does.
SIGNATURE_PREFIX = "sha256="

# The triggers about one booking's life that `parse_event` reads.
# https://cal.com/docs/developing/guides/automation/webhooks#webhook-variable-list
BOOKING_CREATED = "BOOKING_CREATED"
BOOKING_RESCHEDULED = "BOOKING_RESCHEDULED"
BOOKING_CANCELLED = "BOOKING_CANCELLED"
BOOKING_TRIGGERS = (BOOKING_CREATED, BOOKING_RESCHEDULED, BOOKING_CANCELLED)
# The test event of the "Ping test" button.
PING = "PING"

# `location` holds an app's id when the meeting happens in a video app; the link itself
# is in `metadata.videoCallUrl`. The apps Cal.com's booking page offers most often.
# https://cal.com/docs/developing/guides/automation/webhooks#an-example-webhook-payload
_VIDEO_APPS = {
    "integrations:daily": "Cal Video",
    "integrations:zoom": "Zoom",
    "integrations:google:meet": "Google Meet",
    "integrations:office365_video": "Microsoft Teams",
    "integrations:whereby_video": "Whereby",
    "integrations:jitsi": "Jitsi",
}


@dataclass(frozen=True)
class CalcomBooking:
    """A booking webhook, read into the fields a processor needs."""

    event_type: str
    # When Cal.com sent the event: orders the events about one booking.
    created_at: datetime
    # A stable id for the inbox: Cal.com sends none (see _event_id).
    event_id: str
    uid: str
    # The booking this one replaces: the original's uid on BOOKING_RESCHEDULED, else "".
    previous_uid: str
    booking_id: int | None
    title: str
    starts_at: datetime
    ends_at: datetime
    # Cal.com's status of the booking: "ACCEPTED", "CANCELLED", "PENDING", "REJECTED".
    status: str
    location: str
    video_url: str
    organizer_email: str
    organizer_name: str
    # The first attendee: the person who booked (any others are their guests).
    attendee_name: str
    attendee_email: str
    # As typed on the booking form; not normalized.
    attendee_phone: str
    notes: str
    cancellation_reason: str


def verify_webhook(body: bytes, headers: Mapping[str, str]) -> None:
    """Raise SignatureError unless X-Cal-Signature-256 is the HMAC-SHA256 of the body."""
    secret = settings.CALCOM_WEBHOOK_SECRET
    if not secret:
        # Without a secret Cal.com signs nothing ("no-secret-provided"): refuse everything.
        raise SignatureError("No Cal.com webhook secret is configured.")
    signature = payloads.header(headers, SIGNATURE_HEADER).strip()
    if signature.lower().startswith(SIGNATURE_PREFIX):
        signature = signature[len(SIGNATURE_PREFIX) :]
    if not signature:
        raise SignatureError(f"The request has no {SIGNATURE_HEADER} header.")
    webhooks.verify_hmac_sha256(secret, body, signature)


def parse_event(body: bytes) -> CalcomBooking:
    """Read a booking created, rescheduled or cancelled webhook; raise ValueError otherwise.

    PING and the triggers we do not act on raise UnhandledEvent (a ValueError).
    """
    return read_event(webhooks.parse_json_object(body))


def read_event(envelope: Mapping[str, Any]) -> CalcomBooking:
    """Read a webhook's parsed JSON object; raise ValueError when it is no booking event.

    UnhandledEvent (a ValueError) for PING and other triggers; a plain ValueError for a
    booking event missing what it must carry (uid, times...).
    """
    event_type = envelope.get("triggerEvent")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("The Cal.com webhook has no triggerEvent.")
    if event_type not in BOOKING_TRIGGERS:
        # PING, meetings, recordings, forms...: nothing about a booking's life.
        raise UnhandledEvent(f"Unsupported Cal.com trigger {event_type!r}.")
    raw_created_at = envelope.get("createdAt")
    # It orders a booking's events: one dated ahead would make every later one look stale.
    created_at = _FIELDS.moment(raw_created_at, "createdAt", max_ahead=payloads.CLOCK_AHEAD)
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise ValueError(f"The Cal.com {event_type} webhook has no payload object.")

    uid = _FIELDS.text(payload.get("uid"), "uid")
    starts_at = _FIELDS.moment(payload.get("startTime"), "startTime")
    ends_at = _FIELDS.moment(payload.get("endTime"), "endTime")
    if ends_at < starts_at:
        raise ValueError("The Cal.com booking ends before it starts.")
    organizer = _object(payload.get("organizer"))
    attendees = payload.get("attendees")
    first = _object(attendees[0]) if isinstance(attendees, list) and attendees else {}
    responses = _object(payload.get("responses"))
    metadata = _object(payload.get("metadata"))
    previous_uid = _text(payload.get("rescheduleUid")) if event_type == BOOKING_RESCHEDULED else ""

    return CalcomBooking(
        event_type=event_type,
        created_at=created_at,
        event_id=f"{event_type}:{uid}:{raw_created_at}",
        uid=uid,
        previous_uid=previous_uid,
        booking_id=_FIELDS.optional_integer(payload.get("bookingId"), "bookingId"),
        title=_text(payload.get("title")),
        starts_at=starts_at,
        ends_at=ends_at,
        status=_text(payload.get("status")).upper(),
        location=_location(payload.get("location")),
        video_url=_web_url(metadata.get("videoCallUrl")),
        organizer_email=_text(organizer.get("email")),
        organizer_name=_text(organizer.get("name")),
        attendee_name=_text(first.get("name")) or _response(responses, "name"),
        attendee_email=_text(first.get("email")) or _response(responses, "email"),
        attendee_phone=_text(first.get("phoneNumber"))
        or _response(responses, "attendeePhoneNumber"),
        notes=_text(payload.get("additionalNotes")) or _response(responses, "notes"),
        cancellation_reason=_text(payload.get("cancellationReason")),
    )


def _webhook_event_id(envelope: Mapping[str, Any]) -> str:
    return read_event(envelope).event_id


# The /webhooks/calcom/ door (crm.webhooks): signed body, JSON object, booking events only.
WEBHOOK = webhooks.Endpoint(provider="calcom", verify=verify_webhook, event_id=_webhook_event_id)


def _response(responses: Mapping[str, Any], field: str) -> str:
    # A booking-form answer is {"label": ..., "value": ...}; the name field's value may be
    # {"firstName", "lastName"} when the event type splits it.
    answer = _object(responses.get(field))
    value = answer.get("value")
    if isinstance(value, dict):
        return " ".join(
            _text(value.get(part)) for part in ("firstName", "lastName") if value.get(part)
        )
    return _text(value)


def _location(raw: Any) -> str:
    location = _text(raw)
    if location.startswith("integrations:"):
        return _VIDEO_APPS.get(location, location.removeprefix("integrations:").title())
    return location


def _web_url(raw: Any) -> str:
    # Shown as a link: only http(s), never a javascript: or data: URL.
    url = _text(raw)
    return url if url.lower().startswith(("https://", "http://")) else ""


def _object(raw: Any) -> dict:
    return raw if isinstance(raw, dict) else {}


def _text(raw: Any) -> str:
    return raw.strip() if isinstance(raw, str) else ""
