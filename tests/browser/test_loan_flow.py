"""End to end, in the system Chromium: a supervisor pays an installment and annuls it."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from credits.models import Loan, Payment
from credits.services import loans as loan_services
from tests.browser import pages
from tests.factories import CustomerFactory, LoanFactory, LoanProductFactory, UserFactory

pytestmark = pytest.mark.browser


def test_a_supervisor_registers_a_payment_and_annuls_it(page: Page, live_server, roles):
    UserFactory(username="supervisor", role="Supervisor")
    today = timezone.localdate()
    loan = loan_services.disburse(
        loan=LoanFactory(
            status=Loan.Status.READY_TO_DISBURSE,
            customer=CustomerFactory(first_name="Rosa", last_name="Huamán Torres"),
            start_date=today - timedelta(days=10),
            first_due_date=today + timedelta(days=20),
        ),
        actor=None,
    )
    first_row = page.locator("#installment-1")

    pages.sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}{loan.get_absolute_url()}")
    expect(page.get_by_role("heading", name=re.compile(loan.payment_code))).to_be_visible()
    expect(first_row).to_have_attribute("data-state", "upcoming")
    page.locator("#loan-actions").get_by_role("link", name="Registrar pago").click()

    expect(page.locator("#loan-balance")).to_contain_text("10,000.00")
    page.get_by_label("Monto").fill("945.60")
    page.get_by_role("button", name="Registrar pago").click()

    expect(page).to_have_url(re.compile(rf"/creditos/{loan.pk}/$"))
    expect(page.locator("#messages")).to_contain_text("Pago de S/ 945.60 registrado")
    expect(first_row).to_have_attribute("data-state", "paid")
    expect(first_row).to_contain_text("Pagada")
    payment = page.locator(".payment-item").first
    expect(payment).to_contain_text("capital 745.60")

    payment.get_by_role("link", name="Anular pago").click()
    expect(page.locator("#confirm-figures")).to_contain_text("S/ 945.60")
    page.get_by_label("Motivo de la anulación").fill("Billete falso")
    page.get_by_role("button", name="Sí, anular el pago").click()

    expect(page.locator("#messages")).to_contain_text("Pago de S/ 945.60 anulado.")
    expect(first_row).to_have_attribute("data-state", "upcoming")
    expect(first_row).to_contain_text("Por vencer")
    expect(page.locator(".payment-item").first).to_contain_text("Billete falso")
    assert loan.payments.get().status == Payment.Status.ANNULLED


def test_an_absurd_amount_is_stopped_until_it_is_recorded_as_an_overpayment(
    page: Page, live_server, roles
):
    # A fixed name: a random one («Luis Montoya») matched the label «Monto» too.
    UserFactory(username="cobranzas", role="Cobranzas", first_name="Carla", last_name="Soto")
    today = timezone.localdate()
    loan = loan_services.disburse(
        loan=LoanFactory(
            status=Loan.Status.READY_TO_DISBURSE,
            start_date=today - timedelta(days=10),
            first_due_date=today + timedelta(days=20),
        ),
        actor=None,
    )

    pages.sign_in(page, live_server, "cobranzas")
    page.goto(f"{live_server.url}/creditos/{loan.pk}/pagos/nuevo/")
    # The first installment in full and the rest of the principal: 945.60 + 9,254.40.
    expect(page.locator('[data-figure="to-settle"]')).to_have_text("S/ 10,200.00")
    page.get_by_label("Monto").fill("999999999999")
    page.get_by_role("button", name="Registrar pago").click()

    expect(page.locator("#payment-form")).to_contain_text(
        "El monto supera lo que se debe: S/ 10,200.00 cancelan el crédito"
    )
    assert not loan.payments.exists()
    page.get_by_label("Monto").fill("10300")
    page.get_by_label("Registrar el exceso como saldo a favor").check()
    page.get_by_role("button", name="Registrar pago").click()

    expect(page.locator("#messages")).to_contain_text("Es un pago en exceso: 100.00")
    expect(page.locator(".payment-item").first).to_contain_text("Pago en exceso: 100.00")
    assert loan.payments.get().overpaid == 100


def test_an_advisor_sees_the_schedule_while_filling_in_a_new_loan(page: Page, live_server, roles):
    UserFactory(username="asesor", role="Asesor")
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán Torres")
    product = LoanProductFactory(name="Vehicular 24 %", max_term=36)
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    pages.sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}/creditos/nuevo/?customer={rosa.pk}")
    page.get_by_label("Producto").select_option(str(product.pk))
    page.get_by_label("Monto").fill("10000")
    page.get_by_label("Plazo (cuotas)").fill("48")

    expect(page.locator("#preview-errors")).to_contain_text("El plazo debe estar entre 1 y 36")
    page.get_by_label("Plazo (cuotas)").fill("12")
    expect(page.locator('#loan-preview [data-figure="installment"]')).to_have_text("945.60")
    page.get_by_role("button", name="Registrar crédito").click()

    expect(page.locator("#messages")).to_contain_text("registrado como borrador")
    expect(page.get_by_role("heading", name="Cronograma proyectado")).to_be_visible()
    assert Loan.objects.get(customer=rosa).term == 12
    assert not [e for e in errors if "Content Security Policy" in e]


def test_a_supervisor_finds_a_loan_by_code_and_opens_the_portfolio_chart(
    page: Page, live_server, roles
):
    UserFactory(username="supervisor", role="Supervisor")
    wanted = LoanFactory(customer=CustomerFactory(first_name="Rosa"))
    LoanFactory.create_batch(3)

    pages.sign_in(page, live_server, "supervisor")
    page.get_by_role("link", name="Créditos").first.click()
    expect(page.locator("#result-count")).to_contain_text("4 créditos")
    page.get_by_placeholder("Código de pago, documento o nombre").fill(wanted.payment_code)
    expect(page.locator("#result-count")).to_contain_text("1 crédito")
    expect(page).to_have_url(re.compile(rf"\?q={wanted.payment_code}&"))
    page.locator("#main-nav").get_by_role("link", name="Cartera").click()

    expect(page.get_by_role("heading", name="Cartera")).to_be_visible()
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart]'))"
    )
