# ruff: noqa: F811 (pytest fixtures imported from the bot API's tests)
"""A payment link whose creation was cut off: the request asking the gateway ended during
the call (gunicorn's timeout ends a sync worker with SystemExit; a restart does the same),
and the link stayed "creating", without a URL.

Nobody can be sent it or pay it: the agent is not told to send it, may make another once
the wait for it is over, and the hourly sweep calls it failed, not "expired unpaid". The
bot waiting on a link another request was making hears of the gateway's trouble (502/503),
not that its own input was wrong (422).
"""

import types
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from collections_app import services
from collections_app.models import Origin, PaymentLink
from crm import display
from crm.models import Interaction
from integrations import fakes
from tests.collections_app.test_bot_api import Bot, bot, link_body, openapi, token  # noqa: F401

LINK_FORM = {"link-debt": None, "link-concept": "total", "link-provider": "mercadopago"}


def _link_form(loan) -> dict:
    return {**LINK_FORM, "link-debt": f"loan:{loan.pk}"}


def _cut_off_by_an_agent(client, loan) -> PaymentLink:
    """The agent asks for a link; the worker is ended while the gateway answers."""
    fakes.fake_gateway("mercadopago").errors.append(SystemExit(1))
    with pytest.raises(SystemExit):
        client.post(_create_url(loan), _link_form(loan))
    link = PaymentLink.objects.get()
    assert (link.status, link.url) == (PaymentLink.Status.CREATING, "")
    return link


def _create_url(loan) -> str:
    return reverse("collections_app:customer_link_create", args=[loan.customer.pk])


def _said(loan) -> list[str]:
    return list(
        Interaction.objects.filter(customer=loan.customer)
        .order_by("pk")
        .values_list("summary", flat=True)
    )


@pytest.fixture
def agent(client, cobranzas):
    client.force_login(cobranzas)
    return client


def test_pressing_again_while_a_link_is_being_created_does_not_say_to_send_it(agent, loan):
    link = _cut_off_by_an_agent(agent, loan)

    again = agent.post(_create_url(loan), _link_form(loan))

    page = again.content.decode()
    assert "Envíe al cliente ese link" not in page
    assert f"Este mismo link se está creando en este momento ({link.reference}" in page
    assert PaymentLink.objects.count() == 1


def test_past_the_wait_a_link_cut_off_does_not_stop_the_agent_making_one(agent, loan):
    cut_off = _cut_off_by_an_agent(agent, loan)

    later = cut_off.created_at + services.LINK_CREATING_WAIT + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        again = agent.post(_create_url(loan), _link_form(loan))

    assert again.status_code == 302, again.context["link_form"].non_field_errors()
    made = PaymentLink.objects.exclude(pk=cut_off.pk).get()
    assert made.status == PaymentLink.Status.ACTIVE and made.url


def test_the_hourly_sweep_calls_a_cut_off_link_failed_not_expired_unpaid(loan, cobranzas):
    fakes.fake_gateway("mercadopago").errors.append(SystemExit(1))
    with pytest.raises(SystemExit):
        services.create_payment_link(
            customer=loan.customer,
            receivable_kind="loan",
            receivable_id=loan.pk,
            concept=PaymentLink.Concept.TOTAL,
            provider="mercadopago",
            origin=Origin.AGENT,
            actor=cobranzas,
        )
    link = PaymentLink.objects.get()

    # Within the wait, the gateway may still answer the request: it is left alone.
    assert services.expire_links(now=link.created_at + timedelta(seconds=10)) == 0
    link.refresh_from_db()
    assert link.status == PaymentLink.Status.CREATING
    # The next hourly run, well before its expiry, and again after it.
    assert services.expire_links(now=link.created_at + timedelta(minutes=50)) == 1
    assert services.expire_links(now=link.expires_at + timedelta(minutes=1)) == 0

    link.refresh_from_db()
    assert link.status == PaymentLink.Status.FAILED
    assert link.status_reason == (
        "La creación del link se interrumpió antes de recibir su URL de la pasarela."
    )
    said = _said(loan)
    assert not any("venció sin pagarse" in s for s in said), said
    entry = Interaction.objects.filter(customer=loan.customer, payload__link=link.pk).get()
    amount = display.money_text(link.amount, "PEN")
    assert entry.summary == (
        f"Link de pago {link.reference} de {amount} sin URL: la creación del link se "
        "interrumpió; no se cobró nada"
    )
    assert (entry.kind, entry.actor) == (Interaction.Kind.SYSTEM, None)


# --- The bot, waiting on the same link another request is making ---------------------------


def _being_made_by_another_request(bot, debtor, loan) -> PaymentLink:
    assert bot.post("/payment-links", link_body(debtor, loan)).status_code == 201
    link = PaymentLink.objects.get()
    assert link.origin == Origin.BOT
    PaymentLink.objects.filter(pk=link.pk).update(
        status=PaymentLink.Status.CREATING, url="", provider_id="", created_at=timezone.now()
    )
    return link


def test_the_bot_waiting_on_a_link_the_gateway_refused_hears_a_502(bot, debtor, loan, monkeypatch):
    link = _being_made_by_another_request(bot, debtor, loan)

    def the_other_request_fails(seconds):
        PaymentLink.objects.filter(pk=link.pk).update(
            status=PaymentLink.Status.FAILED, status_reason="MercadoPago respondió HTTP 500."
        )

    monkeypatch.setattr(services, "time", types.SimpleNamespace(sleep=the_other_request_fails))

    response = bot.post("/payment-links", link_body(debtor, loan))

    assert response.status_code == 502, response.json()
    assert response.json()["detail"] == (
        "La pasarela MercadoPago no pudo crear el link: MercadoPago respondió HTTP 500."
    )
    assert PaymentLink.objects.count() == 1


def test_the_bot_told_a_link_is_still_being_made_hears_a_503(bot, debtor, loan, monkeypatch):
    _being_made_by_another_request(bot, debtor, loan)
    monkeypatch.setattr(services, "LINK_WAIT", timedelta(0))

    response = bot.post("/payment-links", link_body(debtor, loan))

    assert response.status_code == 503, response.json()
    assert response.json()["detail"] == (
        "El link de pago de esta deuda se está creando: vuelva a intentarlo en unos segundos."
    )
    assert PaymentLink.objects.count() == 1
