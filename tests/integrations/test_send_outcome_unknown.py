"""A provider that answered a send with success (2xx) but an unreadable answer: the outcome
is unknown. Not "no enviado", not retried, no «Reenviar» (which would send a second copy)."""

from datetime import UTC, datetime

import pytest
import responses

from crm import messages
from crm.models import Interaction, Message
from integrations import http, outbox, whatsapp
from integrations.models import OutboxMessage
from tests.factories import CustomerFactory

ACCOUNT_SID = "AC6f1c2d3e4b5a69788796a5b4c3d2e1f0"
SMS_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
WHATSAPP_URL = "https://graph.facebook.com/v21.0/106540352242922/messages"
UNKNOWN = (
    "El proveedor recibió el mensaje pero su respuesta no se pudo leer: no se sabe si se envió."
)


@pytest.fixture
def twilio(db, settings, time_machine):
    time_machine.move_to(datetime(2026, 12, 7, 15, 0, tzinfo=UTC), tick=False)
    settings.SMS_PROVIDER = ""
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = "twilio-auth-token"
    settings.TWILIO_FROM_NUMBER = "+15017122661"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_URL = "https://api.twilio.com"
    settings.TWILIO_STATUS_CALLBACK_URL = "https://cartera.example.com/webhooks/twilio/"


@pytest.fixture
def meta(settings):
    settings.WHATSAPP_API_URL = "https://graph.facebook.com/v21.0/"
    settings.WHATSAPP_ACCESS_TOKEN = "EAAG-whatsapp-access-token"
    settings.WHATSAPP_PHONE_NUMBER_ID = "106540352242922"


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 201, "body": "<html>Created</html>"},
        {"status": 201, "json": {"status": "queued"}},  # no sid
        {"status": 200, "body": ""},
    ],
)
@responses.activate
def test_an_sms_twilio_accepted_with_an_unreadable_answer_is_not_called_not_sent(twilio, answer):
    responses.post(SMS_URL, **answer)
    customer = CustomerFactory(phone="+51987654321")
    messages.send_customer_message(
        customer=customer, channel="sms", subject="Recordatorio", body="Su cuota vence hoy."
    )
    queued = OutboxMessage.objects.get()

    outbox.deliver_message(message_id=queued.pk)

    queued.refresh_from_db()
    # Not retried (a retry may send a second SMS); failed for admin, with why.
    assert queued.status == OutboxMessage.Status.FAILED
    assert "no se sabe si se envió" in queued.last_error
    assert len(responses.calls) == 1
    summaries = list(
        Interaction.objects.filter(customer=customer)
        .order_by("pk")
        .values_list("summary", flat=True)
    )
    assert summaries == [f"SMS sin confirmar: Recordatorio. {UNKNOWN}"], summaries
    message = Message.objects.get()
    # Not FAILED: the conversation offers «Reenviar» for a failed message only.
    assert message.status == Message.Status.UNKNOWN
    assert "no se sabe si se envió" in message.error
    entry = Interaction.objects.get(customer=customer)
    assert messages.delivery_status(entry) == messages.DeliveryStatus.UNKNOWN
    assert not messages.resend_failed(customer=customer, message_id=message.pk, actor=None)


@responses.activate
def test_an_sms_refused_by_twilio_is_still_not_sent(twilio):
    responses.post(SMS_URL, status=400, json={"code": 21211, "message": "Invalid 'To'"})
    customer = CustomerFactory(phone="+51987654321")
    messages.send_customer_message(
        customer=customer, channel="sms", subject="Recordatorio", body="Su cuota vence hoy."
    )

    outbox.deliver_message(message_id=OutboxMessage.objects.get().pk)

    assert Message.objects.get().status == Message.Status.FAILED
    entry = Interaction.objects.filter(customer=customer).order_by("pk").first()
    assert entry.summary == "SMS no enviado: Recordatorio"


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 200, "body": "<html>OK</html>"},
        {"status": 200, "json": {"messaging_product": "whatsapp", "messages": []}},
    ],
)
@responses.activate
def test_a_whatsapp_meta_accepted_with_an_unreadable_answer_is_of_unknown_outcome(meta, answer):
    responses.post(WHATSAPP_URL, **answer)

    with pytest.raises(http.OutcomeUnknown) as caught:
        whatsapp.send_text("+51987654321", "Su cuota vence hoy.")

    assert "no se sabe si se envió" in str(caught.value)


@responses.activate
def test_a_whatsapp_error_answer_is_still_a_refusal(meta):
    responses.post(
        WHATSAPP_URL, status=400, json={"error": {"code": 100, "message": "Invalid parameter"}}
    )

    with pytest.raises(Exception) as caught:
        whatsapp.send_text("+51987654321", "Su cuota vence hoy.")

    assert not isinstance(caught.value, http.OutcomeUnknown)
