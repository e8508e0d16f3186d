"""The customer portal's other doors to a second payment of a debt: one account's page and
its «Ver las cuotas» fragment say the payment under way, and taking an agreement or paying
another amount while one is open asks first.
"""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.models import AgreementRule, PaymentAgreement, PaymentLink
from integrations import fakes
from tests.collections_app.conftest import INSTALLMENT, OVERDUE, TO_SETTLE
from tests.collections_app.test_portal import (  # noqa: F401 (fixtures, imported)
    PAY,
    google,
    reachable,
    signed_in,
)

# The debtor, with an e-mail on file (codes reach them): `debtor` in every test.
pytestmark = pytest.mark.usefixtures("reachable")

UNDER_WAY = "Ya empezó un pago de"
AGREEMENT = reverse("collections_app:portal_agreement")
HTMX = {"HX-Request": "true"}
# 20 % of what is overdue, the least down payment of the rule below.
DOWN_PAYMENT = (OVERDUE * Decimal("0.2")).quantize(Decimal("0.01"))


def account_url(loan) -> str:
    return reverse("collections_app:portal_account", args=["loan", loan.pk])


def total(loan, provider: str, **extra) -> dict:
    return {"debt": f"loan:{loan.pk}", "concept": "total", "provider": provider, **extra}


def installment(loan, number: int, provider: str) -> dict:
    return {
        "debt": f"loan:{loan.pk}",
        "concept": "installment",
        "installment_number": str(number),
        "provider": provider,
    }


def take(loan, rule, provider: str, **extra) -> dict:
    return {"debt": f"loan:{loan.pk}", "option": f"{rule.pk}-3", "provider": provider, **extra}


def confirmation_form(html: str) -> tuple[str, dict]:
    """The confirmation page's form: where it posts, and what it sends."""
    form = re.search(
        r'<section[^>]* id="confirm-other-gateway".*?<form[^>]*action="([^"]+)"(.*?)</form>',
        html,
        re.S,
    )
    assert form is not None
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(2)))
    return form.group(1), fields


@pytest.fixture
def rule(loan):
    """Agreements of up to 3 payments, 20 % down, offered for the loan's overdue debt."""
    loan.days_past_due = 134
    loan.save()
    return AgreementRule.objects.create(
        name="Hasta 3 cuotas", max_installments=3, min_down_payment_percent=Decimal("20")
    )


# --- One account's page, and its installments' fragment ----------------------------------


def test_one_accounts_page_says_its_payment_under_way(debtor, loan):
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))
    link = PaymentLink.objects.get()

    page = client.get(account_url(loan))

    assertContains(page, UNDER_WAY, count=1)
    assertContains(page, "S/ 10,970.27</span> con MercadoPago el 15/06/2026 a las")
    assertContains(page, f'href="{reverse("collections_app:portal_link", args=[link.reference])}"')


def test_the_installments_fragment_says_it_too(debtor, loan):
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))

    fragment = client.get(account_url(loan), headers=HTMX)

    # The card alone, its notice inside it (hx-swap="outerHTML" replaces the card's line).
    assert fragment.text.lstrip().startswith(
        f'<section class="card shadow-sm mb-3" id="account-loan-{loan.pk}"'
    )
    assertNotContains(fragment, "<html")
    assertContains(fragment, UNDER_WAY, count=1)


def test_an_accounts_page_says_only_that_debts_payments(debtor, loan, make_active_loan):
    other = make_active_loan(customer=debtor)
    client = signed_in(Client(), debtor)
    client.post(PAY, total(other, "mercadopago"))

    assertNotContains(client.get(account_url(loan)), UNDER_WAY)
    assertContains(client.get(account_url(other)), UNDER_WAY, count=1)


def test_payments_under_way_cost_an_accounts_page_no_query_more_than_none(debtor, loan):
    client = signed_in(Client(), debtor)
    client.get(account_url(loan))
    with CaptureQueriesContext(connection) as none:
        assertNotContains(client.get(account_url(loan)), UNDER_WAY)
    client.post(PAY, total(loan, "mercadopago"))
    client.post(PAY, {**installment(loan, 1, "mercadopago"), "confirm": "yes"})
    assert PaymentLink.objects.count() == 2

    with CaptureQueriesContext(connection) as two:
        page = client.get(account_url(loan))

    assertContains(page, UNDER_WAY, count=2)
    assert len(two.captured_queries) == len(none.captured_queries)


