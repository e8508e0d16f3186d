"""What a customer's message becomes when its provider fails, from the outbox to the
timeline: only the HTTP layer is faked (`responses`), the services run for real."""

from datetime import UTC, datetime

import pytest
import requests
import responses

from crm import messages
from crm.models import Interaction, Message
from integrations import outbox, sms, whatsapp
from integrations.models import OutboxMessage
from tests.factories import CustomerFactory

TWILIO_URL = "https://api.twilio.com"
ACCOUNT_SID = "AC6f1c2d3e4b5a69788796a5b4c3d2e1f0"
SMS_URL = f"{TWILIO_URL}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
META_URL = "https://graph.facebook.com/v21.0"
PHONE_NUMBER_ID = "106540352242922"
WHATSAPP_URL = f"{META_URL}/{PHONE_NUMBER_ID}/messages"
SID = "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0"
# 10:00 in Lima: outside the quiet hours.
MORNING = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def providers(db, settings, time_machine):
    time_machine.move_to(MORNING, tick=False)
    settings.SMS_PROVIDER = ""
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = "twilio-auth-token"
    settings.TWILIO_FROM_NUMBER = "+15017122661"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_URL = TWILIO_URL
    settings.TWILIO_STATUS_CALLBACK_URL = "https://cartera.example.com/webhooks/twilio/"
    settings.WHATSAPP_API_URL = META_URL
    settings.WHATSAPP_ACCESS_TOKEN = "EAAG-whatsapp-access-token"
    settings.WHATSAPP_PHONE_NUMBER_ID = PHONE_NUMBER_ID
    settings.OUTBOX_MAX_ATTEMPTS = 3


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


def queue(channel: str, body: str = "Su cuota 3 vence mañana.", **customer):
    customer = CustomerFactory(**{"email": "rosa@example.pe", **customer})
    messages.send_customer_message(
        customer=customer, channel=channel, subject="Recordatorio", body=body
    )
    return customer, OutboxMessage.objects.get()


def deliver(message: OutboxMessage) -> OutboxMessage:
    outbox.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    return message


def timeline(customer) -> list[str]:
    return list(
        Interaction.objects.filter(customer=customer)
        .order_by("pk")
        .values_list("summary", flat=True)
    )


def meta_error(code: int, message: str, details: str = "") -> dict:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


# --- Outages: retried with backoff, bounded, and honest meanwhile -------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500, "body": "Internal Server Error"},
        {"body": requests.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("Connection reset by peer")},
    ],
)
def test_an_sms_the_provider_cannot_take_now_stays_queued_for_a_later_attempt(api, answer):
    api.add(responses.POST, SMS_URL, **answer)
    customer, message = queue("sms")

    message = deliver(message)

    assert message.status == OutboxMessage.Status.QUEUED
    assert message.attempts == 1
    assert message.next_attempt_at > MORNING
    # Queued still, saying why it was not sent yet.
    assert timeline(customer) == [
        f"SMS en cola: Recordatorio. Se reintentará: {message.last_error}"
    ]


def test_an_sms_throttled_waits_at_least_what_the_provider_asked(api):
    api.add(
        responses.POST,
        SMS_URL,
        status=429,
        json={"code": 20429, "message": "Too Many Requests", "status": 429},
        headers={"Retry-After": "600"},
    )
    _customer, message = queue("sms")

    message = deliver(message)

    assert (message.next_attempt_at - MORNING).total_seconds() >= 600


def test_an_sms_that_never_gets_through_fails_after_the_last_attempt_and_says_so(api, time_machine):
    api.add(responses.POST, SMS_URL, status=503, body="Service Unavailable")
    customer, message = queue("sms")

    for _attempt in range(3):
        time_machine.move_to(message.next_attempt_at, tick=False)
        message = deliver(message)

    assert message.status == OutboxMessage.Status.FAILED
    assert len(api.calls) == 3
    assert timeline(customer)[0] == "SMS no enviado: Recordatorio"
    assert timeline(customer)[1].startswith("No se pudo enviar el SMS «Recordatorio»:")


