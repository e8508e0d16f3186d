"""The portfolio as of a past day is the one the books showed then, computed from the events.

A loan counts from its disbursement until it is paid off; a payment counts from the day it
was received until the moment it was annulled; a re-schedule counts with its payment.
"""

from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from django.urls import reverse
from openpyxl import load_workbook
from pytest_django.asserts import assertContains, assertNotContains

from credits import selectors
from credits.models import Loan, Payment
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from tests.credits.conftest import TODAY, at, pay
from tests.factories import CustomerFactory

pytestmark = pytest.mark.usefixtures("frozen_today")

# LoanFactory: 10,000 at 24 % in 12 monthly installments of 945.60 from 1 February 2026,
# disbursed on 1 January 2026. Installment principal: 745.60, 760.51, 775.72, 791.24…


def annul(payment, on: date):
    with at(on):
        payment_services.annul_payment(payment=payment, actor=None, reason="Rebotó")


def figures(day: date) -> dict:
    """Return {payment code: (outstanding, days past due)} of the portfolio as of `day`."""
    return {
        row.loan.payment_code: (row.outstanding, row.days_past_due)
        for row in selectors.portfolio_loans(day)
    }


def buckets(day: date) -> dict:
    return {b["bucket"]: (b["loans"], b["outstanding"]) for b in selectors.aging_report(day)}


def test_a_loan_paid_off_later_is_in_an_earlier_days_portfolio_as_it_was(make_active_loan):
    loan = make_active_loan()
    pay(loan, "945.60", date(2026, 2, 1))
    pay(loan, "945.60", date(2026, 3, 1))
    payoff = selectors.loan_balance(loan, date(2026, 6, 10)).to_settle
    pay(loan, payoff, date(2026, 6, 10), overpayment=Payment.Overpayment.SHORTEN_TERM)
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PAID

    then = figures(date(2026, 4, 15))

    # Installment 3 (1 April) was 14 days late; two installments' principal was paid.
    assert then == {loan.payment_code: (Decimal("8493.89"), 14)}
    assert buckets(date(2026, 4, 15))["1_30"] == (1, Decimal("8493.89"))
    assert figures(TODAY) == {}


def test_a_payment_counts_from_the_day_it_was_received(make_active_loan):
    loan = make_active_loan()
    pay(loan, "945.60", date(2026, 3, 10))

    assert figures(date(2026, 3, 9)) == {loan.payment_code: (Decimal("10000.00"), 36)}
    assert figures(date(2026, 3, 10)) == {loan.payment_code: (Decimal("9254.40"), 9)}


def test_a_payment_annulled_later_still_counted_before_its_annulment(make_active_loan):
    loan = make_active_loan()
    payment = pay(loan, "945.60", date(2026, 2, 1))
    annul(payment, date(2026, 5, 10))

    assert figures(date(2026, 3, 15)) == {loan.payment_code: (Decimal("9254.40"), 14)}
    assert figures(date(2026, 5, 9)) == {loan.payment_code: (Decimal("9254.40"), 69)}
    # Annulled on 10 May: from that day on the first installment is unpaid again.
    assert figures(date(2026, 5, 10)) == {loan.payment_code: (Decimal("10000.00"), 98)}
    assert figures(TODAY) == {loan.payment_code: (Decimal("10000.00"), 134)}


def test_a_loan_is_in_the_portfolio_from_the_day_of_its_disbursement(make_active_loan):
    loan = make_active_loan(
        start_date=date(2026, 5, 1), first_due_date=date(2026, 6, 1), principal=Decimal("5000")
    )

    assert figures(date(2026, 4, 30)) == {}
    assert figures(date(2026, 5, 1)) == {loan.payment_code: (Decimal("5000.00"), 0)}


