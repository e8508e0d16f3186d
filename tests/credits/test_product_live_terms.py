"""The two product terms loans read at each payment say so where they are changed."""

import json
from decimal import Decimal

import pytest
from django import forms
from django.contrib import messages
from django.urls import reverse

from credits.models import Loan, LoanProduct, Participation
from tests.factories import InvestorFactory, LoanFactory, LoanProductFactory

ALREADY_DISBURSED = "Un cambio se aplica también a los créditos ya desembolsados"


def page_data(response) -> dict:
    """Return what the admin change page posts back untouched."""
    data = {}
    for bound in response.context["adminform"].form:
        value = bound.value()
        if isinstance(bound.field, forms.BooleanField):
            if value:
                data[bound.html_name] = "on"
        elif value is not None:
            data[bound.html_name] = value
    return data


def save_in_admin(client, product: LoanProduct, **changes):
    url = reverse("admin:credits_loanproduct_change", args=[product.pk])
    data = page_data(client.get(url)) | changes
    response = client.post(url, data, follow=True)
    assert response.redirect_chain, response.context["adminform"].form.errors
    return [(m.level, str(m)) for m in response.context["messages"]]


def warnings(said) -> list[str]:
    return [text for level, text in said if level == messages.WARNING]


@pytest.fixture
def product(db) -> LoanProduct:
    product = LoanProductFactory(name="Vehicular", platform_fee_percent=Decimal("10"))
    for status in (Loan.Status.ACTIVE, Loan.Status.ACTIVE, Loan.Status.WRITTEN_OFF):
        LoanFactory(product=product, status=status)
    LoanFactory(product=product, status=Loan.Status.PAID)
    LoanFactory(product=product, status=Loan.Status.DRAFT)
    return product


@pytest.mark.parametrize("field", ["allocation_order", "platform_fee_percent"])
def test_the_help_says_a_change_reaches_loans_already_disbursed(admin_client, product, field):
    page = admin_client.get(reverse("admin:credits_loanproduct_change", args=[product.pk]))

    assert ALREADY_DISBURSED in page.context["adminform"].form.fields[field].help_text


def test_a_new_allocation_order_warns_how_many_loans_it_reaches(admin_client, product):
    order = ["principal", "interest", "fee", "late_interest"]

    said = save_in_admin(admin_client, product, allocation_order=json.dumps(order))

    assert warnings(said) == [
        "El nuevo orden de imputación se aplica también a los 3 créditos de este producto "
        "con cuotas por cobrar, desde su próximo pago."
    ]
    product.refresh_from_db()
    assert product.allocation_order == order


def test_a_new_platform_fee_warns_how_many_loans_with_investors_it_reaches(admin_client, product):
    funded = product.loans.filter(status=Loan.Status.ACTIVE).first()
    Participation.objects.create(
        investor=InvestorFactory(), loan=funded, amount=Decimal("5000.00"), share=Decimal("50")
    )

    said = save_in_admin(admin_client, product, platform_fee_percent="12")

    assert warnings(said) == [
        "La nueva comisión de la plataforma se aplica también a 1 crédito de este producto "
        "con inversionistas y cuotas por cobrar: a lo que estos reciban desde su próximo "
        "pago y a lo que ven por cobrar."
    ]


def test_other_changes_and_the_default_order_written_out_warn_nothing(admin_client, product):
    default = ["late_interest", "fee", "interest", "principal"]

    said = save_in_admin(
        admin_client, product, name="Vehicular 2026", allocation_order=json.dumps(default)
    )

    assert warnings(said) == []
    assert [level for level, _text in said] == [messages.SUCCESS]
