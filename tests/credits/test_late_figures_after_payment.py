"""A loan's days past due and aging bucket follow its payments during the day, not only after
the nightly run (they feed {dias_atraso}, the loan list and the segments)."""

from datetime import date
from decimal import Decimal

import pytest

from collections_app.strategies import variables
from credits import selectors
from credits.models import Bucket, Component, LedgerEntry, Loan, Payment
from credits.services import delinquency
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from tests.credits.conftest import at
from tests.factories import LoanFactory, LoanProductFactory

# Disbursed on 1 March; the 1 April installment is 35 days late on 6 May.
START, FIRST_DUE, DAY = date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 6)


@pytest.fixture
def late_loan(make_active_loan):
    """A loan whose April installment is late, after the night of 6 May charged it."""
    product = LoanProductFactory(
        late_annual_rate=Decimal("36"),
        allocation_order=["principal", "interest", "fee", "late_interest"],
    )
    with at(START, 9):
        loan = make_active_loan(product=product, start_date=START, first_due_date=FIRST_DUE)
    with at(DAY, 1):
        delinquency.update_delinquency()  # the nightly run, at 01:15
    loan.refresh_from_db()
    assert (loan.days_past_due, loan.bucket) == (35, Bucket.D31_60)
    return loan


def _pay_what_is_overdue(loan: Loan, **kwargs) -> Payment:
    overdue = selectors.open_balances([loan.pk], DAY)[loan.pk].overdue
    return payment_services.apply_payment(
        loan=loan,
        amount=overdue,
        received_on=DAY,
        source=Payment.Source.TRANSFER,
        reference="OP-1",
        actor=None,
        **kwargs,
    )


def _dias_atraso(loan: Loan) -> str:
    (values,) = variables.load_values(
        [variables.Recipient(loan.customer, receivable_id=loan.pk)], "vigente", DAY
    )
    return values["dias_atraso"]


def test_a_debtor_who_paid_this_morning_is_current_this_afternoon(late_loan):
    with at(DAY, 10):
        _pay_what_is_overdue(late_loan)

    with at(DAY, 15):
        late_loan.refresh_from_db()
        said = _dias_atraso(late_loan)

    assert (late_loan.days_past_due, late_loan.bucket, said) == (0, Bucket.CURRENT, "0")


def test_annulling_that_payment_makes_the_loan_late_again_at_once(late_loan):
    with at(DAY, 10):
        payment = _pay_what_is_overdue(late_loan)
    late_loan.refresh_from_db()
    assert late_loan.days_past_due == 0
    with at(DAY, 11):
        payment_services.annul_payment(payment=payment, actor=None, reason="Cheque sin fondos")

    with at(DAY, 15):
        late_loan.refresh_from_db()
        said = _dias_atraso(late_loan)

    assert (late_loan.days_past_due, late_loan.bucket, said) == (35, Bucket.D31_60, "35")


def test_refreshing_the_figures_charges_no_late_interest(late_loan):
    charged = LedgerEntry.objects.filter(loan=late_loan, kind=LedgerEntry.Kind.LATE_INTEREST)
    before = list(charged.values_list("pk", flat=True))

    # The next day, before the nightly run.
    with at(date(2026, 5, 7), 0):
        delinquency.refresh_delinquency(loan=late_loan, today=date(2026, 5, 7))

    late_loan.refresh_from_db()
    assert late_loan.days_past_due == 36
    assert list(charged.values_list("pk", flat=True)) == before


def test_a_payment_before_the_nightly_charges_the_day_it_has_not_yet_once(late_loan):
    charged = LedgerEntry.objects.filter(loan=late_loan, kind=LedgerEntry.Kind.LATE_INTEREST)
    before = list(charged.values_list("pk", flat=True))

    # The next day at 00:xx, before the nightly run: a small payment leaves the installment
    # late. Paid in full, it would have never owed that day (the nightly skips paid rows).
    with at(date(2026, 5, 7), 0):
        payment_services.apply_payment(
            loan=late_loan,
            amount=Decimal("10.00"),
            received_on=date(2026, 5, 7),
            source=Payment.Source.CASH,
            actor=None,
        )
    by_the_payment = list(charged.exclude(pk__in=before).values_list("installment", "reason"))
    with at(date(2026, 5, 7), 1):
        delinquency.update_delinquency()

    late_loan.refresh_from_db()
    assert late_loan.days_past_due == 36
    # April's and May's installments, a day each; the nightly after it charged nothing more.
    assert [reason for _installment, reason in by_the_payment] == [
        "Mora de 1 día hasta 07/05/2026"
    ] * 2
    assert len({installment for installment, _reason in by_the_payment}) == 2
    assert charged.exclude(pk__in=before).count() == 2


def test_forgiving_the_late_interest_an_installment_still_owed_moves_the_loan_on(late_loan):
    first = late_loan.installments.get(number=1)
    with at(DAY, 10):
        # Principal, interest and fee go first: the April installment owes late interest only.
        payment_services.apply_payment(
            loan=late_loan,
            amount=first.principal_due + first.interest_due + first.fee_due,
            received_on=DAY,
            source=Payment.Source.CASH,
            actor=None,
        )
    first.refresh_from_db()
    owed = first.pending(Component.LATE_INTEREST)
    late_loan.refresh_from_db()
    assert owed > 0 and late_loan.days_past_due == 35

    with at(DAY, 11):
        delinquency.waive_late_interest(
            loan=late_loan, amount=owed, actor=None, reason="Acuerdo de pago"
        )

    # Late now from the May installment only.
    late_loan.refresh_from_db()
    assert (late_loan.days_past_due, late_loan.bucket) == (5, Bucket.D1_30)


def test_a_prepayment_that_reschedules_the_loan_leaves_it_current(late_loan):
    with at(DAY, 10):
        overdue = selectors.open_balances([late_loan.pk], DAY)[late_loan.pk].overdue
        payment = payment_services.apply_payment(
            loan=late_loan,
            amount=overdue + Decimal("3000.00"),
            received_on=DAY,
            source=Payment.Source.CASH,
            actor=None,
            overpayment=Payment.Overpayment.LOWER_INSTALLMENT,
        )

    late_loan.refresh_from_db()
    assert payment.prepaid_principal > 0
    assert (late_loan.days_past_due, late_loan.bucket) == (0, Bucket.CURRENT)


def test_a_loan_disbursed_with_a_past_day_is_late_at_once_on_what_it_has_not_paid(db):
    product = LoanProductFactory(late_annual_rate=Decimal("36"))
    loan = LoanFactory(
        product=product,
        status=Loan.Status.READY_TO_DISBURSE,
        start_date=START,
        first_due_date=FIRST_DUE,
    )

    with at(DAY, 10):
        loan_services.disburse(loan=loan, actor=None, disbursed_on=START)

    loan.refresh_from_db()
    assert (loan.days_past_due, loan.bucket) == (35, Bucket.D31_60)
    assert not loan.ledger_entries.filter(kind=LedgerEntry.Kind.LATE_INTEREST).exists()
