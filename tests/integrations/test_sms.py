"""SMS through Twilio (or the log, or a registered provider), Twilio's webhooks, and the
shared message types of integrations.channels.

The signature tests reproduce the vectors of Twilio's own request validator
(twilio/twilio-python: tests/unit/test_request_validator.py).
"""

import base64
import json
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

import pytest
import requests
import responses
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from integrations import channels, sms, webhooks
from integrations.channels import Delivery, InboundMessage, StatusUpdate
from integrations.errors import (
    ProviderError,
    SignatureError,
    TemporaryProviderError,
    UnhandledEvent,
)
from integrations.models import WebhookEvent

API_URL = "https://api.twilio.com"
ACCOUNT_SID = "AC6f1c2d3e4b5a69788796a5b4c3d2e1f0"
AUTH_TOKEN = "twilio-auth-token"
FROM_NUMBER = "+15017122661"
WEBHOOK_URL = "https://cartera.example.com/webhooks/twilio/"
MESSAGES_URL = f"{API_URL}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
MESSAGE_SID = "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0"

# Twilio's request-validator vectors.
VECTOR_TOKEN = "12345"
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
VECTOR_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def twilio_message(**overrides) -> dict:
    """A message resource as Twilio answers a send."""
    return {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": "Su cuota 3 vence mañana.",
        "date_created": "Thu, 05 Mar 2026 15:01:45 +0000",
        "date_sent": None,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": FROM_NUMBER,
        "messaging_service_sid": None,
        "num_segments": "1",
        "sid": MESSAGE_SID,
        "status": "queued",
        "to": "+51987654321",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}.json",
        **overrides,
    }


def twilio_error(code: int, message: str, status: int = 400) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def status_callback(**overrides) -> dict[str, str]:
    """The fields of a status callback, as Twilio posts them."""
    return {
        "SmsSid": MESSAGE_SID,
        "SmsStatus": "delivered",
        "MessageStatus": "delivered",
        "To": "+51987654321",
        "MessageSid": MESSAGE_SID,
        "AccountSid": ACCOUNT_SID,
        "From": FROM_NUMBER,
        "ApiVersion": "2010-04-01",
        **overrides,
    }


def inbound_message(**overrides) -> dict[str, str]:
    """The fields of an incoming SMS, as Twilio posts them."""
    return {
        "ToCountry": "US",
        "SmsMessageSid": "SM9a8b7c6d5e4f30211203f4e5d6c7b8a9",
        "NumMedia": "0",
        "SmsSid": "SM9a8b7c6d5e4f30211203f4e5d6c7b8a9",
        "SmsStatus": "received",
        "Body": "Ya pagué la cuota",
        "FromCountry": "PE",
        "To": FROM_NUMBER,
        "NumSegments": "1",
        "MessageSid": "SM9a8b7c6d5e4f30211203f4e5d6c7b8a9",
        "AccountSid": ACCOUNT_SID,
        "From": "+51987654321",
        "ApiVersion": "2010-04-01",
        **overrides,
    }


def signed(fields: dict[str, str], url: str = WEBHOOK_URL, token: str = AUTH_TOKEN):
    """Return a form body and the headers Twilio sends it with."""
    body = urlencode(fields).encode()
    signature = sms.compute_signature(url, fields.items(), token)
    return body, {"X-Twilio-Signature": signature}


@pytest.fixture(autouse=True)
def configured(settings):
    settings.SMS_PROVIDER = ""
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_URL = API_URL + "/"
    settings.TWILIO_STATUS_CALLBACK_URL = WEBHOOK_URL
    return settings


@pytest.fixture
def unconfigured(configured):
    configured.TWILIO_ACCOUNT_SID = ""
    configured.TWILIO_AUTH_TOKEN = ""
    return configured


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


# --- Sending through Twilio --------------------------------------------------------------


def test_it_posts_the_message_to_twilio_with_its_status_callback(api):
    api.add(responses.POST, MESSAGES_URL, status=201, json=twilio_message())

    delivery = sms.send("+51987654321", "Su cuota 3 vence mañana.")

    sent = api.calls[0].request
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert sent.headers["Authorization"] == f"Basic {credentials}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.body) == {
        "To": ["+51987654321"],
        "Body": ["Su cuota 3 vence mañana."],
        "From": [FROM_NUMBER],
        "StatusCallback": [WEBHOOK_URL],
    }
    assert delivery == Delivery(provider="twilio", provider_message_id=MESSAGE_SID, status="queued")


