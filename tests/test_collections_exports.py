"""The collections lists (cartera castigada, pagos a verificar, compromisos) export their
filtered rows as CSV or XLSX, as the other staff lists do (lib.lists)."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from collections_app.models import Origin, PaymentPromise, ReportedPayment
from lib import lists
from recovery.models import Campaign
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

CAMPAIGNS = "recovery:campaign_list"
REPORTED = "collections_app:reported_list"
PROMISES = "collections_app:promise_list"
# 10:30 in Lima, where the files write the local time.
MADE_AT = datetime(2026, 6, 10, 15, 30, tzinfo=UTC)
FORMULA = '=HYPERLINK("http://x.example","clic")'


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


@pytest.fixture
def rosa(db):
    return CustomerFactory(first_name="Rosa", last_name="Huamán", document_number="00456789")


def _csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))


def _records(rows: list[list]) -> list[dict]:
    header, *lines = rows
    return [dict(zip(header, line, strict=True)) for line in lines]


def _sheet(response):
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(response.content)).active


def _xlsx_records(response) -> list[dict]:
    return _records([list(row) for row in _sheet(response).iter_rows(values_only=True)])


def campaign(customer, **fields) -> Campaign:
    """A list's row written directly: the list reads what the services stored."""
    values = {
        "code": "CAST-2026-06",
        "debt_amount": Decimal("12000.00"),
        "discount_type": Campaign.DiscountType.PERCENT,
        "discount_value": Decimal("40.00"),
        "discount_amount": Decimal("4800.00"),
        "amount": Decimal("7200.00"),
        "paid_amount": Decimal("1200.50"),
        "currency": "PEN",
        "ends_on": timezone.localdate() + timedelta(days=30),
        "payment_code": "L000123",
        "created_at": MADE_AT,
        **fields,
    }
    return Campaign.objects.create(customer=customer, **values)


def reported(customer, **fields) -> ReportedPayment:
    values = {
        "receivable_kind": "loan",
        "receivable_id": 1,
        "receivable_code": "L000123",
        "currency": "PEN",
        "amount": Decimal("945.60"),
        "paid_on": datetime(2026, 6, 9).date(),
        "method": ReportedPayment.Method.TRANSFER,
        "reference": "OP-778899",
        "receipt": "comprobantes/x/recibo.pdf",
        "origin": Origin.PORTAL,
        "created_at": MADE_AT,
        **fields,
    }
    return ReportedPayment.objects.create(customer=customer, **values)


def promise(customer, **fields) -> PaymentPromise:
    values = {
        "receivable_kind": "loan",
        "receivable_id": 1,
        "receivable_code": "L000123",
        "currency": "PEN",
        "amount": Decimal("500.25"),
        "promised_on": timezone.localdate() + timedelta(days=3),
        "origin": Origin.AGENT,
        "created_at": MADE_AT,
        **fields,
    }
    return PaymentPromise.objects.create(customer=customer, **values)


# --- Cartera castigada -------------------------------------------------------------------


def test_the_campaign_csv_writes_each_column_with_decimal_commas(agent_client, rosa):
    made = campaign(rosa)

    [record] = _records(_csv_rows(agent_client.get(reverse(CAMPAIGNS), {"export": "csv"})))

    assert record == {
        "Tipo de documento": "DNI",
        "Documento": "00456789",
        "Cliente": "Rosa Huamán",
        "ID de campaña": "CAST-2026-06",
        "Deuda castigada": "12000,00",
        "Descuento": "4800,00",
        "Descuento (%)": "40,00",
        "Monto de campaña": "7200,00",
        "Pagado": "1200,50",
        "Saldo": "5999,50",
        "Moneda": "PEN",
        "Finaliza": made.ends_on.strftime("%d/%m/%Y"),
        "Código de pago": "L000123",
        "Estado": "Activa",
        "Creada": "10/06/2026 10:30",
    }


