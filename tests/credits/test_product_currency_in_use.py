"""A product's currency stays once loans or credit applications were made in it; a new
method or frequency says whom it reaches."""

from decimal import Decimal

import pytest
from django.contrib import messages
from django.urls import reverse

from credits.models import LoanProduct
from crm.gestiones.models import CreditApplication, Gestion, GestionType
from tests.credits.test_product_live_terms import page_data, save_in_admin, warnings
from tests.factories import CustomerFactory, LoanFactory, LoanProductFactory


@pytest.fixture
def product(db) -> LoanProduct:
    return LoanProductFactory(name="Vehicular", currency="PEN")


def open_application(product: LoanProduct) -> CreditApplication:
    gestion_type, _ = GestionType.objects.get_or_create(name="Solicitud", code="solicitud")
    state = gestion_type.states.first() or gestion_type.states.create(name="Nueva", is_initial=True)
    gestion = Gestion.objects.create(
        customer=CustomerFactory(), gestion_type=gestion_type, state=state, outcome="open"
    )
    return CreditApplication.objects.create(
        gestion=gestion, loan_product=product, amount=Decimal("135800.00"), term=14
    )


def post_currency(client, product: LoanProduct, currency: str):
    url = reverse("admin:credits_loanproduct_change", args=[product.pk])
    return client.post(url, page_data(client.get(url)) | {"currency": currency})


def test_the_currency_of_a_product_with_loans_and_applications_is_refused(admin_client, product):
    LoanFactory(product=product)
    open_application(product)

    response = post_currency(admin_client, product, "USD")

    assert response.context["adminform"].form.errors["currency"] == [
        "No se puede cambiar la moneda: el producto tiene 1 crédito y 1 solicitud de crédito "
        "en PEN, que pasarían a mostrarse y aprobarse en la nueva. Cree un producto en la "
        "otra moneda y desactive este."
    ]
    product.refresh_from_db()
    assert product.currency == "PEN"


def test_an_application_alone_keeps_the_currency(admin_client, product):
    open_application(product)

    post_currency(admin_client, product, "USD")

    product.refresh_from_db()
    assert product.currency == "PEN"


def test_a_product_nothing_was_made_in_may_change_currency(admin_client, product):
    said = save_in_admin(admin_client, product, currency="USD")

    product.refresh_from_db()
    assert product.currency == "USD"
    assert warnings(said) == []


def test_a_new_method_says_whom_it_reaches(admin_client, product):
    LoanFactory(product=product)
    LoanFactory(product=product)
    open_application(product)
    method = "german" if product.method != "german" else "french"

    said = save_in_admin(admin_client, product, method=method)

    assert (
        messages.WARNING,
        "Nuevo método de amortización: se aplica a los créditos nuevos de este producto. "
        "También a 1 solicitud de crédito abierta, cuando se apruebe. Los 2 créditos ya "
        "hechos conservan el anterior.",
    ) in said
