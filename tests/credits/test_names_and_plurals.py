"""People by their full name and counts in the right number, on the credits screens."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains, assertNotContains

from credits.models import Payment
from credits.services import loans as loan_services
from crm.models import Interaction
from tests.factories import CustomerFactory, LoanFactory, LoanProductFactory, UserFactory


@pytest.fixture
def juana(db):
    return UserFactory(username="jperez", first_name="Juana", last_name="Pérez", role="Asesor")


def test_the_advisor_picker_shows_full_names(client, asesor, juana):
    client.force_login(asesor)

    response = client.get(reverse("credits:loan_create"))

    assertContains(response, ">Juana Pérez</option>")
    assertContains(response, ">Andrea Quispe</option>")
    assertNotContains(response, ">jperez<")


def test_the_loan_list_filters_by_advisor_full_name(client, asesor, juana):
    client.force_login(asesor)

    response = client.get(reverse("credits:loan_list"))

    assertContains(response, ">Juana Pérez</option>")
    assertNotContains(response, ">jperez<")


def test_the_admin_lists_loans_and_ledger_entries_by_full_name(admin_client, juana):
    LoanFactory(advisor=juana)

    loans = admin_client.get(reverse("admin:credits_loan_changelist"))

    assertContains(loans, "Juana Pérez")
    assertNotContains(loans, ">jperez<")


def test_the_product_picker_says_cuota_in_the_singular(client, asesor):
    LoanProductFactory(name="Un pago", annual_rate=Decimal("20"), min_term=1, max_term=1)
    client.force_login(asesor)

    response = client.get(reverse("credits:loan_create"))

    assertContains(response, "Un pago · 20 % anual · 1 a 1 cuota<")


def test_a_one_installment_loan_says_cuota_in_the_singular(client, asesor):
    product = LoanProductFactory(name="Un pago", min_term=1, max_term=1)
    loan = loan_services.create_loan(
        actor=None,
        customer=CustomerFactory(),
        product=product,
        principal=Decimal("500"),
        term=1,
        start_date=LoanFactory.start_date,
    )
    client.force_login(asesor)

    response = client.get(loan.get_absolute_url())

    assertContains(response, '<dd class="col-6 text-end">1 cuota</dd>', html=True)
    summary = Interaction.objects.get(customer=loan.customer).summary
    assert summary.endswith("PEN 500.00 en 1 cuota")


def test_the_clear_gateway_keeps_its_name_in_spanish():
    # Through gettext, Django's own catalog translated the brand as «Limpiar» (the file
    # widget's checkbox): the payment form and the lists offered «Limpiar» as an origin.
    with translation.override("es"):
        assert str(Payment.Source.CLEAR.label) == "Clear"
        assert dict(Payment.Source.choices)["clear"] == "Clear"