def test_the_campaign_excel_holds_numbers_and_the_document_as_text(agent_client, rosa):
    made = campaign(rosa)

    response = agent_client.get(reverse(CAMPAIGNS), {"export": "xlsx"})

    [record] = _xlsx_records(response)
    assert (
        f'filename="cartera-castigada-{timezone.localdate().isoformat()}.xlsx"'
        in (response["Content-Disposition"])
    )
    assert record["Documento"] == "00456789"
    assert record["Deuda castigada"] == 12000
    assert record["Saldo"] == pytest.approx(5999.50)
    assert record["Finaliza"].date() == made.ends_on
    assert record["Creada"] == datetime(2026, 6, 10, 10, 30)


def test_the_campaign_export_follows_the_search_and_filters(agent_client, rosa):
    campaign(rosa, code="CAST-A")
    campaign(rosa, code="CAST-B", status=Campaign.Status.FINISHED)
    campaign(CustomerFactory(last_name="Rojas"), code="CAST-C", status=Campaign.Status.FINISHED)

    rows = _csv_rows(
        agent_client.get(reverse(CAMPAIGNS), {"q": "huamán", "status": "2", "export": "csv"})
    )

    assert [record["ID de campaña"] for record in _records(rows)] == ["CAST-B"]


def test_the_campaign_export_keeps_the_lists_order(agent_client, rosa):
    campaign(rosa, code="OLD", created_at=MADE_AT, status=Campaign.Status.FINISHED)
    campaign(rosa, code="NEW", created_at=MADE_AT + timedelta(days=1))

    rows = _csv_rows(agent_client.get(reverse(CAMPAIGNS), {"export": "csv"}))

    assert [record["ID de campaña"] for record in _records(rows)] == ["NEW", "OLD"]


# --- Pagos a verificar -------------------------------------------------------------------


def test_the_reported_csv_writes_each_column_with_decimal_commas(agent_client, rosa):
    reviewer = UserFactory(first_name="Carlos", last_name="Mendoza")
    reported(
        rosa,
        status=ReportedPayment.Status.REJECTED,
        reviewed_by=reviewer,
        reviewed_at=MADE_AT + timedelta(hours=2),
        reject_reason="No llegó el abono",
    )

    response = agent_client.get(reverse(REPORTED), {"export": "csv"})

    assert 'filename="pagos-a-verificar-' in response["Content-Disposition"]
    [record] = _records(_csv_rows(response))
    assert record == {
        "Cliente": "Rosa Huamán",
        "Tipo de documento": "DNI",
        "Documento": "00456789",
        "Código de pago": "L000123",
        "Monto": "945,60",
        "Moneda": "PEN",
        "Fecha de pago": "09/06/2026",
        "Medio": "Transferencia",
        "N.º de operación": "OP-778899",
        "Estado": "Rechazado",
        "Origen": Origin.PORTAL.label,
        "Informado": "10/06/2026 10:30",
        "Revisado por": "Carlos Mendoza",
        "Revisado": "10/06/2026 12:30",
        "Motivo del rechazo": "No llegó el abono",
        "Pago anulado": "",
    }


def test_the_reported_excel_holds_numbers(agent_client, rosa):
    reported(rosa)

    [record] = _xlsx_records(agent_client.get(reverse(REPORTED), {"export": "xlsx"}))

    assert record["Monto"] == pytest.approx(945.60)
    assert record["Documento"] == "00456789"
    assert record["Fecha de pago"] == datetime(2026, 6, 9)
    assert record["Revisado por"] is None  # not reviewed yet: an empty cell


