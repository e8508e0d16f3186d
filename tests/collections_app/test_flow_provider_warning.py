"""A flow whose steps go through a channel with no provider says so before and after it
sends: those messages are only recorded, not sent."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.models import Flow
from collections_app.strategies import tasks as strategy_tasks  # noqa: F401 (registers the tasks)
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import debtor_due, make_flow, whole_portfolio

SMS_UNSENT = "SMS no configurado: los mensajes se registrarán sin enviarse (pasos −3, +5)."
WHATSAPP_UNSENT = "WhatsApp no configurado: los mensajes se registrarán sin enviarse (paso 0)."


@pytest.fixture
def no_providers(settings):
    settings.SMS_PROVIDER = ""
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_AUTH_TOKEN = ""
    settings.WHATSAPP_ACCESS_TOKEN = ""
    settings.WHATSAPP_PHONE_NUMBER_ID = ""
    return settings


@pytest.fixture
def agent(client, cobranzas):
    client.force_login(cobranzas)
    return cobranzas


def _flow(*, is_active: bool = True) -> Flow:
    sms = make_template(name="Aviso SMS", body="Hola {nombre}, vence el {fecha_vencimiento}.")
    whatsapp = make_template(
        name="Aviso WhatsApp", channel="whatsapp", body="Hola {nombre}", whatsapp_name="aviso"
    )
    return make_flow(whole_portfolio(), [(-3, sms), (0, whatsapp), (5, sms)], is_active=is_active)


def _shown(response) -> list[str]:
    """The messages the page after a POST shows (the page's own warning aside)."""
    return [str(message) for message in response.context["messages"]]


def _url(name: str, flow: Flow) -> str:
    return reverse(f"collections_app:{name}", args=[flow.pk])


def test_the_flow_page_names_the_channels_without_a_provider(agent, client, no_providers):
    flow = _flow()

    response = client.get(_url("flow_detail", flow))

    assertContains(response, SMS_UNSENT)
    assertContains(response, WHATSAPP_UNSENT)


def test_a_configured_channel_is_not_warned_about(agent, client, no_providers):
    no_providers.WHATSAPP_ACCESS_TOKEN = "token"
    no_providers.WHATSAPP_PHONE_NUMBER_ID = "123"
    flow = _flow()

    response = client.get(_url("flow_detail", flow))

    assertContains(response, SMS_UNSENT)
    assertNotContains(response, "WhatsApp no configurado")


def test_switching_on_warns_before_and_after(agent, client, no_providers):
    flow = _flow(is_active=False)

    asked = client.post(_url("flow_set_active", flow), {"active": "1"})
    done = client.post(
        _url("flow_set_active", flow), {"active": "1", "confirm": "yes"}, follow=True
    )

    assertContains(asked, SMS_UNSENT)
    assertContains(asked, WHATSAPP_UNSENT)
    assert _shown(done) == [
        "Flujo activado: queda programado cada día a las 09:00.",
        SMS_UNSENT,
        WHATSAPP_UNSENT,
    ]


def test_running_today_warns_before_and_after(
    agent, client, no_providers, django_capture_on_commit_callbacks
):
    flow = _flow()
    debtor_due(0)

    asked = client.post(_url("flow_run", flow))
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(_url("flow_run", flow), {"confirm": "yes"}, follow=True)

    assertContains(asked, WHATSAPP_UNSENT)
    assert _shown(done)[0].startswith("Ejecución de hoy en cola")
    assert _shown(done)[1:] == [SMS_UNSENT, WHATSAPP_UNSENT]
