"""Numbers as people type them on the loan, calculator and call-center screens (lib.fields):
"1500,50" is 1500.50, "1.500" is asked again and nothing is saved, and no input is an
<input type="number">, whose comma Chromium drops as it is typed (1500,50 → 150050)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from callcenter.models import CatalogProduct, QueueSettings
from credits.calculator import forms as calculator_forms
from credits.models import Loan, LoanProduct, Payment
from credits.services import loans as loan_services
from tests.callcenter.conftest import PIPELINE, QUEUE_STATUS, make_lead, make_product
from tests.credits.test_views_loans import _loan_data as loan_form_data
from tests.factories import (
    CatalogProductFactory,
    CustomerFactory,
    InvestorFactory,
    LoanFactory,
    LoanProductFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
AMBIGUOUS = "es ambiguo: ¿separador de miles o decimales?"


def _today():
    return timezone.localdate()


def _ambiguous(errors: list[str], typed: str) -> bool:
    return any(error.startswith(f"«{typed}» {AMBIGUOUS}") for error in errors)


def _no_number_input(html: str) -> bool:
    return 'type="number"' not in html


# --- Loans ------------------------------------------------------------------------------


def _loan_data(product, **overrides):
    """The new-loan form's data with a principal and a rate typed the Spanish way."""
    return loan_form_data(product, **{"principal": "1500,50", "annual_rate": "24,5", **overrides})


def test_a_loan_is_created_with_its_figures_read_as_the_advisor_typed_them(
    client, asesor, customer
):
    product = LoanProductFactory(annual_rate=Decimal("24.00"))
    client.force_login(asesor)

    client.post(
        reverse("credits:loan_create") + f"?customer={customer.pk}",
        _loan_data(product, principal="1500,50", annual_rate="24,5"),
    )

    loan = Loan.objects.get(customer=customer)
    assert (loan.principal, loan.annual_rate) == (Decimal("1500.50"), Decimal("24.5"))


@pytest.mark.parametrize(
    ("field", "typed"), [("principal", "1.500"), ("term", "1.000"), ("vehicle_year", "2.022")]
)
def test_a_loan_figure_of_one_group_of_three_is_asked_again_and_nothing_is_saved(
    client, asesor, customer, field, typed
):
    product = LoanProductFactory()
    client.force_login(asesor)

    response = client.post(
        reverse("credits:loan_create") + f"?customer={customer.pk}",
        _loan_data(product, **{field: typed}),
    )

    assert _ambiguous(response.context["form"].errors[field], typed)
    assert not Loan.objects.exists()


def test_the_loan_form_takes_text_inputs(client, asesor):
    client.force_login(asesor)

    page = client.get(reverse("credits:loan_create")).content.decode()

    assert _no_number_input(page)
    assert 'type="text" name="principal" inputmode="decimal"' in page


@pytest.fixture
def current_loan(customer):
    """An active loan of 10,000 in 12 monthly installments, none due yet."""
    loan = LoanFactory(
        status=Loan.Status.READY_TO_DISBURSE,
        customer=customer,
        start_date=_today() - timedelta(days=10),
        first_due_date=_today() + timedelta(days=20),
    )
    return loan_services.disburse(loan=loan, actor=None, disbursed_at=timezone.now())


def _pay(client, loan, amount: str):
    return client.post(
        reverse("credits:payment_create", args=[loan.pk]),
        {
            "amount": amount,
            "received_on": _today().isoformat(),
            "source": Payment.Source.CASH,
            "reference": "",
            "receipt_url": "",
            "overpayment": Payment.Overpayment.CREDIT,
        },
    )


def test_a_payment_of_1500_comma_50_is_recorded_as_1500_50(client, cobranzas, current_loan):
    client.force_login(cobranzas)

    _pay(client, current_loan, "1500,50")

    assert current_loan.payments.get().amount == Decimal("1500.50")


