"""A loan's credit balance (saldo a favor) is the debtor's money already received: a
promise is judged on money received, never on the credit balance spent again as a second
payment (`Payment.objects.received()`)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from collections_app import services
from collections_app.models import Origin, PaymentPromise
from credits import selectors as credit_selectors
from credits.models import Loan, Payment
from credits.services import payments as payment_services
from tests.credits.conftest import TODAY, at, pay

EXTRA = Decimal("150.00")


@pytest.fixture
def loan(make_active_loan):
    """3,000 in three monthly installments from 1 July; on TODAY (15 June) the first is in
    course, and the debtor paid it plus 150.00, left as credit balance (the default)."""
    with at(date(2026, 6, 1), 9):
        loan = make_active_loan(
            start_date=date(2026, 6, 1),
            first_due_date=date(2026, 7, 1),
            term=3,
            principal=Decimal("3000.00"),
        )
    with at(TODAY, 10):
        first = loan.installments.get(number=1)
        pay(loan, first.total_due + EXTRA, TODAY)
    loan.refresh_from_db()
    assert loan.credit_balance == EXTRA
    return loan


def _to_settle(loan: Loan, day: date) -> Decimal:
    return credit_selectors.loan_balance(loan, day).to_settle


def test_a_promise_is_judged_on_money_received_not_on_the_credit_balance_spent(
    make_active_loan,
):
    with at(date(2026, 6, 1), 9):
        loan = make_active_loan(
            start_date=date(2026, 6, 1),
            first_due_date=date(2026, 7, 1),
            term=3,
            principal=Decimal("3000.00"),
        )
    promised_on = date(2026, 8, 5)
    with at(TODAY, 10):
        cash = loan.installments.get(number=1).total_due + EXTRA
        promise = services.promise_payment(
            customer=loan.customer,
            receivable_kind="loan",
            receivable_id=loan.pk,
            amount=cash + Decimal("100.00"),
            promised_on=promised_on,
            origin=Origin.AGENT,
            actor=None,
        )
    with at(TODAY, 11):
        pay(loan, cash, TODAY)  # 150.00 of it left as credit balance
    # The nightly spends the credit once the second installment falls due: a second Payment
    # of 150.00, the same money.
    with at(date(2026, 8, 1), 0):
        assert payment_services.apply_due_credit_balances() == 1
    assert loan.payments.filter(source=Payment.Source.CREDIT_BALANCE).get().amount == EXTRA

    with at(promised_on + timedelta(days=1), 0):
        services.resolve_promises()

    promise.refresh_from_db()
    assert (promise.status, promise.paid_amount) == (PaymentPromise.Status.BROKEN, cash)


def test_money_received_leaves_out_the_credit_balance_spent(loan):
    with at(date(2026, 8, 1), 0):
        payment_services.apply_due_credit_balances()

    assert loan.payments.count() == 2
    assert list(Payment.objects.received().filter(loan=loan).values_list("source", flat=True)) == [
        Payment.Source.CASH
    ]
