"""The loans import preview shows whose loan each row is, as it will be stored."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains

from crm.imports import services
from tests.factories import BranchFactory, CustomerFactory, LoanProductFactory

pytestmark = pytest.mark.django_db

HEADER = ["Tipo doc", "Documento", "Código de pago", "Producto", "Fecha desembolso", "Capital"]
HEADER += ["Tasa", "Plazo", "Sucursal"]


def _row(kind: str, document: str, code: str, branch: str) -> list[str]:
    return [kind, document, code, "Vehicular", "15/01/2026", "1200.00", "24", "12", branch]


def _upload(rows, actor):
    content = "\n".join(",".join(row) for row in [HEADER, *rows]).encode()
    return services.upload(
        kind="loans", file=SimpleUploadedFile("creditos.csv", content), actor=actor, parts={}
    )


@pytest.fixture
def book(db):
    LoanProductFactory(name="Vehicular", annual_rate=Decimal("24.00"))
    BranchFactory(name="Arequipa Centro")
    CustomerFactory(document_number="41234567")


def test_the_preview_shows_the_document_and_branch_of_each_loan(book, supervisor):
    batch = _upload(
        [
            _row("dni", "41.234.567", "PX-1", "arequipa centro"),
            _row("CE", "001234567", "PX-2", ""),
        ],
        supervisor,
    )

    first, second = services.preview(batch, batch.mapping)

    assert (first.messages, second.messages) == ([], [])
    assert first.values["document_type"] == "DNI"
    assert first.values["document_number"] == "41234567"
    assert first.values["branch"] == "Arequipa Centro"
    assert second.values["document_type"] == "Carné de extranjería"
    assert second.values["document_number"] == "001234567"
    assert second.values["branch"] == "La del cliente"


def test_the_columns_page_shows_them_instead_of_a_dash(book, client, supervisor):
    batch = _upload([_row("DNI", "41234567", "PX-1", "Arequipa Centro")], supervisor)
    client.force_login(supervisor)

    response = client.get(reverse("crm:import_columns", args=[batch.pk]))

    assertContains(response, "<td>41234567</td>", html=False)
    assertContains(response, "<td>Arequipa Centro</td>", html=False)
    assertContains(response, "<td>DNI</td>", html=False)
