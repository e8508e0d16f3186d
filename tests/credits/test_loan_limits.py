"""A loan's amount, term and rate stay within its product's limits, wherever it is typed:
the loan form and its preview, the service, the JSON API's preview and the product admin."""

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from credits.models import Loan, LoanProduct
from credits.services import loans as loan_services
from tests.factories import CustomerFactory, LoanProductFactory

API = "/api/v1/schedule-preview"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def consumo(db):
    """A 32 % consumer product, negotiable between 28 % and 36 %."""
    return LoanProductFactory(
        name="Consumo 32",
        annual_rate=Decimal("32.00"),
        min_rate=Decimal("28.00"),
        max_rate=Decimal("36.00"),
        min_amount=Decimal("1000.00"),
        max_amount=Decimal("30000.00"),
        min_term=6,
        max_term=36,
        fee_type="percent",
        fee_value=Decimal("1.5"),
    )


def _create(product, **kwargs):
    data = {
        "actor": None,
        "customer": CustomerFactory(),
        "product": product,
        "principal": Decimal("10000"),
        "term": 12,
        "start_date": timezone.localdate(),
        **kwargs,
    }
    return loan_services.create_loan(**data)


# --- The service ------------------------------------------------------------------------


def test_a_999_percent_rate_on_a_32_percent_product_is_refused(consumo):
    with pytest.raises(ValidationError) as refused:
        _create(consumo, annual_rate=Decimal("999"))

    assert refused.value.message_dict["annual_rate"] == [
        "La tasa debe estar entre 28 % y 36 % anual para Consumo 32."
    ]
    assert not Loan.objects.exists()


@pytest.mark.parametrize("rate", ["28", "36", "30.5"])
def test_a_rate_negotiated_within_the_range_is_kept(consumo, rate):
    loan = _create(consumo, annual_rate=Decimal(rate))

    assert loan.annual_rate == Decimal(rate)


@pytest.mark.parametrize("rate", ["27.9999", "36.0001", "0"])
def test_a_rate_just_outside_the_range_is_refused(consumo, rate):
    with pytest.raises(ValidationError, match="La tasa debe estar entre"):
        _create(consumo, annual_rate=Decimal(rate))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("principal", Decimal("999.99"), "El monto debe estar entre 1,000.00 y 30,000.00"),
        ("principal", Decimal("30000.01"), "El monto debe estar entre 1,000.00 y 30,000.00"),
        ("term", 5, "El plazo debe estar entre 6 y 36 cuotas"),
        ("term", 37, "El plazo debe estar entre 6 y 36 cuotas"),
    ],
)
def test_an_amount_or_term_outside_the_product_is_refused(consumo, field, value, message):
    with pytest.raises(ValidationError) as refused:
        _create(consumo, **{field: value})

    assert refused.value.message_dict[field][0].startswith(message)


def test_a_one_installment_product_says_cuota_in_the_singular(db):
    product = LoanProductFactory(name="Un pago", min_term=1, max_term=1)

    with pytest.raises(ValidationError) as refused:
        _create(product, term=2)

    assert refused.value.message_dict["term"] == ["El plazo es de 1 cuota para Un pago."]


# --- The loan form and its preview ------------------------------------------------------


def _form_data(product, **overrides):
    return {
        "customer": CustomerFactory().document_number,
        "product": product.pk,
        "principal": "10000",
        "term": "12",
        "annual_rate": "",
        "start_date": timezone.localdate().isoformat(),
        "first_due_date": "",
        "advisor": "",
        "branch": "",
        "notes": "",
        **overrides,
    }


def test_the_loan_form_refuses_a_rate_outside_the_product_on_its_field(client, asesor, consumo):
    client.force_login(asesor)

    response = client.post(reverse("credits:loan_create"), _form_data(consumo, annual_rate="999"))

    assert response.status_code == 200
    assert response.context["form"].errors["annual_rate"] == [
        "La tasa debe estar entre 28 % y 36 % anual para Consumo 32."
    ]
    assert not Loan.objects.exists()


def test_the_preview_refuses_a_rate_outside_the_product(client, asesor, consumo):
    client.force_login(asesor)

    response = client.get(
        reverse("credits:loan_preview"),
        {
            "product": consumo.pk,
            "principal": "10000",
            "term": "12",
            "annual_rate": "999",
            "start_date": "2026-01-01",
        },
        headers=HTMX,
    )

    assertContains(response, "La tasa debe estar entre 28 % y 36 % anual")
    assert response.context["plan"] is None


# --- The JSON API -------------------------------------------------------------------------


def _api(client, **params):
    return client.get(API, {"principal": "10000", "term": "12", **params})


def _errors(response) -> dict[str, str]:
    return {error["loc"][-1]: error["msg"] for error in response.json()["detail"]}


