"""/recovery: a debtor back from one gateway (Back, or a return page that never loaded) is
told their payment is under way, and a second gateway asks first: both could be paid.

The clock is frozen on TODAY (15 June 2026), as for every recovery test.
"""

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.models import PaymentLink
from integrations import fakes
from tests.recovery.test_portal import (  # noqa: F401 (fixtures, imported)
    OFFER,
    OPTIONS,
    PAY,
    google,
    portal,
    signed_in,
)

pytestmark = pytest.mark.usefixtures("portal")

UNDER_WAY = "Ya empezó un pago de"
ASKS = "¿Pagar con Clear de todos modos?"


def paying(debtor, provider: str = "mercadopago") -> tuple[Client, PaymentLink]:
    """The debtor went to the gateway from the options page, and came back."""
    client = signed_in(Client(), debtor)
    client.get(OFFER)
    client.post(PAY, {"provider": provider})
    return client, PaymentLink.objects.get()


def test_back_from_the_gateway_the_options_say_the_payment_is_under_way(campaign, debtor):
    client, link = paying(debtor)

    page = client.get(OPTIONS)

    assertContains(page, UNDER_WAY)
    assertContains(page, "S/ 7,200.00</span> con MercadoPago el 15/06/2026 a las")
    assertContains(page, "Si ya pagó, espere la confirmación: puede tardar unos minutos.")
    assertContains(page, f'href="{reverse("recovery:link", args=[link.reference])}"')


def test_before_any_payment_the_options_say_nothing_of_one(campaign, debtor):
    client = signed_in(Client(), debtor)
    client.get(OFFER)

    assertNotContains(client.get(OPTIONS), UNDER_WAY)


def test_the_other_gateway_asks_first_and_makes_no_link(campaign, debtor):
    client, link = paying(debtor)

    response = client.post(PAY, {"provider": "clear"})

    assert response.status_code == 200
    assertContains(response, ASKS)
    assertContains(response, "Si ya pagó con MercadoPago, se le cobraría dos veces.")
    assertContains(response, '<input type="hidden" name="provider" value="clear">', html=True)
    assertContains(response, '<input type="hidden" name="confirm" value="yes">', html=True)
    assert list(PaymentLink.objects.all()) == [link]
    assert fakes.fake_gateway("clear").checkouts == []


def test_confirmed_the_other_gateway_makes_its_link_and_keeps_the_first(campaign, debtor):
    client, first = paying(debtor)

    response = client.post(PAY, {"provider": "clear", "confirm": "yes"})

    second = PaymentLink.objects.exclude(pk=first.pk).get()
    assert second.provider == "clear"
    assert response["Location"] == reverse("recovery:link", args=[second.reference]) + "?ir=1"
    first.refresh_from_db()
    assert first.status == PaymentLink.Status.ACTIVE


def test_the_same_gateway_goes_straight_on_to_its_link(campaign, debtor):
    client, link = paying(debtor)
    client.post(PAY, {"provider": "clear", "confirm": "yes"})

    again = client.post(PAY, {"provider": "mercadopago"})

    assert again["Location"] == reverse("recovery:link", args=[link.reference]) + "?ir=1"
    assert PaymentLink.objects.count() == 2
