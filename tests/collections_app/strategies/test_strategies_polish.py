"""Strategies' settings said and kept plainly: one limit for a text too long for its
channel, a template's channel kept once a flow sent it, and quiet hours that leave time to
send."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.models import FlowRun, MessageTemplate
from collections_app.strategies import events, templating
from crm.models import MessagePolicy
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import make_flow, whole_portfolio

pytestmark = pytest.mark.django_db


def _template_data(**fields) -> dict:
    return {
        "name": "Aviso",
        "channel": "sms",
        "portfolio": "vigente",
        "subject": "",
        "body": "Hola {nombre}",
        "whatsapp_name": "",
        "whatsapp_language": "es",
        "is_active": "on",
        **fields,
    }


# --- A text too long: one limit, the channel's ---------------------------------------------


def test_an_sms_longer_than_the_column_is_told_the_sms_limit_only(client, cobranzas):
    client.force_login(cobranzas)

    response = client.post(
        reverse("collections_app:template_create"), _template_data(body="x" * 10_000)
    )

    assert response.context["form"].errors["body"] == [
        "El texto tiene 10,000 caracteres; un SMS admite hasta 918 (6 mensajes)."
    ]
    assertNotContains(response, "como máximo 4000 caracteres")
    assertContains(response, "10,000 de 918 caracteres")
    assert not MessageTemplate.objects.exists()


def test_a_whatsapp_text_longer_than_the_column_is_told_whatsapps_limit(client, cobranzas):
    client.force_login(cobranzas)

    response = client.post(
        reverse("collections_app:template_create"),
        _template_data(channel="whatsapp", whatsapp_name="aviso", body="x" * 5_000),
    )

    assert response.context["form"].errors["body"] == [
        "El texto tiene 5,000 caracteres; WhatsApp admite hasta 1,024."
    ]


# --- The channel of a template a flow already sent -----------------------------------------


@pytest.fixture
def sent_by_sms(db):
    """An SMS template whose flow step ran today and picked three debtors."""
    template = make_template(name="Recordatorio +5")
    flow = make_flow(whole_portfolio(), [(5, template)], name="Mora temprana")
    FlowRun.objects.create(
        step=flow.steps.get(), run_on=TODAY, status=FlowRun.Status.DONE, selected=3, queued=3
    )
    return template


def _as_email(template: MessageTemplate) -> dict:
    return {
        "name": template.name,
        "channel": MessageTemplate.Channel.EMAIL,
        "portfolio": template.portfolio,
        "subject": "Su cuota",
        "body": template.body,
        "whatsapp_name": "",
        "whatsapp_language": "es",
        "is_active": True,
    }


def test_a_template_a_flow_already_sent_keeps_its_channel(sent_by_sms):
    with pytest.raises(ValidationError) as refused:
        templating.save_template(data=_as_email(sent_by_sms), template=sent_by_sms)

    assert refused.value.message_dict["channel"] == [
        "La plantilla ya se envió por SMS en los flujos «Mora temprana»: su canal no cambia, "
        "para que el historial de esos envíos siga siendo por SMS. Para enviar este texto por "
        "correo, cree una plantilla nueva con ese canal y elíjala en los pasos."
    ]
    sent_by_sms.refresh_from_db()
    assert sent_by_sms.channel == MessageTemplate.Channel.SMS


def test_the_template_page_says_why_its_channel_stays(client, cobranzas, sent_by_sms):
    client.force_login(cobranzas)
    data = {**_as_email(sent_by_sms), "is_active": "on"}

    response = client.post(reverse("collections_app:template_update", args=[sent_by_sms.pk]), data)

    assert response.status_code == 200
    assertContains(response, "cree una plantilla nueva con ese canal")
    sent_by_sms.refresh_from_db()
    assert sent_by_sms.channel == MessageTemplate.Channel.SMS


def test_the_template_page_says_before_saving_that_its_channel_stays(
    client, cobranzas, sent_by_sms
):
    client.force_login(cobranzas)

    response = client.get(reverse("collections_app:template_update", args=[sent_by_sms.pk]))

    assertContains(
        response,
        "Ya se envió por este canal en los flujos «Mora temprana»: no cambia. Para otro canal, "
        "cree una plantilla nueva.",
    )


def test_a_template_whose_runs_found_nobody_may_change_channel(db):
    template = make_template(name="Recordatorio +5")
    flow = make_flow(whole_portfolio(), [(5, template)], name="Mora temprana")
    FlowRun.objects.create(step=flow.steps.get(), run_on=TODAY, status=FlowRun.Status.DONE)

    templating.save_template(data=_as_email(template), template=template)

    template.refresh_from_db()
    assert template.channel == MessageTemplate.Channel.EMAIL


def test_a_template_a_flow_sent_may_still_change_its_text(sent_by_sms):
    data = {**_as_email(sent_by_sms), "channel": "sms", "subject": "", "body": "Hola {nombre}"}

    templating.save_template(data=data, template=sent_by_sms)

    sent_by_sms.refresh_from_db()
    assert sent_by_sms.body == "Hola {nombre}"


# --- Quiet hours that leave time to send ---------------------------------------------------


def _policy(start: datetime.time, end: datetime.time) -> None:
    events.validate_policy(quiet_start=start, quiet_end=end, daily_limit=3)


def test_quiet_hours_leaving_a_minute_to_send_are_refused_saying_how_long_is_left():
    with pytest.raises(ValidationError) as refused:
        _policy(datetime.time(8), datetime.time(7, 59))

    assert refused.value.message_dict["quiet_end"] == [
        "Con silencio de 08:00 a 07:59, el día tiene solo 1 minuto para enviar mensajes: "
        "deje al menos 1 hora (p. ej., silencio de 20:00 a 08:00)."
    ]


def test_quiet_hours_within_one_day_leaving_under_an_hour_are_refused():
    with pytest.raises(ValidationError) as refused:
        _policy(datetime.time(0, 15), datetime.time(23, 30))

    assert "el día tiene solo 45 minutos" in refused.value.message_dict["quiet_end"][0]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime.time(20), datetime.time(8)),
        (datetime.time(8), datetime.time(7)),  # one hour left: the least taken
        (datetime.time(0, 30), datetime.time(23, 30)),
    ],
)
def test_quiet_hours_leaving_an_hour_or_more_are_taken(start, end):
    _policy(start, end)


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        (datetime.time(20), datetime.time(8), 720),
        (datetime.time(8), datetime.time(7, 59), 1),
        (datetime.time(0, 15), datetime.time(23, 30), 45),
        (datetime.time(9), datetime.time(9), 1440),
    ],
)
def test_the_time_left_to_send_is_counted_across_midnight(start, end, minutes):
    assert events.sending_minutes(start, end) == minutes


def test_the_policy_page_refuses_quiet_hours_that_leave_no_time(client, supervisor):
    MessagePolicy.objects.update_or_create(
        pk=1, defaults={"quiet_start": datetime.time(20), "quiet_end": datetime.time(8)}
    )
    client.force_login(supervisor)

    response = client.post(
        reverse("collections_app:message_policy"),
        {"quiet_start": "08:00", "quiet_end": "07:59", "daily_limit": "3"},
    )

    assert response.status_code == 200
    assertContains(response, "el día tiene solo 1 minuto para enviar mensajes")
    policy = MessagePolicy.current()
    assert (policy.quiet_start, policy.quiet_end) == (datetime.time(20), datetime.time(8))
