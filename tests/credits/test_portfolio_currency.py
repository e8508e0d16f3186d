"""The portfolio report never adds soles and dollars up: one report per currency, soles by
default, the currency named on the page and in the Excel; kept in the same daily snapshot."""

from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook
from pytest_django.asserts import assertContains, assertNotContains

from credits import portfolio, selectors
from credits.models import PortfolioSnapshot
from credits.services import loans as loan_services
from lib.money import Currency
from tests.credits.conftest import TODAY, at, pay
from tests.factories import LoanProductFactory

pytestmark = pytest.mark.usefixtures("frozen_today")

REPORT = reverse("credits:portfolio_report")
XLSX = reverse("credits:portfolio_xlsx")
PEN, USD = Currency.PEN, Currency.USD
# A piece of the aging SQL (`selectors._portfolio_sql`): a query holding it ran the report.
AGING_SQL = "per_loan"


@pytest.fixture
def soles(make_active_loan):
    """LoanFactory's S/ 10,000 from 1 January, 1,000 paid on 1 June; its report alone."""
    loan = make_active_loan()
    pay(loan, "1000.00", date(2026, 6, 1))
    return loan, selectors.portfolio_summary(TODAY, currency=PEN)


@pytest.fixture
def dollars(make_active_loan, soles):
    """US$ 4,000 first due on 1 June (14 days late on 15 June, 50 paid on 10 June), and
    US$ 2,000 written off on 10 June."""
    product = LoanProductFactory(currency=USD)
    late = make_active_loan(
        product=product,
        principal=Decimal("4000.00"),
        start_date=date(2026, 5, 1),
        first_due_date=date(2026, 6, 1),
    )
    pay(late, "50.00", date(2026, 6, 10))
    lost = make_active_loan(
        product=product,
        principal=Decimal("2000.00"),
        start_date=date(2026, 5, 1),
        first_due_date=date(2026, 6, 1),
    )
    with at(date(2026, 6, 10)):
        loan_services.write_off(loan=lost, actor=None, reason="Inubicable")
    return late, lost


def test_the_soles_report_leaves_the_dollar_loans_out(soles, dollars):
    _loan, alone = soles

    assert selectors.portfolio_summary(TODAY) == alone
    assert selectors.portfolio_summary(TODAY, currency=PEN) == alone


def test_the_dollars_report_has_the_dollar_loans_only(soles, dollars):
    late, _lost = dollars
    owed = sum(i.principal_due - i.principal_paid for i in selectors.live_installments(late))

    summary = selectors.portfolio_summary(TODAY, currency=USD)

    assert [(b["bucket"], b["loans"]) for b in summary.buckets if b["loans"]] == [("1_30", 1)]
    assert summary.outstanding == owed
    assert (summary.par30, summary.par90) == (Decimal("0.00"), Decimal("0.00"))
    assert (summary.written_off_loans, summary.written_off) == (1, Decimal("2000.00"))
    assert (summary.collected_this_month, summary.payments_this_month) == (Decimal("50.00"), 1)
    assert [row.loan for row in selectors.portfolio_loans(TODAY, currency=USD)] == [late]


def test_the_page_shows_soles_by_default_and_names_the_currency(client, supervisor, dollars):
    client.force_login(supervisor)

    response = client.get(REPORT)

    assert response.context["currency"] == PEN
    assert response.context["summary"] == selectors.portfolio_summary(TODAY, currency=PEN)
    assertContains(response, "Cifras en S/, de los créditos en esa moneda.")
    assertContains(response, '<option value="PEN" selected>Soles (S/)</option>', html=True)
    assertContains(response, "?as_of=2026-06-15&amp;currency=PEN")
    assert response.context["bucket_chart"]["options"]["currency"] == PEN


def test_the_page_shows_the_dollars_report_when_chosen(client, supervisor, soles, dollars):
    client.force_login(supervisor)

    response = client.get(REPORT, {"currency": "USD"})

    summary = response.context["summary"]
    assert summary == selectors.portfolio_summary(TODAY, currency=USD)
    assertContains(response, "Cifras en US$, de los créditos en esa moneda.")
    outstanding = f"US$ {summary.outstanding:,}"
    assertContains(
        response,
        f'<div class="fs-4 fw-semibold" data-figure="outstanding">{outstanding}</div>',
        html=True,
    )
    assertContains(
        response,
        '<div class="fs-4 fw-semibold" data-figure="collected">US$ 50.00</div>',
        html=True,
    )
    assertContains(response, "Capital pendiente (US$)")
    assertContains(response, "?as_of=2026-06-15&amp;currency=USD")
    assert response.context["bucket_chart"]["options"]["currency"] == USD