def test_a_written_off_loan_leaves_the_portfolio_on_the_day_it_is_written_off(make_active_loan):
    loan = make_active_loan()
    with at(date(2026, 5, 20)):
        loan_services.write_off(loan=loan, actor=None, reason="Inubicable")

    assert figures(date(2026, 5, 19)) == {loan.payment_code: (Decimal("10000.00"), 107)}
    assert figures(date(2026, 5, 20)) == {}
    assert figures(TODAY) == {}
    assert sum(loans for loans, _amount in buckets(TODAY).values()) == 0


def test_a_written_off_loan_is_its_own_line_of_the_report_and_out_of_par(make_active_loan):
    kept = make_active_loan()
    written_off = make_active_loan()
    with at(date(2026, 5, 20)):
        loan_services.write_off(loan=written_off, actor=None, reason="Inubicable")

    before = selectors.portfolio_summary(date(2026, 5, 19))
    after = selectors.portfolio_summary(TODAY)

    assert (before.outstanding, before.written_off_loans, before.written_off) == (
        Decimal("20000.00"),
        0,
        Decimal("0.00"),
    )
    assert (after.outstanding, after.written_off_loans, after.written_off) == (
        Decimal("10000.00"),
        1,
        Decimal("10000.00"),
    )
    assert sum(b["loans"] for b in after.buckets) == 1
    assert after.par90 == Decimal("100.00")  # the loan kept, 134 days late: all of it
    assert kept.payment_code in figures(TODAY)


def test_a_loan_written_off_and_paid_since_was_written_off_in_between(make_active_loan):
    loan = make_active_loan()
    with at(date(2026, 5, 20)):
        loan_services.write_off(loan=loan, actor=None, reason="Inubicable")
    payoff = selectors.loan_balance(loan, date(2026, 6, 10)).to_settle
    pay(loan, payoff, date(2026, 6, 10), overpayment=Payment.Overpayment.SHORTEN_TERM)
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PAID

    between = selectors.portfolio_summary(date(2026, 6, 1))

    assert (between.outstanding, between.written_off_loans) == (Decimal("0.00"), 1)
    assert between.written_off == Decimal("10000.00")
    assert figures(date(2026, 5, 1)) == {loan.payment_code: (Decimal("10000.00"), 89)}


def test_a_prepayment_made_later_leaves_the_earlier_schedule_as_it_was(make_active_loan):
    loan = make_active_loan()
    pay(loan, "945.60", date(2026, 2, 1))
    pay(loan, "3000.00", date(2026, 3, 1), overpayment=Payment.Overpayment.LOWER_INSTALLMENT)

    # On 15 February the original schedule stood: nothing late, one installment paid.
    assert figures(date(2026, 2, 15)) == {loan.payment_code: (Decimal("9254.40"), 0)}
    # The 3,000 paid installment 2 (due), 3 (in course) and 1,108.80 of principal.
    assert figures(date(2026, 3, 15)) == {loan.payment_code: (Decimal("6609.37"), 0)}


def test_a_re_schedule_annulled_later_still_stood_on_the_days_before(make_active_loan):
    loan = make_active_loan()
    prepayment = pay(
        loan, "3000.00", date(2026, 2, 1), overpayment=Payment.Overpayment.LOWER_INSTALLMENT
    )
    annul(prepayment, date(2026, 4, 20))

    # The 3,000 paid installments 1 and 2 and 1,108.80 of principal; the re-scheduled
    # third installment (1 April) was unpaid on 15 April. The rows the annulment brought
    # back did not stand then.
    assert figures(date(2026, 4, 15)) == {loan.payment_code: (Decimal("7385.09"), 14)}
    assert figures(date(2026, 4, 20)) == {loan.payment_code: (Decimal("10000.00"), 78)}


def test_this_months_collections_as_of_a_day_count_the_payments_not_yet_annulled(
    make_active_loan,
):
    loan = make_active_loan()
    kept = pay(loan, "945.60", date(2026, 3, 2))
    bounced = pay(loan, "100.00", date(2026, 3, 5))
    annul(bounced, date(2026, 3, 20))
    pay(loan, "50.00", date(2026, 3, 25))

    on_the_10th = selectors.portfolio_summary(date(2026, 3, 10))
    at_the_end = selectors.portfolio_summary(date(2026, 3, 31))

    assert (on_the_10th.collected_this_month, on_the_10th.payments_this_month) == (
        kept.amount + bounced.amount,
        2,
    )
    assert (at_the_end.collected_this_month, at_the_end.payments_this_month) == (
        Decimal("995.60"),
        2,
    )


