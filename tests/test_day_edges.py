"""Days and times at their edges: Lima's day (UTC−5, no DST) on servers that run in UTC.

Each test puts the clock on an instant where Lima's day and UTC's differ (19:00–23:59 in
Lima is already tomorrow in UTC) or on a calendar edge (the 29th to the 31st, February,
leap years, the turn of the year), and checks what the code does there. A test marked
xfail(strict=True) records a bug found and not fixed yet; it fails (XPASS) once fixed.
"""

import itertools
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django_celery_beat.models import CrontabSchedule

from collections_app import services as collection_services
from collections_app.models import Origin, PaymentPromise
from credits import schedule, selectors
from credits.models import Installment, Loan, Payment
from credits.services import delinquency
from credits.services import loans as loan_services
from crm import messages
from crm import selectors as crm_selectors
from crm.gestiones.goals import selectors as goal_selectors
from crm.gestiones.reports.timing import figures
from crm.models import Appointment, MessagePolicy
from recovery import services as recovery_services
from recovery.models import Campaign, RecoverySettings
from recovery.portal import selectors as portal_selectors
from tests.credits.conftest import pay
from tests.factories import CustomerFactory, LoanFactory, LoanProductFactory, UserFactory

LIMA = ZoneInfo("America/Lima")


def lima(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LIMA)


def frozen(moment: datetime):
    return time_machine.travel(moment, tick=False)


def disbursed(**kwargs) -> Loan:
    """A loan disbursed through the service at 09:00 Lima of its start date."""
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE, **kwargs)
    return loan_services.disburse(loan=loan, actor=None, disbursed_at=lima(loan.start_date, 9))


def prepay_3000(loan: Loan, day: date) -> None:
    """Pay the first installment and 3,000 more on `day`, for lower installments."""
    first = selectors.live_installments(loan)[0]
    with frozen(lima(day)):
        pay(
            loan,
            first.total_due + Decimal("3000"),
            day,
            overpayment=Payment.Overpayment.LOWER_INSTALLMENT,
        )


def regular_dates(loan: Loan) -> list[date]:
    return [
        r.due_date for r in selectors.live_installments(loan) if r.kind == Installment.Kind.REGULAR
    ]


# --- The settings: which clock the daily tasks follow ---------------------------------------


def test_the_app_and_the_daily_tasks_run_on_lima_time():
    assert settings.TIME_ZONE == "America/Lima"
    assert settings.USE_TZ
    assert settings.CELERY_TIMEZONE == "America/Lima"


@pytest.mark.django_db
def test_the_database_scheduler_stores_the_beat_times_in_lima():
    """django_celery_beat's DatabaseScheduler copies CELERY_BEAT_SCHEDULE into the
    database with a time zone per crontab: it must be Lima's, or "01:15" would run at
    20:15 Lima the day before."""
    entry = settings.CELERY_BEAT_SCHEDULE["credits-update-delinquency"]["schedule"]
    stored = CrontabSchedule.from_schedule(entry)
    assert str(stored.timezone) == "America/Lima"
    # 01:15 Lima is 06:15 UTC: the stored schedule is due then, and not at 01:15 UTC.
    cron = stored.schedule
    last_run = datetime(2026, 6, 15, 6, 20, tzinfo=UTC)
    with frozen(datetime(2026, 6, 16, 1, 20, tzinfo=UTC)):
        assert not cron.is_due(last_run).is_due
    with frozen(datetime(2026, 6, 16, 6, 16, tzinfo=UTC)):
        assert cron.is_due(last_run).is_due


# --- Schedules: the 29th to the 31st, February, the turn of the year ------------------------


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        # Non-leap year: the 31st becomes the 28th in February, and comes back in March.
        (
            date(2026, 1, 31),
            [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)],
        ),
        # Leap year: the 29th of February.
        (
            date(2028, 1, 30),
            [date(2028, 1, 30), date(2028, 2, 29), date(2028, 3, 30), date(2028, 4, 30)],
        ),
        # From the 29th of February, the 29th every month and the 28th next February.
        (
            date(2028, 2, 29),
            [date(2028, 2, 29), date(2028, 3, 29), date(2028, 4, 29), date(2028, 5, 29)],
        ),
        # Across the year's end.
        (
            date(2026, 11, 30),
            [date(2026, 11, 30), date(2026, 12, 30), date(2027, 1, 30), date(2027, 2, 28)],
        ),
    ],
)
def test_monthly_due_dates_keep_the_first_day_of_month(first, expected):
    assert schedule.due_dates(first, schedule.Frequency.MONTHLY, 4) == expected