def test_the_reported_export_follows_the_filters_and_the_queue_order(agent_client, rosa):
    reported(rosa, reference="LATER", created_at=MADE_AT + timedelta(hours=1))
    reported(rosa, reference="FIRST", created_at=MADE_AT)
    reported(rosa, reference="DONE", status=ReportedPayment.Status.APPROVED)
    reported(rosa, reference="CASH", method=ReportedPayment.Method.CASH)

    everything = _records(_csv_rows(agent_client.get(reverse(REPORTED), {"export": "csv"})))
    filtered = _records(
        _csv_rows(
            agent_client.get(
                reverse(REPORTED), {"status": "pending", "method": "transfer", "export": "csv"}
            )
        )
    )

    # Pending first, the oldest first; then the reviewed ones.
    assert [record["N.º de operación"] for record in everything][-1] == "DONE"
    assert [record["N.º de operación"] for record in filtered] == ["FIRST", "LATER"]


# --- Compromisos -------------------------------------------------------------------------


def test_the_promise_csv_writes_each_column_with_decimal_commas(agent_client, rosa):
    agent = UserFactory(first_name="Lucía", last_name="Paredes")
    made = promise(
        rosa,
        status=PaymentPromise.Status.KEPT,
        paid_amount=Decimal("500.25"),
        created_by=agent,
        resolved_at=MADE_AT + timedelta(days=2),
    )

    response = agent_client.get(reverse(PROMISES), {"export": "csv"})

    assert 'filename="compromisos-' in response["Content-Disposition"]
    [record] = _records(_csv_rows(response))
    assert record == {
        "Cliente": "Rosa Huamán",
        "Tipo de documento": "DNI",
        "Documento": "00456789",
        "Código de pago": "L000123",
        "Monto": "500,25",
        "Moneda": "PEN",
        "Fecha comprometida": made.promised_on.strftime("%d/%m/%Y"),
        "Estado": "Cumplido",
        "Pagado": "500,25",
        "Origen": Origin.AGENT.label,
        "Registrado por": "Lucía Paredes",
        "Registrado": "10/06/2026 10:30",
        "Resuelto": "12/06/2026 10:30",
        "Observaciones": "",
    }


def test_the_promise_excel_holds_numbers(agent_client, rosa):
    made = promise(rosa)

    [record] = _xlsx_records(agent_client.get(reverse(PROMISES), {"export": "xlsx"}))

    assert record["Monto"] == pytest.approx(500.25)
    assert record["Pagado"] == 0
    assert record["Fecha comprometida"].date() == made.promised_on


def test_the_promise_export_follows_the_tab_and_the_search(agent_client, rosa):
    today = timezone.localdate()
    promise(rosa, receivable_code="BROKEN-1", status=PaymentPromise.Status.BROKEN)
    promise(rosa, receivable_code="PENDING-1", promised_on=today + timedelta(days=5))
    promise(rosa, receivable_code="PENDING-2", promised_on=today + timedelta(days=1))
    promise(CustomerFactory(last_name="Rojas"), receivable_code="PENDING-3")

    rows = _csv_rows(
        agent_client.get(reverse(PROMISES), {"view": "vigentes", "q": "huamán", "export": "csv"})
    )

    # The tab «Vigentes», the soonest day first.
    assert [record["Código de pago"] for record in _records(rows)] == ["PENDING-2", "PENDING-1"]


# --- What every one of them does ---------------------------------------------------------


def _one_of_each(customer, **fields):
    campaign(customer, **fields.get("campaign", {}))
    reported(customer, **fields.get("reported", {}))
    promise(customer, **fields.get("promise", {}))


@pytest.mark.parametrize("url_name", [CAMPAIGNS, REPORTED, PROMISES])
def test_a_formula_typed_into_a_name_is_written_as_text(agent_client, url_name):
    _one_of_each(CustomerFactory(first_name=FORMULA, last_name="Ruiz"))

    [record] = _records(_csv_rows(agent_client.get(reverse(url_name), {"export": "csv"})))
    sheet = _sheet(agent_client.get(reverse(url_name), {"export": "xlsx"}))

    assert record["Cliente"] == "'" + FORMULA + " Ruiz"
    header = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("Cliente") + 1)
    assert cell.data_type == "s"
    assert cell.value == FORMULA + " Ruiz"


