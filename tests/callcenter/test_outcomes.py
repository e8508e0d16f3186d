"""Calls that end without a sale: back to the queue, a call-back time, or out with a reason."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from callcenter.models import CallRecord, Lead, LossReason
from callcenter.services import calls as call_services
from crm.models import Interaction
from integrations.models import OutboxMessage


def test_no_answer_sends_the_lead_to_the_back_of_the_queue(held_lead, agente):
    before = held_lead.due_at

    call_services.record_outcome(lead=held_lead, agent=agente, outcome=CallRecord.Outcome.NO_ANSWER)

    held_lead.refresh_from_db()
    assert held_lead.in_queue
    assert held_lead.state == Lead.State.NO_ANSWER
    assert held_lead.attempts == 1
    assert held_lead.due_at > before
    assert held_lead.taken_by is None
    assert OutboxMessage.objects.count() == 0  # no stage configured: stays in «Para Llamar»
    assert held_lead.customer.interactions.filter(
        kind=Interaction.Kind.CALL, summary__contains="No contesta"
    ).exists()


def test_call_back_waits_in_the_queue_for_its_time(held_lead, agente):
    when = timezone.now() + timedelta(hours=3)

    call_services.record_outcome(
        lead=held_lead, agent=agente, outcome=CallRecord.Outcome.CALLBACK, callback_at=when
    )

    held_lead.refresh_from_db()
    assert held_lead.in_queue
    assert held_lead.state == Lead.State.CALLBACK
    assert held_lead.due_at == when == held_lead.callback_at


def test_call_back_needs_a_future_time(held_lead, agente):
    with pytest.raises(ValidationError, match="futura"):
        call_services.record_outcome(
            lead=held_lead,
            agent=agente,
            outcome=CallRecord.Outcome.CALLBACK,
            callback_at=timezone.now() - timedelta(minutes=1),
        )


def test_not_interested_leaves_the_queue_and_maps_to_its_kommo_stage(
    held_lead, agente, queue_config
):
    queue_config.not_interested_status_id = 143
    queue_config.save()
    reason = LossReason.objects.create(name="Precio alto", kommo_loss_reason_id=777)

    call = call_services.record_outcome(
        lead=held_lead,
        agent=agente,
        outcome=CallRecord.Outcome.NOT_INTERESTED,
        loss_reason=reason,
        notes="Lo encontró más barato",
    )

    held_lead.refresh_from_db()
    assert not held_lead.in_queue
    assert held_lead.state == Lead.State.NOT_INTERESTED
    assert call.loss_reason == reason
    message = OutboxMessage.objects.get()
    assert message.payload["status_id"] == 143
    assert message.payload["loss_reason_id"] == 777


def test_not_interested_needs_a_reason(held_lead, agente):
    with pytest.raises(ValidationError, match="por qué"):
        call_services.record_outcome(
            lead=held_lead, agent=agente, outcome=CallRecord.Outcome.NOT_INTERESTED
        )


def test_a_no_answer_stage_moves_the_lead_out_of_the_queue(held_lead, agente, queue_config):
    queue_config.no_answer_status_id = 61000007
    queue_config.save()

    call_services.record_outcome(lead=held_lead, agent=agente, outcome=CallRecord.Outcome.NO_ANSWER)

    held_lead.refresh_from_db()
    assert not held_lead.in_queue
    assert OutboxMessage.objects.get().payload["status_id"] == 61000007