def test_a_monthly_schedule_from_the_29th_of_february_has_the_28th_next_february():
    dates = schedule.due_dates(date(2028, 2, 29), schedule.Frequency.MONTHLY, 49)
    assert dates[12] == date(2029, 2, 28)
    assert dates[13] == date(2029, 3, 29)
    assert dates[48] == date(2032, 2, 29)


def test_weekly_and_biweekly_due_dates_cross_the_year_end():
    weekly = schedule.due_dates(date(2026, 12, 24), schedule.Frequency.WEEKLY, 3)
    assert weekly == [date(2026, 12, 24), date(2026, 12, 31), date(2027, 1, 7)]
    biweekly = schedule.due_dates(date(2026, 12, 20), schedule.Frequency.BIWEEKLY, 4)
    assert biweekly == [date(2026, 12, 20), date(2027, 1, 4), date(2027, 1, 20), date(2027, 2, 4)]


def test_biweekly_due_dates_from_the_31st_never_go_backwards():
    dates = schedule.due_dates(date(2026, 1, 31), schedule.Frequency.BIWEEKLY, 24)
    assert dates[:5] == [
        date(2026, 1, 31),
        date(2026, 2, 15),
        date(2026, 2, 28),
        date(2026, 3, 15),
        date(2026, 3, 31),
    ]
    assert all(a < b for a, b in itertools.pairwise(dates))


def test_a_loan_from_the_31st_of_january_is_due_at_each_months_end():
    """Counted from its clipped first due date (28 February), it was due on the 28th for
    its whole life."""
    start = date(2026, 1, 31)
    first = schedule.first_due_date_after(start, schedule.Frequency.MONTHLY)
    plan = schedule.build_schedule(
        principal=Decimal("1200.00"),
        annual_rate=Decimal("24"),
        term=4,
        method=schedule.Method.FRENCH,
        frequency=schedule.Frequency.MONTHLY,
        first_due_date=first,
        start_date=start,
    )
    assert [r.due_date for r in plan.rows] == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
    ]


def test_a_biweekly_loan_counts_from_its_first_due_date():
    start = date(2026, 1, 16)
    first = schedule.first_due_date_after(start, schedule.Frequency.BIWEEKLY)
    dates = schedule.loan_due_dates(start, first, schedule.Frequency.BIWEEKLY, 3)
    assert dates == [date(2026, 1, 31), date(2026, 2, 15), date(2026, 2, 28)]


def test_a_first_due_date_chosen_apart_anchors_on_itself():
    start = date(2026, 1, 31)
    dates = schedule.loan_due_dates(start, date(2026, 2, 27), schedule.Frequency.MONTHLY, 3)
    assert dates == [date(2026, 2, 27), date(2026, 3, 27), date(2026, 4, 27)]


@pytest.mark.django_db
def test_a_disbursed_loan_from_the_31st_is_due_at_each_months_end():
    loan = disbursed(start_date=date(2026, 1, 31), first_due_date=date(2026, 2, 28), term=4)
    assert regular_dates(loan) == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
    ]


@pytest.mark.django_db
def test_a_prepayment_on_the_28th_keeps_a_month_end_schedule_on_the_months_end():
    loan = disbursed(start_date=date(2026, 1, 31), first_due_date=date(2026, 2, 28), term=6)
    before = regular_dates(loan)
    prepay_3000(loan, date(2026, 2, 20))
    assert regular_dates(loan) == before


@pytest.mark.django_db
def test_a_loan_dated_by_the_old_rule_keeps_its_28ths_after_a_prepayment():
    """Disbursed before its dates followed the start day: every row on the 28th."""
    loan = disbursed(start_date=date(2026, 1, 31), first_due_date=date(2026, 2, 28), term=6)
    old = [date(2026, 2, 28) + relativedelta(months=k) for k in range(6)]
    for row, due in zip(selectors.live_installments(loan), old, strict=True):
        Installment.objects.filter(pk=row.pk).update(due_date=due)
    prepay_3000(loan, date(2026, 2, 20))
    assert regular_dates(loan) == old


