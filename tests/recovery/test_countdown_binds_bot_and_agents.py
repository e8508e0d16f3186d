"""The countdown binds the campaign's links everywhere: a link made before it ends expires
with it (the gateway told the same), the bot is refused a new one after it in the portal's
words and the lookup says the offer concluded, and the agents' page says the countdown
ended (an agent may still make a link: the «contáctanos» path).

The countdown lasts 48 hours from the first visit at noon on 15 June 2026 (Lima): the
offer ends on 17 June at 12:00. A link lasts 72 hours (COLLECTIONS_LINK_HOURS).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from collections_app import services as collection_services
from collections_app.models import Origin, PaymentLink
from integrations import api_clients, fakes
from tests.collections_app.test_bot_api import Bot, doc
from tests.recovery.test_countdown_binds_links import CONCLUDED as PORTAL_SAYS
from tests.recovery.test_countdown_binds_links import (  # noqa: F401 (a fixture, imported)
    COUNTDOWN_END,
    countdown,
)
from tests.recovery.test_portal import (
    NOW,
    OFFER,
    PAY,
    google,  # noqa: F401 (autouse: reCAPTCHA, faked)
    signed_in,
)

# The API says the portal's sentence, with its period.
CONCLUDED = f"{PORTAL_SAYS}."
AFTER = COUNTDOWN_END + timedelta(minutes=1)


@pytest.fixture
def bot(db, openapi) -> Bot:
    _client, token = api_clients.create_client(name="AsisteClick", scopes="collections")
    return Bot(token, openapi)


@pytest.fixture(scope="module")
def openapi() -> dict:
    from tests.api_partner import api_schema

    return api_schema()


@pytest.fixture
def first_visit(countdown, campaign, debtor) -> Client:  # noqa: F811 (imported fixture)
    """The debtor saw the offer at noon: their countdown runs to 17 June at 12:00."""
    client = signed_in(Client(), debtor)
    client.get(OFFER)
    return client


def _bot_link(bot: Bot, debtor, campaign, concept: str = "total", **fields):
    body = {
        **doc(debtor),
        "codigo_pago": campaign.code,
        "concepto": concept,
        "proveedor": "mercadopago",
        "email": "deudor@example.com",
        **fields,
    }
    return bot.post("/payment-links", body)


def test_a_portal_link_ends_with_the_countdown_and_the_gateway_is_told(first_visit):
    first_visit.post(PAY, {"provider": "mercadopago"})

    link = PaymentLink.objects.get()
    assert link.expires_at == COUNTDOWN_END
    assert fakes.fake_gateway("mercadopago").checkouts[0].expires_at == COUNTDOWN_END
    assertContains(
        first_visit.get(reverse("recovery:link", args=[link.reference])),
        "Válido hasta el 17/06/2026 a las 12:00",
    )


def test_a_countdown_longer_than_a_link_leaves_the_link_its_hours(
    countdown,  # noqa: F811 (imported fixture)
    campaign,
    debtor,
):
    countdown.countdown_hours = 100
    countdown.save()
    client = signed_in(Client(), debtor)
    client.get(OFFER)

    client.post(PAY, {"provider": "mercadopago"})

    assert PaymentLink.objects.get().expires_at == NOW + timedelta(hours=72)


def test_a_bot_link_of_any_concept_ends_with_the_countdown(first_visit, bot, debtor, campaign):
    response = _bot_link(bot, debtor, campaign, concept="monto", monto="100.00")

    assert response.status_code == 201, response.json()
    link = PaymentLink.objects.get()
    assert (link.amount, link.expires_at) == (Decimal("100.00"), COUNTDOWN_END)


def test_after_the_countdown_the_bot_is_refused_a_link_in_the_portals_words(
    first_visit, bot, debtor, campaign
):
    with time_machine.travel(AFTER, tick=False):
        response = _bot_link(bot, debtor, campaign)
        portal = first_visit.post(PAY, {"provider": "mercadopago"})

    assert response.status_code == 409
    answer = response.json()
    assert (answer["codigo"], answer["detail"]) == ("oferta_concluida", CONCLUDED)
    assert answer["concluyo"].startswith("2026-06-17T12:00:00")
    assert portal.status_code == 302  # the portal refuses it too
    assert not PaymentLink.objects.exists()


def test_the_lookup_and_the_credits_say_the_offer_concluded(first_visit, bot, debtor, campaign):
    before = bot.get("/lookup", doc(debtor)).json()
    with time_machine.travel(AFTER, tick=False):
        after = bot.get("/lookup", doc(debtor)).json()
        credits = bot.get("/credits", doc(debtor)).json()

    assert before["ofertas_concluidas"] == []
    assert after["estado"] == "CON_DEUDA"
    (concluded,) = after["ofertas_concluidas"]
    assert concluded["codigo_pago"] == campaign.code
    assert concluded["mensaje"] == CONCLUDED
    assert concluded["concluyo"].startswith("2026-06-17T12:00:00")
    (credit,) = [c for c in credits["creditos"] if c["codigo_pago"] == campaign.code]
    assert credit["oferta_concluida"].startswith("2026-06-17T12:00:00")


def test_an_agent_is_told_the_countdown_ended_and_may_still_make_a_link(
    first_visit, debtor, campaign, cobranzas
):
    agent = Client()
    agent.force_login(cobranzas)
    page = reverse("collections_app:customer_collections", args=[debtor.pk])
    ended = "La cuenta regresiva del cliente terminó el 17/06/2026 a las 12:00"
    before = agent.get(page)

    with time_machine.travel(AFTER, tick=False):
        agent.force_login(cobranzas)
        after = agent.get(page)
        link = collection_services.create_payment_link(
            customer=debtor,
            receivable_kind="campaign",
            receivable_id=campaign.pk,
            concept=PaymentLink.Concept.TOTAL,
            provider="mercadopago",
            origin=Origin.AGENT,
            actor=cobranzas,
        )

    assertNotContains(before, ended)
    assertContains(after, ended)
    # Not cut to the offer's end, which went by: the agent's link lasts as any other.
    assert link.expires_at == AFTER + timedelta(hours=72)
    assert timezone.localtime(link.expires_at).date().isoformat() == "2026-06-20"
