"""Who works a lead: one agent at a time, one lead per agent, released by holder or supervisor."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from callcenter.models import Lead
from callcenter.services import calls as call_services
from tests.callcenter.conftest import make_lead
from tests.races import at_once


def test_an_agent_takes_a_free_lead(lead, agente):
    call_services.take_lead(lead=lead, agent=agente)

    lead.refresh_from_db()
    assert lead.taken_by == agente
    assert lead.taken_at is not None


def test_a_lead_another_agent_holds_cannot_be_taken(lead, agente, agente2):
    call_services.take_lead(lead=lead, agent=agente)

    with pytest.raises(ValidationError, match="ya está atendiendo este lead"):
        call_services.take_lead(lead=lead, agent=agente2)

    lead.refresh_from_db()
    assert lead.taken_by == agente


def test_a_hold_older_than_the_timeout_can_be_taken_over(lead, agente, agente2, queue_config):
    Lead.objects.filter(pk=lead.pk).update(
        taken_by=agente,
        taken_at=timezone.now() - timedelta(minutes=queue_config.take_timeout_minutes + 1),
    )

    call_services.take_lead(lead=lead, agent=agente2)

    lead.refresh_from_db()
    assert lead.taken_by == agente2


def test_an_agent_works_one_lead_at_a_time(queue_config, agente):
    first, second = make_lead(), make_lead()
    call_services.take_lead(lead=first, agent=agente)

    with pytest.raises(ValidationError, match="Ya está atendiendo"):
        call_services.take_lead(lead=second, agent=agente)


def test_taking_again_ones_own_lead_is_fine(lead, agente):
    call_services.take_lead(lead=lead, agent=agente)
    call_services.take_lead(lead=lead, agent=agente)

    lead.refresh_from_db()
    assert lead.taken_by == agente


def test_a_lead_out_of_the_queue_cannot_be_taken(lead, agente):
    Lead.objects.filter(pk=lead.pk).update(in_queue=False)

    with pytest.raises(ValidationError, match="salió de la cola"):
        call_services.take_lead(lead=lead, agent=agente)


def test_the_holder_releases_their_lead(lead, agente):
    call_services.take_lead(lead=lead, agent=agente)

    call_services.release_lead(lead=lead, actor=agente)

    lead.refresh_from_db()
    assert lead.taken_by is None


def test_another_agent_cannot_release_it(lead, agente, agente2):
    call_services.take_lead(lead=lead, agent=agente)

    with pytest.raises(ValidationError, match="supervisor"):
        call_services.release_lead(lead=lead, actor=agente2)


def test_a_supervisor_releases_anyones_lead(held_lead, supervisor):
    call_services.release_lead(lead=held_lead, actor=supervisor)

    held_lead.refresh_from_db()
    assert held_lead.taken_by is None
    assert held_lead.customer.interactions.filter(summary__contains="liberado").exists()


def test_releasing_a_free_lead_says_nobody_held_it(lead, agente):
    assert call_services.release_lead(lead=lead, actor=agente) is None


def test_releasing_says_whom_the_lead_was_freed_from(held_lead, supervisor, agente):
    assert call_services.release_lead(lead=held_lead, actor=supervisor) == agente


def test_a_lead_out_of_the_queue_has_nothing_to_release(lead, agente):
    Lead.objects.filter(pk=lead.pk).update(in_queue=False)

    with pytest.raises(ValidationError, match="ya salió de la cola: no había nada que liberar"):
        call_services.release_lead(lead=lead, actor=agente)


def test_the_refusal_to_release_names_who_holds_the_lead(lead, agente, agente2):
    call_services.take_lead(lead=lead, agent=agente2)

    with pytest.raises(ValidationError, match="Luis Ramos atiende este lead"):
        call_services.release_lead(lead=lead, actor=agente)


@pytest.mark.django_db(transaction=True)
def test_an_agent_taking_two_leads_at_once_holds_one(roles, queue_config, agente):
    """Two tabs, one click each: both saw the agent holding nothing and both took."""
    first, second = make_lead(), make_lead()

    done, errors = at_once(
        lambda: call_services.take_lead(lead=first, agent=agente),
        lambda: call_services.take_lead(lead=second, agent=agente),
    )

    assert len(done) == 1
    assert len(errors) == 1
    assert "Ya está atendiendo a" in errors[0]
    assert Lead.objects.filter(taken_by=agente).count() == 1