# --- «Aceptar y pagar la cuota inicial» while a payment is under way --------------------------


def test_an_agreement_through_the_other_gateway_asks_first_and_takes_nothing(debtor, loan, rule):
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))
    first = PaymentLink.objects.get()

    response = client.post(AGREEMENT, take(loan, rule, "clear"))

    assert response.status_code == 200
    assertContains(response, "¿Pagar la cuota inicial con Clear de todos modos?")
    assertContains(response, f"{UNDER_WAY} <span")
    assertContains(response, "S/ 10,970.27</span> con MercadoPago")
    assertContains(response, f'Si paga también <span class="amount">S/ {DOWN_PAYMENT:,}</span>')
    assertContains(response, f'<input type="hidden" name="option" value="{rule.pk}-3">', html=True)
    assertContains(response, '<input type="hidden" name="confirm" value="yes">', html=True)
    assert not PaymentAgreement.objects.exists()
    assert list(PaymentLink.objects.all()) == [first]
    assert fakes.fake_gateway("clear").checkouts == []


def test_the_confirmations_form_takes_the_agreement_and_keeps_the_first_link(debtor, loan, rule):
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))
    first = PaymentLink.objects.get()
    asked = client.post(AGREEMENT, take(loan, rule, "clear"))

    response = client.post(*confirmation_form(asked.text))

    down = PaymentAgreement.objects.get().links.get()
    assert (down.provider, down.amount) == ("clear", DOWN_PAYMENT)
    assert response["Location"] == (
        reverse("collections_app:portal_link", args=[down.reference]) + "?ir=1"
    )
    first.refresh_from_db()
    assert first.status == PaymentLink.Status.ACTIVE


def test_an_agreement_through_the_same_gateway_asks_too(debtor, loan, rule):
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))

    response = client.post(AGREEMENT, take(loan, rule, "mercadopago"))

    assertContains(response, "¿Pagar la cuota inicial con MercadoPago de todos modos?")
    assert not PaymentAgreement.objects.exists()
    assert PaymentLink.objects.count() == 1


# --- Another amount of the same debt -----------------------------------------------------------


def test_an_installment_while_the_total_is_under_way_asks_first(debtor, loan):
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))
    first = PaymentLink.objects.get()

    response = client.post(PAY, installment(loan, 1, "mercadopago"))

    assert response.status_code == 200
    assertContains(response, "¿Pagar con MercadoPago de todos modos?")
    assertContains(response, "S/ 10,970.27</span> con MercadoPago el 15/06/2026")
    assertContains(
        response, f'Si paga también <span class="amount">S/ {INSTALLMENT:,}</span>, pagará las dos'
    )
    assertNotContains(response, "se le cobraría dos veces")
    assertContains(response, '<input type="hidden" name="installment_number" value="1">', html=True)
    assert list(PaymentLink.objects.all()) == [first]
    assert len(fakes.fake_gateway("mercadopago").checkouts) == 1


def test_another_amount_through_the_other_gateway_says_both_are_paid(debtor, loan):
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))

    response = client.post(PAY, installment(loan, 1, "clear"))

    assertContains(response, "¿Pagar con Clear de todos modos?")
    assertContains(response, "pagará las dos cosas.")
    assertNotContains(response, "se le cobraría dos veces")
    assert PaymentLink.objects.count() == 1


def test_the_same_amount_through_the_same_gateway_as_another_link_asks_too(debtor, loan):
    """«Otro monto» of the total is a link of its own (not the total's, reused): paid
    besides it, the debt is paid twice."""
    client = signed_in(Client(), debtor)
    client.post(PAY, total(loan, "mercadopago"))

    response = client.post(
        PAY,
        {
            "debt": f"loan:{loan.pk}",
            "concept": "custom",
            "amount": str(TO_SETTLE),
            "provider": "mercadopago",
        },
    )

    assertContains(response, "Si ya pagó con MercadoPago, se le cobraría dos veces.")
    assert PaymentLink.objects.count() == 1