def test_it_sends_from_the_messaging_service_when_one_is_set(configured, api):
    configured.TWILIO_MESSAGING_SERVICE_SID = "MG0123456789abcdef0123456789abcdef"
    api.add(responses.POST, MESSAGES_URL, status=201, json=twilio_message(status="accepted"))

    delivery = sms.send("+51987654321", "Hola")

    fields = parse_qs(api.calls[0].request.body)
    assert fields["MessagingServiceSid"] == ["MG0123456789abcdef0123456789abcdef"]
    assert "From" not in fields
    assert delivery.status == "queued"


def test_it_asks_for_no_status_callback_without_a_webhook_url(configured, api):
    configured.TWILIO_STATUS_CALLBACK_URL = ""
    api.add(responses.POST, MESSAGES_URL, status=201, json=twilio_message())

    sms.send("+51987654321", "Hola")

    assert "StatusCallback" not in parse_qs(api.calls[0].request.body)


@pytest.mark.parametrize(
    ("twilio_status", "status"),
    [("accepted", "queued"), ("scheduled", "queued"), ("queued", "queued"), ("sent", "sent")],
)
def test_it_reports_the_status_twilio_answered(api, twilio_status, status):
    api.add(responses.POST, MESSAGES_URL, status=201, json=twilio_message(status=twilio_status))

    assert sms.send("+51987654321", "Hola").status == status


def test_it_refuses_to_send_without_a_sender(configured, api):
    configured.TWILIO_FROM_NUMBER = ""

    with pytest.raises(ProviderError, match="Falta el remitente de Twilio"):
        sms.send("+51987654321", "Hola")

    assert len(api.calls) == 0


@pytest.mark.parametrize(("to", "body"), [("", "Hola"), ("+51987654321", "  ")])
def test_it_sends_nothing_without_a_recipient_or_a_text(api, to, body):
    with pytest.raises(ValueError):
        sms.send(to, body)

    assert len(api.calls) == 0


@pytest.mark.parametrize(
    ("code", "message", "explained"),
    [
        (21211, "Invalid 'To' Phone Number: +5198765", "El número de destino no es válido."),
        (
            21610,
            "Attempt to send to unsubscribed recipient",
            "El destinatario se dio de baja de los SMS (respondió STOP).",
        ),
        (
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
            "El texto supera los 1600 caracteres que admite un SMS.",
        ),
        (21699, "A code without a sentence of ours", ""),
    ],
)
def test_a_refusal_is_permanent_and_says_twilios_code_in_spanish(api, code, message, explained):
    api.add(responses.POST, MESSAGES_URL, status=400, json=twilio_error(code, message))

    with pytest.raises(ProviderError) as raised:
        sms.send("+5198765", "Hola")

    assert not isinstance(raised.value, TemporaryProviderError)
    assert str(raised.value) == (
        f"Twilio rechazó el SMS (error {code}): " + (f"{explained} " if explained else "") + message
    )


def test_a_refusal_without_twilios_json_keeps_the_answer(api):
    api.add(responses.POST, MESSAGES_URL, status=403, body="<html>Forbidden</html>")

    with pytest.raises(ProviderError) as raised:
        sms.send("+51987654321", "Hola")

    assert type(raised.value) is ProviderError
    assert "<html>Forbidden</html>" in str(raised.value)


def test_too_many_requests_is_temporary_with_the_wait_twilio_asks_for(api):
    api.add(
        responses.POST,
        MESSAGES_URL,
        status=429,
        json=twilio_error(20429, "Too Many Requests", 429),
        headers={"Retry-After": "7"},
    )

    with pytest.raises(TemporaryProviderError) as raised:
        sms.send("+51987654321", "Hola")

    assert raised.value.retry_after == 7


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500, "json": twilio_error(20500, "Internal Server Error", 500)},
        {"status": 503, "body": "Service Unavailable"},
        {"body": requests.ConnectionError("connection refused")},
        {"body": requests.ReadTimeout("read timed out")},
    ],
)
def test_no_answer_or_a_server_error_is_temporary(api, answer):
    api.add(responses.POST, MESSAGES_URL, **answer)

    with pytest.raises(TemporaryProviderError):
        sms.send("+51987654321", "Hola")


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 201, "body": "<html>OK</html>"},
        {"status": 201, "json": ["SM1"]},
        {"status": 201, "json": twilio_message(sid="")},
        {"status": 201, "json": twilio_message(status="teleported")},
        {
            "status": 201,
            "json": twilio_message(status="failed", error_code=30007, error_message="Filtered"),
        },
    ],
)
def test_an_answer_that_is_no_accepted_message_is_a_permanent_error(api, answer):
    api.add(responses.POST, MESSAGES_URL, **answer)

    with pytest.raises(ProviderError) as raised:
        sms.send("+51987654321", "Hola")

    assert not isinstance(raised.value, TemporaryProviderError)


