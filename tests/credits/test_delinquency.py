"""Days past due, aging buckets and late interest, kept current by the daily task."""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from credits import selectors, tasks
from credits.models import Bucket, LedgerEntry, Loan, Payment
from credits.services import delinquency
from credits.services import payments as payment_services
from tests.factories import LoanProductFactory


@pytest.fixture
def late_product(db):
    return LoanProductFactory(name="Con mora", late_annual_rate=Decimal("36"), grace_days=5)


@pytest.mark.parametrize(
    ("today", "days", "bucket"),
    [
        (date(2026, 2, 1), 0, Bucket.CURRENT),
        (date(2026, 2, 2), 1, Bucket.D1_30),
        (date(2026, 3, 3), 30, Bucket.D1_30),
        (date(2026, 3, 4), 31, Bucket.D31_60),
        (date(2026, 4, 2), 60, Bucket.D31_60),
        (date(2026, 5, 2), 90, Bucket.D61_90),
        (date(2026, 5, 3), 91, Bucket.D90_PLUS),
    ],
)
def test_days_past_due_count_from_the_oldest_unpaid_installment(
    make_active_loan, today, days, bucket
):
    loan = make_active_loan()

    delinquency.update_delinquency(today=today)

    loan.refresh_from_db()
    assert (loan.days_past_due, loan.bucket) == (days, bucket)
    report = {row["bucket"]: row["loans"] for row in selectors.aging_report(today)}
    assert report[bucket] == 1


def test_a_payment_brings_the_loan_back_to_current_at_the_next_run(make_active_loan):
    loan = make_active_loan()
    delinquency.update_delinquency(today=date(2026, 2, 20))
    with time_machine.travel(datetime(2026, 2, 20, 12, tzinfo=ZoneInfo("America/Lima"))):
        payment_services.apply_payment(
            loan=loan,
            amount=Decimal("945.60"),
            received_on=date(2026, 2, 20),
            source=Payment.Source.CASH,
            actor=None,
        )

    delinquency.update_delinquency(today=date(2026, 2, 20))

    loan.refresh_from_db()
    assert (loan.days_past_due, loan.bucket) == (0, Bucket.CURRENT)


def test_no_late_interest_within_the_grace_days(make_active_loan, late_product):
    loan = make_active_loan(product=late_product)

    delinquency.update_delinquency(today=date(2026, 2, 6))

    assert selectors.live_installments(loan)[0].late_interest_due == 0


def test_late_interest_runs_from_the_due_date_once_past_grace(make_active_loan, late_product):
    loan = make_active_loan(product=late_product)

    delinquency.update_delinquency(today=date(2026, 2, 11))

    first = selectors.live_installments(loan)[0]
    # 945.60 unpaid × 36 % / 360 × 10 days = 9.456 → 9.46
    assert first.late_interest_due == Decimal("9.46")


def test_running_the_daily_task_twice_charges_once(make_active_loan, late_product):
    loan = make_active_loan(product=late_product)

    delinquency.update_delinquency(today=date(2026, 2, 11))
    delinquency.update_delinquency(today=date(2026, 2, 11))
    delinquency.update_delinquency(today=date(2026, 2, 21))

    first = selectors.live_installments(loan)[0]
    assert first.late_interest_due == Decimal("9.46") + Decimal("9.46")
    assert LedgerEntry.objects.filter(loan=loan, kind=LedgerEntry.Kind.LATE_INTEREST).count() == 2


def test_the_beat_task_runs_the_service(make_active_loan):
    loan = make_active_loan()

    with time_machine.travel(
        datetime.combine(date(2026, 3, 10), time(2), tzinfo=ZoneInfo("America/Lima"))
    ):
        tasks.update_delinquency.delay()

    loan.refresh_from_db()
    assert loan.bucket == Bucket.D31_60


def test_the_portfolio_report_sums_outstanding_principal_by_bucket(make_active_loan):
    current = make_active_loan(principal=Decimal("1000.00"), first_due_date=date(2026, 6, 1))
    late = make_active_loan(principal=Decimal("2000.00"))
    make_active_loan(principal=Decimal("3000.00")).__class__.objects.filter(
        principal=Decimal("3000.00")
    ).update(status=Loan.Status.CANCELLED)

    summary = selectors.portfolio_summary(date(2026, 5, 15))

    by_bucket = {row["bucket"]: row for row in summary.buckets}
    assert by_bucket[Bucket.CURRENT]["outstanding"] == current.principal
    assert by_bucket[Bucket.D90_PLUS]["outstanding"] == late.principal
    assert summary.outstanding == Decimal("3000.00")
    assert summary.par30 == Decimal("66.67")
    assert summary.par90 == Decimal("66.67")
