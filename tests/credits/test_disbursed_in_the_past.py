"""A loan registered after the fact is disbursed on the day the money was handed over: it is
not late from its first night, and its real payments are recorded with their own dates."""

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from credits import selectors
from credits.models import Bucket, LedgerEntry, Loan, Payment
from credits.services import delinquency
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from tests.credits.conftest import at
from tests.factories import LoanFactory, LoanProductFactory

# Started on 20 May, registered and disbursed in the system on 6 December.
START, TODAY = date(2026, 5, 20), date(2026, 12, 6)
# The installments due before today: 20 June to 20 November.
PAID_ON = [date(2026, month, 20) for month in range(6, 12)]


@pytest.fixture
def old_loan(db):
    """A loan started 200 days back, 12 monthly installments from 20 June, 36 % late rate."""
    return LoanFactory(
        product=LoanProductFactory(late_annual_rate=Decimal("36")),
        status=Loan.Status.READY_TO_DISBURSE,
        start_date=START,
        first_due_date=date(2026, 6, 20),
    )


@pytest.fixture
def today():
    with at(TODAY, 10):
        yield


def _disburse(client, loan, **data):
    return client.post(
        reverse("credits:loan_transition", args=[loan.pk]),
        {"action": "disburse", **data},
        follow=True,
    )


def test_the_loan_page_asks_for_the_disbursement_day_from_the_start_to_today(
    client, supervisor, old_loan, today
):
    client.force_login(supervisor)

    response = client.get(old_loan.get_absolute_url())

    assertContains(response, 'name="disbursed_on"')
    assertContains(response, 'value="2026-12-06"')
    assertContains(response, 'min="2026-05-20"')
    assertContains(response, 'max="2026-12-06"')


def test_the_day_is_shown_for_confirmation_before_anything_is_disbursed(
    client, supervisor, old_loan, today
):
    client.force_login(supervisor)

    response = _disburse(client, old_loan, disbursed_on="2026-05-20")

    assertTemplateUsed(response, "credits/loan_disburse_confirm.html")
    assertContains(response, "¿Desembolsar S/ 10,000.00 con fecha 20/05/2026?")
    assertContains(response, 'id="past-disbursement"')
    assertContains(response, "6 cuotas vencen antes de hoy (la primera el 20/06/2026)")
    assertContains(response, 'name="disbursed_on" value="2026-05-20"')
    old_loan.refresh_from_db()
    assert old_loan.status == Loan.Status.READY_TO_DISBURSE
    assert not old_loan.installments.exists()


def test_a_confirmed_past_day_is_the_disbursement_and_its_payments_are_recorded_on_their_days(
    client, supervisor, old_loan, today
):
    client.force_login(supervisor)

    response = _disburse(client, old_loan, disbursed_on="2026-05-20", confirmed="on")
    old_loan.refresh_from_db()
    for number, day in enumerate(PAID_ON, start=1):
        row = old_loan.installments.get(number=number)
        payment_services.apply_payment(
            loan=old_loan,
            amount=row.principal_due + row.interest_due + row.fee_due,
            received_on=day,
            source=Payment.Source.CASH,
            actor=supervisor,
        )

    assertContains(response, "desembolsado con fecha 20/05/2026")
    assert old_loan.status == Loan.Status.ACTIVE
    assert old_loan.disbursed_on == START
    assert old_loan.disbursed_at == timezone.make_aware(datetime.combine(START, time(12)))
    assert old_loan.payments.count() == 6
    # The ledger still adds up to the schedule, and its entries say the day.
    owed = LedgerEntry.objects.filter(loan=old_loan, kind=LedgerEntry.Kind.DISBURSEMENT)
    assert sum(entry.owed for entry in owed) == sum(
        row.principal_due + row.interest_due + row.fee_due for row in old_loan.installments.all()
    )
    assert {entry.reason for entry in owed} == {"Desembolso del 20/05/2026"}


