import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integrations import calcom
from integrations.errors import SignatureError, UnhandledEvent

FIXTURES = Path(__file__).parent / "fixtures" / "calcom"
SECRET = "calcom-webhook-secret"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str):
    return json.loads(fixture_bytes(name))


def sign(body: bytes, secret: str = SECRET) -> str:
    """Sign like Cal.com's sendPayload: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def configured(settings):
    settings.CALCOM_WEBHOOK_SECRET = SECRET
    return settings


def test_it_accepts_a_body_signed_with_the_secret():
    body = fixture_bytes("booking_created.json")

    calcom.verify_webhook(body, {"X-Cal-Signature-256": sign(body)})


def test_it_reads_the_signature_header_in_any_case_with_or_without_a_sha256_prefix():
    body = fixture_bytes("booking_created.json")

    calcom.verify_webhook(body, {"x-cal-signature-256": sign(body).upper()})
    calcom.verify_webhook(body, {"X-Cal-Signature-256": "sha256=" + sign(body)})


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Cal-Signature-256": sign(b"{}", "another-secret")},
        {"X-Cal-Signature-256": "no-secret-provided"},
        {"X-Cal-Signature-256": "sha256="},
        {"X-Cal-Signature-256": "ñ" * 64},
        {},
    ],
)
def test_it_rejects_a_body_without_the_right_signature(headers):
    with pytest.raises(SignatureError):
        calcom.verify_webhook(b"{}", headers)


def test_it_rejects_a_signature_of_another_body():
    body = fixture_bytes("booking_created.json")

    with pytest.raises(SignatureError):
        calcom.verify_webhook(body + b" ", {"X-Cal-Signature-256": sign(body)})


def test_it_rejects_every_webhook_when_no_secret_is_configured(configured):
    configured.CALCOM_WEBHOOK_SECRET = ""
    body = b"{}"

    with pytest.raises(SignatureError):
        calcom.verify_webhook(body, {"X-Cal-Signature-256": sign(body, "")})


def test_it_reads_a_booking_created_event():
    booking = calcom.parse_event(fixture_bytes("booking_created.json"))

    assert booking == calcom.CalcomBooking(
        event_type="BOOKING_CREATED",
        created_at=datetime(2026, 11, 25, 14, 3, 11, 512000, tzinfo=UTC),
        event_id="BOOKING_CREATED:bFJeNb2uX8ANpT3JL5EfXw:2026-11-25T14:03:11.512Z",
        uid="bFJeNb2uX8ANpT3JL5EfXw",
        previous_uid="",
        booking_id=91,
        title="Asesoría de crédito entre Andrea Quispe y Rosa Huamán",
        starts_at=datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 1, 15, 30, tzinfo=UTC),
        status="ACCEPTED",
        location="Cal Video",
        video_url="https://app.cal.com/video/bFJeNb2uX8ANpT3JL5EfXw",
        organizer_email="andrea.quispe@cartera.example",
        organizer_name="Andrea Quispe",
        attendee_name="Rosa Huamán",
        attendee_email="rosa.huaman@example.com",
        attendee_phone="+51987654321",
        notes="Quiero financiar un auto usado",
        cancellation_reason="",
    )


def test_it_reads_the_new_and_the_original_booking_of_a_reschedule():
    booking = calcom.parse_event(fixture_bytes("booking_rescheduled.json"))

    assert booking.event_type == calcom.BOOKING_RESCHEDULED
    assert booking.uid == "k2Lw9TqXb7nPz4RsVd1YcE"
    assert booking.previous_uid == "bFJeNb2uX8ANpT3JL5EfXw"
    assert booking.booking_id == 92
    assert booking.starts_at == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
    assert booking.event_id == "BOOKING_RESCHEDULED:k2Lw9TqXb7nPz4RsVd1YcE:2026-11-26T09:15:42.007Z"


def test_it_reads_a_cancellation_and_its_reason():
    booking = calcom.parse_event(fixture_bytes("booking_cancelled.json"))

    assert booking.event_type == calcom.BOOKING_CANCELLED
    assert booking.status == "CANCELLED"
    assert booking.cancellation_reason == "Ya conseguí el financiamiento"
    assert booking.previous_uid == ""


def test_it_falls_back_to_the_booking_form_answers_for_the_attendee():
    payload = fixture_json("booking_created.json")
    payload["payload"]["attendees"] = [{"name": "", "email": "", "timeZone": "America/Lima"}]
    payload["payload"]["responses"]["name"]["value"] = {"firstName": "Rosa", "lastName": "Huamán"}
    payload["payload"]["additionalNotes"] = ""

    booking = calcom.parse_event(json.dumps(payload).encode())

    assert booking.attendee_name == "Rosa Huamán"
    assert booking.attendee_email == "rosa.huaman@example.com"
    assert booking.attendee_phone == "+51987654321"
    assert booking.notes == "Quiero financiar un auto usado"


def test_it_keeps_an_address_and_drops_a_video_link_that_is_not_a_web_address():
    payload = fixture_json("booking_created.json")
    payload["payload"]["location"] = "Av. Arequipa 100, Lima"
    payload["payload"]["metadata"] = {"videoCallUrl": "javascript:alert(1)"}

    booking = calcom.parse_event(json.dumps(payload).encode())

    assert booking.location == "Av. Arequipa 100, Lima"
    assert booking.video_url == ""


def test_it_gives_a_redelivery_the_same_event_id_and_another_event_a_new_one():
    body = fixture_bytes("booking_created.json")
    later = fixture_json("booking_created.json")
    later["createdAt"] = "2026-11-25T14:05:00.000Z"

    first = calcom.parse_event(body)
    again = calcom.parse_event(body)
    other = calcom.parse_event(json.dumps(later).encode())

    assert again.event_id == first.event_id
    assert other.event_id != first.event_id


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"createdAt": "2026-11-25T14:03:11Z", "payload": {}}',
        b'{"triggerEvent": "BOOKING_CREATED", "createdAt": "yesterday", "payload": {}}',
        b'{"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-25T14:03:11Z"}',
        b'{"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-25T14:03:11Z",'
        b' "payload": {"startTime": "2026-12-01T15:00:00Z", "endTime": "2026-12-01T15:30:00Z"}}',
        b'{"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-25T14:03:11Z",'
        b' "payload": {"uid": "abc", "startTime": "2026-12-01T15:00:00Z"}}',
        b'{"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-25T14:03:11Z",'
        b' "payload": {"uid": "abc", "startTime": "2026-12-01T15:00:00Z",'
        b' "endTime": "2026-12-01T14:00:00Z"}}',
        b'{"triggerEvent": "BOOKING_CREATED", "createdAt": "2026-11-25T14:03:11Z",'
        b' "payload": {"uid": "abc", "startTime": "2026-12-01T15:00:00Z",'
        b' "endTime": "2026-12-01T15:30:00Z", "bookingId": "ninety-one"}}',
    ],
)
def test_it_refuses_a_body_that_is_not_a_booking_event(body):
    with pytest.raises(ValueError) as raised:
        calcom.parse_event(body)

    assert not isinstance(raised.value, UnhandledEvent)


@pytest.mark.parametrize(
    "body",
    [
        fixture_bytes("ping.json"),
        b'{"triggerEvent": "MEETING_ENDED", "createdAt": "2026-11-25T14:03:11Z", "payload": {}}',
        b'{"triggerEvent": "BOOKING_REQUESTED"}',
    ],
)
def test_it_leaves_aside_a_ping_and_the_triggers_it_does_not_act_on(body):
    # UnhandledEvent is a ValueError too, for whoever reads "a booking or ValueError".
    with pytest.raises(UnhandledEvent):
        calcom.parse_event(body)


def test_the_door_checks_the_signature_and_reads_the_booking_into_its_event_id():
    envelope = fixture_json("booking_created.json")

    assert calcom.WEBHOOK.provider == "calcom"
    assert calcom.WEBHOOK.verify is calcom.verify_webhook
    assert calcom.WEBHOOK.event_id(envelope) == calcom.read_event(envelope).event_id
    assert calcom.read_event(envelope) == calcom.parse_event(fixture_bytes("booking_created.json"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bookingId", 10**25),
        ("bookingId", -3),
        ("bookingId", 0),
        ("bookingId", "٣"),
        ("bookingId", "+7"),
        ("startTime", "0001-01-01T00:00:00Z"),
        ("startTime", "2999-12-01T15:00:00Z"),
    ],
)
def test_it_refuses_an_absurd_booking_id_or_time(field, value):
    # A booking id past 64 bits failed the insert on every retry; year 1 failed the
    # timeline's local time, and year 2999 stayed on the agenda.
    envelope = fixture_json("booking_created.json")
    envelope["payload"][field] = value
    if field == "startTime":
        envelope["payload"]["endTime"] = value

    with pytest.raises(ValueError, match=r"out of range|not a number"):
        calcom.read_event(envelope)


def test_it_refuses_an_event_dated_days_ahead_of_our_clock():
    # createdAt orders a booking's events: dated ahead, every later reschedule or
    # cancellation of the booking would have been left aside as older.
    envelope = fixture_json("booking_created.json")
    envelope["createdAt"] = (datetime.now(UTC) + timedelta(days=2)).isoformat()

    with pytest.raises(ValueError, match="createdAt is out of range"):
        calcom.read_event(envelope)


def test_it_takes_a_booking_months_ahead():
    envelope = fixture_json("booking_created.json")
    start = datetime.now(UTC) + timedelta(days=200)
    envelope["payload"]["startTime"] = start.isoformat()
    envelope["payload"]["endTime"] = (start + timedelta(minutes=30)).isoformat()

    assert calcom.read_event(envelope).starts_at == start