def test_an_unknown_currency_gets_a_message_and_the_soles_report(client, supervisor, dollars):
    client.force_login(supervisor)

    response = client.get(REPORT, {"currency": "EUR", "as_of": "2026-06-14"})

    assert response.status_code == 200
    assertContains(response, "Elija una moneda de la lista. Se muestran las cifras en S/.")
    assertNotContains(response, "Se muestra la cartera de hoy.")
    assert response.context["currency"] == PEN
    assert response.context["as_of"] == date(2026, 6, 14)  # the good part of the query stays


def test_one_snapshot_serves_every_currency_without_running_the_report(client, supervisor, dollars):
    client.force_login(supervisor)
    client.get(REPORT)  # computes and keeps today's figures, of every currency

    with CaptureQueriesContext(connection) as queries:
        response = client.get(REPORT, {"currency": "USD"})

    assert not [q["sql"] for q in queries if AGING_SQL in q["sql"]]
    assert response.context["summary"] == selectors.portfolio_summary(TODAY, currency=USD)
    assert PortfolioSnapshot.objects.count() == 1


def test_a_snapshot_kept_before_the_currencies_is_computed_again_before_it_is_shown(
    client, supervisor, soles, dollars
):
    # The shape of then: one report, soles and dollars added up.
    mixed = portfolio.figures_of(selectors.portfolio_summaries(TODAY))["currencies"]["PEN"]
    mixed["outstanding"] = "99999.99"
    PortfolioSnapshot.objects.create(as_of=TODAY, figures=mixed, is_stale=False)
    client.force_login(supervisor)

    response = client.get(REPORT)

    assert response.context["summary"] == selectors.portfolio_summary(TODAY, currency=PEN)
    stored = PortfolioSnapshot.objects.get(as_of=TODAY)
    assert set(stored.figures["currencies"]) == {"PEN", "USD"}
    assert portfolio.summary_of(stored, USD) == selectors.portfolio_summary(TODAY, currency=USD)


def test_the_excel_has_the_chosen_currency_only_and_names_it(client, supervisor, soles, dollars):
    late, _lost = dollars
    client.force_login(supervisor)

    response = client.get(XLSX, {"as_of": "2026-06-15", "currency": "USD"})

    assert response.status_code == 200
    assert 'filename="cartera-USD-2026-06-15.xlsx"' in response["Content-Disposition"]
    book = load_workbook(BytesIO(response.content))
    summary_rows = list(book["Resumen"].iter_rows(values_only=True))
    assert summary_rows[0][0] == "Cartera al 15/06/2026, en US$: los créditos en esa moneda"
    assert summary_rows[2][2] == "Capital pendiente (US$)"
    totals = {row[0]: row for row in summary_rows if row and row[0]}
    expected = selectors.portfolio_summary(TODAY, currency=USD)
    # A cell holds a float: read back through its text, it is compared as money, exactly.
    assert Decimal(str(totals["Total"][2])) == expected.outstanding
    assert Decimal(str(totals["Castigado (fuera de la cartera)"][2])) == Decimal("2000.00")
    assert Decimal(str(totals["Cobrado en el mes (US$)"][1])) == Decimal("50.00")
    loans = list(book["Créditos"].iter_rows(values_only=True))
    assert loans[0][4] == "Saldo capital (US$)"
    assert [row[0] for row in loans[1:]] == [late.payment_code]


def test_the_excel_refuses_an_unknown_currency(client, supervisor, soles):
    client.force_login(supervisor)

    response = client.get(XLSX, {"currency": "EUR"})

    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "Moneda: Elija una moneda de la lista."


def test_a_buckets_link_lists_that_currencys_loans_only(client, supervisor, soles, dollars):
    client.force_login(supervisor)

    report = client.get(reverse("credits:portfolio_report"), {"currency": "USD"})
    assertContains(report, "&amp;currency=USD")
    listed = client.get(reverse("credits:loan_list"), {"status": "active", "currency": "USD"})

    late, _written_off = dollars
    assert [loan.payment_code for loan in listed.context["table"].data] == [late.payment_code]
