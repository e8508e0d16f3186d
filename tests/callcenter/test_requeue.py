"""A supervisor puts back in the queue a lead a call's outcome took out of it: the state,
Kommo, the timeline, who may, and the screens (callcenter.services.requeue)."""

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from callcenter.models import CallRecord, Lead, LossReason, QueueSettings
from callcenter.services import calls as call_services
from callcenter.services import requeue as requeue_services
from crm.models import Interaction
from integrations.models import OutboxMessage
from tests.callcenter.conftest import PIPELINE, QUEUE_STATUS, make_lead
from tests.factories import CustomerFactory, UserFactory
from tests.races import at_once

LOST_STATUS = 142


@pytest.fixture
def jefa(db):
    return UserFactory(username="jefa", first_name="Carla", last_name="Soto", role="Supervisor")


@pytest.fixture
def lost_stage(queue_config) -> QueueSettings:
    queue_config.not_interested_status_id = LOST_STATUS
    queue_config.save()
    return queue_config


@pytest.fixture
def reason(db) -> LossReason:
    return LossReason.objects.get_or_create(name="Precio alto")[0]


def not_interested(agent, reason, **fields) -> Lead:
    lead = make_lead(taken_by=agent, taken_at=timezone.now(), customer=CustomerFactory(), **fields)
    call_services.record_outcome(
        lead=lead, agent=agent, outcome=CallRecord.Outcome.NOT_INTERESTED, loss_reason=reason
    )
    lead.refresh_from_db()
    assert not lead.in_queue and lead.state == Lead.State.NOT_INTERESTED
    return lead


def reached_kommo(lead: Lead) -> None:
    OutboxMessage.objects.filter(payload__lead_id=lead.kommo_id).update(
        status=OutboxMessage.Status.SENT
    )


def requeue(lead, actor, reason="Lo marcó por error: pidió que lo llamen"):
    return requeue_services.requeue_lead(lead=lead, actor=actor, reason=reason)


# --- the service ------------------------------------------------------------------------


def test_the_lead_is_back_first_in_line_free_as_put_back(agente, jefa, lost_stage, reason):
    lead = not_interested(agente, reason)
    reached_kommo(lead)

    done = requeue(lead, jefa)

    lead.refresh_from_db()
    assert lead.in_queue and lead.state == Lead.State.REQUEUED
    assert lead.taken_by is None and lead.callback_at is None
    assert lead.due_at <= timezone.now()
    assert done.left_as == "No interesado"
    # The queue's filter offers the state: a lead back in the queue is in a queue state.
    assert Lead.State.REQUEUED in Lead.QUEUE_STATES


def test_kommo_gets_the_lead_back_in_para_llamar_once(agente, jefa, lost_stage, reason):
    lead = not_interested(agente, reason)
    reached_kommo(lead)

    done = requeue(lead, jefa)

    message = done.kommo_message
    assert message.payload == {
        "lead_id": lead.kommo_id,
        "status_id": QUEUE_STATUS,
        "pipeline_id": PIPELINE,
    }
    lead.refresh_from_db()
    assert lead.status_id == QUEUE_STATUS


def test_a_lead_left_in_para_llamar_by_its_outcome_moves_nothing_in_kommo(
    agente, jefa, queue_config, reason
):
    # «No interesado» without a stage of its own: Kommo kept the lead in «Para Llamar».
    lead = not_interested(agente, reason)
    before = OutboxMessage.objects.count()

    done = requeue(lead, jefa)

    assert done.kommo_message is None
    assert OutboxMessage.objects.count() == before


def test_the_customers_timeline_says_who_put_it_back_from_what_and_why(
    agente, jefa, lost_stage, reason
):
    lead = not_interested(agente, reason)
    reached_kommo(lead)

    requeue(lead, jefa, "Pidió que lo llamen el lunes")

    entry = Interaction.objects.filter(customer=lead.customer).latest("pk")
    assert "devuelto a la cola de llamadas por Carla Soto" in entry.summary
    assert "«No interesado»" in entry.summary
    assert entry.summary.endswith("Pidió que lo llamen el lunes")
    assert entry.actor == jefa


def test_a_change_still_on_its_way_to_kommo_is_not_raced(agente, jefa, lost_stage, reason):
    # The outcome's move to «No interesado» is still queued: ours could land before it.
    lead = not_interested(agente, reason)

    with pytest.raises(ValidationError, match="todavía no llega a Kommo"):
        requeue(lead, jefa)

    lead.refresh_from_db()
    assert not lead.in_queue and lead.state == Lead.State.NOT_INTERESTED


def test_only_a_supervisor_may(agente, jefa, lost_stage, reason):
    lead = not_interested(agente, reason)
    reached_kommo(lead)

    with pytest.raises(ValidationError, match="Solo un supervisor"):
        requeue(lead, agente)

    lead.refresh_from_db()
    assert not lead.in_queue


def test_a_lead_kommo_moved_or_that_was_sold_stays_out(agente, jefa, queue_config):
    for state, said in (
        (Lead.State.LEFT, "Kommo lo movió a otra etapa"),
        (Lead.State.SOLD, "no vuelve a la cola"),
    ):
        lead = make_lead(in_queue=False, state=state)
        with pytest.raises(ValidationError, match=said):
            requeue(lead, jefa)
        lead.refresh_from_db()
        assert not lead.in_queue


def test_a_lead_in_the_queue_is_refused_and_a_reason_is_required(agente, jefa, lost_stage, reason):
    lead = not_interested(agente, reason)
    reached_kommo(lead)
    with pytest.raises(ValidationError) as refused:
        requeue(lead, jefa, "   ")
    assert refused.value.message_dict == {"reason": ["Indique por qué vuelve a la cola."]}

    requeue(lead, jefa)
    with pytest.raises(ValidationError, match="ya está en la cola"):
        requeue(lead, jefa)


