"""Loans a person mistypes: the import's rate cells and its product ranges, the product's own
ceilings (admin), and the loan form's largest principal."""

import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from credits import forms, schedule
from credits.models import Loan, LoanProduct
from lib import spreadsheets
from tests.credits import test_loan_import as loan_import
from tests.credits.test_loan_import import LOANS, csv_bytes, loan_row, run
from tests.factories import CustomerFactory, LoanProductFactory

pytestmark = pytest.mark.django_db

# The loan import's fixtures: its day (autouse) and its book (a "Vehicular" product of
# 100.00 to 500,000.00, 1 to 72 installments, 0 % to 100 %, and two customers).
today = loan_import.today
book = loan_import.book

RATE_COLUMN, PRINCIPAL_COLUMN, TERM_COLUMN = 6, 5, 7


def _xlsx(rows, percent_cells=()) -> bytes:
    """An .xlsx whose (row, column) cells in `percent_cells` are formatted as Excel's 0%."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for values in rows:
        sheet.append(list(values))
    for row, column in percent_cells:
        sheet.cell(row=row, column=column).number_format = "0%"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _imported_rates() -> list[Decimal]:
    return list(Loan.objects.filter(payment_code="PX-0001").values_list("annual_rate", flat=True))


# --- The import: a rate cell Excel shows as «24%» ------------------------------------------


def test_an_imported_rate_cell_formatted_as_percent_is_refused_as_ambiguous(book, supervisor):
    row = loan_row()
    row[RATE_COLUMN] = 0.24  # what Excel keeps for a cell showing «24%»

    batch = run({"main": ("creditos.xlsx", _xlsx([LOANS, row], [(2, 7)]))}, supervisor)

    assert _imported_rates() == []
    assert dict(batch.error_preview) == {
        2: "La tasa: ¿0,24 % o 24 %? Escriba 24 para una tasa de 24 %."
    }


def test_an_imported_rate_number_cell_of_24_is_24_percent(book, supervisor):
    row = loan_row()
    row[RATE_COLUMN] = 24

    batch = run({"main": ("creditos.xlsx", _xlsx([LOANS, row]))}, supervisor)

    assert batch.is_applied, batch.error_preview
    assert _imported_rates() == [Decimal("24.0000")]


def test_an_imported_rate_typed_as_text_keeps_its_reading(book, supervisor):
    row = loan_row()
    row[RATE_COLUMN] = "0,24"

    batch = run({"main": ("creditos.csv", csv_bytes([LOANS, row]))}, supervisor)

    assert batch.is_applied, batch.error_preview
    assert _imported_rates() == [Decimal("0.2400")]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (0.24, "La tasa: ¿0,24 % o 24 %? Escriba 24 para una tasa de 24 %."),
        (0.325, "La tasa: ¿0,325 % o 32,5 %? Escriba 32,5 para una tasa de 32,5 %."),
        (Decimal("0.05"), "La tasa: ¿0,05 % o 5 %? Escriba 5 para una tasa de 5 %."),
    ],
)
def test_a_number_cell_between_0_and_1_is_refused_as_ambiguous(cell, message):
    with pytest.raises(ValueError, match="^" + message.replace("?", r"\?") + "$"):
        spreadsheets.read_rate(cell, label="la tasa", maximum=schedule.MAX_ANNUAL_RATE)


@pytest.mark.parametrize(
    ("cell", "rate"),
    [
        (0.0, "0"),
        (0, "0"),
        (1.0, "1"),
        (24.5, "24.5"),
        (Decimal("24"), "24"),
        ("0,24", "0.24"),
        ("0.24", "0.24"),
        ("24%", "24"),
    ],
)
def test_a_rate_that_is_not_ambiguous_is_read_as_before(cell, rate):
    read = spreadsheets.read_rate(cell, label="la tasa", maximum=schedule.MAX_ANNUAL_RATE)

    assert read == Decimal(rate)


# --- The import: the product's own range ------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (PRINCIPAL_COLUMN, "600000.00", "El monto debe estar entre 100.00 y 500,000.00 para "),
        (TERM_COLUMN, "360", "El plazo debe estar entre 1 y 72 cuotas para "),
        (RATE_COLUMN, "240", "La tasa debe estar entre 0 % y 100 % anual para "),
    ],
)
def test_an_imported_loan_outside_its_products_range_is_refused_with_its_line(
    book,
    supervisor,
    column,
    value,
    message,
):
    row = loan_row()
    row[column] = value

    batch = run({"main": ("creditos.csv", csv_bytes([LOANS, row]))}, supervisor)

    assert not Loan.objects.filter(payment_code="PX-0001").exists()
    product = book[0]
    assert dict(batch.error_preview) == {2: f"{message}{product.name}."}


def test_an_imported_principal_above_the_largest_any_loan_takes_is_refused(book, supervisor):
    row = loan_row(principal="1200000000.00")  # 1,200 typed with six zeros more

    batch = run({"main": ("creditos.csv", csv_bytes([LOANS, row]))}, supervisor)

    assert not Loan.objects.exists()
    assert dict(batch.error_preview) == {2: "El capital es demasiado alto."}


def test_an_imported_loan_at_its_products_limits_is_imported(book, supervisor):
    row = loan_row(principal="500000.00", term=72)
    row[RATE_COLUMN] = "100"

    batch = run({"main": ("creditos.csv", csv_bytes([LOANS, row]))}, supervisor)

    assert batch.is_applied, batch.error_preview
    loan = Loan.objects.get(payment_code="PX-0001")
    assert (loan.principal, loan.term, loan.annual_rate) == (Decimal("500000"), 72, Decimal(100))


def test_a_loan_of_a_product_no_longer_offered_is_still_imported(book, supervisor):
    # An old book brings the loans of products withdrawn since: only the ranges are checked.
    LoanProduct.objects.filter(pk=book[0].pk).update(is_active=False)

    batch = run({"main": ("creditos.csv", csv_bytes([LOANS, loan_row()]))}, supervisor)

    assert batch.is_applied, batch.error_preview


# --- The product (model and admin) ------------------------------------------------------------


@pytest.mark.parametrize("field", ["max_amount", "min_amount"])
def test_a_product_amount_a_million_times_too_big_is_refused(field):
    too_big = Decimal("500000000000.00")  # 500,000 × 10^6
    product = LoanProductFactory.build(**{"max_amount": too_big, field: too_big})

    with pytest.raises(ValidationError) as refused:
        product.full_clean(exclude=["name"])

    assert refused.value.message_dict[field] == [
        "Asegúrese de que este valor es menor o igual a 10000000."
    ]


def test_a_product_up_to_the_largest_principal_is_accepted():
    product = LoanProductFactory.build(
        min_amount=schedule.MAX_PRINCIPAL, max_amount=schedule.MAX_PRINCIPAL
    )

    product.full_clean(exclude=["name"])


def test_a_fixed_fee_per_installment_above_the_products_minimum_loan_is_refused():
    product = LoanProductFactory.build(fee_type="fixed", fee_value=Decimal("9999"))

    with pytest.raises(ValidationError) as refused:
        product.full_clean(exclude=["name"])

    assert refused.value.message_dict["fee_value"] == [
        "La comisión fija por cuota (9,999.00) supera el monto mínimo del producto (100.00)."
    ]


def test_a_fixed_fee_equal_to_the_products_minimum_loan_is_accepted():
    product = LoanProductFactory.build(fee_type="fixed", fee_value=Decimal("100"))

    product.full_clean(exclude=["name"])


def _admin_data(**overrides) -> dict:
    return {
        "name": "Consumo",
        "currency": "PEN",
        "annual_rate": "24",
        "min_rate": "0",
        "max_rate": "100",
        "method": "french",
        "frequency": "monthly",
        "min_term": "1",
        "max_term": "72",
        "min_amount": "100",
        "max_amount": "500000",
        "fee_type": "none",
        "fee_value": "0",
        "late_annual_rate": "0",
        "grace_days": "0",
        "allocation_order": "[]",
        "platform_fee_percent": "0",
        "approval_target_hours": "24",
        "is_active": "on",
        **overrides,
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"max_amount": "500000000000"},
            "Asegúrese de que este valor es menor o igual a 10000000.",
        ),
        (
            {"fee_type": "fixed", "fee_value": "1500"},
            "La comisión fija por cuota (1,500.00) supera el monto mínimo del producto (100.00).",
        ),
    ],
)
def test_the_admin_refuses_a_product_ceiling_a_typo_crosses(admin_client, overrides, message):
    product = LoanProductFactory(name="Consumo")

    response = admin_client.post(
        reverse("admin:credits_loanproduct_change", args=[product.pk]), _admin_data(**overrides)
    )

    assert response.status_code == 200
    assertContains(response, message)
    product.refresh_from_db()
    assert (product.max_amount, product.fee_type) == (Decimal("500000"), "none")


def test_the_admin_saves_a_product_within_its_ceilings(admin_client):
    product = LoanProductFactory(name="Consumo")

    response = admin_client.post(
        reverse("admin:credits_loanproduct_change", args=[product.pk]),
        _admin_data(max_amount="10000000", fee_type="fixed", fee_value="100"),
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.max_amount, product.fee_value) == (Decimal("10000000"), Decimal("100"))


# --- The loan form ----------------------------------------------------------------------------


@pytest.fixture
def unbounded(db):
    """A product saved before its ceiling existed: its maximum is 500,000 × 10^6."""
    return LoanProductFactory(name="Sin techo", max_amount=Decimal("500000000000.00"))


def test_the_loan_form_refuses_a_principal_above_the_largest_any_loan_takes(
    client, asesor, unbounded
):
    client.force_login(asesor)
    data = {
        "customer": CustomerFactory().document_number,
        "product": unbounded.pk,
        "principal": "20000000",
        "term": "12",
        "annual_rate": "",
        "start_date": timezone.localdate().isoformat(),
        "first_due_date": "",
        "advisor": "",
        "branch": "",
        "notes": "",
    }

    response = client.post(reverse("credits:loan_create"), data)

    assert response.status_code == 200
    assert response.context["form"].errors["principal"] == [
        "Asegúrese de que este valor es menor o igual a 10000000."
    ]
    assert not Loan.objects.exists()


def test_the_loan_terms_take_the_largest_principal(unbounded):
    form = forms.LoanTermsForm(
        {
            "product": unbounded.pk,
            "principal": "10000000",
            "term": "12",
            "start_date": timezone.localdate().isoformat(),
        }
    )

    assert form.is_valid(), form.errors