def test_a_payment_of_one_group_of_three_is_asked_again_and_not_recorded(
    client, cobranzas, current_loan
):
    client.force_login(cobranzas)

    response = _pay(client, current_loan, "1.500")

    assert _ambiguous(response.context["form"].errors["amount"], "1.500")
    assert not current_loan.payments.exists()


def test_the_payment_amount_is_a_text_input(client, cobranzas, current_loan):
    client.force_login(cobranzas)

    page = client.get(reverse("credits:payment_create", args=[current_loan.pk])).content.decode()

    assert _no_number_input(page)
    assert 'type="text" name="amount"' in page


def test_an_investors_amount_and_share_are_read_as_the_supervisor_typed_them(
    client, supervisor, current_loan
):
    client.force_login(supervisor)
    url = reverse("credits:participation_add", args=[current_loan.pk])

    client.post(url, {"investor": InvestorFactory().pk, "amount": "1500,50"}, headers=HTMX)
    client.post(url, {"investor": InvestorFactory().pk, "share": "12,5"}, headers=HTMX)

    amounts = {p.amount for p in current_loan.participations.all()}
    shares = {p.share for p in current_loan.participations.all()}
    assert Decimal("1500.50") in amounts
    assert Decimal("12.5") in shares


def test_an_investors_amount_of_one_group_of_three_is_asked_again_and_nothing_is_saved(
    client, supervisor, current_loan
):
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:participation_add", args=[current_loan.pk]),
        {"investor": InvestorFactory().pk, "amount": "1.500", "share": ""},
        headers=HTMX,
    )

    assert f"«1.500» {AMBIGUOUS}" in response.content.decode()
    assert 'value="1.500"' in response.content.decode()
    assert not current_loan.participations.exists()


def test_the_investor_form_on_a_loan_takes_text_inputs(client, supervisor, current_loan):
    client.force_login(supervisor)

    page = client.get(current_loan.get_absolute_url()).content.decode()

    assert _no_number_input(page)
    assert 'type="text" inputmode="decimal" name="amount"' in page
    assert 'type="text" inputmode="decimal" name="share"' in page


# --- Calculator -------------------------------------------------------------------------


def test_the_calculator_reads_the_figures_as_the_prospect_typed_them():
    form = calculator_forms.CalculatorForm(
        {"amount": "1500,50", "annual_rate": "18,25", "term": "12", "frequency": "monthly"}
    )

    assert form.is_valid(), form.errors
    assert (form.cleaned_data["amount"], form.cleaned_data["annual_rate"]) == (
        Decimal("1500.50"),
        Decimal("18.25"),
    )


