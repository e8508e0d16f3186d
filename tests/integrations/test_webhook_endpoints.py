"""Every provider's webhook URL answers the same way, through the one door of the inbox.

Each case posts a captured payload (tests/integrations/fixtures/<provider>/) to the real
URL with the Django test client, with or without the provider's credentials, and checks
the answer and what the inbox kept. What the processors then do with an event is the
business of each app's own tests (crm, credits, callcenter).
"""

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.urls import reverse

from integrations.models import WebhookEvent

FIXTURES = Path(__file__).parent / "fixtures"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

CALCOM_SECRET = "calcom-webhook-secret"
DOCUSEAL_SECRET = "docuseal-webhook-secret"
KOMMO_TOKEN = "kommo-path-token-0123456789"


def fixture(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / name).read_bytes()


def edited(provider: str, name: str, edit: Callable[[dict], None]) -> bytes:
    data = json.loads(fixture(provider, name))
    edit(data)
    return json.dumps(data).encode()


def nested_json(levels: int) -> bytes:
    data: dict = {"leaf": True}
    for _ in range(levels - 1):
        data = {"child": data}
    return json.dumps(data).encode()


# What an attacker sends to crash a recursive parser: 100,000 lists, one in another.
NESTED_100K = b'{"payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def calcom_signature(body: bytes, secret: str = CALCOM_SECRET) -> dict[str, str]:
    """Sign like Cal.com: the hex HMAC-SHA256 of the raw body under the webhook's secret."""
    return {"X-Cal-Signature-256": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def docuseal_secret(body: bytes, secret: str = DOCUSEAL_SECRET) -> dict[str, str]:
    """The secret header as typed in DocuSeal's webhook settings."""
    return {"X-Docuseal-Secret": secret}


KOMMO_STATUS = fixture("kommo", "lead_status_to_queue.txt")
KOMMO_ACCOUNT = b"account%5Bsubdomain%5D=cartera"
KOMMO_LEAD_ID = b"leads%5Bstatus%5D%5B0%5D%5Bid%5D=25399013&"


@dataclass(frozen=True)
class Door:
    """One provider's webhook URL and what it is sent."""

    provider: str
    url: str
    content_type: str
    # The credentials a genuine call carries for this body (headers).
    credentials: Callable[[bytes], dict[str, str]]
    good: bytes
    ignored: dict[str, bytes]
    # Bodies sent with the right credentials that the door must refuse with 400, and
    # what the reason says.
    malformed: dict[str, tuple[bytes, str]]
    # (body, headers) of calls that are not the provider's, or not for our account.
    forged: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)


CALCOM = Door(
    provider="calcom",
    url=reverse("crm:calcom_webhook"),
    content_type=JSON,
    credentials=calcom_signature,
    good=fixture("calcom", "booking_created.json"),
    ignored={
        "ping": fixture("calcom", "ping.json"),
        "meeting-ended": edited(
            "calcom", "booking_created.json", lambda d: d.update(triggerEvent="MEETING_ENDED")
        ),
    },
    malformed={
        "not-json": (b"triggerEvent=BOOKING_CREATED", "not JSON"),
        "json-array": (
            b"[" + fixture("calcom", "booking_created.json") + b"]",
            "not a JSON object",
        ),
        "nested-too-deep": (nested_json(40), "deeper than 32"),
        "nested-beyond-the-recursion-limit": (
            b'{"payload": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
            "deeper than 32",
        ),
        "nested-100000-levels": (NESTED_100K, "deeper than 32"),
        "no-trigger": (
            edited("calcom", "booking_created.json", lambda d: d.pop("triggerEvent")),
            "no triggerEvent",
        ),
        "booking-without-uid": (
            edited("calcom", "booking_created.json", lambda d: d["payload"].pop("uid")),
            "no uid",
        ),
        "booking-with-a-bad-start": (
            edited(
                "calcom", "booking_created.json", lambda d: d["payload"].update(startTime="mañana")
            ),
            "startTime is not a date",
        ),
        "booking-without-payload": (
            edited("calcom", "booking_cancelled.json", lambda d: d.pop("payload")),
            "no payload",
        ),
    },
    forged={
        "wrong-signature": (
            fixture("calcom", "booking_created.json"),
            calcom_signature(fixture("calcom", "booking_created.json"), "another-secret"),
        ),
        "unsigned": (fixture("calcom", "booking_created.json"), {}),
        "signature-of-another-body": (
            fixture("calcom", "booking_created.json"),
            calcom_signature(fixture("calcom", "booking_cancelled.json")),
        ),
        "unsigned-and-malformed": (b"not json", {}),
    },
)

