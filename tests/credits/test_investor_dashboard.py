"""The investor figures, on known data.

Two flat loans at 2 % a month with a 10 % platform fee on interest:

- loan A: 10,000 in 12 installments of 833.33 principal + 200.00 interest, funded 60 %
  by Lucía and 40 % by Jorge. Installment 1 is paid on 1 Feb; installment 2 is paid on
  1 Mar and that payment annulled on 10 Apr.
- loan B: 5,000 (installments of 100.00 interest), funded 50 % by Lucía, never paid.

On 10 Apr the nightly task puts loan A at 40 days past due (31–60) and loan B at 68
(61–90).
"""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from credits.investors import selectors as investor_selectors
from credits.investors import services as investor_services
from credits.models import Bucket, Loan, Participation, Payment
from credits.services import delinquency
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from tests.browser import pages
from tests.factories import InvestorFactory, LoanFactory, LoanProductFactory, UserFactory

LIMA = ZoneInfo("America/Lima")
TODAY = date(2026, 4, 10)


def _at(day: date, time_machine) -> None:
    time_machine.move_to(datetime(day.year, day.month, day.day, 10, tzinfo=LIMA), tick=False)


def _pay(loan, day: date):
    return payment_services.apply_payment(
        loan=loan,
        amount=Decimal("1033.33"),
        received_on=day,
        source=Payment.Source.TRANSFER,
        actor=None,
    )


@pytest.fixture
def book(make_active_loan, time_machine):
    _at(date(2026, 1, 1), time_machine)
    product = LoanProductFactory(method="flat", platform_fee_percent=Decimal("10"))
    loan_a = make_active_loan(product=product, principal=Decimal("10000.00"))
    loan_b = make_active_loan(product=product, principal=Decimal("5000.00"))
    lucia = InvestorFactory(name="Lucía Paredes")
    jorge = InvestorFactory(name="Jorge Salas")
    investor_services.add_participation(
        loan=loan_a, investor=lucia, actor=None, share=Decimal("60")
    )
    investor_services.add_participation(
        loan=loan_a, investor=jorge, actor=None, share=Decimal("40")
    )
    investor_services.add_participation(
        loan=loan_b, investor=lucia, actor=None, share=Decimal("50")
    )
    _at(date(2026, 2, 1), time_machine)
    _pay(loan_a, date(2026, 2, 1))
    _at(date(2026, 3, 1), time_machine)
    second = _pay(loan_a, date(2026, 3, 1))
    _at(TODAY, time_machine)
    payment_services.annul_payment(payment=second, actor=None, reason="Depósito rechazado")
    delinquency.update_delinquency(today=TODAY)
    return {"loan_a": loan_a, "loan_b": loan_b, "lucia": lucia, "jorge": jorge}


def _buckets(rows):
    return {row["bucket"]: row["outstanding"] for row in rows if row["outstanding"]}


def test_the_nightly_task_put_the_loans_in_the_expected_buckets(book):
    book["loan_a"].refresh_from_db()
    book["loan_b"].refresh_from_db()

    assert (book["loan_a"].bucket, book["loan_b"].bucket) == (Bucket.D31_60, Bucket.D61_90)


def test_an_investors_summary_counts_their_share_of_everything(book):
    summary = investor_selectors.investor_summary(book["lucia"], TODAY)

    assert summary.capital_deployed == Decimal("8500.00")  # 6,000 + 2,500
    assert summary.loans == 2
    # 60 % of the 9,166.67 loan A still owes, plus 50 % of loan B's 5,000.
    assert summary.outstanding == Decimal("8000.00")
    # Her 120.00 of the first payment's interest minus the 12.00 fee; the annulled
    # payment's 108.00 came and went.
    assert summary.earned == Decimal("108.00")
    assert summary.principal_returned == Decimal("500.00")  # 60 % of 833.33, rounded up
    # 11 × 200 × 60 % × 90 % on loan A, 12 × 100 × 50 % × 90 % on loan B.
    assert summary.expected == Decimal("1728.00")
    # Overdue: A's installments of 1 Mar and 1 Apr, B's of 1 Feb, 1 Mar and 1 Apr.
    assert summary.expected_overdue == Decimal("351.00")


def test_the_other_investor_gets_the_rest_of_the_shared_loan(book):
    summary = investor_selectors.investor_summary(book["jorge"], TODAY)

    assert summary.capital_deployed == Decimal("4000.00")
    assert summary.outstanding == Decimal("3666.67")
    assert summary.earned == Decimal("72.00")
    assert summary.principal_returned == Decimal("333.33")
    assert summary.expected == Decimal("792.00")


def test_every_investors_summary_adds_up_the_two(book):
    summary = investor_selectors.investor_summary(today=TODAY)

    assert summary.capital_deployed == Decimal("12500.00")
    assert summary.outstanding == Decimal("11666.67")
    assert summary.earned == Decimal("180.00")
    assert summary.principal_returned == Decimal("833.33")
    assert summary.expected == Decimal("2520.00")


