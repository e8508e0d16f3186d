"""The customer portal: a debtor back from one gateway is told their payment is under way,
and paying the same debt through the other gateway asks first: both could be paid.
"""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app import services as collection_services
from collections_app.models import Origin, PaymentLink
from integrations import fakes
from tests.collections_app.test_portal import (  # noqa: F401 (fixtures, imported)
    PAY,
    STATEMENT,
    google,
    reachable,
    signed_in,
)

# The debtor, with an e-mail on file (codes reach them): `debtor` in every test.
pytestmark = pytest.mark.usefixtures("reachable")

UNDER_WAY = "Ya empezó un pago de"


def total(loan, provider: str, **extra) -> dict:
    return {"debt": f"loan:{loan.pk}", "concept": "total", "provider": provider, **extra}


def test_the_statement_says_a_payment_is_under_way_with_its_page(debtor, loan):
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))
    link = PaymentLink.objects.get()

    page = client.get(STATEMENT)

    assertContains(page, UNDER_WAY, count=1)
    assertContains(page, "S/ 10,970.27</span> con MercadoPago el 15/06/2026 a las")
    assertContains(page, "Si ya pagó, espere la confirmación: puede tardar unos minutos.")
    assertContains(page, f'href="{reverse("collections_app:portal_link", args=[link.reference])}"')


def test_a_link_the_bot_made_is_under_way_one_an_agent_made_is_not(debtor, loan):
    for origin in (Origin.BOT, Origin.AGENT):
        collection_services.create_payment_link(
            customer=debtor,
            receivable_kind="loan",
            receivable_id=loan.pk,
            concept=PaymentLink.Concept.TOTAL if origin == Origin.BOT else "installment",
            installment_number=None if origin == Origin.BOT else 1,
            provider="clear",
            origin=origin,
            actor=None,
        )
    client = signed_in(Client(), debtor)

    page = client.get(STATEMENT)

    assertContains(page, UNDER_WAY, count=1)
    assertContains(page, "S/ 10,970.27</span> con Clear")


def test_the_other_gateway_asks_first_and_makes_no_link(debtor, loan):
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))
    first = PaymentLink.objects.get()

    response = client.post(PAY, total(loan, "clear"))

    assert response.status_code == 200
    assertContains(response, "¿Pagar con Clear de todos modos?")
    assertContains(response, "Si ya pagó con MercadoPago, se le cobraría dos veces.")
    assertContains(response, '<input type="hidden" name="provider" value="clear">', html=True)
    assertContains(response, '<input type="hidden" name="confirm" value="yes">', html=True)
    assert list(PaymentLink.objects.all()) == [first]
    assert fakes.fake_gateway("clear").checkouts == []


def test_confirmed_the_other_gateway_makes_its_link_and_keeps_the_first(debtor, loan):
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))
    first = PaymentLink.objects.get()

    response = client.post(PAY, total(loan, "clear", confirm="yes"))

    second = PaymentLink.objects.exclude(pk=first.pk).get()
    assert second.provider == "clear"
    assert response["Location"] == (
        reverse("collections_app:portal_link", args=[second.reference]) + "?ir=1"
    )
    first.refresh_from_db()
    assert first.status == PaymentLink.Status.ACTIVE


def test_the_same_gateway_goes_straight_on(debtor, loan):
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))
    link = PaymentLink.objects.get()

    again = client.post(PAY, total(loan, "mercadopago"))

    assert again["Location"] == (
        reverse("collections_app:portal_link", args=[link.reference]) + "?ir=1"
    )
    assert PaymentLink.objects.count() == 1


def test_another_debt_pays_through_the_other_gateway_without_asking(debtor, loan, make_active_loan):
    other = make_active_loan(customer=debtor)
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))

    response = client.post(PAY, total(other, "clear"))

    assert response.status_code == 302
    assert PaymentLink.objects.filter(provider="clear", receivable_id=other.pk).exists()


def test_payments_under_way_on_four_loans_cost_the_statement_no_more_queries(
    debtor, loan, make_active_loan
):
    others = [make_active_loan(customer=debtor) for _ in range(3)]
    client = signed_in(Client(), debtor)
    client.get(STATEMENT)  # the first view records its step
    with CaptureQueriesContext(connection) as none:
        assertNotContains(client.get(STATEMENT), UNDER_WAY)
    for each in [loan, *others]:
        client.post(PAY, total(each, "mercadopago"))

    with CaptureQueriesContext(connection) as four:
        page = client.get(STATEMENT)

    assertContains(page, UNDER_WAY, count=4)
    for each in [loan, *others]:
        assertContains(page, f"({each.payment_code})")
    assert len(four.captured_queries) == len(none.captured_queries)
