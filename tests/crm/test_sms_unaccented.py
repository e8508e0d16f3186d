"""«SMS sin tildes» (MessagePolicy.is_sms_unaccented): the lender's choice to write an SMS's
"á", "í", "ó", "ú" as "a", "i", "o", "u", so one accent does not send the whole text in
parts of 70 characters. Off, nothing changes; on, the text as sent is what the timeline,
the conversation and the provider get; WhatsApp and e-mail never change."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from crm import messages
from crm.models import Message, MessagePolicy
from integrations import sms
from integrations.channels import Delivery
from integrations.models import OutboxMessage
from tests.factories import CustomerFactory

WRITTEN = "Sr. Ramírez, su cuota vence mañana. Sr. Pérez, pague en línea."
SENT = "Sr. Ramirez, su cuota vence mañana. Sr. Pérez, pague en linea."


@pytest.fixture
def unaccented(db):
    # At 10:00 local time: the policy's quiet hours (20:00 to 08:00) would hold an SMS the
    # suite sends at night until the morning.
    day = timezone.localdate()
    at = timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))
    with time_machine.travel(at, tick=False):
        yield MessagePolicy.objects.create(pk=1, is_sms_unaccented=True)


@pytest.fixture
def provider(settings):
    """An SMS provider that keeps what it was given: the edge, faked."""
    got: list[tuple[str, str]] = []

    def send(to: str, body: str) -> Delivery:
        got.append((to, body))
        return Delivery(provider="aggregator", provider_message_id=f"agg-{len(got)}")

    sms.register_provider("aggregator", send)
    settings.SMS_PROVIDER = "aggregator"
    yield got
    sms.unregister_provider("aggregator")


def send(customer, channel: str, body: str = WRITTEN, **kwargs) -> messages.Sending:
    return messages.send_customer_message(
        customer=customer, channel=channel, subject="Recordatorio", body=body, **kwargs
    )


def test_with_the_policy_off_an_sms_goes_as_written(
    db, customer, provider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sending = send(customer, messages.SMS)

    assert not MessagePolicy.current().is_sms_unaccented
    assert sending.interaction.payload["mensaje"] == WRITTEN
    assert [body for _to, body in provider] == [WRITTEN]


def test_with_the_policy_on_an_sms_goes_without_the_accents_gsm_lacks(
    unaccented, customer, provider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sending = send(customer, messages.SMS)

    # ñ and é are in the SMS alphabet: «mañana» and «Pérez» stay.
    assert [body for _to, body in provider] == [SENT]
    # The timeline and the conversation show the text as sent.
    assert sending.interaction.payload["mensaje"] == SENT
    assert Message.objects.get().body == SENT
    assert sending.interaction.summary.endswith("Recordatorio")


def test_with_the_policy_on_whatsapp_and_email_go_as_written(unaccented, customer):
    customer.email = "rosa@example.com"
    customer.save()

    whatsapp = send(customer, messages.WHATSAPP)
    email = send(customer, messages.EMAIL)

    assert whatsapp.interaction.payload["mensaje"] == WRITTEN
    assert email.interaction.payload["mensaje"] == WRITTEN
    assert [row.payload["body"] for row in OutboxMessage.objects.order_by("pk")] == [
        WRITTEN,
        WRITTEN,
    ]


def test_with_the_policy_on_a_flows_batch_of_sms_goes_without_accents(unaccented, customer):
    other = CustomerFactory(phone="+51987650000")

    sent = messages.send_customer_messages(
        [
            messages.Outgoing(customer=customer, subject="Aviso", body="Hola Ramírez"),
            messages.Outgoing(customer=other, subject="Aviso", body="Hola Muñoz"),
        ],
        channel=messages.SMS,
    )

    assert all(sending.is_queued for sending in sent)
    assert [row.payload["body"] for row in OutboxMessage.objects.order_by("pk")] == [
        "Hola Ramirez",
        "Hola Muñoz",
    ]
    assert list(Message.objects.order_by("pk").values_list("body", flat=True)) == [
        "Hola Ramirez",
        "Hola Muñoz",
    ]


def test_with_the_policy_on_a_flows_batch_of_whatsapp_goes_as_written(unaccented, customer):
    messages.send_customer_messages(
        [messages.Outgoing(customer=customer, subject="Aviso", body="Hola Ramírez")],
        channel=messages.WHATSAPP,
    )

    assert OutboxMessage.objects.get().payload["body"] == "Hola Ramírez"


def test_with_the_policy_on_a_one_time_code_keeps_its_digits(unaccented, customer):
    send(
        customer,
        messages.SMS,
        body="Su código es 123456.",
        is_secret=True,
        requested=True,
    )

    assert OutboxMessage.objects.get().payload["body"] == "Su codigo es 123456."