def test_exposure_is_grouped_by_each_loans_delinquency_bucket(book):
    assert _buckets(investor_selectors.exposure_by_bucket(book["lucia"], TODAY)) == {
        "31_60": Decimal("5500.00"),
        "61_90": Decimal("2500.00"),
    }
    assert _buckets(investor_selectors.exposure_by_bucket(book["jorge"], TODAY)) == {
        "31_60": Decimal("3666.67")
    }
    assert _buckets(investor_selectors.exposure_by_bucket(today=TODAY)) == {
        "31_60": Decimal("9166.67"),
        "61_90": Decimal("2500.00"),
    }


def test_exposure_gives_every_bucket_with_its_percent(book):
    rows = investor_selectors.exposure_by_bucket(book["lucia"], TODAY)

    assert [row["bucket"] for row in rows] == list(Bucket.values)
    assert [row["percent"] for row in rows] == [
        Decimal("0"),
        Decimal("0"),
        Decimal("68.75"),
        Decimal("31.25"),
        Decimal("0"),
    ]


def test_earnings_by_month_shows_the_reversal_in_the_month_it_happened(book):
    months = investor_selectors.earnings_by_month(book["lucia"], TODAY)

    assert len(months) == 12
    assert (months[0]["month"], months[-1]["month"]) == (date(2025, 5, 1), date(2026, 4, 1))
    earned = {m["month"]: m["earned"] for m in months if m["earned"]}
    assert earned == {
        date(2026, 2, 1): Decimal("108.00"),
        date(2026, 3, 1): Decimal("108.00"),
        date(2026, 4, 1): Decimal("-108.00"),
    }


def test_a_month_is_the_local_calendar_month(book, time_machine):
    # 31 Mar 21:00 in Lima is already 1 Apr in UTC.
    time_machine.move_to(datetime(2026, 3, 31, 21, tzinfo=LIMA), tick=False)
    loan_b = book["loan_b"]
    payment_services.apply_payment(
        loan=loan_b,
        amount=Decimal("100.00"),
        received_on=date(2026, 3, 31),
        source=Payment.Source.CASH,
        actor=None,
    )

    months = investor_selectors.earnings_by_month(book["lucia"], TODAY)

    assert months[-2]["earned"] == Decimal("153.00")  # 108.00 + 50 % × 100.00 × 90 %


def test_capital_by_investor_ranks_by_capital_deployed(book):
    rows = investor_selectors.capital_by_investor(10)

    assert [(r["name"], r["deployed"], r["outstanding"]) for r in rows] == [
        ("Lucía Paredes", Decimal("8500.00"), Decimal("8000.00")),
        ("Jorge Salas", Decimal("4000.00"), Decimal("3666.67")),
    ]


def test_a_written_off_loan_leaves_the_balance_and_its_bucket_and_shows_apart(
    book, client, supervisor
):
    # As in the portfolio report: written off, the loan is out of the portfolio.
    loan_services.write_off(loan=book["loan_b"], actor=None, reason="Incobrable")

    summary = investor_selectors.investor_summary(book["lucia"], TODAY)

    assert summary.outstanding == Decimal("5500.00")  # loan A's 60 % alone
    assert summary.written_off == Decimal("2500.00")  # 50 % of loan B's 5,000
    assert _buckets(summary.buckets) == {"31_60": Decimal("5500.00")}
    assert summary.expected == Decimal("1188.00")  # 11 × 200 × 60 % × 90 %: none of B's
    assert summary.capital_deployed == Decimal("8500.00")  # it was lent all the same
    ranking = investor_selectors.capital_by_investor(10)
    assert ranking[0]["outstanding"] == Decimal("5500.00")

    client.force_login(supervisor)
    response = client.get(reverse("credits:investor_dashboard"), {"investor": book["lucia"].pk})
    assertContains(response, "Castigado (fuera de la cartera)")
    assertContains(response, "Castigado, aparte: S/ 2,500.00")


def test_loans_in_another_currency_are_left_out(book, make_active_loan):
    dollars = LoanProductFactory(currency="USD", method="flat")
    loan = make_active_loan(product=dollars, principal=Decimal("3000.00"))
    # Made before a loan in another currency was refused (`add_participation`).
    Participation.objects.create(
        investor=book["lucia"], loan=loan, amount=Decimal("3000.00"), share=Decimal("100")
    )

    soles = investor_selectors.investor_summary(book["lucia"], TODAY, currency="PEN")
    usd = investor_selectors.investor_summary(book["lucia"], TODAY, currency="USD")

    assert soles.capital_deployed == Decimal("8500.00")
    assert (usd.capital_deployed, usd.outstanding) == (Decimal("3000.00"), Decimal("3000.00"))


