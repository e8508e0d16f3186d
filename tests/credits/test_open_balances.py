"""`open_balances` reads many loans' balances from plain values; it must say exactly what
`loan_balance` and `open_installments` say of each loan, whatever has happened to it."""

from datetime import timedelta
from decimal import Decimal

import pytest

from credits import selectors
from credits.models import Loan, Payment
from credits.services import delinquency
from credits.services import payments as payment_services
from tests.credits.conftest import TODAY, pay

pytestmark = pytest.mark.usefixtures("frozen_today")


def assert_same(loan: Loan, today=TODAY) -> None:
    loan = Loan.objects.get(pk=loan.pk)
    rows = list(selectors.live_installments(loan))
    expected = selectors.loan_balance(loan, today, installments=rows)
    split = selectors.open_installments(rows, today)

    found = selectors.open_balances([loan.pk], today)[loan.pk]

    assert found.to_settle == expected.to_settle == split.to_settle
    assert found.overdue == expected.overdue
    assert found.next_due_date == expected.next_due_date
    assert found.next_due_amount == expected.next_due_amount
    assert [r.number for r in found.open_rows] == [r.number for r in rows if r.total_pending > 0]
    assert [r.pending for r in found.open_rows] == [
        r.total_pending for r in rows if r.total_pending > 0
    ]
    figures = selectors.installment_figures([loan.pk])[loan.pk]
    states = [row.state for row in selectors.schedule_rows(loan, today, installments=rows)]
    assert [f.state(today) for f in figures] == states
    assert [(f.due, f.paid, f.paid_on) for f in figures] == [
        (r.total_due, r.total_paid, r.paid_on) for r in rows
    ]
    assert found.overdue_late_interest == sum(
        (r.pending("late_interest") for r in rows if r.due_date < today), Decimal(0)
    )


def test_a_loan_nobody_paid(make_active_loan):
    assert_same(make_active_loan())


def test_a_loan_paid_in_part_in_the_middle_of_an_installment(make_active_loan):
    loan = make_active_loan()
    pay(loan, Decimal("1500.55"), TODAY)

    assert_same(loan)


def test_a_loan_with_late_interest_charged(make_active_loan):
    loan = make_active_loan(late_annual_rate=Decimal("36"))
    delinquency.accrue_late_interest(loan=loan, today=TODAY)

    assert_same(loan)


def test_a_loan_prepaid_and_rescheduled(make_active_loan):
    loan = make_active_loan()
    pay(loan, Decimal("9000.00"), TODAY, overpayment=Payment.Overpayment.LOWER_INSTALLMENT)

    assert_same(loan)
    assert_same(loan, TODAY + timedelta(days=40))


def test_a_loan_paid_off(make_active_loan):
    loan = make_active_loan()
    pay(loan, Decimal("10970.27"), TODAY, overpayment=Payment.Overpayment.SHORTEN_TERM)

    assert_same(loan)
    assert selectors.open_balances([loan.pk], TODAY)[loan.pk].to_settle == 0


def test_a_loan_whose_payment_was_annulled(make_active_loan):
    loan = make_active_loan()
    payment = pay(loan, Decimal("2500.00"), TODAY)
    assert_same(loan)

    payment_services.annul_payment(payment=payment, actor=None, reason="Cheque sin fondos")

    assert_same(loan)


def test_a_loan_whose_late_interest_was_forgiven(make_active_loan):
    loan = make_active_loan(late_annual_rate=Decimal("36"))
    delinquency.accrue_late_interest(loan=loan, today=TODAY)
    overdue = selectors.open_balances([loan.pk], TODAY)[loan.pk]
    pay(loan, overdue.overdue - overdue.overdue_late_interest, TODAY)  # all but the interest

    delinquency.waive_late_interest(
        loan=Loan.objects.get(pk=loan.pk),
        amount=overdue.overdue_late_interest,
        actor=None,
        reason="Convenio",
    )

    assert_same(loan)


def test_open_installments_are_those_without_a_paid_day(make_active_loan):
    """The bot and the portal read only installments with no `paid_on`: it must be set
    exactly when nothing is left to pay, whatever happened to the loan."""
    loan = make_active_loan(late_annual_rate=Decimal("36"))
    delinquency.accrue_late_interest(loan=loan, today=TODAY)
    payment = pay(loan, Decimal("1500.55"), TODAY)
    later = pay(loan, Decimal("900.00"), TODAY)
    payment_services.annul_payment(payment=later, actor=None, reason="Error")
    payment_services.annul_payment(payment=payment, actor=None, reason="Error")

    for row in Loan.objects.get(pk=loan.pk).installments.filter(is_superseded=False):
        assert (row.paid_on is None) == (row.total_pending > 0), row.number


def test_several_loans_in_one_read(make_active_loan, django_assert_num_queries):
    loans = [make_active_loan() for _ in range(3)]
    pay(loans[1], Decimal("100.00"), TODAY)

    with django_assert_num_queries(1):
        found = selectors.open_balances([loan.pk for loan in loans], TODAY)

    assert found[loans[0].pk].to_settle > found[loans[1].pk].to_settle
