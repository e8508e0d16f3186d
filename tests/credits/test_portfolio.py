from datetime import timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from pytest_django.asserts import assertContains, assertTemplateUsed

from credits.models import Payment
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from crm.models import Customer
from tests.factories import CustomerFactory

HTMX = {"HX-Request": "true"}


def _today():
    return timezone.localdate()


@pytest.fixture
def portfolio(make_active_loan):
    """Three loans of 10,000: one current, one 45 days late, one 100 days late.

    The current one received 500 today: 200 of interest and 300 of principal.
    """
    today = _today()

    def loan(first_due_in_days: int, name: str):
        first_due = today + timedelta(days=first_due_in_days)
        return make_active_loan(
            customer=CustomerFactory(first_name=name),
            start_date=first_due - timedelta(days=30),
            first_due_date=first_due,
        )

    current = loan(20, "Ana")
    late = loan(-45, "Berta")
    very_late = loan(-100, "Carmencita")
    payment_services.apply_payment(
        loan=current,
        amount=Decimal("500.00"),
        received_on=today,
        source=Payment.Source.CASH,
        actor=None,
    )
    return {"current": current, "late": late, "very_late": very_late}


def test_only_who_may_see_the_portfolio_gets_the_report(client, asesor, cobranzas):
    for user in (asesor, cobranzas):
        client.force_login(user)

        assert client.get(reverse("credits:portfolio_report")).status_code == 403
        assert client.get(reverse("credits:portfolio_xlsx")).status_code == 403


def test_the_report_shows_outstanding_by_bucket_par_and_this_months_collections(
    client, supervisor, portfolio
):
    client.force_login(supervisor)

    response = client.get(reverse("credits:portfolio_report"))

    assertContains(
        response,
        '<div class="fs-4 fw-semibold" data-figure="outstanding">S/ 29,700.00</div>',
        html=True,
    )
    assertContains(response, "67.34 %")  # PAR30: 20,000 of 29,700
    assertContains(response, "33.67 %")  # PAR90: 10,000 of 29,700
    assertContains(response, "S/ 500.00")
    assertContains(response, "1 pago")
    assertContains(response, 'data-chart="portfolio-bucket-chart"')
    assertContains(response, "js/charts.js")
    chart = response.context["bucket_chart"]
    assert chart["type"] == "bar"
    assert chart["datasets"][0]["data"] == [
        Decimal("9700.00"),
        Decimal("0.00"),
        Decimal("10000.00"),
        Decimal("0.00"),
        Decimal("10000.00"),
    ]


def test_a_written_off_loan_is_shown_apart_and_left_out_of_the_buckets_and_par(
    client, supervisor, portfolio
):
    loan_services.write_off(loan=portfolio["very_late"], actor=None, reason="Inubicable")
    client.force_login(supervisor)

    response = client.get(reverse("credits:portfolio_report"))

    assertContains(
        response,
        '<div class="fs-4 fw-semibold" data-figure="outstanding">S/ 19,700.00</div>',
        html=True,
    )
    assertContains(response, "50.76 %")  # PAR30: 10,000 of 19,700
    assert response.context["summary"].par90 == 0
    assertContains(
        response, '<td class="text-end" data-figure="written-off">10,000.00</td>', html=True
    )
    assertContains(
        response, '<td class="text-end" data-figure="written-off-loans">1</td>', html=True
    )
    assert response.context["total_loans"] == 2
    # A bucket's list is of the active loans: written-off ones keep a bucket of their own.
    assertContains(response, "?status=active&amp;bucket=90_plus")
    book = load_workbook(BytesIO(client.get(reverse("credits:portfolio_xlsx")).content))
    summary = {row[0].value: row for row in book["Resumen"].iter_rows() if row}
    assert summary["Total"][2].value == pytest.approx(19700)
    assert summary["Castigado (fuera de la cartera)"][1].value == 1
    assert summary["Castigado (fuera de la cartera)"][2].value == pytest.approx(10000)
    assert len(list(book["Créditos"].iter_rows(min_row=2))) == 2


def test_the_report_can_be_seen_as_of_an_earlier_day(client, supervisor, portfolio):
    client.force_login(supervisor)
    sixty_days_ago = _today() - timedelta(days=60)

    response = client.get(
        reverse("credits:portfolio_report"), {"as_of": sixty_days_ago.isoformat()}, headers=HTMX
    )

    assertTemplateUsed(response, "credits/partials/portfolio_figures.html")
    summary = response.context["summary"]
    by_bucket = {b["bucket"]: b["loans"] for b in summary.buckets}
    # Sixty days ago the 45-days-late loan owed nothing yet, the other was 40 days late,
    # and the current one was not disbursed yet.
    assert by_bucket == {"current": 1, "1_30": 0, "31_60": 1, "61_90": 0, "90_plus": 0}


def test_the_xlsx_writes_a_name_as_text_even_with_a_formula_or_a_control_character(
    client, supervisor, portfolio
):
    customer = Payment.objects.first().loan.customer
    Customer.objects.filter(pk=customer.pk).update(first_name='=HYPERLINK("http://x")\x01')
    client.force_login(supervisor)

    response = client.get(reverse("credits:portfolio_xlsx"))

    names = [
        row[1] for row in load_workbook(BytesIO(response.content))["Créditos"].iter_rows(min_row=2)
    ]
    written = next(cell for cell in names if cell.value.startswith("=HYPERLINK"))
    assert written.data_type == "s"
    assert "\x01" not in written.value


def test_a_future_day_falls_back_to_today_with_a_warning(client, supervisor, portfolio):
    client.force_login(supervisor)

    response = client.get(
        reverse("credits:portfolio_report"),
        {"as_of": (_today() + timedelta(days=3)).isoformat()},
    )

    assertContains(response, "La fecha no puede ser futura.")
    assert response.context["as_of"] == _today()


def test_the_xlsx_download_opens_and_adds_up_to_the_report(client, supervisor, portfolio):
    client.force_login(supervisor)

    response = client.get(reverse("credits:portfolio_xlsx"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert f"cartera-PEN-{_today():%Y-%m-%d}.xlsx" in response["Content-Disposition"]
    book = load_workbook(BytesIO(response.content))
    assert book.sheetnames == ["Resumen", "Créditos"]
    summary = {row[0].value: row for row in book["Resumen"].iter_rows() if row}
    assert summary["Total"][1].value == 3
    assert summary["Total"][2].value == pytest.approx(29700)
    assert summary["Total"][2].number_format == "#,##0.00"
    assert summary["PAR30 (%)"][1].value == pytest.approx(67.34)
    assert summary["Cobrado en el mes (S/)"][1].value == pytest.approx(500)
    loans = list(book["Créditos"].iter_rows(min_row=2, values_only=True))
    assert len(loans) == 3
    assert sum(row[4] for row in loans) == pytest.approx(29700)
    by_code = {row[0]: row for row in loans}
    late = by_code[portfolio["very_late"].payment_code]
    assert late[1] == portfolio["very_late"].customer.full_name
    assert (late[5], late[6]) == (100, "Más de 90 días")
    assert book["Créditos"]["E2"].number_format == "#,##0.00"


def test_the_xlsx_takes_the_same_day_as_the_report(client, supervisor, portfolio):
    client.force_login(supervisor)
    day = _today() - timedelta(days=60)

    response = client.get(reverse("credits:portfolio_xlsx"), {"as_of": day.isoformat()})

    book = load_workbook(BytesIO(response.content))
    loans = list(book["Créditos"].iter_rows(min_row=2, values_only=True))
    assert sorted(row[5] for row in loans) == [0, 40]