# --- Choosing the provider ---------------------------------------------------------------


def test_without_credentials_messages_go_to_the_log(unconfigured, api, caplog):
    with caplog.at_level(logging.INFO, logger="integrations.channels"):
        delivery = sms.send("+51987654321", "Su cuota vence mañana")

    assert sms.provider_name() == "log"
    assert sms.is_configured() is False
    assert delivery.provider == "log"
    assert delivery.provider_message_id.startswith("log-")
    assert delivery.status == "sent"
    assert "+51987654321" in caplog.text
    assert "Su cuota vence mañana" in caplog.text
    assert len(api.calls) == 0


def test_with_credentials_twilio_is_the_default():
    assert sms.provider_name() == "twilio"
    assert sms.is_configured() is True


def test_the_setting_chooses_the_log_even_with_credentials(configured, api):
    configured.SMS_PROVIDER = "log"

    delivery = sms.send("+51987654321", "Hola")

    assert delivery.provider == "log"
    assert sms.is_configured() is False
    assert len(api.calls) == 0


def test_twilio_chosen_without_credentials_is_refused(unconfigured, api):
    unconfigured.SMS_PROVIDER = "twilio"

    with pytest.raises(ProviderError, match="Twilio no está configurado"):
        sms.send("+51987654321", "Hola")

    assert len(api.calls) == 0


@pytest.fixture
def aggregator():
    sent: list[tuple[str, str]] = []

    def send(to: str, body: str) -> Delivery:
        sent.append((to, body))
        return Delivery(provider="aggregator", provider_message_id=f"agg-{len(sent)}")

    sms.register_provider("aggregator", send)
    yield sent
    sms.unregister_provider("aggregator")


def test_a_registered_provider_sends_when_the_setting_names_it(configured, aggregator, api):
    configured.SMS_PROVIDER = "aggregator"

    delivery = sms.send("+51987654321", "Hola")

    assert aggregator == [("+51987654321", "Hola")]
    assert delivery == Delivery(provider="aggregator", provider_message_id="agg-1", status="sent")
    assert sms.is_configured() is True
    assert len(api.calls) == 0


def test_an_unknown_provider_is_refused_in_spanish(configured):
    configured.SMS_PROVIDER = "carrier-pigeon"

    with pytest.raises(ProviderError) as raised:
        sms.send("+51987654321", "Hola")

    assert str(raised.value) == "No existe el proveedor de SMS «carrier-pigeon»."


@pytest.mark.parametrize("name", ["twilio", "log"])
def test_a_built_in_provider_cannot_be_replaced(name):
    with pytest.raises(ImproperlyConfigured):
        sms.register_provider(name, lambda to, body: Delivery("x", "1"))


# --- Twilio's signature ------------------------------------------------------------------


def test_it_computes_twilios_signature_as_its_validator_does():
    signature = sms.compute_signature(VECTOR_URL, VECTOR_PARAMS.items(), VECTOR_TOKEN)

    assert signature == VECTOR_SIGNATURE


def test_it_signs_repeated_fields_sorted_and_once_as_twilios_validator_does():
    fields = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]

    assert sms.compute_signature(VECTOR_URL, fields, VECTOR_TOKEN) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        # Signed as configured.
        (VECTOR_URL, VECTOR_SIGNATURE),
        # Signed without the port the URL has (https and http).
        (VECTOR_URL.replace(".com", ".com:1234"), VECTOR_SIGNATURE),
        (
            VECTOR_URL.replace(".com", ".com:1234").replace("https", "http"),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
        ),
        # Signed with the scheme's default port the URL leaves out (443 and 80).
        (VECTOR_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),
        (VECTOR_URL.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),
    ],
)
def test_it_accepts_twilios_validator_vectors_with_and_without_the_port(configured, url, signature):
    configured.TWILIO_AUTH_TOKEN = VECTOR_TOKEN
    configured.TWILIO_STATUS_CALLBACK_URL = url

    sms.verify_webhook(urlencode(VECTOR_PARAMS).encode(), {"x-twilio-signature": signature})


