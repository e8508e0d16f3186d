"""STOP from a phone a merged record (crm.merge) still holds, and Twilio's opt-out (21610)
of it, mark «No contactar» the kept record, who is that person now, and write nothing on
the merged record, which is history."""

import pytest

from crm import merge
from crm import messages as customer_messages
from crm.models import Customer, Interaction, Message
from integrations import sms
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

KEPT_PHONE, MERGED_PHONE = "+51911111111", "+51922222222"


@pytest.fixture
def keep(db):
    return CustomerFactory(
        first_name="Rosa", last_name="Huamán", document_number="45678912", phone=KEPT_PHONE
    )


@pytest.fixture
def drop(db):
    return CustomerFactory(
        first_name="Rosa", last_name="Huamán", document_number="41234567", phone=MERGED_PHONE
    )


def merged(keep, drop, supervisor, **choices) -> Customer:
    merge.merge_customers(keep=keep, drop=drop, choices=choices, actor=supervisor)
    drop.refresh_from_db()
    assert drop.merged_into_id == keep.pk
    return drop


def stop_from(address: str) -> Message:
    return customer_messages.record_inbound(
        channel=customer_messages.SMS,
        provider=sms.NAME,
        provider_message_id="SMstop1",
        address=address,
        body="STOP",
    )


def opted_out(customer: Customer) -> bool:
    return Customer.objects.get(pk=customer.pk).has_opted_out


def entries(customer: Customer) -> int:
    return Interaction.objects.filter(customer=customer).count()


def test_stop_from_the_merged_records_old_phone_opts_out_the_kept_record_only(
    keep, drop, supervisor
):
    drop = merged(keep, drop, supervisor)
    assert str(Customer.objects.get(pk=keep.pk).phone) == KEPT_PHONE  # the kept one's stays
    before = entries(drop)

    message = stop_from(MERGED_PHONE)

    assert message.customer_id == keep.pk
    assert (opted_out(keep), opted_out(drop)) == (True, False)
    assert entries(drop) == before


def test_stop_from_the_phone_the_kept_record_took_from_the_merged_one_opts_out_the_kept_one(
    keep, drop, supervisor
):
    drop = merged(keep, drop, supervisor, phone=merge.DROP)
    assert str(Customer.objects.get(pk=keep.pk).phone) == MERGED_PHONE
    assert str(drop.phone) == MERGED_PHONE  # the merged record keeps its own values
    before = entries(drop)

    stop_from(MERGED_PHONE)

    assert (opted_out(keep), opted_out(drop)) == (True, False)
    assert entries(drop) == before


def test_twilio_21610_for_the_merged_records_old_phone_opts_out_the_kept_record(
    keep, drop, supervisor
):
    # Sent to the merged record's phone before the merge; Twilio's callback comes after.
    Message.objects.create(
        customer=drop,
        channel=Message.Channel.SMS,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.SENT,
        body="Su cuota vence hoy.",
        address=MERGED_PHONE,
        provider=sms.NAME,
        provider_message_id="SMsent1",
    )
    drop = merged(keep, drop, supervisor)
    before = entries(drop)

    customer_messages.record_status(
        provider=sms.NAME,
        provider_message_id="SMsent1",
        status=Message.Status.FAILED,
        error="21610: Attempt to send to unsubscribed recipient",
    )

    assert (opted_out(keep), opted_out(drop)) == (True, False)
    assert entries(drop) == before
    assert Interaction.objects.filter(
        customer=keep, summary__startswith="Twilio informa que el número se dio de baja"
    ).exists()


def test_stop_from_a_phone_shared_with_another_customer_opts_out_both_current_ones(
    keep, drop, supervisor
):
    drop = merged(keep, drop, supervisor)
    relative = CustomerFactory(phone=MERGED_PHONE)

    stop_from(MERGED_PHONE)

    assert (opted_out(keep), opted_out(relative), opted_out(drop)) == (True, True, False)


def test_stop_from_the_merged_records_second_phone_is_noted_on_the_kept_record(keep, supervisor):
    # A second phone gets a note, not an opt-out: nothing is sent to it.
    drop = CustomerFactory(
        first_name="Rosa",
        last_name="Huamán",
        document_number="41234567",
        phone="+51933333333",
        phone_secondary=MERGED_PHONE,
    )
    drop = merged(keep, drop, supervisor)
    before = entries(drop)

    stop_from(MERGED_PHONE)

    assert not opted_out(keep) and not opted_out(drop)
    assert entries(drop) == before
    assert Interaction.objects.filter(
        customer=keep, summary__contains="el teléfono alternativo de este cliente"
    ).exists()
