"""The confirmation pages of the actions that cannot be undone, on a phone (375 × 812) and
without JavaScript: each shows its figures without scrolling sideways, Cancelar goes back,
and its own button does the action."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, expect

from credits.investors import services as investor_services
from credits.models import Liquidation, Loan, Payment
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from tests.browser import pages
from tests.browser.test_call_center_phone import PHONE, assert_no_sideways_scroll
from tests.factories import CustomerFactory, InvestorFactory, LoanFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def phone_without_js(browser: Browser):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    yield context.new_page()
    context.close()


@pytest.fixture
def active_loan(roles):
    today = timezone.localdate()
    loan = loan_services.disburse(
        loan=LoanFactory(
            status=Loan.Status.READY_TO_DISBURSE,
            principal=Decimal("10000.00"),
            customer=CustomerFactory(first_name="Rosa", last_name="Huamán Torres"),
            start_date=today - timedelta(days=10),
            first_due_date=today + timedelta(days=20),
        ),
        actor=None,
    )
    investor = InvestorFactory(
        name="Inversiones Andinas del Sur S.A.C.",
        bank_name="Banco de Crédito del Perú",
        bank_account="191-12345678-0-12",
        bank_cci="00219100123456780121",
    )
    investor_services.add_participation(
        loan=loan, investor=investor, actor=None, share=Decimal("100")
    )
    return loan


def test_on_a_phone_without_javascript_a_payment_is_annulled_from_its_page(
    phone_without_js, live_server, active_loan
):
    page = phone_without_js
    UserFactory(username="supervisor", role="Supervisor")
    payment = payment_services.apply_payment(
        loan=active_loan,
        amount=Decimal("945.60"),
        received_on=timezone.localdate(),
        source=Payment.Source.CASH,
        actor=None,
    )
    pages.sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}{active_loan.get_absolute_url()}")

    page.get_by_role("link", name="Anular pago").click()
    expect(page.locator("#confirm-figures")).to_contain_text("945.60")
    expect(page.locator("#confirm-lines")).to_contain_text("próxima liquidación")
    assert_no_sideways_scroll(page)
    page.get_by_label("Motivo de la anulación").fill("Billete falso")
    page.get_by_role("button", name="Sí, anular el pago").click()

    expect(page.locator("#messages")).to_contain_text("Pago de S/ 945.60 anulado.")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.ANNULLED


def test_on_a_phone_without_javascript_the_write_off_page_cancels_and_confirms(
    phone_without_js, live_server, active_loan
):
    page = phone_without_js
    UserFactory(username="supervisor", role="Supervisor")
    pages.sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}{active_loan.get_absolute_url()}")

    page.get_by_role("link", name="Castigar").click()
    expect(page.locator("#confirm-figures")).to_contain_text("Saldo que se castiga")
    expect(page.locator("#confirm-warning")).to_contain_text("No se puede deshacer")
    assert_no_sideways_scroll(page)
    page.get_by_role("link", name="Cancelar").click()
    assert page.url.endswith(active_loan.get_absolute_url())
    active_loan.refresh_from_db()
    assert active_loan.status == Loan.Status.ACTIVE
    page.get_by_role("link", name="Castigar").click()
    page.get_by_label("Motivo del castigo").fill("Cliente no ubicable")
    page.get_by_role("button", name="Sí, castigar el crédito").click()

    expect(page.locator("#messages")).to_contain_text("castigado")
    active_loan.refresh_from_db()
    assert active_loan.status == Loan.Status.WRITTEN_OFF


def test_on_a_phone_the_payout_page_shows_the_net_and_the_account(
    phone_without_js, live_server, active_loan
):
    page = phone_without_js
    UserFactory(username="supervisor", role="Supervisor")
    today = timezone.localdate()
    payment_services.apply_payment(
        loan=active_loan,
        amount=Decimal("945.60"),
        received_on=today,
        source=Payment.Source.CASH,
        actor=None,
    )
    investor = active_loan.participations.get().investor
    liquidation = investor_services.create_liquidation(
        investor=investor, period_start=today.replace(day=1), period_end=today, actor=None
    )
    pages.sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}{liquidation.get_absolute_url()}")

    page.get_by_role("link", name="Marcar como pagada").click()
    expect(page.locator("#confirm-figures")).to_contain_text("00219100123456780121")
    assert_no_sideways_scroll(page)
    page.get_by_label("N.º de operación del abono").fill("OP-4455")
    page.get_by_role("button", name="Sí, registrar el abono").click()

    expect(page.locator("#messages")).to_contain_text("Liquidación registrada como pagada.")
    liquidation.refresh_from_db()
    assert liquidation.status == Liquidation.Status.PAID


def test_on_a_phone_the_undo_page_of_an_import_fits(phone_without_js, live_server, roles):
    from tests.crm.test_imports import HEADER, run, xlsx

    page = phone_without_js
    supervisor = UserFactory(username="supervisor", role="Supervisor")
    batch = run(xlsx([HEADER, ["DNI", "41234567", "Marta", "Ccori Vela", "", "", ""]]), supervisor)
    pages.sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}{batch.get_absolute_url()}")

    page.get_by_role("link", name="Deshacer").click()
    expect(page.locator("#confirm-figures")).to_contain_text("Registros creados que se eliminan")
    assert_no_sideways_scroll(page)
    page.get_by_role("button", name="Sí, deshacer la importación").click()

    expect(page.locator("#messages")).to_contain_text(f"Importación #{batch.pk} deshecha")
    assert page.url.endswith(reverse("crm:import_detail", args=[batch.pk]))