def test_a_rate_with_three_decimals_is_a_rate_not_thousands():
    form = calculator_forms.CalculatorForm(
        {"amount": "1500", "annual_rate": "18,125", "term": "12", "frequency": "monthly"}
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["annual_rate"] == Decimal("18.125")


@pytest.mark.parametrize(("field", "typed"), [("amount", "1.500"), ("term", "1.000")])
def test_the_calculator_asks_again_for_one_group_of_three(client, field, typed):
    query = {"amount": "1500", "annual_rate": "18", "term": "12", "frequency": "monthly"}

    response = client.get(reverse("calculator"), {**query, field: typed})

    assert _ambiguous(response.context["form"].errors[field], typed)
    assert 'name="sim-amount"' not in response.content.decode()


def test_the_calculator_and_its_lead_forms_take_text_inputs(client):
    page = client.get(reverse("calculator")).content.decode()

    assert _no_number_input(page)
    assert 'type="text" name="amount" value="10000" inputmode="decimal"' in page


@pytest.mark.parametrize(
    "form_class", [calculator_forms.InvestLeadForm, calculator_forms.CreditLeadForm]
)
def test_a_leads_amount_is_read_as_typed_or_asked_again(form_class):
    read = form_class({"amount": "1500,50"})
    asked = form_class({"amount": "1.500"})

    read.is_valid()
    asked.is_valid()
    assert "amount" not in read.errors
    assert read.cleaned_data["amount"] == Decimal("1500.50")
    assert _ambiguous(asked.errors["amount"], "1.500")
    assert _no_number_input(str(read["amount"]))


def test_a_credit_leads_term_of_one_group_of_three_is_refused():
    form = calculator_forms.CreditLeadForm({"term": "1.000"})

    assert _ambiguous(form.errors["term"], "1.000")
    assert _no_number_input(str(form["term"]))


def test_the_credit_page_starts_from_the_simulated_figures_read_as_typed():
    form = calculator_forms.CreditQueryForm({"amount": "1500,50", "term": "1.000"})

    assert form.figures() == {"amount": Decimal("1500.50")}


# --- Admin: loan products ---------------------------------------------------------------


def _product_data(**overrides):
    return {
        "name": "Vehicular",
        "currency": "PEN",
        "annual_rate": "24,5",
        "min_rate": "0",
        "max_rate": "100",
        "method": "french",
        "frequency": "monthly",
        "min_term": "1",
        "max_term": "60",
        "min_amount": "1500,50",
        "max_amount": "500.000,00",
        "fee_type": "none",
        "fee_value": "0",
        "late_annual_rate": "12,125",
        "grace_days": "0",
        "allocation_order": "[]",
        "platform_fee_percent": "0",
        "approval_target_hours": "24",
        "contract_template_id": "",
        "is_active": "on",
        **overrides,
    }


def test_a_loan_product_is_saved_from_admin_with_its_figures_read_as_typed(admin_client):
    response = admin_client.post(reverse("admin:credits_loanproduct_add"), _product_data())

    assert response.status_code == 302, response.context["adminform"].form.errors
    product = LoanProduct.objects.get()
    assert (product.min_amount, product.max_amount) == (Decimal("1500.50"), Decimal("500000"))
    assert (product.annual_rate, product.late_annual_rate) == (Decimal("24.5"), Decimal("12.125"))


def test_a_loan_product_with_its_allocation_order_left_empty_takes_the_default(admin_client):
    # Its help says «Vacío: …»; the admin's JSON box sent None, a server error on saving.
    response = admin_client.post(
        reverse("admin:credits_loanproduct_add"), _product_data(allocation_order="")
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    product = LoanProduct.objects.get()
    assert product.allocation_order == []
    assert product.get_allocation_order()[0] == "late_interest"


def test_a_loan_products_allocation_order_that_is_not_json_is_asked_again(admin_client):
    response = admin_client.post(
        reverse("admin:credits_loanproduct_add"), _product_data(allocation_order="[capital,")
    )

    assert response.status_code == 200
    assert "Escriba una lista JSON" in str(response.context["adminform"].form.errors)
    assert not LoanProduct.objects.exists()


@pytest.mark.parametrize(
    ("field", "typed"),
    [("min_amount", "1.500"), ("fee_value", "1.500"), ("grace_days", "1.000")],
)
def test_a_loan_products_figure_of_one_group_of_three_is_asked_again(admin_client, field, typed):
    response = admin_client.post(
        reverse("admin:credits_loanproduct_add"), _product_data(**{field: typed})
    )

    assert _ambiguous(response.context["adminform"].form.errors[field], typed)
    assert not LoanProduct.objects.exists()


def test_the_loan_product_admin_takes_text_inputs(admin_client):
    page = admin_client.get(reverse("admin:credits_loanproduct_add")).content.decode()

    assert _no_number_input(page)
    assert 'class="vIntegerField" inputmode="numeric"' in page


# --- Call center ------------------------------------------------------------------------


def _catalog_data(**overrides):
    return {
        "sku": "NEW-1",
        "name": "Nuevo",
        "description": "",
        "price": "1500,50",
        "currency": "PEN",
        "stock": "6",
        "is_active": "on",
        **overrides,
    }


def test_a_catalog_products_price_is_read_as_the_admin_typed_it(admin_client):
    admin_client.post(reverse("admin:callcenter_catalogproduct_add"), _catalog_data())

    assert CatalogProduct.objects.get().price == Decimal("1500.50")


@pytest.mark.parametrize(("field", "typed"), [("price", "1.500"), ("stock", "1.000")])
def test_a_catalog_products_figure_of_one_group_of_three_is_asked_again(admin_client, field, typed):
    response = admin_client.post(
        reverse("admin:callcenter_catalogproduct_add"), _catalog_data(**{field: typed})
    )

    assert _ambiguous(response.context["adminform"].form.errors[field], typed)
    assert not CatalogProduct.objects.exists()


def test_the_catalog_product_admin_takes_text_inputs(admin_client):
    page = admin_client.get(reverse("admin:callcenter_catalogproduct_add")).content.decode()

    assert _no_number_input(page)
    assert 'type="text" name="price"' in page


def test_a_stock_adjustment_of_one_group_of_three_is_asked_again(admin_client):
    product = CatalogProductFactory()
    url = reverse("admin:callcenter_catalogproduct_adjust_stock", args=[product.pk])

    page = admin_client.get(url).content.decode()
    response = admin_client.post(url, {"delta": "1.000", "note": "Conteo"})

    assert _no_number_input(page)
    assert _ambiguous(response.context["form"].errors["delta"], "1.000")
    product.refresh_from_db()
    assert product.stock == 0


def test_a_stock_adjustment_takes_a_negative_number_and_groups(admin_client):
    product = make_product(stock=2000)
    url = reverse("admin:callcenter_catalogproduct_adjust_stock", args=[product.pk])

    admin_client.post(url, {"delta": "-1 500", "note": "Merma"})

    product.refresh_from_db()
    assert product.stock == 500


def test_the_queue_settings_admin_refuses_a_hold_of_one_group_of_three(admin_client):
    QueueSettings.objects.update_or_create(pk=1, defaults={"pipeline_id": 6950551})
    url = reverse("admin:callcenter_queuesettings_change", args=[1])

    page = admin_client.get(url).content.decode()
    data = {"pipeline_id": "6950551", "queue_status_id": "", "sold_status_id": ""}
    response = admin_client.post(url, {**data, "take_timeout_minutes": "1.000"})

    assert _no_number_input(page)
    assert _ambiguous(response.context["adminform"].form.errors["take_timeout_minutes"], "1.000")


@pytest.fixture
def held_lead(agente):
    """A lead the agent has taken, linked to a CRM customer."""
    QueueSettings.objects.update_or_create(
        pk=1, defaults={"pipeline_id": PIPELINE, "queue_status_id": QUEUE_STATUS}
    )
    customer = CustomerFactory(phone="+51987654321", address="Av. Arequipa 1234")
    return make_lead(taken_by=agente, taken_at=timezone.now(), customer=customer)


def test_the_cart_refuses_a_quantity_of_one_group_of_three(client, agente, held_lead):
    product = make_product(stock=2000, sku="ZAP-001")
    client.force_login(agente)

    found = client.get(reverse("callcenter:catalog", args=[held_lead.pk]), {"q": "zap-001"})
    response = client.post(
        reverse("callcenter:cart_add", args=[held_lead.pk]),
        {"product": product.pk, "quantity": "1.000"},
        headers=HTMX,
    )

    assert _no_number_input(found.content.decode())
    assert 'type="text" inputmode="numeric" name="quantity"' in found.content.decode()
    assert f"«1.000» {AMBIGUOUS}" in response.content.decode()
    assert "Confirmar pedido" not in response.content.decode()


def test_an_api_clients_rate_limit_is_typed_as_text_in_admin(admin_client):
    page = admin_client.get(reverse("admin:integrations_apiclient_add")).content.decode()

    assert 'name="rate_limit_per_minute"' in page
    assert _no_number_input(page)