@pytest.mark.django_db
def test_a_prepayment_keeps_the_due_dates_of_a_schedule_on_the_31st():
    """Re-scheduled from its 28 February row, every later date had moved to the 28th."""
    loan = disbursed(start_date=date(2025, 12, 31), first_due_date=date(2026, 1, 31), term=6)
    before = regular_dates(loan)
    assert before[:3] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    prepay_3000(loan, date(2026, 1, 20))
    assert regular_dates(loan) == before


@pytest.mark.django_db
def test_a_prepayment_keeps_the_due_dates_of_a_biweekly_schedule():
    """Re-scheduled from its mid-month row, 28 February had become 2 March."""
    product = LoanProductFactory(frequency=schedule.Frequency.BIWEEKLY)
    loan = disbursed(
        product=product, start_date=date(2026, 1, 16), first_due_date=date(2026, 1, 31), term=8
    )
    before = regular_dates(loan)
    assert before[:3] == [date(2026, 1, 31), date(2026, 2, 15), date(2026, 2, 28)]
    prepay_3000(loan, date(2026, 1, 20))
    assert regular_dates(loan) == before


# --- The nightly delinquency run, and payments "today" --------------------------------------


@pytest.mark.django_db
def test_an_installment_due_today_is_not_late_at_2359_lima():
    """23:59 Lima is 04:59 UTC of the next day: the due day has not passed yet in Lima."""
    product = LoanProductFactory(late_annual_rate=Decimal("10"))
    loan = disbursed(product=product)  # first installment due 1 February 2026
    due = date(2026, 2, 1)
    with frozen(lima(due, 23, 59)):
        delinquency.update_delinquency()
    loan.refresh_from_db()
    assert (loan.days_past_due, loan.bucket) == (0, Loan.bucket.field.default)
    inst = selectors.live_installments(loan)[0]
    assert inst.late_interest_due == 0
    # The next night's run (01:15 Lima) sees it one day late.
    with frozen(lima(due + timedelta(days=1), 1, 15)):
        delinquency.update_delinquency()
    loan.refresh_from_db()
    assert loan.days_past_due == 1


@pytest.mark.django_db
def test_a_payment_received_today_in_lima_is_taken_at_2330():
    loan = disbursed()
    day = date(2026, 3, 10)
    with frozen(lima(day, 23, 30)):  # 04:30 UTC of the 11th
        payment = pay(loan, Decimal("100.00"), day)
    assert payment.received_on == day


@pytest.mark.django_db
def test_a_payment_dated_tomorrow_in_lima_is_refused_though_utc_is_there():
    loan = disbursed()
    day = date(2026, 3, 10)
    with frozen(lima(day, 19, 30)), pytest.raises(ValidationError):  # 00:30 UTC of the 11th
        pay(loan, Decimal("100.00"), day + timedelta(days=1))


# --- Promises -------------------------------------------------------------------------------


def promise(loan: Loan, on: date) -> PaymentPromise:
    return collection_services.promise_payment(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=Decimal("100.00"),
        promised_on=on,
        origin=Origin.AGENT,
        actor=None,
    )


@pytest.mark.django_db
def test_a_promise_for_today_made_and_paid_late_in_lima_is_kept():
    """At 21:00 Lima (02:00 UTC tomorrow) "today" is still Lima's day: the promise is
    taken, the payment at 23:30 counts, and the 00:30 run the next day keeps it."""
    loan = disbursed()
    day = date(2026, 3, 10)
    with frozen(lima(day, 21)):
        made = promise(loan, day)
    with frozen(lima(day, 23, 30)):
        pay(loan, Decimal("100.00"), day)
        assert collection_services.resolve_promises() == {"kept": 0, "broken": 0}
    with frozen(lima(day + timedelta(days=1), 0, 30)):
        assert collection_services.resolve_promises() == {"kept": 1, "broken": 0}
    made.refresh_from_db()
    assert made.status == PaymentPromise.Status.KEPT