def test_todays_report_agrees_with_the_installments_as_they_are(make_active_loan):
    late = make_active_loan(customer=CustomerFactory(first_name="Tardía"))
    paying = make_active_loan(start_date=date(2026, 5, 20), first_due_date=date(2026, 6, 20))
    pay(paying, "300.00", TODAY)
    pay(late, "945.60", date(2026, 2, 3))

    report = buckets(TODAY)

    assert report["current"] == (1, paying.principal - Decimal("100.00"))
    assert report["90_plus"] == (1, late.principal - Decimal("745.60"))


# --- The page and the Excel -----------------------------------------------------------------


def test_the_page_and_the_excel_show_a_past_day_as_it_was(client, supervisor, make_active_loan):
    loan = make_active_loan()
    payment = pay(loan, "945.60", date(2026, 2, 1))
    annul(payment, date(2026, 5, 10))
    client.force_login(supervisor)

    page = client.get(reverse("credits:portfolio_report"), {"as_of": "2026-03-15"})
    sheet = client.get(reverse("credits:portfolio_xlsx"), {"as_of": "2026-03-15"})

    assertContains(
        page, '<div class="fs-4 fw-semibold" data-figure="outstanding">S/ 9,254.40</div>'
    )
    book = load_workbook(BytesIO(sheet.content))
    rows = list(book["Créditos"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[4], r[5], r[6]) for r in rows] == [
        (loan.payment_code, pytest.approx(9254.40), 14, "1–30 días")
    ]
    assert 'filename="cartera-PEN-2026-03-15.xlsx"' in sheet["Content-Disposition"]


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("0001-01-01", "No hay cartera antes del 01/01/2026, el día del primer desembolso."),
        ("2025-12-31", "No hay cartera antes del 01/01/2026, el día del primer desembolso."),
        ("9999-12-31", "La fecha no puede ser futura."),
        ("0000-01-01", "Introduzca una fecha válida."),
        ("10000-01-01", "Introduzca una fecha válida."),
        ("abc", "Introduzca una fecha válida."),
    ],
)
def test_an_absurd_day_gets_a_message_and_todays_portfolio_and_no_excel(
    client, supervisor, make_active_loan, as_of, message
):
    make_active_loan()
    client.force_login(supervisor)

    page = client.get(reverse("credits:portfolio_report"), {"as_of": as_of})
    sheet = client.get(reverse("credits:portfolio_xlsx"), {"as_of": as_of})

    assert page.status_code == 200
    assertContains(page, message)
    assertContains(page, "Se muestra la cartera de hoy.")
    assert page.context["as_of"] == TODAY
    # The file of another day than asked would pass for the one asked: a 400 says why.
    assert sheet.status_code == 400
    assert sheet.content.decode() == f"Al día: {message}"
    assert "Content-Disposition" not in sheet


def test_the_first_day_of_the_portfolio_is_offered_and_accepted(
    client, supervisor, make_active_loan
):
    make_active_loan()
    client.force_login(supervisor)

    response = client.get(reverse("credits:portfolio_report"), {"as_of": "2026-01-01"})

    assertNotContains(response, 'id="portfolio-errors"')
    assertContains(response, 'min="2026-01-01"')
    assert response.context["as_of"] == date(2026, 1, 1)


def test_without_any_loan_only_today_has_a_portfolio(client, supervisor):
    client.force_login(supervisor)

    past = client.get(reverse("credits:portfolio_report"), {"as_of": "2026-01-01"})
    today = client.get(reverse("credits:portfolio_report"))

    assertContains(past, "Todavía no se ha desembolsado ningún crédito")
    assertNotContains(today, 'id="portfolio-errors"')