def test_it_accepts_a_callback_signed_for_our_webhook_url():
    body, headers = signed(status_callback())

    sms.verify_webhook(body, headers)


@pytest.mark.parametrize(
    "forge",
    [
        lambda body, headers: (body, {"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}),
        lambda body, headers: (body, {}),
        lambda body, headers: (body, {"X-Twilio-Signature": "  "}),
        lambda body, headers: (body.replace(b"delivered", b"undelivered"), headers),
        lambda body, headers: (body + b"&Extra=1", headers),
        lambda body, headers: (body, signed(status_callback(), token="another-token")[1]),
        lambda body, headers: (
            body,
            signed(status_callback(), url="https://evil.example/webhooks/twilio/")[1],
        ),
        lambda body, headers: (b"\xff\xfe", headers),
    ],
)
def test_it_refuses_a_callback_without_the_right_signature(forge):
    body, headers = forge(*signed(status_callback()))

    with pytest.raises(SignatureError):
        sms.verify_webhook(body, headers)


def test_it_refuses_every_callback_without_an_auth_token(unconfigured):
    body, headers = signed(status_callback(), token="")

    with pytest.raises(SignatureError):
        sms.verify_webhook(body, headers)


def test_it_refuses_every_callback_without_a_webhook_url(configured):
    configured.TWILIO_STATUS_CALLBACK_URL = ""
    body, headers = signed(status_callback(), url="")

    with pytest.raises(SignatureError):
        sms.verify_webhook(body, headers)


# --- Reading Twilio's webhooks -----------------------------------------------------------


@pytest.mark.parametrize(
    ("twilio_status", "status"),
    [
        ("accepted", "queued"),
        ("scheduled", "queued"),
        ("queued", "queued"),
        ("sending", "sent"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "read"),
        ("undelivered", "failed"),
        ("failed", "failed"),
        ("canceled", "failed"),
    ],
)
def test_it_reads_each_twilio_status_as_ours(twilio_status, status):
    update = sms.read_webhook(status_callback(MessageStatus=twilio_status, SmsStatus=twilio_status))

    assert update == StatusUpdate(
        provider="twilio", provider_message_id=MESSAGE_SID, status=status, at=None, error=""
    )


def test_a_failed_status_carries_twilios_error():
    fields = status_callback(
        MessageStatus="undelivered", ErrorCode="30003", ErrorMessage="Unreachable destination"
    )

    update = sms.read_webhook(fields)

    assert update.status == "failed"
    assert update.error == (
        "30003: El celular de destino está apagado o sin cobertura. Unreachable destination"
    )
    assert sms.read_webhook(status_callback(MessageStatus="failed", ErrorCode="30099")).error == (
        "30099"
    )


def test_it_reads_an_incoming_sms():
    message = sms.read_webhook(inbound_message())

    assert message == InboundMessage(
        provider="twilio",
        channel="sms",
        provider_message_id="SM9a8b7c6d5e4f30211203f4e5d6c7b8a9",
        sender="+51987654321",
        body="Ya pagué la cuota",
        at=None,
        name="",
    )


def test_it_reads_a_whatsapp_message_that_came_through_twilio():
    fields = inbound_message(
        From="whatsapp:+51987654321", To=f"whatsapp:{FROM_NUMBER}", ProfileName="Rosa Huamán"
    )

    message = sms.read_webhook(fields)

    assert (message.channel, message.sender, message.name) == (
        "whatsapp",
        "+51987654321",
        "Rosa Huamán",
    )


def test_a_picture_without_text_reads_as_a_placeholder():
    fields = inbound_message(Body="", NumMedia="1", MediaContentType0="image/jpeg")

    assert sms.read_webhook(fields).body == "[imagen]"


def test_an_incoming_message_may_say_its_status_is_received():
    fields = inbound_message(MessageStatus="received")

    assert isinstance(sms.read_webhook(fields), InboundMessage)
    assert sms.event_id(fields) == "in:SM9a8b7c6d5e4f30211203f4e5d6c7b8a9"


def test_event_ids_name_the_message_and_twilios_status():
    assert sms.event_id(status_callback()) == f"status:{MESSAGE_SID}:delivered"
    assert sms.event_id(status_callback(MessageStatus="sending")) == f"status:{MESSAGE_SID}:sending"
    assert sms.event_id(status_callback(MessageStatus="sent")) == f"status:{MESSAGE_SID}:sent"
    assert sms.event_id(inbound_message()) == "in:SM9a8b7c6d5e4f30211203f4e5d6c7b8a9"


@pytest.mark.parametrize(
    "fields",
    [
        status_callback(MessageStatus="receiving"),
        status_callback(MessageStatus="partially_delivered"),
        {"MessageSid": MESSAGE_SID, "AccountSid": ACCOUNT_SID},
    ],
)
def test_a_callback_about_something_else_is_not_ours(fields):
    with pytest.raises(UnhandledEvent):
        sms.event_id(fields)


@pytest.mark.parametrize(
    "fields",
    [
        status_callback(MessageSid=""),
        {k: v for k, v in status_callback().items() if k != "MessageSid"},
        inbound_message(From=""),
        inbound_message(From="whatsapp:"),
    ],
)
def test_a_callback_missing_what_it_must_carry_is_malformed(fields):
    with pytest.raises(ValueError) as raised:
        sms.event_id(fields)

    assert not isinstance(raised.value, UnhandledEvent)


def test_the_door_reads_the_form_flat():
    body = urlencode(status_callback()).encode()

    assert sms.WEBHOOK.provider == "twilio"
    assert sms.WEBHOOK.verify is sms.verify_webhook
    assert sms.WEBHOOK.parse(body) == status_callback()
    assert sms.WEBHOOK.event_id(sms.WEBHOOK.parse(body)) == f"status:{MESSAGE_SID}:delivered"


def post(body: bytes, headers: dict[str, str]):
    return RequestFactory().post(
        "/webhooks/twilio/",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )


def test_the_door_refuses_a_forged_callback_and_stores_nothing(db):
    body, _ = signed(status_callback())

    response = webhooks.receive(post(body, {"X-Twilio-Signature": VECTOR_SIGNATURE}), sms.WEBHOOK)

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_the_door_stores_a_signed_callback_once(db):
    body, headers = signed(status_callback())

    first = webhooks.receive(post(body, headers), sms.WEBHOOK)
    again = webhooks.receive(post(body, headers), sms.WEBHOOK)

    event = WebhookEvent.objects.get()
    assert (event.provider, event.event_id) == ("twilio", f"status:{MESSAGE_SID}:delivered")
    assert json.loads(first.content) == {"status": "stored", "id": event.pk}
    assert json.loads(again.content) == {"status": "duplicate", "id": event.pk}


# --- The shared message types (integrations.channels) ------------------------------------


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        ("queued", "sent", True),
        ("queued", "delivered", True),
        ("sent", "delivered", True),
        ("delivered", "read", True),
        ("sent", "read", True),
        ("queued", "queued", False),
        ("delivered", "delivered", False),
        ("sent", "queued", False),
        ("read", "delivered", False),
        ("delivered", "sent", False),
        ("queued", "failed", True),
        ("sent", "failed", True),
        ("delivered", "failed", False),
        ("read", "failed", False),
        ("failed", "failed", False),
        ("failed", "delivered", False),
        ("failed", "read", False),
        ("", "queued", True),
        ("sending", "delivered", True),
        ("sending", "failed", True),
        ("sent", "teleported", False),
    ],
)
def test_a_status_advances_only_forward(current, new, expected):
    assert channels.advances(current, new) is expected


def test_the_shared_types_refuse_a_status_or_channel_of_no_one():
    with pytest.raises(ValueError):
        Delivery(provider="twilio", provider_message_id="SM1", status="delivered")
    with pytest.raises(ValueError):
        StatusUpdate(provider="twilio", provider_message_id="SM1", status="lost", at=None)
    with pytest.raises(ValueError):
        InboundMessage(
            provider="twilio",
            channel="fax",
            provider_message_id="SM1",
            sender="+51987654321",
            body="Hola",
            at=datetime(2026, 3, 5, tzinfo=UTC),
        )


def test_each_logged_delivery_has_an_id_of_its_own():
    first = channels.log_delivery("SMS", "+51987654321", "Hola")
    second = channels.log_delivery("SMS", "+51987654321", "Hola")

    assert first.provider == "log"
    assert first.provider_message_id != second.provider_message_id