def test_the_outstanding_totals_equal_the_sum_of_their_rows(client, supervisor, make_active_loan):
    # 12.345678 % of 1,000.00 is 123.45678: 123.46 a row. Rounding the sum of the three
    # (370.37034) instead showed a total a cent short of its rows.
    investor = InvestorFactory(name="Rosa Quispe")
    other = InvestorFactory(name="Tomás Huamán")
    for _k in range(3):
        loan = make_active_loan(principal=Decimal("1000.00"))
        investor_services.add_participation(
            loan=loan, investor=investor, actor=None, share=Decimal("12.345678")
        )
        investor_services.add_participation(
            loan=loan, investor=other, actor=None, share=Decimal("12.345678")
        )
    client.force_login(supervisor)

    detail = client.get(reverse("credits:investor_detail", args=[investor.pk])).context
    everyone = investor_selectors.investor_summary()
    ranking = investor_selectors.capital_by_investor(10)

    rows = [p.outstanding_share for p in detail["participations"]]
    assert rows == [Decimal("123.46")] * 3
    assert detail["summary"].outstanding == sum(rows) == Decimal("370.38")
    assert sum(b["outstanding"] for b in detail["summary"].buckets) == Decimal("370.38")
    assert everyone.outstanding == sum(r["outstanding"] for r in ranking) == Decimal("740.76")


def test_the_dashboard_shows_every_investors_figures_and_the_ranking(client, supervisor, book):
    client.force_login(supervisor)

    response = client.get(reverse("credits:investor_dashboard"))

    assertContains(response, 'data-figure="outstanding">S/ 11,666.67')
    assertContains(response, 'data-figure="earned">S/ 180.00')
    assertContains(response, 'id="ranking-chart" type="application/json"')
    assertContains(response, "vendor/chart.js/chart.umd.min.js")
    assertContains(response, "js/charts.js")


def test_the_dashboard_shows_one_investor_when_chosen(client, supervisor, book):
    client.force_login(supervisor)

    response = client.get(reverse("credits:investor_dashboard"), {"investor": book["lucia"].pk})

    assertContains(response, 'data-figure="capital-deployed">S/ 8,500.00')
    assertContains(response, 'data-figure="outstanding">S/ 8,000.00')
    assertContains(response, 'data-figure="expected">S/ 1,728.00')
    assertNotContains(response, 'id="ranking-chart"')


def test_choosing_an_investor_with_htmx_swaps_only_the_figures(client, supervisor, book):
    client.force_login(supervisor)

    response = client.get(
        reverse("credits:investor_dashboard"),
        {"investor": book["jorge"].pk, "currency": "PEN"},
        headers={"HX-Request": "true"},
    )

    assertTemplateUsed(response, "credits/partials/investor_figures.html")
    assertNotContains(response, "<nav")
    assertContains(response, 'data-figure="outstanding">S/ 3,666.67')


@pytest.mark.parametrize("loans", [2, 20])
def test_the_dashboard_costs_the_same_queries_for_2_or_20_loans(
    client, supervisor, make_active_loan, django_assert_max_num_queries, loans
):
    for _i in range(loans):
        loan = make_active_loan(principal=Decimal("1000.00"))
        investor_services.add_participation(loan=loan, investor=InvestorFactory(), actor=None,
                                   share=Decimal("100"))  # fmt: skip
    client.force_login(supervisor)

    # Session, user, permissions (2), summary (3), months, ranking (2), the investor
    # select (2), and the session's inactivity stamp (3).
    with django_assert_max_num_queries(15):
        response = client.get(reverse("credits:investor_dashboard"))

    assert response.status_code == 200


# --- In the browser -------------------------------------------------------------------

RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
# True once `n` canvases are on the page, each with its chart drawn.
CHARTS_DRAWN = """
(n) => {
  const canvases = [...document.querySelectorAll("canvas[data-chart]")];
  return canvases.length === n && canvases.every((c) => window.Chart && window.Chart.getChart(c));
}
"""


def test_in_the_browser_the_charts_draw_and_follow_the_chosen_investor(page, live_server, roles):
    UserFactory(username="supervisor", role="Supervisor")
    today = timezone.localdate()
    loan = loan_services.disburse(
        loan=LoanFactory(status=Loan.Status.READY_TO_DISBURSE, principal=Decimal("10000.00"),
                         start_date=today.replace(day=1), first_due_date=today),
        actor=None,
    )  # fmt: skip
    lucia = InvestorFactory(name="Lucía Paredes")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    investor_services.add_participation(loan=loan, investor=InvestorFactory(name="Jorge Salas"),
                               actor=None, share=Decimal("40"))  # fmt: skip
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(RECORD_CSP_VIOLATIONS)

    pages.sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}{reverse('credits:investor_dashboard')}")
    page.wait_for_function(CHARTS_DRAWN, arg=3)
    expect(page.locator('[data-figure="capital-deployed"]')).to_have_text("S/ 10,000.00")

    page.get_by_label("Inversionista", exact=True).select_option(label="Lucía Paredes")

    expect(page.locator('[data-figure="capital-deployed"]')).to_have_text("S/ 6,000.00")
    page.wait_for_function(CHARTS_DRAWN, arg=2)
    assert f"investor={lucia.pk}" in page.url
    assert page.evaluate("Object.keys(window.Chart.instances).length") == 2
    assert page.evaluate("window.__cspViolations") == []
    assert errors == []
