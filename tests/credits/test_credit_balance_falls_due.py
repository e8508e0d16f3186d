"""A credit balance is the debtor's money already received: the night an installment falls
due, it pays it, before anything is charged as late (it sat next to an overdue installment,
which was charged late interest on the debtor's own money)."""

from datetime import date
from decimal import Decimal

from credits import selectors as credit_selectors
from credits import tasks
from credits.models import Loan, Payment
from credits.services import payments as payment_services
from tests.credits.conftest import at
from tests.factories import LoanProductFactory


def nightly(day: date) -> None:
    with at(day):
        tasks.update_delinquency()


def test_a_credit_balance_pays_the_installment_falling_due_before_late_interest(
    make_active_loan,
):
    with at(date(2026, 1, 1)):
        loan = make_active_loan(product=LoanProductFactory(late_annual_rate=Decimal("36")))
    installment = loan.installments.order_by("number").first().total_due
    with at(date(2026, 2, 1)):
        # Three installments' worth: what is due, the one in course, and the rest kept.
        payment_services.apply_payment(
            loan=loan,
            amount=installment * 3,
            received_on=date(2026, 2, 1),
            source=Payment.Source.CASH,
            actor=None,
        )
    loan.refresh_from_db()
    credit = loan.credit_balance
    assert credit > 0

    for day in (date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 20)):
        nightly(day)

    loan = Loan.objects.get(pk=loan.pk)
    with at(date(2026, 4, 20)):
        balance = credit_selectors.loan_balance(loan)
    spent = Payment.objects.get(loan=loan, source=Payment.Source.CREDIT_BALANCE)
    assert (spent.amount, spent.received_on) == (credit, date(2026, 4, 1))
    assert balance.late_interest_due == 0
    assert (loan.days_past_due, loan.credit_balance) == (0, 0)


def test_a_credit_balance_waits_while_nothing_is_due(make_active_loan):
    with at(date(2026, 1, 1)):
        loan = make_active_loan()
    installment = loan.installments.order_by("number").first().total_due
    with at(date(2026, 1, 10)):
        payment_services.apply_payment(
            loan=loan,
            amount=installment * 2,
            received_on=date(2026, 1, 10),
            source=Payment.Source.CASH,
            actor=None,
        )
    loan.refresh_from_db()
    credit = loan.credit_balance

    nightly(date(2026, 1, 20))

    loan.refresh_from_db()
    assert loan.credit_balance == credit
    assert not Payment.objects.filter(loan=loan, source=Payment.Source.CREDIT_BALANCE).exists()
