"""WhatsApp through Meta's Cloud API: sending, the webhook handshake and signature, and
reading the webhooks' messages and statuses.

Payload shapes follow Meta's webhook reference and payload examples
(https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples).
"""

import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime

import pytest
import requests
import responses
from django.test import RequestFactory

from integrations import webhooks, whatsapp
from integrations.channels import Delivery, InboundMessage, StatusUpdate
from integrations.errors import (
    ProviderError,
    SignatureError,
    TemporaryProviderError,
    UnhandledEvent,
)
from integrations.models import WebhookEvent

API_URL = "https://graph.facebook.com/v21.0"
ACCESS_TOKEN = "EAAG-whatsapp-access-token"
PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "meta-app-secret"
VERIFY_TOKEN = "cartera-verify-token"
MESSAGES_URL = f"{API_URL}/{PHONE_NUMBER_ID}/messages"
WAMID = "wamid.HBgLNTE5ODc2NTQzMjEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
INBOUND_WAMID = "wamid.HBgLNTE5ODc2NTQzMjEVAgASGBQzQUI0NkE4NjM1QTU2NjVGOURGQgA="
# 2026-03-05 15:00:00 UTC
TIMESTAMP = "1772722800"
AT = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)


def accepted(message_id: str = WAMID) -> dict:
    """What Meta answers a message it accepted."""
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "51987654321", "wa_id": "51987654321"}],
        "messages": [{"id": message_id, "message_status": "accepted"}],
    }


def meta_error(code: int, message: str, details: str = "", kind: str = "OAuthException") -> dict:
    error = {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEf123"}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


def envelope(value: dict, field: str = "messages") -> dict:
    """A webhook body around one change's value."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            **value,
                        },
                        "field": field,
                    }
                ],
            }
        ],
    }


def a_status(status: str = "delivered", message_id: str = WAMID, **extra) -> dict:
    return {
        "id": message_id,
        "status": status,
        "timestamp": TIMESTAMP,
        "recipient_id": "51987654321",
        **extra,
    }


def a_message(kind: str = "text", content: dict | None = None, **extra) -> dict:
    message = {"from": "51987654321", "id": INBOUND_WAMID, "timestamp": TIMESTAMP, "type": kind}
    message[kind] = {"body": "Ya pagué la cuota"} if content is None else content
    return {**message, **extra}


CONTACTS = [{"profile": {"name": "Rosa Huamán"}, "wa_id": "51987654321"}]


def statuses(*items: dict) -> dict:
    return envelope({"statuses": list(items)})


def messages(*items: dict) -> dict:
    return envelope({"contacts": CONTACTS, "messages": list(items)})


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """Sign like Meta: "sha256=" and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def configured(settings):
    settings.WHATSAPP_API_URL = API_URL + "/"
    settings.WHATSAPP_ACCESS_TOKEN = ACCESS_TOKEN
    settings.WHATSAPP_PHONE_NUMBER_ID = PHONE_NUMBER_ID
    settings.WHATSAPP_APP_SECRET = APP_SECRET
    settings.WHATSAPP_VERIFY_TOKEN = VERIFY_TOKEN
    return settings


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


# --- Sending -----------------------------------------------------------------------------


def test_it_sends_a_template_with_its_body_parameters(api):
    api.add(responses.POST, MESSAGES_URL, json=accepted())

    delivery = whatsapp.send_template(
        "+51 987 654 321", name="recordatorio_cuota", language="es", parameters=["Rosa", "S/ 350"]
    )

    sent = api.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert json.loads(sent.body) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "51987654321",
        "type": "template",
        "template": {
            "name": "recordatorio_cuota",
            "language": {"code": "es"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Rosa"},
                        {"type": "text", "text": "S/ 350"},
                    ],
                }
            ],
        },
    }
    assert delivery == Delivery(provider="whatsapp", provider_message_id=WAMID, status="sent")


def test_a_template_without_parameters_has_no_components(api):
    api.add(responses.POST, MESSAGES_URL, json=accepted())

    whatsapp.send_template("+51987654321", name="hello_world", language="en_US", parameters=[])

    assert json.loads(api.calls[0].request.body)["template"] == {
        "name": "hello_world",
        "language": {"code": "en_US"},
    }