DOCUSEAL = Door(
    provider="docuseal",
    url=reverse("credits:docuseal_webhook"),
    content_type=JSON,
    credentials=docuseal_secret,
    good=fixture("docuseal", "form_completed.json"),
    ignored={
        "template-created": json.dumps(
            {
                "event_type": "template.created",
                "timestamp": "2023-09-24T13:48:36Z",
                "data": {"id": 3, "slug": "tmpl-3", "name": "Contrato de crédito"},
            }
        ).encode(),
    },
    malformed={
        "not-json": (b"event_type=form.completed", "not JSON"),
        "json-array": (
            b"[" + fixture("docuseal", "form_completed.json") + b"]",
            "not a JSON object",
        ),
        "nested-too-deep": (nested_json(40), "deeper than 32"),
        "nested-100000-levels": (NESTED_100K, "deeper than 32"),
        "no-event-type": (
            edited("docuseal", "form_completed.json", lambda d: d.pop("event_type")),
            "no event_type",
        ),
        "form-without-submission": (
            edited(
                "docuseal",
                "form_completed.json",
                lambda d: [d["data"].pop("submission_id"), d["data"].pop("submission")],
            ),
            "no submission_id",
        ),
        "submission-with-a-bad-id": (
            edited("docuseal", "submission_completed.json", lambda d: d["data"].update(id="one")),
            "data.id is not a number",
        ),
        "bad-timestamp": (
            edited("docuseal", "form_declined.json", lambda d: d.update(timestamp="yesterday")),
            "timestamp is not a date",
        ),
    },
    forged={
        "wrong-secret": (
            fixture("docuseal", "form_completed.json"),
            docuseal_secret(b"", "another-secret"),
        ),
        "no-secret-header": (fixture("docuseal", "form_completed.json"), {}),
        "no-secret-and-malformed": (b"[]", {}),
    },
)

KOMMO = Door(
    provider="kommo",
    url=reverse("callcenter:kommo_webhook", args=[KOMMO_TOKEN]),
    content_type=FORM,
    # Kommo signs nothing: the token is in the URL, the account in the body.
    credentials=lambda body: {},
    good=KOMMO_STATUS,
    ignored={"contact-update": fixture("kommo", "contact_update.txt")},
    malformed={
        "not-a-form": (b"not a form", "not form-encoded"),
        "json": (json.dumps({"account": {"subdomain": "cartera"}}).encode(), "not form-encoded"),
        "key-nested-too-deep": (
            KOMMO_STATUS + b"&leads" + b"%5Bx%5D" * 40 + b"=1",
            "deeper than 32",
        ),
        "key-nested-100000-levels": (
            KOMMO_STATUS + b"&leads" + b"%5Bx%5D" * 100_000 + b"=1",
            "deeper than 32",
        ),
        "too-many-fields": (
            KOMMO_STATUS
            + b"".join(b"&leads%%5Bstatus%%5D%%5B0%%5D%%5Bx%d%%5D=1" % n for n in range(5000)),
            "more than 5000 form fields",
        ),
        "lead-without-id": (KOMMO_STATUS.replace(KOMMO_LEAD_ID, b""), "item has no id"),
        "no-account": (KOMMO_STATUS.replace(KOMMO_ACCOUNT, b"x=1"), "no account[subdomain]"),
    },
    forged={
        "another-account": (
            KOMMO_STATUS.replace(KOMMO_ACCOUNT, b"account%5Bsubdomain%5D=otra"),
            {},
        ),
        "another-account-and-a-lead-without-id": (
            KOMMO_STATUS.replace(KOMMO_ACCOUNT, b"account%5Bsubdomain%5D=otra").replace(
                KOMMO_LEAD_ID, b""
            ),
            {},
        ),
    },
)