@pytest.mark.django_db
def test_a_broken_promise_still_short_or_a_week_old_stays_broken():
    loan = disbursed()
    day = date(2026, 3, 10)
    with frozen(lima(day, 10)):
        made = promise(loan, day)
    with frozen(lima(day + timedelta(days=1), 0, 30)):
        collection_services.resolve_promises()
    with frozen(lima(day + timedelta(days=1), 9)):
        pay(loan, Decimal("40.00"), day)  # short of the 100 promised
    with frozen(lima(day + timedelta(days=2), 0, 30)):
        collection_services.resolve_promises()
    made.refresh_from_db()
    assert made.status == PaymentPromise.Status.BROKEN
    with frozen(lima(day + timedelta(days=9), 9)):
        pay(loan, Decimal("60.00"), day)
    with frozen(lima(day + timedelta(days=10), 0, 30)):
        collection_services.resolve_promises()
    made.refresh_from_db()
    assert made.status == PaymentPromise.Status.BROKEN


@pytest.mark.django_db
def test_a_promise_for_yesterday_in_lima_is_refused_at_0030_utc():
    loan = disbursed()
    day = date(2026, 3, 10)
    with frozen(lima(day, 20)), pytest.raises(ValidationError):  # 01:00 UTC of the 11th
        promise(loan, day - timedelta(days=1))


# --- Quiet hours across midnight ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("moment", "until"),
    [
        (lima(date(2026, 6, 15), 19, 59), None),
        # 20:00 Lima is 01:00 UTC of the 16th: held until 08:00 Lima of the 16th.
        (lima(date(2026, 6, 15), 20, 0), lima(date(2026, 6, 16), 8)),
        (lima(date(2026, 6, 15), 23, 59), lima(date(2026, 6, 16), 8)),
        # 00:30 Lima is 05:30 UTC, the same day in both: held until 08:00 that day.
        (lima(date(2026, 6, 16), 0, 30), lima(date(2026, 6, 16), 8)),
        (lima(date(2026, 6, 16), 7, 59), lima(date(2026, 6, 16), 8)),
        (lima(date(2026, 6, 16), 8, 0), None),
        # The year's end.
        (lima(date(2026, 12, 31), 22), lima(date(2027, 1, 1), 8)),
    ],
)
def test_quiet_hours_cross_midnight_in_lima(moment, until):
    policy = MessagePolicy(quiet_start=time(20), quiet_end=time(8))
    assert messages.quiet_until(moment.astimezone(UTC), policy) == until


# --- Written-off campaigns: the end date and the countdown ---------------------------------


@pytest.mark.django_db
def test_a_campaign_is_in_force_until_2359_lima_of_its_end_date():
    ends_on = date(2026, 6, 30)
    with frozen(lima(date(2026, 6, 15))):
        campaign = recovery_services.create_campaign(
            customer=CustomerFactory(),
            code="CAST-EDGE",
            debt_amount=Decimal("1000.00"),
            discount_type="percent",
            discount_value=Decimal("40"),
            ends_on=ends_on,
            payment_code="",
            actor=None,
        )
    portal = RecoverySettings.current()
    portal.countdown_enabled = True
    portal.countdown_hours = 48
    # First seen at 12:00 Lima on the last day: 48 hours would run past the end date.
    campaign.first_visit_at = lima(ends_on, 12)
    campaign.countdown_ends_at = campaign.first_visit_at + timedelta(hours=48)
    deadline = portal_selectors.countdown_deadline(campaign, portal)
    assert deadline == lima(ends_on + timedelta(days=1), 0)

    last_minute = lima(ends_on, 23, 59)  # 04:59 UTC of 1 July
    with frozen(last_minute):
        assert recovery_services.finish_ended() == 0
        offer = portal_selectors.offer(campaign, portal, now=last_minute)
    assert offer.is_open
    assert offer.seconds_left == 60

    next_day = lima(ends_on + timedelta(days=1), 0, 1)
    with frozen(next_day):
        assert portal_selectors.offer(campaign, portal, now=next_day).is_concluded
        assert recovery_services.finish_ended() == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED


# --- The portfolio report as of a day, and the month so far --------------------------------


@pytest.mark.django_db
def test_the_portfolio_counts_a_loan_disbursed_and_paid_at_2330_lima_on_that_day():
    day = date(2026, 3, 10)
    loan = LoanFactory(
        status=Loan.Status.READY_TO_DISBURSE, start_date=day, first_due_date=date(2026, 4, 10)
    )
    with frozen(lima(day, 23, 30)):
        loan_services.disburse(loan=loan, actor=None, disbursed_at=lima(day, 23, 30))
        pay(loan, Decimal("50.00"), day)
        summary = selectors.portfolio_summary(day, currency=loan.currency)
    assert summary.payments_this_month == 1
    assert summary.collected_this_month == Decimal("50.00")
    assert summary.outstanding > 0
    before = selectors.portfolio_summary(day - timedelta(days=1), currency=loan.currency)
    assert before.outstanding == 0


