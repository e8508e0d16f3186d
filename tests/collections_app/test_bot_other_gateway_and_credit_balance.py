"""The bot asks before a second gateway's link for a debt that has one open (as the portal
does): paying both charged the debtor twice. And the credit balance such a double payment
leaves shows where the debtor and the agent look: the bot's lookup and the customer's
collections page, and the debtor's portal statement."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.models import Origin, PaymentLink
from credits.models import Loan
from integrations import fakes
from tests.collections_app.conftest import TO_SETTLE, TODAY, pay
from tests.collections_app.test_bot_api import Bot, doc, link_body, openapi, token  # noqa: F401
from tests.collections_app.test_payment_events import link_for
from tests.collections_app.test_portal import (  # noqa: F401 (fixtures, imported)
    STATEMENT,
    google,
    reachable,
    signed_in,
)

OVERPAID = "1000.00"


@pytest.fixture
def bot(token, openapi):  # noqa: F811
    return Bot(token, openapi)


def test_a_link_through_the_other_gateway_asks_first_and_makes_nothing(bot, debtor, loan):
    first = bot.post("/payment-links", link_body(debtor, loan)).json()

    response = bot.post("/payment-links", link_body(debtor, loan, proveedor="clear"))

    assert response.status_code == 409
    answer = response.json()
    assert answer["codigo"] == "otro_pago_en_curso"
    assert answer["link"]["referencia"] == first["referencia"]
    assert answer["link"]["proveedor"] == "mercadopago"
    assert answer["detail"].startswith(
        f"La deuda {loan.payment_code} tiene un pago en curso por MercadoPago: el link "
        f"{first['referencia']} de S/ {TO_SETTLE:,.2f}"
    )
    assert "confirmar_otra_pasarela" in answer["detail"]
    assert PaymentLink.objects.count() == 1
    assert not fakes.fake_gateway("clear").checkouts


def test_confirmed_the_other_gateway_makes_its_link(bot, debtor, loan):
    first = bot.post("/payment-links", link_body(debtor, loan)).json()

    response = bot.post(
        "/payment-links", link_body(debtor, loan, proveedor="clear", confirmar_otra_pasarela=True)
    )
    again = bot.post("/payment-links", link_body(debtor, loan, proveedor="mercadopago"))

    assert response.status_code == 201
    assert response.json()["referencia"] != first["referencia"]
    # Both gateways have a link open now: asked again, each goes on as before.
    assert again.status_code == 201
    assert again.json()["referencia"] == first["referencia"]


def test_a_link_being_made_through_the_other_gateway_asks_too(bot, debtor, loan):
    being_made = PaymentLink.objects.create(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=loan.payment_code,
        currency=loan.currency,
        origin=Origin.PORTAL,
        concept=PaymentLink.Concept.TOTAL,
        amount=TO_SETTLE,
        provider="clear",
        status=PaymentLink.Status.CREATING,
        expires_at=timezone.now() + timedelta(hours=3),
        reference="PL-being-made",
    )

    response = bot.post("/payment-links", link_body(debtor, loan))

    assert response.status_code == 409
    assert response.json()["link"]["referencia"] == being_made.reference


def test_an_agent_link_through_the_other_gateway_asks_too(bot, debtor, loan):
    sent = link_for(debtor, loan, provider="clear")

    response = bot.post("/payment-links", link_body(debtor, loan))

    assert response.status_code == 409
    assert response.json()["link"]["referencia"] == sent.reference


def test_another_debt_through_the_other_gateway_does_not_ask(bot, debtor, loan, make_active_loan):
    other = make_active_loan(customer=debtor)
    bot.post("/payment-links", link_body(debtor, loan))

    response = bot.post("/payment-links", link_body(debtor, other, proveedor="clear"))

    assert response.status_code == 201


@pytest.fixture
def paid_twice(loan):
    """The loan settled with more than it owed: the rest is credit balance."""
    pay(loan, TO_SETTLE + Decimal(OVERPAID), TODAY, accept_overpayment=True)
    loan.refresh_from_db()
    assert loan.status == Loan.Status.PAID
    assert str(loan.credit_balance) == OVERPAID
    return loan


def test_the_lookup_says_the_credit_balance_of_a_customer_who_owes_nothing(bot, debtor, paid_twice):
    answer = bot.get("/lookup", doc(debtor)).json()

    assert answer["estado"] == "SIN_DEUDA"
    assert answer["saldo_a_favor"] == [
        {"codigo_pago": paid_twice.payment_code, "moneda": "PEN", "monto": OVERPAID}
    ]


def test_the_lookup_says_no_credit_balance_when_there_is_none(bot, debtor, loan):
    assert bot.get("/lookup", doc(debtor)).json()["saldo_a_favor"] == []


def test_the_collections_page_shows_the_credit_balance(client, cobranzas, debtor, paid_twice):
    client.force_login(cobranzas)

    response = client.get(reverse("collections_app:customer_collections", args=[debtor.pk]))

    assertContains(response, "El cliente no tiene deudas pendientes.")
    assertContains(response, 'id="credit-balances"')
    assertContains(response, f'id="credit-balance-{paid_twice.pk}"')
    assertContains(response, "S/ 1,000.00")


def test_the_collections_page_has_no_credit_balance_card_without_one(
    client, cobranzas, debtor, loan
):
    client.force_login(cobranzas)

    response = client.get(reverse("collections_app:customer_collections", args=[debtor.pk]))

    assertNotContains(response, 'id="credit-balances"')


def test_the_portal_says_the_credit_balance_of_a_debtor_who_owes_nothing(
    client,
    reachable,  # noqa: F811
    paid_twice,
):
    signed_in(client, reachable)

    response = client.get(STATEMENT)

    assertContains(response, "No tiene deudas pendientes.")
    assertContains(response, 'id="statement-credit-balance"')
    assertContains(
        response,
        f"Tiene un saldo a favor de S/ 1,000.00 en el crédito {paid_twice.payment_code}",
    )


def test_the_portal_shows_no_credit_balance_without_one(client, reachable, loan):  # noqa: F811
    signed_in(client, reachable)

    assertNotContains(client.get(STATEMENT), 'id="statement-credit-balance"')
