"""A customer message the provider accepted is never sent again, whatever fails after."""

from unittest import mock

import pytest
from django.core import mail
from django.db import OperationalError
from django.utils import timezone

from crm import messages
from crm.models import Message
from integrations import outbox
from integrations.models import OutboxMessage


@pytest.fixture
def queued(customer):
    customer.email = "rosa@example.pe"
    customer.save()
    # No on_commit here: the outbox row waits, queued, for the calls below.
    sending = messages.send_customer_message(
        customer=customer, channel=messages.EMAIL, subject="Su cronograma", body="Adjunto."
    )
    return sending


def deliver_twice() -> OutboxMessage:
    """Deliver the message, then again once whatever retry it planned is due."""
    row = OutboxMessage.objects.get(destination=messages.DESTINATION)
    outbox.deliver_message(message_id=row.pk)
    OutboxMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    outbox.deliver_message(message_id=row.pk)
    row.refresh_from_db()
    return row


def breaking(times: int):
    """_mark_message failing `times` times with a dropped connection, then working."""
    real, calls = messages._mark_message, {"n": 0}

    def mark(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= times:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    return mock.patch.object(messages, "_mark_message", mark)


def test_a_record_that_fails_once_is_written_again_and_the_message_sent_once(queued):
    with breaking(times=1):
        row = deliver_twice()

    assert len(mail.outbox) == 1
    assert row.status == OutboxMessage.Status.SENT
    assert row.last_error == ""
    queued.interaction.refresh_from_db()
    assert messages.delivery_status(queued.interaction) == messages.DeliveryStatus.SENT
    assert Message.objects.get(pk=queued.message.pk).status == Message.Status.SENT


def test_a_record_that_keeps_failing_leaves_the_message_sent_with_the_reason(queued):
    with breaking(times=99):
        row = deliver_twice()

    assert len(mail.outbox) == 1
    assert row.status == OutboxMessage.Status.SENT
    assert row.attempts == 1
    assert row.sent_at is not None
    assert row.last_error.startswith("Enviado, pero no se pudo registrar su estado")
    assert "server closed the connection unexpectedly" in row.last_error