def test_the_api_previews_a_loan_of_a_product_with_its_terms(client, consumo):
    response = _api(client, product=consumo.pk, first_due_date="2026-02-01")

    assert response.status_code == 200
    body = response.json()
    assert (body["annual_rate"], body["method"], body["frequency"]) == ("32", "french", "monthly")
    # The product's fee: 1.5 % of each installment's principal and interest.
    first = body["installments"][0]
    assert Decimal(first["fee"]) == (
        (Decimal(first["principal"]) + Decimal(first["interest"])) * Decimal("0.015")
    ).quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"annual_rate": "999"}, "annual_rate", "La tasa debe estar entre 28 % y 36 %"),
        ({"annual_rate": "27"}, "annual_rate", "La tasa debe estar entre 28 % y 36 %"),
        ({"principal": "999999"}, "principal", "El monto debe estar entre 1,000.00 y 30,000.00"),
        ({"term": "48"}, "term", "El plazo debe estar entre 6 y 36 cuotas"),
        ({"method": "german"}, "method", "El producto usa «french»"),
        ({"frequency": "weekly"}, "frequency", "El producto usa «monthly»"),
        ({"fee": "5"}, "fee", "La comisión la fija el producto"),
    ],
)
def test_the_api_applies_the_products_limits(client, consumo, params, field, message):
    response = _api(client, product=consumo.pk, **params)

    assert response.status_code == 422
    assert _errors(response)[field].startswith(message)


def test_the_api_takes_a_negotiated_rate_within_the_range(client, consumo):
    response = _api(client, product=consumo.pk, annual_rate="30")

    assert response.status_code == 200
    assert response.json()["annual_rate"] == "30"


@pytest.mark.parametrize("product", ["inactive", "missing"])
def test_the_api_refuses_an_unknown_or_inactive_product(client, consumo, product):
    if product == "inactive":
        LoanProduct.objects.filter(pk=consumo.pk).update(is_active=False)
    pk = consumo.pk if product == "inactive" else consumo.pk + 100

    response = _api(client, product=pk)

    assert response.status_code == 422
    assert _errors(response) == {"product": "No hay un producto de crédito activo con ese id."}


# --- Products in the admin, and the migration that gave them a range --------------------


def test_a_product_cannot_offer_a_rate_outside_its_own_range(db):
    product = LoanProductFactory.build(
        name="Mal configurado",
        annual_rate=Decimal("40"),
        min_rate=Decimal("20"),
        max_rate=Decimal("30"),
    )

    with pytest.raises(ValidationError) as refused:
        product.full_clean()

    assert "annual_rate" in refused.value.message_dict


def test_the_admin_refuses_a_product_whose_range_is_upside_down(admin_client):
    response = admin_client.post(
        reverse("admin:credits_loanproduct_add"),
        {
            "name": "Al revés",
            "currency": "PEN",
            "annual_rate": "32",
            "min_rate": "40",
            "max_rate": "30",
            "method": "french",
            "frequency": "monthly",
            "min_term": "1",
            "max_term": "12",
            "min_amount": "100",
            "max_amount": "1000",
            "fee_type": "none",
            "fee_value": "0",
            "late_annual_rate": "0",
            "grace_days": "0",
            "allocation_order": "[]",
            "platform_fee_percent": "0",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assertContains(response, "La tasa máxima es menor que la mínima.")
    assert not LoanProduct.objects.filter(name="Al revés").exists()


@pytest.mark.parametrize("typed", ["9999", '{"a": 1}', '"principal"', "[1, 2]"])
def test_an_allocation_order_that_is_no_list_of_components_is_a_form_error(db, typed):
    # A JSON field in the admin: a number there was a TypeError (a 500), not a message.
    product = LoanProductFactory.build(allocation_order=json.loads(typed))

    with pytest.raises(ValidationError) as refused:
        product.full_clean()

    assert "orden de imputación" in str(refused.value.message_dict["allocation_order"])


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_product_the_range_it_was_sold_at():
    executor = MigrationExecutor(connection)
    old = executor.migrate([("credits", "0002_roles")]).apps
    product = old.get_model("credits", "LoanProduct").objects.create(
        name="Vehicular", annual_rate=Decimal("22"), method="french"
    )
    lonely = old.get_model("credits", "LoanProduct").objects.create(
        name="Sin créditos", annual_rate=Decimal("40"), method="german"
    )
    customer = old.get_model("crm", "Customer").objects.create(
        document_type="DNI", document_number="70000001", first_name="Ana", last_name="Sosa"
    )
    for k, rate in enumerate(["18.00", "22.00", "28.00"]):
        old.get_model("credits", "Loan").objects.create(
            customer_id=customer.pk,
            product_id=product.pk,
            payment_code=f"M{k:09d}",
            principal=Decimal("1000"),
            annual_rate=Decimal(rate),
            term=12,
            method="french",
            frequency="monthly",
            fee_type="none",
            start_date="2026-01-01",
            first_due_date="2026-02-01",
        )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    ranges = dict(
        LoanProduct.objects.filter(pk__in=[product.pk, lonely.pk]).values_list("name", "min_rate")
    )
    assert ranges == {"Vehicular": Decimal("18"), "Sin créditos": Decimal("40")}
    assert LoanProduct.objects.get(pk=product.pk).max_rate == Decimal("28")
    assert LoanProduct.objects.get(pk=lonely.pk).max_rate == Decimal("40")
