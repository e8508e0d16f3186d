"""A payment recorded but not applied (`apply_payment(unapplied=why)`): the whole amount is
the loan's credit balance, nothing of it pays an installment, late interest is neither
taken back nor charged, the ledger still gives the balances back, and annulling it takes
the credit back exactly. Collections uses it for money through a link withdrawn because a
written-off campaign covers the loan (tests/recovery/test_covered_loan_money_kept.py)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from credits import selectors
from credits.models import Installment, LedgerEntry, Loan, Payment, PaymentAllocation
from credits.services import payments as payment_services
from tests.credits.conftest import TODAY, pay

pytestmark = pytest.mark.usefixtures("frozen_today")

WHY = "el crédito lo cubre otra deuda"


def rows(loan) -> list[tuple]:
    return list(
        Installment.objects.filter(loan=loan)
        .order_by("pk")
        .values_list(
            "pk",
            "is_superseded",
            "principal_paid",
            "interest_paid",
            "late_interest_due",
            "late_interest_paid",
            "paid_on",
        )
    )


def test_an_unapplied_payment_is_all_credit_and_pays_nothing(make_active_loan):
    loan = make_active_loan()
    before = rows(loan)

    # More than settles the loan, received days ago: neither refused nor applied.
    payment = pay(loan, "20000.00", TODAY - timedelta(days=3), unapplied=WHY)

    loan.refresh_from_db()
    assert (payment.credited, payment.overpaid, payment.prepaid_principal) == (
        Decimal("20000.00"),
        Decimal("20000.00"),
        0,
    )
    assert loan.credit_balance == Decimal("20000.00")
    assert loan.status == Loan.Status.ACTIVE
    assert not PaymentAllocation.objects.filter(payment=payment).exists()
    assert rows(loan) == before
    assert selectors.balances_from_ledger(loan)["credit"] == loan.credit_balance
    assert (
        LedgerEntry.objects.get(payment=payment, kind=LedgerEntry.Kind.CREDIT).reason
        == f"Pago no aplicado, a saldo a favor: {WHY}"
    )
    said = loan.customer.interactions.get(payload__payment=payment.pk).summary
    assert said.endswith(
        f"; no se aplicó al crédito ({WHY}): queda todo como saldo a favor, para devolverlo "
        "o aplicarlo a mano"
    )


def test_annulling_an_unapplied_payment_takes_its_credit_back(make_active_loan):
    loan = make_active_loan()
    payment = pay(loan, "500.00", TODAY, unapplied=WHY)

    payment_services.annul_payment(payment=payment, actor=None, reason="devuelto")

    loan.refresh_from_db()
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.ANNULLED
    assert loan.credit_balance == 0
    assert selectors.balances_from_ledger(loan)["credit"] == 0
