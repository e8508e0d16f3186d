"""The lender's book in the JSON API (/api/v1/cartera/): customers and loans imported as rows
through the imports' own service (created, updated, conflicts, all-or-nothing, bad input),
the import's status, and the customers and loans read back; every answer checked against
the API's OpenAPI document."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credits.models import Loan
from crm.api import MAX_ROWS
from crm.models import Customer, ImportBatch, ImportRecord, Tag
from integrations import api_clients
from tests.api_partner import ApiPartner, api_schema
from tests.credits.conftest import TODAY, at
from tests.factories import CustomerFactory, LoanFactory, LoanProductFactory

pytestmark = pytest.mark.django_db

STATUS = "/cartera/importaciones/{batch_id}/estado"
IMPORT = "/cartera/importaciones/{tipo}"
CUSTOMER = "/cartera/clientes/{tipo_documento}/{numero_documento}"
LOAN = "/cartera/creditos/{codigo_pago}"


@pytest.fixture(scope="module")
def openapi() -> dict:
    return api_schema()


@pytest.fixture
def partner(openapi) -> ApiPartner:
    _client, token = api_clients.create_client(name="Core bancario", scopes="book")
    return ApiPartner(token, openapi)


@pytest.fixture(autouse=True)
def today():
    with at(TODAY):
        yield


def jean(**fields) -> dict:
    jean = {"numero_documento": "42345678", "nombres": "Jean", "apellidos": "Dupont"}
    return marta(**{**jean, "celular": "", "correo_electronico": "", **fields})


def marta(**fields) -> dict:
    return {
        "tipo_documento": "dni",
        "numero_documento": "41234567",
        "nombres": "Marta",
        "apellidos": "Ccori Vela",
        "celular": "987654321",
        "correo_electronico": "marta@correo.pe",
        **fields,
    }


def send(partner, kind: str, body: dict, capture) -> dict:
    """Import through the API, run the queued task as the worker would, return the status."""
    with capture(execute=True):
        answer = partner.post(f"/cartera/importaciones/{kind}", body, route=IMPORT)
    assert answer.status_code == 202, answer.json()
    created = answer.json()
    assert created["url_estado"].endswith(f"/api/v1/cartera/importaciones/{created['id']}/estado")
    return partner.get(f"/cartera/importaciones/{created['id']}/estado", route=STATUS).json()


def test_without_the_book_scope_or_a_token_it_refuses(openapi):
    _client, token = api_clients.create_client(name="Bot", scopes="collections")

    assert ApiPartner(token, openapi).get("/cartera/clientes").status_code == 403
    assert ApiPartner(None, openapi).get("/cartera/clientes").status_code == 401


def test_the_fields_of_each_kind_are_listed_by_their_keys(partner):
    kinds = {kind["tipo"]: kind for kind in partner.get("/cartera/importaciones/campos").json()}

    customers = {field["campo"]: field for field in kinds["clientes"]["filas"]}
    assert {"tipo_documento", "numero_documento", "nombres", "celular"} <= set(customers)
    assert customers["nombres"]["obligatorio"] is True
    assert kinds["clientes"]["cuotas"] == [] and kinds["clientes"]["pagos"] == []
    loans = {field["campo"] for field in kinds["creditos"]["filas"]}
    assert {"codigo_de_pago", "producto", "fecha_de_desembolso", "capital", "plazo"} <= loans
    assert "tasa_nominal_anual" in loans  # "(%)" left out of the key
    assert {f["campo"] for f in kinds["creditos"]["pagos"]} >= {"codigo_de_pago", "monto"}


def test_customers_are_created_then_updated_by_their_document_and_read_back(
    partner, supervisor, django_capture_on_commit_callbacks
):
    status = send(
        partner,
        "clientes",
        {"filas": [marta(), jean()]},
        django_capture_on_commit_callbacks,
    )
    assert (status["estado"], status["tipo"], status["creadas"], status["errores"]) == (
        "done",
        "clientes",
        2,
        [],
    )

    again = send(
        partner,
        "clientes",
        {"filas": [marta(celular="912345678", ciudad="Cusco"), jean(nombres="Juan")]},
        django_capture_on_commit_callbacks,
    )

    assert (again["actualizadas"], again["conflictos"]) == (1, 2)
    found = Customer.objects.get(document_number="41234567")
    # The city is updated; another phone, like another name, waits for a person: no one
    # sent it (the API has no person), and the portal's access code goes to the phone on file.
    assert (found.city, str(found.phone)) == ("Cusco", "+51987654321")
    assert Customer.objects.get(document_number="42345678").first_name == "Jean"
    pending = ImportRecord.objects.filter(conflict_status=ImportRecord.Conflict.PENDING)
    assert sorted((r.conflict for r in pending), key=str) == [
        {"first_name": ["Jean", "Juan"]},
        {"phone": ["+51987654321", "+51912345678"]},
    ]
    # Who sent the rows is named where a person reads the import: the API client.
    assert ImportBatch.objects.latest("pk").file_name == "API Core bancario · filas.csv"
    update = found.interactions.get(summary__startswith="Datos actualizados por la importación")
    assert "(API Core bancario · filas.csv)" in update.summary
    waiting = found.interactions.get(summary__contains="quedan por decidir")
    assert waiting.payload == {"Celular": "+51987654321 → +51912345678"}

    page = partner.get("/cartera/clientes", {"q": "marta ccori"}).json()
    assert page["total"] == 1 and page["resultados"][0]["celular"] == "+51987654321"
    detail = partner.get("/cartera/clientes/dni/41234567", route=CUSTOMER).json()
    assert (detail["nombres"], detail["correo"]) == ("Marta", "marta@correo.pe")
    # Times in the lender's zone, with the offset (a bot showing the day showed UTC's).
    assert page["resultados"][0]["creado"].endswith("-05:00")
    assert detail["creado"].endswith("-05:00")
    assert partner.get("/cartera/clientes/dni/49999999", route=CUSTOMER).status_code == 404
    assert partner.get("/cartera/clientes/dni/12", route=CUSTOMER).status_code == 422


def test_a_bad_row_writes_nothing_unless_the_good_ones_are_asked_for(
    partner, django_capture_on_commit_callbacks
):
    rows = [marta(), marta(numero_documento="123", nombres="")]

    strict = send(partner, "clientes", {"filas": rows}, django_capture_on_commit_callbacks)

    assert (strict["aplicada"], strict["creadas"], strict["filas_con_errores"]) == (False, 0, 1)
    assert strict["errores"][0]["linea"] == 3
    assert "8 dígitos" in strict["errores"][0]["mensaje"]
    assert not Customer.objects.exists()

    lenient = send(
        partner,
        "clientes",
        {"filas": rows, "omitir_errores": True},
        django_capture_on_commit_callbacks,
    )

    assert (lenient["aplicada"], lenient["creadas"], lenient["omitidas"]) == (True, 1, 1)


def test_unknown_fields_kinds_and_tables_and_too_many_rows_are_refused(partner):
    unknown = partner.post(
        "/cartera/importaciones/clientes", {"filas": [marta(edad=40)]}, route=IMPORT
    )
    assert unknown.status_code == 422
    assert "La fila 1 trae campos desconocidos: edad." in unknown.json()["detail"][0]["msg"]

    kind = partner.post("/cartera/importaciones/proveedores", {"filas": [marta()]}, route=IMPORT)
    assert kind.status_code == 404

    table = partner.post(
        "/cartera/importaciones/clientes",
        {"filas": [marta()], "pagos": [{"monto": "10"}]},
        route=IMPORT,
    )
    assert table.status_code == 422

    many = partner.post(
        "/cartera/importaciones/clientes", {"filas": [marta()] * (MAX_ROWS + 1)}, route=IMPORT
    )
    assert many.status_code == 422
    long = partner.post(
        "/cartera/importaciones/clientes", {"filas": [marta(nombres="x" * 300)]}, route=IMPORT
    )
    assert long.status_code == 422
    assert not ImportBatch.objects.exists()


def test_a_loan_with_its_payments_is_imported_and_read_back_with_its_balance(
    partner, django_capture_on_commit_callbacks
):
    LoanProductFactory(name="Vehicular", annual_rate=Decimal("24.00"))
    CustomerFactory(document_number="41234567")
    loan = {
        "tipo_documento": "DNI",
        "numero_documento": "41234567",
        "codigo_de_pago": "PX-API-1",
        "producto": "Vehicular",
        "fecha_de_desembolso": "15/01/2026",
        "capital": "1200.00",
        "tasa_nominal_anual": 24,
        "plazo": 12,
        "frecuencia": "mensual",
    }
    payments = [
        {"codigo_de_pago": "PX-API-1", "fecha_de_pago": "14/02/2026", "monto": "113.47"},
        {"codigo_de_pago": "PX-API-1", "fecha_de_pago": "20/03/2026", "monto": "150.00"},
    ]

    status = send(
        partner,
        "creditos",
        {"filas": [loan], "pagos": payments},
        django_capture_on_commit_callbacks,
    )

    assert (status["estado"], status["creadas"]) == ("done", 1), status
    imported = Loan.objects.get(payment_code="PX-API-1")
    assert imported.payments.count() == 2
    listed = partner.get("/cartera/creditos", {"numero_documento": "41234567"}).json()
    assert listed["total"] == 1
    # A type without its number filtered nothing and said nothing.
    alone = partner.get("/cartera/creditos", {"tipo_documento": "dni"})
    assert alone.status_code == 422
    assert "junto con tipo_documento" in str(alone.json())
    detail = partner.get("/cartera/creditos/PX-API-1", route=LOAN).json()
    assert detail["codigo_pago"] == "PX-API-1" and detail["cronograma"] == "engine"
    assert len(detail["cuotas"]) == 12
    assert detail["cuotas"][0]["pagada_el"] == date(2026, 2, 14).isoformat()
    paid = sum(Decimal(row["pagado"]) for row in detail["cuotas"])
    assert paid == Decimal("263.47")
    pending = sum(Decimal(row["pendiente"]) for row in detail["cuotas"])
    assert Decimal(detail["saldo"]) == pending
    assert partner.get("/cartera/creditos/NO-EXISTE", route=LOAN).status_code == 404


def test_a_body_larger_than_django_takes_is_refused_whole(partner):
    payments = [{"codigo_de_pago": "PX-1", "fecha_de_pago": "14/02/2026", "monto": "1.00"}] * 60_000

    answer = partner.client.post(
        "/api/v1/cartera/importaciones/creditos",
        data=json.dumps({"filas": [{"codigo_de_pago": "PX-1"}], "pagos": payments}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {partner.token}"},
    )

    assert answer.status_code == 413
    assert "demasiado grande (hasta 2.6 MB)" in answer.json()["detail"]
    assert not ImportBatch.objects.exists()


@pytest.mark.parametrize("path", ["/cartera/clientes", "/cartera/creditos"])
def test_a_page_of_customers_or_loans_costs_the_same_queries_for_2_rows_as_for_20(partner, path):
    def queries() -> int:
        partner.get(path)  # the token's client read and cached
        with CaptureQueriesContext(connection) as captured:
            assert partner.get(path).status_code == 200
        return len(captured)

    tagged = Tag.objects.create(name="VIP")
    for _ in range(2):
        LoanFactory().customer.tags.add(tagged)
    few = queries()
    for _ in range(18):
        LoanFactory().customer.tags.add(tagged)

    assert queries() == few


def test_a_control_character_in_a_row_is_named_with_its_row_and_field_not_called_a_csv(partner):
    answer = partner.post(
        "/cartera/importaciones/clientes",
        {"filas": [marta(), jean(nombres="Jean\x01")]},
        route=IMPORT,
    )

    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {
            "type": "control_character",
            "loc": ["body", "payload", "filas", 1, "nombres"],
            "msg": "Tiene un carácter de control invisible (U+0001), que no se admite: bórrelo.",
        }
    ]
    assert not ImportBatch.objects.exists()


def test_loans_paged_by_siguiente_hold_still_while_loans_are_added(partner):
    """Newest first: a loan added between two reads pushed an offset page back by one row,
    and the client read a loan twice."""
    loans = [LoanFactory() for _ in range(5)]
    first = partner.get("/cartera/creditos", {"por_pagina": 2}).json()
    LoanFactory()  # made while the client reads

    by_offset = partner.get("/cartera/creditos", {"por_pagina": 2, "pagina": 2}).json()
    by_cursor = partner.get(
        "/cartera/creditos", {"por_pagina": 2, "despues": first["siguiente"]}
    ).json()

    codes = [loan.payment_code for loan in reversed(loans)]
    assert [row["codigo_pago"] for row in first["resultados"]] == codes[:2]
    assert by_offset["resultados"][0]["codigo_pago"] == codes[1]  # read twice
    assert [row["codigo_pago"] for row in by_cursor["resultados"]] == codes[2:4]
    last = partner.get("/cartera/creditos", {"por_pagina": 2, "despues": by_cursor["siguiente"]})
    assert [row["codigo_pago"] for row in last.json()["resultados"]] == codes[4:]
    assert last.json()["siguiente"] is None


def test_customers_paged_by_siguiente_follow_their_names(partner):
    for last_name in ("Alva", "Bravo", "Cano", "Díaz"):
        CustomerFactory(last_name=last_name)
    first = partner.get("/cartera/clientes", {"por_pagina": 2}).json()
    CustomerFactory(last_name="Aguirre")  # sorts before the page read

    rest = partner.get("/cartera/clientes", {"por_pagina": 2, "despues": first["siguiente"]})

    assert [row["apellidos"] for row in first["resultados"]] == ["Alva", "Bravo"]
    assert [row["apellidos"] for row in rest.json()["resultados"]] == ["Cano", "Díaz"]
    assert rest.json()["siguiente"] is None


def test_a_siguiente_that_is_not_ours_is_a_422_in_spanish(partner):
    answer = partner.get("/cartera/creditos", {"despues": "abc"})

    assert answer.status_code == 422
    assert "siguiente" in answer.json()["detail"][0]["msg"]