def test_it_sends_a_text_without_a_link_preview(api):
    api.add(responses.POST, MESSAGES_URL, json=accepted())

    delivery = whatsapp.send_text("+51987654321", "Gracias, Rosa. Ya vemos su pago.")

    sent = api.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert json.loads(sent.body) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "51987654321",
        "type": "text",
        "text": {"preview_url": False, "body": "Gracias, Rosa. Ya vemos su pago."},
    }
    assert delivery.provider_message_id == WAMID


@pytest.mark.parametrize(
    "send",
    [
        lambda: whatsapp.send_text("+51987654321", " "),
        lambda: whatsapp.send_text("sin número", "Hola"),
        lambda: whatsapp.send_template("+51987654321", name="", language="es", parameters=[]),
    ],
)
def test_it_sends_nothing_it_must_not(api, send):
    with pytest.raises(ValueError):
        send()

    assert len(api.calls) == 0


def test_a_closed_window_asks_for_a_template_in_spanish(api):
    api.add(
        responses.POST,
        MESSAGES_URL,
        status=400,
        json=meta_error(
            131047,
            "(#131047) Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer "
            "last replied to this number.",
        ),
    )

    with pytest.raises(whatsapp.WindowClosed) as raised:
        whatsapp.send_text("+51987654321", "Hola")

    assert isinstance(raised.value, ProviderError)
    assert not isinstance(raised.value, TemporaryProviderError)
    assert "24 horas" in str(raised.value)
    assert "plantilla" in str(raised.value)
    assert "131047" in str(raised.value)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (4, "(#4) Application request limit reached"),
        (80007, "(#80007) Rate limit issues"),
        (130429, "(#130429) Rate limit hit"),
        (131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit"),
    ],
)
def test_a_rate_limit_is_temporary(api, code, message):
    api.add(responses.POST, MESSAGES_URL, status=400, json=meta_error(code, message))

    with pytest.raises(TemporaryProviderError) as raised:
        whatsapp.send_text("+51987654321", "Hola")

    assert str(code) in str(raised.value)


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500, "json": meta_error(1, "An unknown error occurred", kind="OAuthException")},
        {"status": 503, "body": "Service Unavailable"},
        {"status": 429, "body": ""},
        {"body": requests.ConnectTimeout("timed out")},
    ],
)
def test_no_answer_or_a_server_error_is_temporary(api, answer):
    api.add(responses.POST, MESSAGES_URL, **answer)

    with pytest.raises(TemporaryProviderError):
        whatsapp.send_template("+51987654321", name="hello_world", language="es", parameters=[])


def test_a_rate_limit_keeps_the_wait_meta_asks_for(api):
    api.add(
        responses.POST,
        MESSAGES_URL,
        status=429,
        json=meta_error(130429, "(#130429) Rate limit hit"),
        headers={"Retry-After": "30"},
    )

    with pytest.raises(TemporaryProviderError) as raised:
        whatsapp.send_text("+51987654321", "Hola")

    assert raised.value.retry_after == 30


@pytest.mark.parametrize(
    ("status", "code", "message", "details"),
    [
        (400, 100, "(#100) Invalid parameter", "Parameter 'to' is not a valid phone number"),
        (400, 132001, "(#132001) Template name does not exist in the translation", ""),
        (401, 190, "Error validating access token: Session has expired", ""),
    ],
)
def test_a_refusal_is_permanent_and_keeps_metas_reason(api, status, code, message, details):
    api.add(responses.POST, MESSAGES_URL, status=status, json=meta_error(code, message, details))

    with pytest.raises(ProviderError) as raised:
        whatsapp.send_template("+51987654321", name="pago", language="es", parameters=["1"])

    assert type(raised.value) is ProviderError
    text = str(raised.value)
    assert text.startswith(f"WhatsApp rechazó el mensaje (error {code}): ")
    assert message in text
    assert details in text