@pytest.mark.django_db
def test_the_month_so_far_on_the_1st_at_0030_lima_is_the_new_month():
    loan = disbursed(start_date=date(2026, 2, 1), first_due_date=date(2026, 3, 1))
    with frozen(lima(date(2026, 3, 31), 23, 30)):  # 04:30 UTC of 1 April
        pay(loan, Decimal("70.00"), date(2026, 3, 31))
        march = selectors.portfolio_summary(currency=loan.currency)
    assert (march.collected_this_month, march.payments_this_month) == (Decimal("70.00"), 1)
    with frozen(lima(date(2026, 4, 1), 0, 30)):
        april = selectors.portfolio_summary(currency=loan.currency)
    assert (april.collected_this_month, april.payments_this_month) == (Decimal("0.00"), 0)


# --- Cal.com appointments: stored in UTC, shown on Lima's day -------------------------------


@pytest.mark.django_db
def test_an_appointment_at_2200_lima_is_on_that_days_agenda():
    advisor = UserFactory(is_superuser=True)
    starts = datetime(2026, 6, 16, 3, 0, tzinfo=UTC)  # 22:00 Lima of the 15th
    appointment = Appointment.objects.create(
        calcom_uid="edge-1",
        title="Evaluación",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        advisor=advisor,
        calcom_event_at=starts - timedelta(days=1),
    )
    assert appointment.starts_on == date(2026, 6, 15)
    on_the_15th = crm_selectors.agenda(advisor, since=date(2026, 6, 15), until=date(2026, 6, 15))
    on_the_16th = crm_selectors.agenda(advisor, since=date(2026, 6, 16), until=date(2026, 6, 16))
    assert list(on_the_15th) == [appointment]
    assert list(on_the_16th) == []


@pytest.mark.django_db
def test_a_payment_of_the_promise_day_recorded_the_next_morning_keeps_it():
    """Judged once at 00:30, it stayed broken for good."""
    loan = disbursed()
    day = date(2026, 3, 10)
    with frozen(lima(day, 10)):
        made = promise(loan, day)
    with frozen(lima(day + timedelta(days=1), 0, 30)):
        collection_services.resolve_promises()
    with frozen(lima(day + timedelta(days=1), 9)):
        pay(loan, Decimal("100.00"), day)
    with frozen(lima(day + timedelta(days=2), 0, 30)):
        collection_services.resolve_promises()
    made.refresh_from_db()
    assert made.status == PaymentPromise.Status.KEPT
    assert made.customer.interactions.filter(
        summary__contains="se registró después de darlo por incumplido"
    ).exists()


# --- Months of the reports and goals --------------------------------------------------------


def test_a_moment_at_2330_lima_on_the_last_day_is_in_that_month():
    moment = datetime(2026, 7, 1, 4, 30, tzinfo=UTC)  # 23:30 Lima, 30 June
    assert figures.month_of(moment, LIMA) == date(2026, 6, 1)
    assert figures.month_of(datetime(2027, 1, 1, 4, 59, tzinfo=UTC), LIMA) == date(2026, 12, 1)


def test_a_goal_month_runs_from_lima_midnight_to_lima_midnight():
    start, end = goal_selectors.month_bounds(2026, 12)
    assert start == lima(date(2026, 12, 1), 0)
    assert end == lima(date(2027, 1, 1), 0)


@pytest.mark.parametrize("typed", ["01/01/69", "31/12/68", "15/06/26 10:30"])
def test_a_two_digit_year_is_refused_not_read_a_century_off(typed):
    from django import forms
    from django.utils import translation

    class DayForm(forms.Form):
        day = forms.DateField()
        moment = forms.DateTimeField()

    with translation.override("es"):
        form = DayForm({"day": typed, "moment": typed})

        assert not form.is_valid()
        assert "day" in form.errors and "moment" in form.errors
        assert DayForm({"day": "01/01/1969", "moment": "15/06/2026 10:30"}).is_valid()