DOORS = (CALCOM, DOCUSEAL, KOMMO)


def cases(attribute: str) -> list:
    return [
        pytest.param(door, value, id=f"{door.provider}-{name}")
        for door in DOORS
        for name, value in getattr(door, attribute).items()
    ]


def doors() -> list:
    return [pytest.param(door, id=door.provider) for door in DOORS]


@pytest.fixture(autouse=True)
def providers(settings):
    settings.CALCOM_WEBHOOK_SECRET = CALCOM_SECRET
    settings.DOCUSEAL_WEBHOOK_SECRET = DOCUSEAL_SECRET
    settings.DOCUSEAL_WEBHOOK_HEADER = "X-Docuseal-Secret"
    settings.KOMMO_WEBHOOK_SECRET = KOMMO_TOKEN
    settings.KOMMO_SUBDOMAIN = "cartera"
    settings.KOMMO_ACCOUNT_ID = ""
    # No API token: the Kommo processor works from the webhook alone.
    settings.KOMMO_TOKEN = ""
    return settings


@pytest.fixture
def post(db, client, django_capture_on_commit_callbacks):
    """Post a body to a door, with its right credentials unless headers are given."""

    def send(door: Door, body: bytes, headers: dict[str, str] | None = None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                door.url,
                data=body,
                content_type=door.content_type,
                headers=door.credentials(body) if headers is None else headers,
            )

    return send


@pytest.mark.parametrize("door", doors())
def test_it_stores_a_good_event_and_processes_it_once(post, door):
    response = post(door, door.good)

    event = WebhookEvent.objects.get()
    assert response.status_code == 200
    assert response.json() == {"status": "stored", "id": event.pk}
    assert event.provider == door.provider
    assert event.raw_body.encode() == door.good
    # The processor ran once and finished (whether it had anything to change is for the
    # app's own tests).
    assert event.attempts == 1
    assert event.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED)


@pytest.mark.parametrize("door", doors())
def test_it_keeps_the_same_delivery_once(post, door, django_capture_on_commit_callbacks):
    first = post(door, door.good)

    with django_capture_on_commit_callbacks() as enqueued:
        again = post(door, door.good)

    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "id": first.json()["id"]}
    assert enqueued == []
    event = WebhookEvent.objects.get()
    assert event.attempts == 1


@pytest.mark.parametrize(("door", "call"), cases("malformed"))
def test_it_answers_400_with_a_reason_to_a_malformed_body_and_stores_nothing(post, door, call):
    body, reason = call

    response = post(door, body)

    assert response.status_code == 400
    assert reason in response.json()["detail"]
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize(("door", "call"), cases("forged"))
def test_it_answers_403_to_a_forged_or_unsigned_call_and_stores_nothing(post, door, call):
    body, headers = call

    response = post(door, body, headers)

    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("door", doors())
def test_it_answers_413_to_a_body_over_the_limit_and_stores_nothing(post, door, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = len(door.good) - 1

    response = post(door, door.good)

    assert response.status_code == 413
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("door", doors())
def test_it_checks_the_size_before_anything_else(post, door, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 64

    response = post(door, b"x" * 65, headers={})

    assert response.status_code == 413


@pytest.mark.parametrize("door", doors())
def test_it_takes_a_body_of_exactly_the_limit(post, door, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = len(door.good)

    response = post(door, door.good)

    assert response.status_code == 200
    assert response.json()["status"] == "stored"


@pytest.mark.parametrize(("door", "body"), cases("ignored"))
def test_it_answers_200_to_an_event_it_does_not_act_on_and_stores_nothing(post, door, body):
    response = post(door, body)

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("door", doors())
def test_it_takes_only_posts(client, db, door):
    assert client.get(door.url).status_code == 405


@pytest.mark.parametrize("body", [KOMMO_STATUS, b"not a form", b"x" * 2048])
def test_a_wrong_kommo_path_token_is_an_unknown_page_whatever_the_body(client, db, body, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    url = reverse("callcenter:kommo_webhook", args=["nope"])

    response = client.post(url, data=body, content_type=FORM)

    assert response.status_code == 404
    assert WebhookEvent.objects.count() == 0