@pytest.mark.parametrize(
    "answer",
    [
        {"json": {"messaging_product": "whatsapp", "messages": []}},
        {"json": {"messages": [{"id": ""}]}},
        {"json": ["wamid.1"]},
        {"body": "<html>OK</html>"},
        {"status": 404, "body": "Not Found"},
    ],
)
def test_an_answer_without_a_message_id_is_a_permanent_error(api, answer):
    api.add(responses.POST, MESSAGES_URL, **answer)

    with pytest.raises(ProviderError) as raised:
        whatsapp.send_text("+51987654321", "Hola")

    assert not isinstance(raised.value, TemporaryProviderError)


@pytest.mark.parametrize("missing", ["WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"])
def test_without_credentials_messages_go_to_the_log(configured, api, caplog, missing):
    setattr(configured, missing, "")

    with caplog.at_level(logging.INFO, logger="integrations.channels"):
        text = whatsapp.send_text("+51987654321", "Hola, Rosa")
        template = whatsapp.send_template(
            "+51987654321", name="recordatorio_cuota", language="es", parameters=["Rosa"]
        )

    assert whatsapp.is_configured() is False
    assert (text.provider, template.provider) == ("log", "log")
    assert text.provider_message_id.startswith("log-")
    assert "Hola, Rosa" in caplog.text
    assert "recordatorio_cuota" in caplog.text
    assert len(api.calls) == 0


def test_with_a_token_and_a_number_it_is_configured():
    assert whatsapp.is_configured() is True


# --- The subscription handshake and the signature ----------------------------------------


def handshake(**overrides) -> dict[str, str]:
    return {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
        **overrides,
    }


def test_the_handshake_answers_the_challenge_to_our_verify_token():
    assert whatsapp.verify_subscription(handshake()) == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        handshake(**{"hub.verify_token": "guess"}),
        handshake(**{"hub.verify_token": ""}),
        handshake(**{"hub.verify_token": "contraseña"}),
        handshake(**{"hub.mode": "unsubscribe"}),
        handshake(**{"hub.challenge": ""}),
        {"hub.challenge": "1158201444"},
    ],
)
def test_the_handshake_is_refused_without_our_verify_token(query):
    with pytest.raises(SignatureError):
        whatsapp.verify_subscription(query)


def test_the_handshake_is_refused_when_no_verify_token_is_configured(configured):
    configured.WHATSAPP_VERIFY_TOKEN = ""

    with pytest.raises(SignatureError):
        whatsapp.verify_subscription(handshake(**{"hub.verify_token": ""}))


BODY = json.dumps(statuses(a_status())).encode()


def test_it_accepts_a_body_signed_with_the_app_secret():
    whatsapp.verify_webhook(BODY, {"X-Hub-Signature-256": sign(BODY)})
    whatsapp.verify_webhook(BODY, {"x-hub-signature-256": sign(BODY).upper().replace("SHA", "sha")})


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Hub-Signature-256": sign(BODY, "another-secret")},
        {"X-Hub-Signature-256": sign(BODY + b" ")},
        {"X-Hub-Signature-256": sign(BODY).removeprefix("sha256=")},
        {"X-Hub-Signature-256": "sha256="},
        {"X-Hub-Signature": "sha1=" + hmac.new(APP_SECRET.encode(), BODY, "sha1").hexdigest()},
        {},
    ],
)
def test_it_refuses_a_body_without_the_right_signature(headers):
    with pytest.raises(SignatureError):
        whatsapp.verify_webhook(BODY, headers)


def test_it_refuses_every_body_when_no_app_secret_is_configured(configured):
    configured.WHATSAPP_APP_SECRET = ""

    with pytest.raises(SignatureError):
        whatsapp.verify_webhook(BODY, {"X-Hub-Signature-256": sign(BODY, "")})


# --- Reading the webhooks ----------------------------------------------------------------


def test_it_reads_a_text_message_with_the_senders_profile_name():
    assert whatsapp.read_webhook(messages(a_message())) == [
        InboundMessage(
            provider="whatsapp",
            channel="whatsapp",
            provider_message_id=INBOUND_WAMID,
            sender="+51987654321",
            body="Ya pagué la cuota",
            at=AT,
            name="Rosa Huamán",
        )
    ]


