"""Consent kept whoever asks to stop and however they ask: STOP from a phone two customers
share, Twilio's own opt-out words, and a provider that says the number opted out with it
(Twilio's 21610; not WhatsApp's 131050, which stops marketing only). Only the HTTP layer is
faked (`responses`)."""

from datetime import UTC, datetime

import pytest
import responses
from django.utils import timezone

from crm import messages
from crm.models import Customer, Interaction, Message
from integrations import errors, outbox, sms, whatsapp
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
SHARED = "+51987650001"


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


def reply(body: str, address: str = SHARED, channel: str = messages.SMS, message_id: str = "SM1"):
    return messages.record_inbound(
        channel=channel,
        provider="twilio",
        provider_message_id=message_id,
        address=address,
        body=body,
    )


def timeline(customer) -> list[str]:
    return list(
        Interaction.objects.filter(customer=customer)
        .order_by("pk")
        .values_list("summary", flat=True)
    )


def opted_out(customer) -> bool:
    return Customer.objects.get(pk=customer.pk).has_opted_out


def recently_contacted(customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(last_interaction_at=timezone.now())


# --- STOP from a phone two customers share -------------------------------------------------


def test_stop_from_a_shared_number_stops_every_customer_messaged_there():
    owner = CustomerFactory(phone=SHARED, first_name="Ana", last_name="Ríos")
    # The same person entered twice, or a family's one phone: messages go to both.
    twin = CustomerFactory(phone=SHARED)
    # A relative who gave the owner's number as their second phone, contacted last.
    relative = CustomerFactory(phone="+51987650002", phone_secondary=SHARED)
    recently_contacted(relative)

    message = reply("STOP")

    assert (opted_out(owner), opted_out(twin), opted_out(relative)) == (True, True, False)
    # The conversation is of a customer the number's messages go to, not the relative's.
    assert message.customer_id in (owner.pk, twin.pk)
    sender = Customer.objects.get(pk=message.customer_id)
    other = twin if sender == owner else owner
    assert "El cliente pidió no ser contactado respondiendo «STOP» por SMS." in timeline(sender)
    assert timeline(other)[-1] == (
        f"Se recibió «STOP» por SMS desde {SHARED}, el celular de este cliente (el mensaje "
        f"quedó en la conversación de {sender.full_name}, que también lo tiene): no recibirá "
        "más mensajes."
    )
    assert timeline(relative) == [
        f"Se recibió «STOP» por SMS desde {SHARED}, el teléfono alternativo de este cliente: "
        "no se lo marcó «No contactar», porque los mensajes van a su celular. Si pidió no ser "
        "contactado, márquelo en su ficha."
    ]
    # Each is skipped from now on; the relative still gets theirs, at their own phone.
    sent = [
        messages.send_customer_message(
            customer=customer, channel=messages.SMS, subject="Recordatorio", body="Hola"
        )
        for customer in (owner, twin, relative)
    ]
    assert [sending.status for sending in sent] == ["opted_out", "opted_out", "queued"]


def test_a_reply_from_a_shared_number_goes_to_whom_its_messages_go():
    owner = CustomerFactory(phone=SHARED)
    relative = CustomerFactory(phone="+51987650002", phone_secondary=SHARED)
    recently_contacted(relative)

    message = reply("Pagaré el viernes")

    assert message.customer_id == owner.pk


def test_stop_from_a_customers_second_phone_alone_is_a_note_not_an_opt_out():
    customer = CustomerFactory(phone="+51987650002", phone_secondary=SHARED)

    message = reply("BAJA")

    assert message.customer_id == customer.pk
    assert not opted_out(customer)
    assert timeline(customer)[-1].startswith(
        f"Se recibió «BAJA» por SMS desde {SHARED}, el teléfono alternativo de este cliente"
    )


def test_stop_twice_opts_out_once():
    owner = CustomerFactory(phone=SHARED)

    reply("STOP", message_id="SM1")
    reply("STOP", message_id="SM2")

    assert opted_out(owner)
    assert sum("pidió no ser contactado" in entry for entry in timeline(owner)) == 2


# --- The words ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # Twilio's own words: it blocks the number on each, so we must stop too.
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "END",
        "QUIT",
        "OPTOUT",
        "REVOKE",
        "Opt-out",
        # Ours, and a courtesy after the word.
        "BAJA",
        "BAJA por favor",
        "Baja, gracias.",
        "stop ya",
        "Darme de baja por favor",
        "No molestar, gracias",
    ],
)
def test_an_opt_out_word_alone_or_with_a_courtesy_asks_to_stop(text):
    assert messages.is_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        # "Cancelar" is paying the debt off in Peru; Twilio's CANCEL is not ours.
        "quiero cancelar mi deuda",
        "Cancelar",
        "CANCEL",
        # The word in a sentence about something else.
        "baja la cuota si pago hoy?",
        "¿Baja el interés si adelanto?",
        "stop, ya pagué",
        "no quiero darme de baja todavía",
        "por favor baja",
        "the end",
        "",
    ],
)
def test_a_sentence_that_only_says_the_word_does_not(text):
    assert not messages.is_opt_out(text)


