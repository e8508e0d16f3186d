"""Days past due, aging buckets and late interest, kept current by the daily task."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from credits import selectors, tasks
from credits.models import Bucket, LedgerEntry, Loan, Payment
from credits.services import delinquency
from credits.services import payments as payment_services
from tests.credits.conftest import at
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
    # Charged on running totals: 945.60 × 0.1 % × 20 days = 18.912 (two runs of ten days
    # each rounded on their own made it 9.46 + 9.46).
    assert first.late_interest_due == Decimal("18.91")
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


# --- Late interest, installment by installment ----------------------------------------------
# 36 % a year over 360 days is 0.1 % a day of the unpaid principal and interest.


def _accrue(loan, today):
    with transaction.atomic():
        return delinquency.accrue_late_interest(loan=Loan.objects.get(pk=loan.pk), today=today)


def _late(loan) -> list[Decimal]:
    return [row.late_interest_due for row in selectors.live_installments(loan)]


def test_only_installments_past_the_grace_days_are_charged_and_the_total_is_returned(
    make_active_loan, late_product
):
    loan = make_active_loan(product=late_product)

    # 4 April: installment 1 is 62 days late, 2 is 34, 3 is 3 (within the 5 grace days).
    charged = _accrue(loan, date(2026, 4, 4))

    # 945.60 × 0.1 % × 62 = 58.6272; × 34 = 32.1504
    assert _late(loan)[:4] == [Decimal("58.63"), Decimal("32.15"), 0, 0]
    assert charged == Decimal("90.78")
    entries = LedgerEntry.objects.filter(loan=loan, kind=LedgerEntry.Kind.LATE_INTEREST)
    assert sorted(e.owed for e in entries) == [Decimal("32.15"), Decimal("58.63")]
    assert {e.reason for e in entries} == {
        "Mora de 62 días hasta 04/04/2026",
        "Mora de 34 días hasta 04/04/2026",
    }


@pytest.mark.parametrize(("day", "late"), [(date(2026, 2, 6), "0"), (date(2026, 2, 7), "5.67")])
def test_late_interest_starts_the_day_after_the_grace_days_from_the_due_date(
    make_active_loan, late_product, day, late
):
    loan = make_active_loan(product=late_product)

    _accrue(loan, day)

    # Five days late is within grace; six days: 945.60 × 0.1 % × 6 = 5.6736.
    assert _late(loan)[0] == Decimal(late)


def test_without_grace_days_one_day_late_is_charged_and_named_in_the_singular(make_active_loan):
    product = LoanProductFactory(name="Sin gracia", late_annual_rate=Decimal("36"), grace_days=0)
    loan = make_active_loan(product=product)

    assert _accrue(loan, date(2026, 2, 1)) == 0
    assert _accrue(loan, date(2026, 2, 2)) == Decimal("0.95")

    entry = LedgerEntry.objects.get(loan=loan, kind=LedgerEntry.Kind.LATE_INTEREST)
    assert entry.reason == "Mora de 1 día hasta 02/02/2026"


def test_a_late_rate_of_one_percent_or_less_is_still_charged(make_active_loan):
    product = LoanProductFactory(name="Mora baja", late_annual_rate=Decimal("1"), grace_days=0)
    loan = make_active_loan(product=product)

    delinquency.update_delinquency(today=date(2026, 4, 4))

    # 945.60 × 1 % / 360 × 62 days = 1.6285
    assert _late(loan)[0] == Decimal("1.63")


def test_a_few_cents_left_unpaid_still_run_late_interest(make_active_loan, late_product):
    loan = make_active_loan(product=late_product)
    with time_machine.travel(datetime(2026, 2, 1, 12, tzinfo=ZoneInfo("America/Lima"))):
        payment_services.apply_payment(
            loan=loan,
            amount=Decimal("945.00"),
            received_on=date(2026, 2, 1),
            source=Payment.Source.CASH,
            actor=None,
        )

    charged = _accrue(loan, date(2026, 2, 11))

    # 0.60 left × 0.1 % × 10 days = 0.006 → 0.01
    assert charged == Decimal("0.01")


def test_a_charge_that_rounds_to_nothing_is_not_written(make_active_loan, late_product):
    loan = make_active_loan(product=late_product)
    with time_machine.travel(datetime(2026, 2, 1, 12, tzinfo=ZoneInfo("America/Lima"))):
        payment_services.apply_payment(
            loan=loan,
            amount=Decimal("945.59"),
            received_on=date(2026, 2, 1),
            source=Payment.Source.CASH,
            actor=None,
        )

    # 0.01 left × 0.1 % × 10 days = 0.0001 → 0.00
    assert _accrue(loan, date(2026, 2, 11)) == 0

    first = selectors.live_installments(loan)[0]
    assert (first.late_interest_due, first.late_accrued_through) == (0, date(2026, 2, 11))
    assert not LedgerEntry.objects.filter(loan=loan, kind=LedgerEntry.Kind.LATE_INTEREST).exists()


def test_a_zero_late_rate_charges_nothing_and_leaves_no_trace(make_active_loan):
    loan = make_active_loan()

    assert _accrue(loan, date(2026, 6, 1)) == 0

    assert set(_late(loan)) == {0}
    assert not loan.installments.exclude(late_accrued_through=None).exists()
    assert not LedgerEntry.objects.filter(loan=loan, kind=LedgerEntry.Kind.LATE_INTEREST).exists()


def test_late_interest_runs_on_what_is_left_of_a_partly_paid_installment(
    make_active_loan, late_product
):
    product = LoanProductFactory(
        name="Con mora y comisión",
        late_annual_rate=Decimal("36"),
        grace_days=5,
        fee_type="fixed",
        fee_value=Decimal("10"),
    )
    loan = make_active_loan(product=product)
    with time_machine.travel(datetime(2026, 2, 1, 12, tzinfo=ZoneInfo("America/Lima"))):
        # Fee 10, interest 200, then 290 of the 745.60 of principal: 455.60 is left.
        payment_services.apply_payment(
            loan=loan,
            amount=Decimal("500.00"),
            received_on=date(2026, 2, 1),
            source=Payment.Source.CASH,
            actor=None,
        )

    _accrue(loan, date(2026, 2, 11))

    # Fees are not charged late interest: 455.60 × 0.1 % × 10 = 0.4556 × 10 = 4.556
    assert _late(loan)[0] == Decimal("4.56")


def test_late_interest_is_rounded_half_up_to_the_cent(make_active_loan, late_product):
    loan = make_active_loan(product=late_product)
    with time_machine.travel(datetime(2026, 2, 1, 12, tzinfo=ZoneInfo("America/Lima"))):
        payment_services.apply_payment(
            loan=loan,
            amount=Decimal("845.10"),
            received_on=date(2026, 2, 1),
            source=Payment.Source.CASH,
            actor=None,
        )

    _accrue(loan, date(2026, 2, 11))

    # 100.50 left × 0.1 % × 10 days = 1.005 → 1.01
    assert _late(loan)[0] == Decimal("1.01")


def test_late_interest_is_charged_from_where_the_last_run_stopped(make_active_loan, late_product):
    loan = make_active_loan(product=late_product)

    first = _accrue(loan, date(2026, 2, 11))
    same_day = _accrue(loan, date(2026, 2, 11))
    later = _accrue(loan, date(2026, 2, 14))

    # What the running total grew by: 945.60 × 0.1 % × 13 = 12.29, less the 9.46 charged.
    assert (first, same_day, later) == (Decimal("9.46"), 0, Decimal("2.83"))
    assert selectors.live_installments(loan)[0].late_accrued_through == date(2026, 2, 14)


def test_paid_superseded_and_not_yet_due_installments_are_not_charged(
    make_active_loan, late_product
):
    loan = make_active_loan(product=late_product)
    with time_machine.travel(datetime(2026, 2, 1, 12, tzinfo=ZoneInfo("America/Lima"))):
        payment_services.apply_payment(
            loan=loan,
            amount=Decimal("4945.60"),
            received_on=date(2026, 2, 1),
            source=Payment.Source.CASH,
            actor=None,
            overpayment=Payment.Overpayment.LOWER_INSTALLMENT,
        )

    # 11 April: installments 1 and 2 and the prepayment are paid; of the rows due on
    # 1 April, the re-scheduled one is late and the one it replaced no longer counts.
    charged = _accrue(loan, date(2026, 4, 11))

    late = loan.installments.filter(late_interest_due__gt=0)
    assert [(r.due_date, r.is_superseded, r.late_interest_due) for r in late] == [
        (date(2026, 4, 1), False, charged)
    ]
    assert charged > 0


def test_the_daily_task_charges_only_live_loans_with_a_late_rate(make_active_loan, late_product):
    live = make_active_loan(product=late_product)
    written_off = make_active_loan(product=late_product)
    Loan.objects.filter(pk=written_off.pk).update(status=Loan.Status.WRITTEN_OFF)
    paid = make_active_loan(product=late_product)
    Loan.objects.filter(pk=paid.pk).update(status=Loan.Status.PAID)
    no_rate = make_active_loan()

    delinquency.update_delinquency(today=date(2026, 2, 11))

    assert _late(live)[0] == Decimal("9.46")
    assert _late(written_off)[0] == Decimal("9.46")
    assert _late(paid)[0] == 0
    assert _late(no_rate)[0] == 0


# --- Days past due --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("late_on", "days", "bucket"),
    [(date(2026, 2, 2), 1, Bucket.D1_30), (date(2026, 3, 15), 42, Bucket.D31_60)],
)
def test_days_past_due_are_reset_when_a_loan_leaves_live_status(
    make_active_loan, late_on, days, bucket
):
    loan = make_active_loan()
    delinquency.update_delinquency(today=late_on)
    loan.refresh_from_db()
    assert (loan.days_past_due, loan.bucket) == (days, bucket)
    Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.PAID)

    changed = delinquency.update_delinquency(today=late_on + timedelta(days=1))

    loan.refresh_from_db()
    assert (loan.days_past_due, loan.bucket) == (0, Bucket.CURRENT)
    assert changed == 1


def test_the_daily_task_counts_only_the_loans_it_changed(make_active_loan):
    # Made on their start day: nothing of theirs is late when they are disbursed.
    with at(date(2026, 1, 1)):
        make_active_loan()
        make_active_loan(first_due_date=date(2026, 6, 1))

    assert delinquency.update_delinquency(today=date(2026, 3, 15)) == 1
    assert delinquency.update_delinquency(today=date(2026, 3, 15)) == 0
    assert delinquency.update_delinquency(today=date(2026, 3, 16)) == 1


def test_days_past_due_follow_the_oldest_unpaid_installment_of_each_loan(make_active_loan):
    loans = [make_active_loan() for _n in range(3)]
    with time_machine.travel(datetime(2026, 3, 20, 12, tzinfo=ZoneInfo("America/Lima"))):
        payment_services.apply_payment(
            loan=loans[1],
            amount=Decimal("945.60"),
            received_on=date(2026, 3, 20),
            source=Payment.Source.CASH,
            actor=None,
        )

    delinquency.update_delinquency(today=date(2026, 3, 20), batch_size=1)

    days = [Loan.objects.get(pk=loan.pk).days_past_due for loan in loans]
    assert days == [47, 19, 47]


@pytest.mark.parametrize("term", [6, 60])
def test_charging_a_loan_costs_the_same_queries_however_many_installments_are_late(
    make_active_loan, late_product, django_assert_max_num_queries, term
):
    # Row by row, a loan 243 installments late took 490 queries a night.
    loan = make_active_loan(product=late_product, term=term)
    late_day = date(2026, 1, 1) + timedelta(days=31 * term + 40)

    # The transaction, the loan, its late installments, the entries, the installments.
    with django_assert_max_num_queries(6):
        charged = _accrue(loan, late_day)

    entries = LedgerEntry.objects.filter(loan=loan, kind=LedgerEntry.Kind.LATE_INTEREST)
    assert entries.count() == term
    assert sum(entry.owed for entry in entries) == charged > 0
    assert all(row.late_accrued_through == late_day for row in selectors.live_installments(loan))