@pytest.mark.parametrize("status", ["sent", "delivered", "read"])
def test_it_reads_each_status_of_a_message_we_sent(status):
    assert whatsapp.read_webhook(statuses(a_status(status))) == [
        StatusUpdate(provider="whatsapp", provider_message_id=WAMID, status=status, at=AT, error="")
    ]


def test_a_failed_status_carries_metas_error():
    failed = a_status(
        "failed",
        errors=[
            {
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message undeliverable",
                "error_data": {"details": "Message Undeliverable."},
            }
        ],
    )

    [update] = whatsapp.read_webhook(statuses(failed))

    assert update.status == "failed"
    assert update.error == (
        "131026: El número no tiene WhatsApp o no puede recibir el mensaje. "
        "Message undeliverable (Message Undeliverable.)"
    )


def test_it_reads_every_item_in_the_bodys_order():
    data = envelope(
        {
            "statuses": [a_status("read", "wamid.A"), a_status("delivered", "wamid.B")],
            "contacts": CONTACTS,
            "messages": [a_message(id="wamid.C")],
        }
    )
    data["entry"].append(statuses(a_status("sent", "wamid.D"))["entry"][0])

    items = whatsapp.read_webhook(data)

    assert [(type(item).__name__, item.provider_message_id) for item in items] == [
        ("StatusUpdate", "wamid.A"),
        ("StatusUpdate", "wamid.B"),
        ("InboundMessage", "wamid.C"),
        ("StatusUpdate", "wamid.D"),
    ]


@pytest.mark.parametrize(
    ("kind", "content", "body"),
    [
        ("image", {"mime_type": "image/jpeg", "sha256": "abc", "id": "1"}, "[imagen]"),
        ("image", {"id": "1", "caption": "Voucher del BCP"}, "[imagen] Voucher del BCP"),
        ("audio", {"mime_type": "audio/ogg; codecs=opus", "id": "2", "voice": True}, "[audio]"),
        ("document", {"filename": "voucher.pdf", "id": "3"}, "[documento]"),
        ("video", {"id": "4"}, "[video]"),
        ("sticker", {"id": "5", "animated": False}, "[sticker]"),
        ("location", {"latitude": -12.0464, "longitude": -77.0428}, "[ubicación]"),
        ("button", {"payload": "PAGUE", "text": "Ya pagué"}, "Ya pagué"),
        (
            "interactive",
            {"type": "button_reply", "button_reply": {"id": "b1", "title": "Pagar hoy"}},
            "Pagar hoy",
        ),
        (
            "interactive",
            {"type": "list_reply", "list_reply": {"id": "r2", "title": "Fin de mes"}},
            "Fin de mes",
        ),
        ("reaction", {"message_id": WAMID, "emoji": "👍"}, "[mensaje]"),
        ("unsupported", {}, "[mensaje]"),
    ],
)
def test_a_message_without_text_reads_as_what_it_carries(kind, content, body):
    [message] = whatsapp.read_webhook(messages(a_message(kind, content)))

    assert message.body == body


def test_a_sender_without_a_profile_name_has_none():
    data = envelope({"messages": [a_message()]})

    assert whatsapp.read_webhook(data)[0].name == ""


def test_statuses_that_are_not_about_delivery_are_left_aside():
    assert whatsapp.read_webhook(statuses(a_status("deleted"), a_status("warning"))) == []


def test_event_ids_name_the_items_a_webhook_carries():
    assert whatsapp.event_id(statuses(a_status("delivered"))) == f"status:{WAMID}:delivered"
    assert whatsapp.event_id(messages(a_message())) == f"in:{INBOUND_WAMID}"
    mixed = envelope(
        {"statuses": [a_status("read", "wamid.A")], "messages": [a_message(id="wamid.B")]}
    )
    assert whatsapp.event_id(mixed) == "status:wamid.A:read,in:wamid.B"


def test_a_long_event_id_is_kept_as_its_hash():
    many = statuses(*(a_status("delivered", f"{WAMID}{n}") for n in range(5)))
    joined = ",".join(f"status:{WAMID}{n}:delivered" for n in range(5))

    event_id = whatsapp.event_id(many)

    assert event_id == "sha256:" + hashlib.sha256(joined.encode()).hexdigest()
    assert whatsapp.event_id(json.loads(json.dumps(many))) == event_id


