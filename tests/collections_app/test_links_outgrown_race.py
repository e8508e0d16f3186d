"""On PostgreSQL, with real row locks: an old total-debt link paid through the gateway at the
moment a cashier records another payment. The link is never withdrawn under its own payment,
nothing deadlocks, the ledger holds each payment once, and money beyond the debt is never
credited without the link's entry saying so."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from collections_app import services
from collections_app.models import Origin, PaymentLink
from credits.models import Loan, Payment
from crm.models import Interaction
from integrations import payment_gateways
from tests.collections_app.conftest import TO_SETTLE, TODAY, pay
from tests.races import at_once

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: real row locks"
)

BY_HAND = Decimal("500.00")


@pytest.mark.parametrize("round_", range(5))
def test_an_old_links_payment_and_a_payment_by_hand_at_once_keep_the_ledger_exact(
    transactional_db, loan, debtor, round_
):
    link = services.create_payment_link(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.PORTAL,
        actor=None,
    )
    assert link.amount == TO_SETTLE
    found = payment_gateways.GatewayPayment(
        provider_payment_id=f"7700{round_}",
        reference=link.reference,
        status=payment_gateways.APPROVED,
        amount=link.amount,
        currency=link.currency,
        paid_on=TODAY,
        raw={},
    )

    def by_hand():
        with transaction.atomic():
            return pay(Loan.objects.get(pk=loan.pk), BY_HAND, TODAY)

    _done, errors = at_once(
        lambda: services.apply_gateway_payment(provider="mercadopago", found=found),
        by_hand,
    )

    # Never a deadlock: at most the refusal of money for a loan the link paid off first.
    assert all("ValidationError" in error for error in errors), errors
    link.refresh_from_db()
    loan.refresh_from_db()
    assert link.status == PaymentLink.Status.PAID  # paid, whether withdrawn before or not
    applied = Payment.objects.filter(loan=loan, status=Payment.Status.APPLIED)
    gateway = applied.get(external_id=f"mercadopago:7700{round_}")
    received = applied.aggregate(total=Sum("amount"))["total"]
    assert received == TO_SETTLE + (0 if errors else BY_HAND)
    assert loan.status == Loan.Status.PAID
    # What came beyond the debt is the loan's credit balance, to the cent, and said.
    overpaid = applied.aggregate(total=Sum("overpaid"))["total"]
    assert loan.credit_balance == overpaid
    entry = Interaction.objects.get(payload__link=link.pk, payload__payment=gateway.pk)
    if overpaid:
        assert not errors and overpaid == BY_HAND
        assert "S/ 500.00 superaban lo que se debía" in entry.summary
    else:
        assert "superaban" not in entry.summary
