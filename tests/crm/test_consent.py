"""A customer who asked not to be contacted gets no message, whatever path sends it."""

import pytest
from django.core import mail
from django.urls import reverse
from pytest_django.asserts import assertContains

from crm import messages, services
from crm.models import Interaction, Tag
from integrations.models import OutboxMessage

# How the staff (and the demo) mark a customer who asked not to be contacted.
OPT_OUT_TAG = "No contactar"


@pytest.fixture
def rosa(customer):
    customer.email = "rosa@example.pe"
    customer.save()
    return customer


def send(customer):
    return messages.send_customer_message(
        customer=customer, channel=messages.EMAIL, subject="Una oferta", body="Hola."
    )


def test_it_sends_nothing_to_a_customer_who_opted_out_and_puts_the_skip_on_the_timeline(
    rosa, asesor
):
    services.set_contact_opt_out(customer=rosa, opted_out=True, actor=asesor)

    result = send(rosa)

    assert result.status == messages.SendStatus.OPTED_OUT
    assert not OutboxMessage.objects.exists()
    assert result.interaction.summary == (
        "Correo no enviado: Una oferta. El cliente pidió no ser contactado."
    )


def test_it_tells_the_caller_a_message_was_queued(rosa):
    result = send(rosa)

    assert result.is_queued
    assert OutboxMessage.objects.count() == 1


def test_the_no_contactar_tag_opts_the_customer_out(rosa):
    services.tag_customer(customer=rosa, tag_name=OPT_OUT_TAG)

    rosa.refresh_from_db()
    assert rosa.has_opted_out
    assert rosa.opted_out_at is not None
    assert send(rosa).is_opted_out


def test_removing_the_tag_lets_messages_go_again(rosa):
    services.tag_customer(customer=rosa, tag_name=OPT_OUT_TAG)

    services.untag_customer(customer=rosa, tag_name=OPT_OUT_TAG)

    rosa.refresh_from_db()
    assert not rosa.has_opted_out
    assert send(rosa).is_queued


def test_opting_out_puts_the_tag_and_an_entry_on_the_customer(rosa, asesor):
    services.set_contact_opt_out(customer=rosa, opted_out=True, actor=asesor)

    assert list(rosa.tags.values_list("name", flat=True)) == [OPT_OUT_TAG]
    assert rosa.interactions.filter(
        kind=Interaction.Kind.SYSTEM, summary__startswith="El cliente pidió no ser contactado"
    ).exists()


def test_a_message_queued_before_the_customer_opted_out_is_not_delivered(
    rosa, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        entry = send(rosa).interaction
    services.set_contact_opt_out(customer=rosa, opted_out=True)

    for callback in callbacks:
        callback()

    assert mail.outbox == []
    entry.refresh_from_db()
    assert messages.delivery_status(entry) == messages.DeliveryStatus.FAILED


def test_the_customer_form_records_the_opt_out(client, asesor, rosa):
    client.force_login(asesor)

    client.post(
        reverse("crm:customer_update", args=[rosa.pk]),
        {
            "document_type": "dni",
            "document_number": rosa.document_number,
            "first_name": rosa.first_name,
            "last_name": rosa.last_name,
            "phone": str(rosa.phone),
            "email": rosa.email,
            "has_opted_out": "on",
        },
    )

    rosa.refresh_from_db()
    assert rosa.has_opted_out
    assert rosa.tags.filter(name=OPT_OUT_TAG).exists()


def test_saving_other_tags_keeps_the_opt_out(client, asesor, rosa):
    services.set_contact_opt_out(customer=rosa, opted_out=True)
    vip = Tag.objects.create(name="VIP")
    client.force_login(asesor)

    client.post(
        reverse("crm:customer_update", args=[rosa.pk]),
        {
            "document_type": "dni",
            "document_number": rosa.document_number,
            "first_name": rosa.first_name,
            "last_name": rosa.last_name,
            "phone": str(rosa.phone),
            "email": rosa.email,
            "has_opted_out": "on",
            "tags": [vip.pk],
        },
    )

    rosa.refresh_from_db()
    assert rosa.has_opted_out
    assert set(rosa.tags.values_list("name", flat=True)) == {"VIP", OPT_OUT_TAG}


def test_the_customer_page_warns_not_to_contact(client, asesor, rosa):
    services.set_contact_opt_out(customer=rosa, opted_out=True)
    client.force_login(asesor)

    response = client.get(rosa.get_absolute_url())

    assertContains(response, "No contactar: el cliente pidió no recibir mensajes ni campañas.")