@pytest.mark.parametrize(
    "data",
    [
        envelope({"errors": [{"code": 130429, "title": "Rate limit hit"}]}),
        envelope({"event": "APPROVED", "message_template_id": 1}, "message_template_status_update"),
        statuses(a_status("deleted")),
        {"object": "whatsapp_business_account", "entry": []},
    ],
)
def test_a_webhook_without_messages_or_statuses_is_not_ours(data):
    with pytest.raises(UnhandledEvent):
        whatsapp.event_id(data)


@pytest.mark.parametrize(
    "data",
    [
        {**messages(a_message()), "object": "page"},
        {"entry": []},
        {"object": "whatsapp_business_account", "entry": {}},
    ],
)
def test_a_webhook_missing_what_it_must_carry_is_malformed(data):
    with pytest.raises(ValueError) as raised:
        whatsapp.event_id(data)

    assert not isinstance(raised.value, UnhandledEvent)


@pytest.mark.parametrize(
    "data",
    [
        {"object": "whatsapp_business_account", "entry": [{"id": "1"}]},
        messages(a_message(id="")),
        messages(a_message(**{"from": ""})),
        messages(a_message(timestamp="ayer")),
        messages(a_message(timestamp="²")),
        # Past year 9999, and past what the platform's clock can hold.
        messages(a_message(timestamp="1" + "0" * 12)),
        messages(a_message(timestamp="1" + "0" * 20)),
        statuses({"id": WAMID, "timestamp": TIMESTAMP}),
        statuses(a_status(id=None)),
    ],
)
def test_an_item_missing_what_it_must_carry_is_skipped(data, caplog):
    # Refusing the call would make Meta retry it for days, with every item beside this one.
    with caplog.at_level(logging.WARNING, logger="integrations.whatsapp"):
        assert whatsapp.read_webhook(data) == []
    assert "unreadable part was skipped" in caplog.text
    with pytest.raises(UnhandledEvent):
        whatsapp.event_id(data)


def test_an_unreadable_item_leaves_the_others_read():
    data = envelope(
        {
            "statuses": [a_status(id=None), a_status("read", "wamid.A")],
            "contacts": CONTACTS,
            "messages": [a_message(id="wamid.B", timestamp="0"), a_message(id="wamid.C")],
        }
    )

    assert whatsapp.event_id(data) == "status:wamid.A:read,in:wamid.C"


@pytest.mark.parametrize(
    "timestamp",
    [
        "0",  # 1970
        "253402300799",  # the last second of 9999
        "4102444800",  # 2100
    ],
)
def test_a_message_or_status_dated_out_of_any_plausible_range_is_left_out(timestamp):
    # A message dated 9999 kept the 24-hour window open and its conversation first in the
    # inbox for good.
    for data in (messages(a_message(timestamp=timestamp)), statuses(a_status(timestamp=timestamp))):
        assert whatsapp.read_webhook(data) == []


def test_a_message_dated_days_ahead_of_our_clock_is_left_out():
    two_days_ahead = str(int(time.time()) + 2 * 24 * 60 * 60)

    assert whatsapp.read_webhook(messages(a_message(timestamp=two_days_ahead))) == []


def post(body: bytes, headers: dict[str, str]):
    return RequestFactory().post(
        "/webhooks/whatsapp/", data=body, content_type="application/json", headers=headers
    )


def test_the_door_refuses_a_forged_webhook_and_stores_nothing(db):
    body = json.dumps(messages(a_message())).encode()

    response = webhooks.receive(
        post(body, {"X-Hub-Signature-256": sign(body, "forged")}), whatsapp.WEBHOOK
    )

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_the_door_stores_a_signed_webhook_once(db):
    body = json.dumps(messages(a_message())).encode()
    headers = {"X-Hub-Signature-256": sign(body)}

    first = webhooks.receive(post(body, headers), whatsapp.WEBHOOK)
    again = webhooks.receive(post(body, headers), whatsapp.WEBHOOK)

    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_id) == ("whatsapp", f"in:{INBOUND_WAMID}")
    assert json.loads(first.content) == {"status": "stored", "id": event.pk}
    assert json.loads(again.content) == {"status": "duplicate", "id": event.pk}