@pytest.mark.parametrize("url_name", [CAMPAIGNS, REPORTED, PROMISES])
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_role_without_the_list_cannot_export_it(client, asesor, rosa, url_name, file_format):
    _one_of_each(rosa)
    client.force_login(asesor)

    response = client.get(reverse(url_name), {"export": file_format})

    assert response.status_code == 403


@pytest.mark.parametrize("url_name", [CAMPAIGNS, REPORTED, PROMISES])
def test_the_results_offer_the_export_with_the_current_search(agent_client, rosa, url_name):
    _one_of_each(rosa)

    page = agent_client.get(reverse(url_name), {"q": "huamán", "page": "1"}).content.decode()
    fragment = agent_client.get(
        reverse(url_name), {"q": "huamán"}, headers={"HX-Request": "true"}
    ).content.decode()

    assert 'href="?q=huam%C3%A1n&amp;export=csv"' in page
    assert 'href="?q=huam%C3%A1n&amp;export=xlsx"' in page
    assert 'href="?q=huam%C3%A1n&amp;export=csv"' in fragment


@pytest.mark.parametrize("url_name", [CAMPAIGNS, REPORTED, PROMISES])
def test_an_empty_result_offers_no_export(agent_client, rosa, url_name):
    _one_of_each(rosa)

    response = agent_client.get(reverse(url_name), {"q": "nadie se llama así"})

    assert response.status_code == 200
    assert "export=csv" not in response.content.decode()


@pytest.mark.parametrize("url_name", [CAMPAIGNS, REPORTED, PROMISES])
def test_an_export_over_the_limit_is_refused_with_a_message(
    agent_client, rosa, monkeypatch, url_name
):
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS", 1)
    monkeypatch.setattr(lists, "EXPORT_MAX_ROWS_QUEUED", 1)
    _one_of_each(rosa)
    _one_of_each(
        CustomerFactory(last_name="Rojas"),
        campaign={"code": "CAST-2"},
    )

    response = agent_client.get(reverse(url_name), {"q": "", "export": "xlsx"})

    assert response.status_code == 302
    assert response["Location"] == reverse(url_name) + "?q="
    [message] = get_messages(response.wsgi_request)
    assert "más de 1 filas" in str(message) and "filtre" in str(message)


@pytest.mark.parametrize(
    ("url_name", "bad_filter"),
    [
        (CAMPAIGNS, {"debt_min": "abc"}),
        (REPORTED, {"since": "2026-13-45"}),
        (PROMISES, {"origin": "nowhere"}),
    ],
)
def test_an_export_with_filters_the_list_refuses_has_only_its_header(
    agent_client, rosa, url_name, bad_filter
):
    """As the page shows no rows (and says what is wrong), the file has none either."""
    _one_of_each(rosa)

    rows = _csv_rows(agent_client.get(reverse(url_name), {**bad_filter, "export": "csv"}))

    assert len(rows) == 1


@pytest.mark.parametrize("url_name", [CAMPAIGNS, REPORTED, PROMISES])
def test_an_export_costs_the_same_queries_however_many_rows(agent_client, url_name):
    def queries() -> int:
        agent_client.get(reverse(url_name), {"export": "csv"})  # the permission cache filled
        with CaptureQueriesContext(connection) as captured:
            response = agent_client.get(reverse(url_name), {"export": "csv"})
            _csv_rows(response)
        return len(captured.captured_queries)

    _one_of_each(
        CustomerFactory(),
        reported={"reviewed_by": UserFactory()},
        promise={"created_by": UserFactory()},
    )
    one = queries()
    for number in range(5):
        _one_of_each(
            CustomerFactory(),
            campaign={"code": f"CAST-{number}"},
            reported={"reviewed_by": UserFactory()},
            promise={"created_by": UserFactory()},
        )

    assert queries() == one