def test_an_answer_that_is_not_twilios_fails_at_once_without_sending_again(api):
    # Twilio may have taken the message: a second call could send it twice.
    api.add(responses.POST, SMS_URL, status=200, body="<html>OK</html>")
    _customer, message = queue("sms")

    message = deliver(message)

    assert message.status == OutboxMessage.Status.FAILED
    assert message.attempts == 1
    # Not "Fallido", which offers «Reenviar»: Twilio answered 200, it most likely has it.
    assert Message.objects.get().status == Message.Status.UNKNOWN


# --- Refusals and failed deliveries, in Spanish on the timeline ---------------------------


def test_an_sms_too_long_for_twilio_fails_at_once_saying_why_in_spanish(api):
    api.add(
        responses.POST,
        SMS_URL,
        status=400,
        json={
            "code": 21617,
            "message": "The concatenated message body exceeds the 1600 character limit.",
            "status": 400,
        },
    )
    customer, message = queue("sms", body="x" * 2000)

    message = deliver(message)

    assert message.status == OutboxMessage.Status.FAILED
    assert len(api.calls) == 1
    assert "El texto supera los 1600 caracteres que admite un SMS." in timeline(customer)[1]


def test_an_sms_twilio_could_not_deliver_says_why_in_spanish_on_the_timeline(api):
    api.add(responses.POST, SMS_URL, status=201, json={"sid": SID, "status": "queued"})
    customer, message = queue("sms")
    deliver(message)
    # Twilio's callback of an undelivered message carries the code alone.
    update = sms.read_webhook(
        {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )

    messages.record_status(
        provider=update.provider,
        provider_message_id=update.provider_message_id,
        status=update.status,
        error=update.error,
    )

    assert timeline(customer) == [
        "SMS no enviado: Recordatorio",
        "No se pudo enviar el SMS «Recordatorio»: "
        "30003: El celular de destino está apagado o sin cobertura.",
    ]


def test_a_forged_error_code_of_thousands_of_digits_is_kept_as_it_came():
    code = "3" * 5000

    update = sms.read_webhook({"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": code})

    assert update.error == code


def test_a_whatsapp_template_meta_does_not_know_fails_at_once_saying_why_in_spanish(api):
    api.add(
        responses.POST,
        WHATSAPP_URL,
        status=404,
        json=meta_error(
            132001,
            "(#132001) Template name does not exist in the translation",
            "template name (pago_vencido) does not exist in es",
        ),
    )
    customer, message = queue("whatsapp")

    message = deliver(message)

    assert message.status == OutboxMessage.Status.FAILED
    assert len(api.calls) == 1
    assert timeline(customer)[1].startswith(
        "No se pudo enviar el WhatsApp «Recordatorio»: WhatsApp rechazó el mensaje "
        "(error 132001): La plantilla no existe o no está aprobada en ese idioma."
    )


def test_a_whatsapp_meta_could_not_deliver_says_why_in_spanish_on_the_timeline(api):
    api.add(
        responses.POST,
        WHATSAPP_URL,
        json={"messaging_product": "whatsapp", "messages": [{"id": "wamid.A"}]},
    )
    customer, message = queue("whatsapp")
    deliver(message)
    failed = {
        "id": "wamid.A",
        "status": "failed",
        "timestamp": str(int(MORNING.timestamp())),
        "recipient_id": "51910000000",
        "errors": [{"code": 131050, "title": "Unable to deliver the message."}],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"statuses": [failed]}}]}],
    }
    [update] = whatsapp.read_webhook(body)

    messages.record_status(
        provider=update.provider,
        provider_message_id=update.provider_message_id,
        status=update.status,
        at=update.at,
        error=update.error,
    )

    assert timeline(customer)[1] == (
        "No se pudo enviar el WhatsApp «Recordatorio»: 131050: El cliente dejó de recibir "
        "mensajes de marketing de la empresa: use una plantilla de utilidad (un recordatorio "
        "de pago), que sí le llega. Unable to deliver the message."
    )


def test_an_email_address_with_a_line_break_is_refused_and_shown_whole(mailoutbox):
    customer, message = queue("email", email="rosa@example.pe\r\nBcc: otro@example.pe")

    message = deliver(message)

    assert message.status == OutboxMessage.Status.FAILED
    assert mailoutbox == []
    assert timeline(customer)[1].startswith(
        "No se pudo enviar el correo «Recordatorio»: El correo a "
        "«rosa@example.pe Bcc: otro@example.pe» no se pudo armar"
    )
