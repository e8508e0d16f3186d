"""Event variables ({monto_pago}, {fecha_compromiso}…) are filled only by the event that
carries them: a flow step would send them blank, so flows refuse such a template (saving,
switching on, running), and a template a flow or an events setting sends cannot start
saying them."""

import pytest
from django.core.exceptions import ValidationError

from collections_app.models import EventSetting, FlowRun, FlowStep, MessageTemplate
from collections_app.strategies import flows, templating
from crm.models import Message
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import debtor_due, make_flow, whole_portfolio

THANKS = "Hola {nombre}, recibimos su pago de {monto_pago} del {fecha_pago}."
REFUSED = (
    "La plantilla «Gracias» usa {monto_pago}, {fecha_pago}, que solo tienen los mensajes de "
    "Eventos: en un flujo saldrían en blanco. Elija otra plantilla para el paso."
)


def _save(template, *, flow=None, steps=None):
    return flows.save_flow(
        flow=flow,
        name="Recordatorios",
        description="",
        segment=whole_portfolio() if flow is None else flow.segment,
        steps=steps or [flows.StepData(step=None, day_offset=5, template=template)],
        removed=[],
        actor=None,
    )


def test_a_flow_step_with_an_event_variable_is_refused_on_save(db):
    template = make_template(name="Gracias", body=THANKS)

    with pytest.raises(ValidationError) as caught:
        _save(template)

    assert caught.value.messages == [REFUSED]
    assert not FlowStep.objects.exists()


def test_an_email_subject_with_an_event_variable_is_refused_too(db):
    template = make_template(
        name="Gracias",
        channel=MessageTemplate.Channel.EMAIL,
        subject="Pago de {monto_pago}",
        body="Hola {nombre}.",
    )

    with pytest.raises(ValidationError) as caught:
        _save(template)

    assert "{monto_pago}" in caught.value.messages[0]


def test_an_old_step_with_an_event_variable_fails_its_run_and_cannot_be_switched_on(db):
    debtor_due(-5, first_name="Ana")
    template = make_template(name="Gracias", body="Hola {nombre}.")
    flow = make_flow(whole_portfolio(), [(5, template)], is_active=False)
    # Saved before event variables were refused: the text changed under the flow's step.
    MessageTemplate.objects.filter(pk=template.pk).update(body=THANKS)

    with pytest.raises(ValidationError) as caught:
        flows.set_active(flow=flow, is_active=True, actor=None)
    assert caught.value.messages == [REFUSED]

    flow.is_active = True
    flow.save()
    run = flows.run_step(FlowStep.objects.select_related("flow__segment", "template").get(), TODAY)

    assert run.status == FlowRun.Status.FAILED
    assert run.error == REFUSED
    assert not Message.objects.filter(origin=flows.ORIGIN).exists()


def test_a_template_a_flow_sends_cannot_start_saying_an_event_variable(db):
    template = make_template(name="Gracias", body="Hola {nombre}.")
    make_flow(whole_portfolio(), [(5, template)])

    with pytest.raises(ValidationError) as caught:
        templating.save_template(data={"body": THANKS}, template=template)

    assert "La envían los flujos «Recordatorios», y {monto_pago}, {fecha_pago}" in str(
        caught.value.message_dict["body"]
    )
    assert MessageTemplate.objects.get(pk=template.pk).body == "Hola {nombre}."


def test_a_template_an_event_sends_may_say_only_that_events_variables(db):
    template = make_template(name="Pago verificado", body="{nombre}: recibimos {monto_pago}.")
    EventSetting.objects.create(
        portfolio="vigente", event=EventSetting.Event.VERIFIED, template=template, is_active=True
    )

    # {fecha_pago} comes with a verified payment: accepted.
    templating.save_template(
        data={"body": "{nombre}: recibimos {monto_pago} del {fecha_pago}."}, template=template
    )
    # {fecha_compromiso} does not: refused, saying which event lacks it.
    with pytest.raises(ValidationError) as caught:
        templating.save_template(
            data={"body": "{nombre}: recibimos {monto_pago}; promesa {fecha_compromiso}."},
            template=template,
        )

    (message,) = caught.value.message_dict["body"]
    assert message.startswith(
        "La envía el evento «Cartera vigente: Pago verificado total», que no tiene "
        "{fecha_compromiso}"
    ), message


def test_a_flow_without_event_variables_saves_and_sends_as_before(db):
    debtor_due(-5, first_name="Ana")
    template = make_template(name="Rec", body="Hola {nombre}, su cuota de {cuota}.")
    flow = make_flow(whole_portfolio(), [(5, template)])

    run = flows.run_step(flow.steps.get(), TODAY)

    assert run.status == FlowRun.Status.DONE
    assert run.queued == 1