# --- The provider says the number opted out -------------------------------------------------


def queue(channel: str, **customer_fields):
    customer = CustomerFactory(**{"phone": SHARED, "email": "rosa@example.pe", **customer_fields})
    messages.send_customer_message(
        customer=customer, channel=channel, subject="Recordatorio", body="Su cuota vence hoy."
    )
    return customer, OutboxMessage.objects.get()


def deliver(message: OutboxMessage) -> OutboxMessage:
    outbox.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    return message


TWILIO_21610 = {
    "code": 21610,
    "message": "Attempt to send to unsubscribed recipient",
    "more_info": "https://www.twilio.com/docs/errors/21610",
    "status": 400,
}


def test_twilio_refusing_an_opted_out_number_says_so_in_a_typed_error(api):
    api.add(responses.POST, SMS_URL, status=400, json=TWILIO_21610)

    with pytest.raises(errors.OptedOut) as raised:
        sms.send(SHARED, "Hola")

    assert raised.value.notice.startswith("Twilio informa que el número se dio de baja (21610)")


def test_twilio_21610_marks_the_customer_not_to_be_contacted_and_fails_the_message(api):
    api.add(responses.POST, SMS_URL, status=400, json=TWILIO_21610)
    customer, queued = queue("sms")
    twin = CustomerFactory(phone=SHARED)

    queued = deliver(queued)

    # Failed for good at once: no retry of a number Twilio will keep refusing.
    assert (queued.status, queued.attempts, len(api.calls)) == ("failed", 1, 1)
    assert Message.objects.get(customer=customer).status == Message.Status.FAILED
    assert opted_out(customer) and opted_out(twin)
    entries = timeline(customer)
    assert (
        "Twilio informa que el número se dio de baja (21610): respondió STOP u otra palabra "
        "de baja a nuestros SMS."
    ) in entries
    assert "El cliente pidió no ser contactado: no recibirá mensajes ni campañas." in entries
    assert entries[-1].startswith("No se pudo enviar el SMS «Recordatorio»: Twilio rechazó")
    # The next flow's SMS is skipped here, instead of failing at Twilio again.
    later = messages.send_customer_message(
        customer=customer, channel=messages.SMS, subject="Recordatorio", body="Hola"
    )
    assert later.is_opted_out


def test_twilio_21610_in_a_status_callback_marks_the_customer_too(api):
    api.add(responses.POST, SMS_URL, status=201, json={"sid": SID, "status": "accepted"})
    customer, queued = queue("sms")
    deliver(queued)
    update = sms.read_webhook({"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "21610"})

    messages.record_status(
        provider=update.provider,
        provider_message_id=update.provider_message_id,
        status=update.status,
        error=update.error,
    )

    assert opted_out(customer)
    assert any(entry.startswith("Twilio informa") for entry in timeline(customer))


def test_another_undelivered_sms_leaves_consent_alone(api):
    api.add(responses.POST, SMS_URL, status=201, json={"sid": SID, "status": "queued"})
    customer, queued = queue("sms")
    deliver(queued)
    update = sms.read_webhook(
        {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )

    messages.record_status(
        provider=update.provider,
        provider_message_id=update.provider_message_id,
        status=update.status,
        error=update.error,
    )

    assert not opted_out(customer)


# 131050 stops the business's MARKETING messages only: a payment reminder (a utility
# template) still reaches the customer, so they are not marked «No contactar».
WHATSAPP_NOTICE = "El cliente dejó de recibir mensajes de marketing de la empresa"


def test_whatsapp_131050_in_the_answer_fails_the_message_saying_why_without_marking(api):
    api.add(
        responses.POST,
        WHATSAPP_URL,
        status=400,
        json={
            "error": {
                "message": "(#131050) User has stopped marketing messages",
                "type": "OAuthException",
                "code": 131050,
                "fbtrace_id": "AbC",
            }
        },
    )
    customer, queued = queue("whatsapp")

    queued = deliver(queued)

    assert (queued.status, queued.attempts, len(api.calls)) == ("failed", 1, 1)
    assert not opted_out(customer)
    assert any(WHATSAPP_NOTICE in entry for entry in timeline(customer))


def test_whatsapp_131050_in_a_failed_status_fails_it_without_marking_the_customer(api):
    api.add(
        responses.POST,
        WHATSAPP_URL,
        json={"messaging_product": "whatsapp", "messages": [{"id": "wamid.A"}]},
    )
    customer, queued = queue("whatsapp")
    deliver(queued)
    failed = {
        "id": "wamid.A",
        "status": "failed",
        "timestamp": str(int(MORNING.timestamp())),
        "recipient_id": SHARED.lstrip("+"),
        "errors": [{"code": 131050, "title": "User has stopped marketing messages"}],
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

    assert not opted_out(customer)
    assert any(WHATSAPP_NOTICE in entry for entry in timeline(customer))