@pytest.mark.django_db(transaction=True)
def test_two_supervisors_at_once_put_it_back_once(roles, queue_config):
    agent = UserFactory(username="vendedora", role="Agente call center")
    one = UserFactory(username="jefa1", role="Supervisor")
    two = UserFactory(username="jefa2", role="Supervisor")
    reason = LossReason.objects.get_or_create(name="Precio alto")[0]
    lead = not_interested(agent, reason)
    entries = Interaction.objects.count()

    done, errors = at_once(
        lambda: requeue(Lead.objects.get(pk=lead.pk), one),
        lambda: requeue(Lead.objects.get(pk=lead.pk), two),
    )

    assert len(done) == 1
    assert len(errors) == 1 and "ya está en la cola" in errors[0]
    assert Interaction.objects.count() == entries + 1


# --- the screens ------------------------------------------------------------------------


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_lead_page_offers_it_to_a_supervisor_only(client, agente, jefa, lost_stage, reason):
    lead = not_interested(agente, reason)
    reached_kommo(lead)
    url = reverse("callcenter:lead_requeue", args=[lead.pk])

    client.force_login(agente)
    assert url not in client.get(lead.get_absolute_url()).content.decode()
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "x", "confirm": "yes"}).status_code == 403

    client.force_login(jefa)
    assert url in client.get(lead.get_absolute_url()).content.decode()


def test_the_confirmation_page_shows_what_happens_and_changes_nothing(
    client, agente, jefa, lost_stage, reason
):
    lead = not_interested(agente, reason)
    reached_kommo(lead)
    client.force_login(jefa)
    url = reverse("callcenter:lead_requeue", args=[lead.pk])

    page = client.get(url).content.decode()
    # Sent without the confirm field (no JavaScript, a double click): still only asks.
    again = client.post(url, {"reason": "Error del agente"}).content.decode()

    for html in (page, again):
        assert "¿Devolver a Rosa Huamán a la cola de llamadas?" in html
        assert "No interesado · Precio alto" in html
        assert (
            "En Kommo vuelve a la etapa «Para Llamar» (ahora en la etapa de «No interesado»)"
            in html
        )
    lead.refresh_from_db()
    assert not lead.in_queue


def test_confirmed_it_says_what_was_done(client, agente, jefa, lost_stage, reason):
    lead = not_interested(agente, reason)
    reached_kommo(lead)
    client.force_login(jefa)
    url = reverse("callcenter:lead_requeue", args=[lead.pk])

    response = client.post(url, {"reason": "Error del agente", "confirm": "yes"})

    assert response.status_code == 302 and response.url == lead.get_absolute_url()
    messages = said(response)
    assert messages[0] == (
        "Lead devuelto a la cola: había salido como «No interesado»; queda libre, el primero."
    )
    # Kommo is not configured in tests: the outbox says so, not that Kommo changed.
    assert "Kommo" in messages[1] and "actualizado" not in messages[1]
    lead.refresh_from_db()
    assert lead.in_queue

    # Sent twice (back button, another tab): refused, nothing more written.
    client.get(lead.get_absolute_url())  # the lead's page shows (and spends) the messages
    entries = Interaction.objects.count()
    response = client.post(url, {"reason": "Error del agente", "confirm": "yes"})
    assert said(response) == ["Este lead ya está en la cola."]
    assert Interaction.objects.count() == entries


def test_a_reason_too_long_is_a_form_error(client, agente, jefa, lost_stage, reason):
    lead = not_interested(agente, reason)
    reached_kommo(lead)
    client.force_login(jefa)
    url = reverse("callcenter:lead_requeue", args=[lead.pk])

    response = client.post(url, {"reason": "x" * 300, "confirm": "yes"})

    assert response.status_code == 200
    assert "El motivo admite hasta 255 caracteres." in response.content.decode()
    lead.refresh_from_db()
    assert not lead.in_queue


def test_the_list_out_of_the_queue_finds_and_filters(client, agente, jefa, queue_config, reason):
    lost = not_interested(agente, reason, contact_name="Óscar Quispe", document_number="44556677")
    make_lead(in_queue=False, state=Lead.State.LEFT, contact_name="Marta Ríos")
    make_lead(contact_name="En Cola Todavía")
    url = reverse("callcenter:leads_out")

    client.force_login(agente)
    assert client.get(url).status_code == 403

    client.force_login(jefa)
    everything = client.get(url).content.decode()
    assert "Óscar Quispe" in everything and "Marta Ríos" in everything
    assert "En Cola Todavía" not in everything
    assert "2 leads" in everything
    by_document = client.get(url, {"q": "44556677"}).content.decode()
    assert lost.get_absolute_url() in by_document and "Marta Ríos" not in by_document
    by_state = client.get(url, {"state": "left"}).content.decode()
    assert "Marta Ríos" in by_state and "Óscar Quispe" not in by_state
    # A state the list does not offer, or a search too long: a form error, never a 500.
    assert client.get(url, {"state": "new"}).status_code == 200
    assert client.get(url, {"q": "x" * 500, "page": "abc"}).status_code == 200


def test_the_queue_links_the_list_for_supervisors(client, agente, jefa, queue_config):
    url = reverse("callcenter:leads_out")
    client.force_login(agente)
    assert url not in client.get(reverse("callcenter:queue")).content.decode()
    client.force_login(jefa)
    assert url in client.get(reverse("callcenter:queue")).content.decode()
