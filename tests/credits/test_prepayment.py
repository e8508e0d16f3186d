"""Prepayments on every kind of loan, and payments that leave a few cents over or short.

LoanFactory's loan: 10,000 at 24 % in 12 monthly installments from 1 February 2026. Each
case pays the first installment and 3,000 more on 20 January, so 3,000 of principal is
prepaid and the eleven installments from 1 March are re-scheduled over 6,254.40 (French)
or 6,166.67 (German and flat, whose first installment repays 833.33).
"""

from datetime import date
from decimal import Decimal

import pytest

from credits import selectors
from credits.models import Installment, LedgerEntry, Loan, Payment
from tests.credits.conftest import pay as pay_on
from tests.credits.test_ledger import assert_ledger_matches
from tests.factories import LoanProductFactory

SHORTEN = Payment.Overpayment.SHORTEN_TERM
LOWER = Payment.Overpayment.LOWER_INSTALLMENT

pytestmark = pytest.mark.usefixtures("frozen_today")


def pay(loan, amount, on=date(2026, 1, 20), **kwargs):
    return pay_on(loan, amount, on, **kwargs)


def regular_rows(loan) -> list[Installment]:
    return [r for r in selectors.live_installments(loan) if r.kind == Installment.Kind.REGULAR]


@pytest.mark.parametrize(
    ("method", "fee_type", "fee", "mode", "rows", "first", "last"),
    [
        # Shorter term: the fewest installments none of which is above today's (2nd) one.
        ("german", "none", "0", SHORTEN, 7, "1004.28", "898.59"),
        ("flat", "none", "0", SHORTEN, 7, "1004.28", "1004.30"),
        ("german", "fixed", "10", SHORTEN, 7, "1014.28", "908.59"),
        ("french", "fixed", "10", SHORTEN, 8, "863.79", "863.76"),
        ("french", "percent", "1.5", SHORTEN, 8, "866.60", "866.57"),
        # Lower installment: the same eleven installments left, each smaller.
        ("german", "none", "0", LOWER, 11, "683.94", "571.78"),
        ("flat", "none", "0", LOWER, 11, "683.94", "683.90"),
        ("german", "fixed", "10", LOWER, 11, "693.94", "581.78"),
        ("french", "fixed", "10", LOWER, 11, "649.06", "649.08"),
        ("french", "percent", "1.5", LOWER, 11, "648.65", "648.67"),
    ],
)
def test_a_prepayment_sets_the_new_term_and_installments(
    make_active_loan, method, fee_type, fee, mode, rows, first, last
):
    product = LoanProductFactory(method=method, fee_type=fee_type, fee_value=Decimal(fee))
    loan = make_active_loan(product=product)
    before = regular_rows(loan)

    payment = pay(loan, before[0].total_due + 3000, overpayment=mode)

    after = regular_rows(loan)[1:]
    assert payment.prepaid_principal == Decimal("3000.00")
    assert payment.credited == 0
    assert len(after) == rows
    assert (after[0].total_due, after[-1].total_due) == (Decimal(first), Decimal(last))
    assert [r.due_date for r in after] == [r.due_date for r in before[1 : 1 + rows]]
    assert [r.number for r in after] == list(range(3, 3 + rows))
    if mode == SHORTEN:
        assert max(r.total_due for r in after) <= before[1].total_due
    assert sum(r.principal_due for r in selectors.live_installments(loan)) == loan.principal
    assert_ledger_matches(loan)


def test_the_prepayment_is_a_paid_row_of_its_own_on_the_day_it_was_received(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "3945.60", overpayment=SHORTEN)

    row = Installment.objects.get(created_by_payment=payment, kind=Installment.Kind.PREPAYMENT)
    assert (row.number, row.due_date, row.principal_due, row.interest_due) == (
        2,
        date(2026, 1, 20),
        Decimal("3000.00"),
        Decimal("0.00"),
    )
    assert row.paid_on == date(2026, 1, 20)
    replaced = Installment.objects.filter(superseded_by_payment=payment)
    assert sorted(r.number for r in replaced) == list(range(2, 13))
    assert all(r.is_superseded for r in replaced)
    assert LedgerEntry.objects.filter(
        payment=payment,
        kind=LedgerEntry.Kind.RESCHEDULE,
        reason=f"Prepago con el pago {payment.pk}",
    ).exists()


def test_prepaying_exactly_the_principal_left_pays_the_loan_off_without_a_new_schedule(
    make_active_loan,
):
    loan = make_active_loan()
    principal_left = loan.principal - Decimal("745.60")

    payment = pay(loan, Decimal("945.60") + principal_left, overpayment=SHORTEN)

    loan.refresh_from_db()
    assert payment.prepaid_principal == principal_left
    assert payment.credited == 0
    assert loan.status == Loan.Status.PAID
    assert [r.kind for r in selectors.live_installments(loan)] == ["regular", "prepayment"]
    assert_ledger_matches(loan)


# --- A few cents --------------------------------------------------------------------------


def test_a_cent_short_leaves_the_installment_open_until_the_cent_comes(make_active_loan):
    loan = make_active_loan()

    pay(loan, "945.59", on=date(2026, 2, 1))
    first = selectors.live_installments(loan)[0]
    assert (first.total_pending, first.paid_on) == (Decimal("0.01"), None)
    assert first.principal_paid == Decimal("745.59")

    pay(loan, "0.01", on=date(2026, 2, 3))
    first.refresh_from_db()
    assert (first.total_pending, first.paid_on) == (Decimal("0.00"), date(2026, 2, 3))
    assert selectors.live_installments(loan)[1].total_paid == 0
    assert_ledger_matches(loan)


def test_a_cent_over_the_installments_due_and_in_course_is_a_cent_of_credit(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "1891.21", on=date(2026, 2, 1))

    loan.refresh_from_db()
    assert (payment.credited, loan.credit_balance, payment.overpaid) == (
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal("0.00"),
    )


def test_a_cent_prepaid_re_schedules_without_losing_it(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "1891.21", on=date(2026, 2, 1), overpayment=LOWER)

    assert payment.prepaid_principal == Decimal("0.01")
    assert sum(r.principal_due for r in selectors.live_installments(loan)) == loan.principal
    assert_ledger_matches(loan)


def test_a_payment_splits_across_installments_to_the_cent(make_active_loan):
    loan = make_active_loan()

    pay(loan, "1000.00", on=date(2026, 3, 1))

    first, second = selectors.live_installments(loan)[:2]
    assert first.total_paid == Decimal("945.60")
    assert (second.interest_paid, second.principal_paid) == (Decimal("54.40"), Decimal("0.00"))
    assert second.paid_on is None
