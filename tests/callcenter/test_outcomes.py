"""Calls that end without a sale: back to the queue, a call-back time, or out with a reason."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from callcenter.forms import OutcomeForm
from callcenter.models import CallRecord, Lead, LossReason
from callcenter.services import calls as call_services
from crm.models import Interaction
from integrations.models import OutboxMessage

LIMA = ZoneInfo("America/Lima")


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


def test_call_back_for_the_minute_just_started_is_accepted(held_lead, agente):
    # The form sends whole minutes: 10:30 sent at 10:30:30.
    when = timezone.now() - timedelta(seconds=30)

    call_services.record_outcome(
        lead=held_lead, agent=agente, outcome=CallRecord.Outcome.CALLBACK, callback_at=when
    )

    held_lead.refresh_from_db()
    assert held_lead.callback_at == when


@time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=LIMA), tick=False)
def test_call_back_may_be_set_up_to_the_last_day_allowed(held_lead, agente):
    # 13/09/2026 is 90 days after 15/06/2026; its last minute is still allowed.
    when = datetime(2026, 9, 13, 23, 59, tzinfo=LIMA)

    call_services.record_outcome(
        lead=held_lead, agent=agente, outcome=CallRecord.Outcome.CALLBACK, callback_at=when
    )

    held_lead.refresh_from_db()
    assert held_lead.due_at == when


@time_machine.travel(datetime(2026, 6, 15, 10, 0, tzinfo=LIMA), tick=False)
@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 9, 14, 0, 0, tzinfo=LIMA),
        datetime(2999, 1, 1, 10, 0, tzinfo=LIMA),
        # No UTC equivalent: stored as it was, it raised OverflowError (a 500).
        datetime(9999, 12, 31, 23, 59, tzinfo=LIMA),
    ],
)
def test_call_back_past_the_last_day_allowed_is_refused(held_lead, agente, when):
    with pytest.raises(ValidationError, match=r"hasta el 13/09/2026 \(90 días desde hoy\)"):
        call_services.record_outcome(
            lead=held_lead, agent=agente, outcome=CallRecord.Outcome.CALLBACK, callback_at=when
        )

    held_lead.refresh_from_db()
    assert held_lead.taken_by == agente
    assert not CallRecord.objects.exists()


def test_an_agent_who_does_not_hold_the_lead_cannot_record_its_call(held_lead, agente2):
    with pytest.raises(ValidationError, match="solo quien lo atiende puede registrar la llamada"):
        call_services.record_outcome(
            lead=held_lead, agent=agente2, outcome=CallRecord.Outcome.NO_ANSWER
        )


@pytest.mark.parametrize("when", ["9999-12-31T23:59", "2999-01-01T10:00"])
def test_the_outcome_form_refuses_a_call_back_years_ahead(db, when):
    form = OutcomeForm({"outcome-outcome": "callback", "outcome-callback_at": when})

    assert not form.is_valid()
    assert form.errors["callback_at"][0].startswith("Puede volver a llamar hasta el")


def test_a_reason_not_on_the_list_gets_one_error_not_two(db):
    form = OutcomeForm({"outcome-outcome": "not_interested", "outcome-loss_reason": "999999"})

    assert not form.is_valid()
    assert form.errors["loss_reason"] == ["Elija una opción de la lista."]
