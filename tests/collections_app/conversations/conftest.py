"""The inbox's cast: Rosa, a debtor with a phone and an e-mail, and the messages she
exchanges, recorded through crm.messages as the providers' webhooks and the agents do.

The clock is frozen on TODAY at noon, Lima time (tests/collections_app/conftest.py).
"""

from datetime import datetime, time, timedelta
from itertools import count

import pytest
from django.utils import timezone

from collections_app.models import Conversation
from collections_app.strategies import segments
from crm import messages
from crm.models import Message, Tag
from tests.collections_app.conftest import TODAY
from tests.factories import CustomerFactory

_provider_ids = count(1)


@pytest.fixture
def rosa(db):
    return CustomerFactory(
        first_name="Rosa",
        last_name="Huamán",
        document_number="45678912",
        phone="+51987654321",
        email="rosa@example.pe",
    )


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


def noon(day=TODAY, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def hours_ago(hours: float) -> datetime:
    return timezone.now() - timedelta(hours=hours)


def inbound(customer, body="Hola, ¿cuánto debo?", *, channel=messages.WHATSAPP, at=None):
    """A message the customer sent, as a provider's webhook records it."""
    address = customer.email if channel == messages.EMAIL else str(customer.phone)
    return messages.record_inbound(
        customer=customer,
        channel=channel,
        provider="fake",
        provider_message_id=f"in-{next(_provider_ids)}",
        address=address,
        body=body,
        at=at,
    )


def outbound(customer, body="Le recordamos su cuota.", *, channel=messages.SMS, actor=None):
    """A message we sent the customer (a flow's when `actor` is None)."""
    sending = messages.send_customer_message(
        customer=customer,
        channel=channel,
        subject="Recordatorio",
        body=body,
        actor=actor,
    )
    return sending.message


def conversation_of(customer) -> Conversation:
    return Conversation.objects.get(customer=customer)


def write_off(customer) -> None:
    """Tag the customer as the recovery app does for an active written-off campaign."""
    tag, _created = Tag.objects.get_or_create(name=segments.CASTIGADA_TAG)
    customer.tags.add(tag)


def thread_messages(customer):
    return Message.objects.filter(customer=customer).order_by("created_at", "id")