def test_with_its_payments_recorded_the_first_night_finds_nothing_late(supervisor, old_loan, today):
    loan = loan_services.disburse(loan=old_loan, actor=supervisor, disbursed_on=START)
    for number, day in enumerate(PAID_ON, start=1):
        row = loan.installments.get(number=number)
        payment_services.apply_payment(
            loan=loan,
            amount=row.principal_due + row.interest_due + row.fee_due,
            received_on=day,
            source=Payment.Source.CASH,
            actor=supervisor,
        )

    with at(date(2026, 12, 7), 1):
        delinquency.update_delinquency()

    loan.refresh_from_db()
    late = sum(row.late_interest_due for row in loan.installments.all())
    assert (loan.days_past_due, loan.bucket, late) == (0, Bucket.CURRENT, Decimal("0"))


def test_a_day_beyond_a_year_back_is_refused_saying_where_such_a_loan_goes(
    client, supervisor, today
):
    loan = LoanFactory(
        status=Loan.Status.READY_TO_DISBURSE,
        start_date=date(2025, 11, 1),
        first_due_date=date(2025, 12, 1),
    )
    client.force_login(supervisor)

    response = _disburse(client, loan, disbursed_on="2025-12-05", confirmed="on")

    assertContains(
        response,
        "La fecha del desembolso no puede ser anterior al 06/12/2025 (un año atrás): un "
        "crédito más antiguo se registra en «Importaciones», con sus pagos.",
    )
    assertNotContains(response, "su cronograma está vigente")
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.READY_TO_DISBURSE


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("2026-12-07", "La fecha del desembolso no puede ser futura."),
        (
            "2026-05-19",
            "La fecha del desembolso no puede ser anterior al inicio del crédito (20/05/2026).",
        ),
    ],
)
def test_a_future_day_or_one_before_the_start_is_refused(
    client, supervisor, old_loan, today, day, message
):
    client.force_login(supervisor)

    response = _disburse(client, old_loan, disbursed_on=day)

    assertContains(response, message)
    assert Loan.objects.get(pk=old_loan.pk).status == Loan.Status.READY_TO_DISBURSE


def test_the_service_refuses_a_day_before_the_start_too(old_loan, today):
    with pytest.raises(Exception, match="anterior al inicio del crédito"):
        loan_services.disburse(loan=old_loan, actor=None, disbursed_on=date(2026, 5, 1))


def test_disbursed_today_the_loan_is_disbursed_now_as_before(client, supervisor, old_loan, today):
    client.force_login(supervisor)

    review = _disburse(client, old_loan, disbursed_on="2026-12-06")
    done = _disburse(client, old_loan, disbursed_on="2026-12-06", confirmed="on")

    assertContains(review, "con fecha 06/12/2026")
    assertNotContains(review, 'id="past-disbursement"')
    assertContains(done, "desembolsado: su cronograma está vigente")
    old_loan.refresh_from_db()
    assert old_loan.disbursed_at == timezone.now()
    # Six installments it has not been paid are late: the payments have to be recorded.
    assert old_loan.days_past_due == (TODAY - date(2026, 6, 20)).days


def test_a_past_moment_from_code_makes_its_late_installments_count_at_once(
    client, supervisor, old_loan, today
):
    """A loan disbursed with a past `disbursed_at` (seeds, tests, code) kept 0 days past due
    until the nightly run, while the portfolio report, which computes lateness itself, put it
    in its bucket: the report and the loans list filtered by that bucket disagreed."""
    at_noon = timezone.make_aware(datetime.combine(START, time(12)))

    loan_services.disburse(loan=old_loan, actor=None, disbursed_at=at_noon)

    old_loan.refresh_from_db()
    days = (TODAY - date(2026, 6, 20)).days
    assert (old_loan.days_past_due, old_loan.bucket) == (days, Bucket.D90_PLUS)
    reported = {row["bucket"]: row["loans"] for row in selectors.aging_report(TODAY)}
    client.force_login(supervisor)
    listed = client.get(reverse("credits:loan_list"), {"bucket": Bucket.D90_PLUS})
    assert reported[Bucket.D90_PLUS] == 1
    assertContains(listed, old_loan.payment_code)
