"""Estrategias' new-segment, new-template and new-flow forms sent twice: a double click, the
back button and send. The second finds the first by the name it just took, goes to it and
says so, instead of refusing the name as if it were someone else's."""

from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from collections_app.models import Flow, MessageTemplate, Segment
from collections_app.strategies import flows
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import whole_portfolio


def url(name: str, *args) -> str:
    return reverse(f"collections_app:{name}", args=args)


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


SEGMENT = {"name": "Temprana", "min_days_past_due": "1", "max_days_past_due": "30"}
TEMPLATE = {
    "name": "Aviso",
    "channel": "sms",
    "portfolio": "vigente",
    "subject": "",
    "body": "Hola {nombre}, su saldo es {saldo}.",
    "whatsapp_name": "",
    "whatsapp_language": "es",
    "is_active": "on",
}


def flow_data(segment, template) -> dict:
    return {
        "name": "Mora temprana",
        "description": "",
        "segment": segment.pk,
        "steps-TOTAL_FORMS": 1,
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        "steps-0-day_offset": 0,
        "steps-0-template": template.pk,
    }


def test_a_segment_sent_twice_is_created_once_and_the_second_goes_to_it(agent_client):
    agent_client.post(url("segment_create"), SEGMENT)

    second = agent_client.post(url("segment_create"), SEGMENT, follow=True)

    segment = Segment.objects.get()
    assert second.redirect_chain == [(url("segment_update", segment.pk), 302)]
    assert "El segmento «Temprana» ya se creó hace un momento: no se creó otro." in " ".join(
        shown(second)
    )


def test_a_template_sent_twice_is_created_once_and_the_second_goes_to_it(agent_client):
    agent_client.post(url("template_create"), TEMPLATE)

    second = agent_client.post(url("template_create"), TEMPLATE, follow=True)

    template = MessageTemplate.objects.get()
    assert second.redirect_chain == [(url("template_update", template.pk), 302)]
    assert "La plantilla «Aviso» ya se creó hace un momento: no se creó otra." in " ".join(
        shown(second)
    )


def test_a_flow_sent_twice_is_created_once_and_the_second_goes_to_it(agent_client):
    data = flow_data(whole_portfolio(), make_template())
    agent_client.post(url("flow_create"), data)

    second = agent_client.post(url("flow_create"), data, follow=True)

    flow = Flow.objects.get()
    assert second.redirect_chain == [(url("flow_detail", flow.pk), 302)]
    assert "El flujo «Mora temprana» ya se creó hace un momento: no se creó otro." in " ".join(
        shown(second)
    )


def test_a_flow_saved_with_a_name_taken_meanwhile_is_refused_on_its_name(db, cobranzas):
    """What the second of two sends at once meets: the form found the name free, the other
    saved it first. A refusal the page shows (and then finds the first), not a server error."""
    segment, template = whole_portfolio(), make_template()
    steps = [flows.StepData(step=None, day_offset=0, template=template)]
    save = partial(
        flows.save_flow,
        flow=None,
        name="Mora temprana",
        description="",
        segment=segment,
        steps=steps,
        removed=[],
        actor=cobranzas,
    )
    save()

    with pytest.raises(ValidationError) as refused:
        save()

    assert refused.value.message_dict == {"name": ["Ya existe un flujo con este nombre."]}
    assert Flow.objects.count() == 1


# --- A deletion confirmed twice ------------------------------------------------------------


def test_a_segment_deleted_twice_says_the_first_deleted_it(agent_client):
    segment = Segment.objects.create(name="Temprana")
    url_ = url("segment_delete", segment.pk)
    agent_client.post(url_, {"confirm": "yes"})

    second = agent_client.post(url_, {"confirm": "yes"}, follow=True)

    assert second.redirect_chain == [(url("segment_list"), 302)]
    assert "El segmento «Temprana» ya se eliminó hace un momento." in shown(second)


def test_a_template_deleted_twice_says_the_first_deleted_it(agent_client):
    template = make_template(name="Aviso")
    url_ = url("template_delete", template.pk)
    agent_client.post(url_, {"confirm": "yes"})

    second = agent_client.post(url_, {"confirm": "yes"}, follow=True)

    assert second.redirect_chain == [(url("template_list"), 302)]
    assert "La plantilla «Aviso» ya se eliminó hace un momento." in shown(second)


def test_a_flow_deleted_twice_says_the_first_deleted_it(agent_client):
    agent_client.post(url("flow_create"), flow_data(whole_portfolio(), make_template()))
    url_ = url("flow_delete", Flow.objects.get().pk)
    agent_client.post(url_, {"confirm": "yes"})

    second = agent_client.post(url_, {"confirm": "yes"}, follow=True)

    assert second.redirect_chain == [(url("flow_list"), 302)]
    assert "El flujo «Mora temprana» ya se eliminó hace un momento." in shown(second)


def test_a_row_not_the_last_deleted_here_or_deleted_long_ago_is_not_found(
    agent_client, time_machine
):
    first, second = Segment.objects.create(name="Uno"), Segment.objects.create(name="Dos")
    agent_client.post(url("segment_delete", first.pk), {"confirm": "yes"})
    agent_client.post(url("segment_delete", second.pk), {"confirm": "yes"})

    # Not the last deletion of this session, then too late for the last one.
    earlier = agent_client.post(url("segment_delete", first.pk), {"confirm": "yes"})
    time_machine.move_to(timezone.now() + timezone.timedelta(minutes=2))
    later = agent_client.post(url("segment_delete", second.pk), {"confirm": "yes"})

    assert (earlier.status_code, later.status_code) == (404, 404)


# --- A name taken ---------------------------------------------------------------------------


def test_a_name_taken_long_ago_or_by_another_person_is_still_refused(
    agent_client, supervisor, time_machine
):
    agent_client.post(url("segment_create"), SEGMENT)
    time_machine.move_to(timezone.now() + timezone.timedelta(minutes=2))

    later = agent_client.post(url("segment_create"), SEGMENT)
    agent_client.force_login(supervisor)
    other = agent_client.post(url("segment_create"), SEGMENT)

    assert Segment.objects.count() == 1
    for response in (later, other):
        assert response.status_code == 200
        assert "name" in response.context["form"].errors
