"""A book file's «Moneda» column is read: a row in another currency than its product's is
refused with its line and reason (the loan takes its product's currency, so a dollar loan
of the source system had become a soles loan without a word)."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from credits.imports import LoanImporter, LoanRun
from credits.models import Loan, LoanProduct
from crm.imports import services
from tests.credits.test_loan_import import csv_bytes, run, today  # noqa: F401 (fixture)
from tests.factories import CustomerFactory, LoanProductFactory

pytestmark = pytest.mark.django_db

HEADER = ["Tipo doc", "Documento", "Código de pago", "Producto", "Fecha desembolso"]
HEADER += ["Capital", "Plazo", "Moneda"]


def row(code: str, product: str, currency: str) -> list:
    return ["DNI", "41234567", code, product, "15/01/2026", "2000", 6, currency]


@pytest.fixture
def book(db):
    LoanProductFactory(name="Crédito de consumo", annual_rate=Decimal("24.00"), currency="PEN")
    LoanProductFactory(name="Crédito dólares", annual_rate=Decimal("24.00"), currency="USD")
    CustomerFactory(document_number="41234567")


def test_the_currency_column_is_mapped(book, supervisor):
    batch = services.upload(
        kind="loans",
        file=SimpleUploadedFile(
            "c.csv", csv_bytes([HEADER, row("USD-1", "Crédito dólares", "USD")])
        ),
        actor=supervisor,
        parts={},
    )

    assert batch.mapping.get("currency") == HEADER.index("Moneda")


def test_a_row_in_another_currency_than_its_product_is_refused_with_its_line(book, supervisor):
    rows = [
        HEADER,
        row("OK-1", "Crédito de consumo", "PEN"),
        row("USD-IMP-2", "Crédito de consumo", "USD"),
        row("OK-2", "Crédito dólares", "US$"),
        row("PEN-3", "Crédito dólares", "soles"),
        row("X-4", "Crédito de consumo", "EUR"),
    ]

    batch = run({"main": ("c.csv", csv_bytes(rows))}, supervisor)

    errors = dict(batch.error_preview)
    assert not batch.is_applied and not Loan.objects.exists()
    assert errors[3] == "El producto Crédito de consumo es en soles y la fila dice USD."
    assert errors[5] == "El producto Crédito dólares es en dólares y la fila dice PEN."
    assert errors[6] == "La moneda «EUR» no es PEN (S/) ni USD (US$)."
    assert set(errors) == {3, 5, 6}


def test_rows_in_their_products_currency_or_blank_are_imported(book, supervisor):
    rows = [
        HEADER,
        row("OK-1", "Crédito de consumo", "S/"),
        row("OK-2", "Crédito dólares", "dólares"),
        row("OK-3", "Crédito dólares", ""),
    ]

    batch = run({"main": ("c.csv", csv_bytes(rows))}, supervisor)

    assert batch.is_applied
    assert dict(Loan.objects.values_list("payment_code", "currency")) == {
        "OK-1": "PEN",
        "OK-2": "USD",
        "OK-3": "USD",
    }


def test_reading_the_currency_asks_the_database_nothing(book, django_assert_num_queries):
    importer = LoanImporter()
    state = LoanRun()
    state.products = {"credito de consumo": LoanProduct.objects.get(name="Crédito de consumo")}
    cells = dict(
        zip(
            [
                "document_type",
                "document_number",
                "payment_code",
                "product",
                "start_date",
                "principal",
                "term",
                "currency",
            ],
            row("USD-1", "Crédito de consumo", "USD"),
            strict=True,
        )
    )

    with django_assert_num_queries(0):
        loan_row, messages = importer.parse(cells, state)

    assert loan_row is None
    assert "El producto Crédito de consumo es en soles y la fila dice USD." in messages
