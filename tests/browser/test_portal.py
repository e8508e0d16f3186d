"""End to end, in the system Chromium on a phone's width: a debtor identifies on the
portal with the code e-mailed to them, reads their statement, pays an installment at the
(fake) gateway, and once the gateway approves it sees that installment paid.
"""

import re
import time
from datetime import timedelta

import pytest
import responses
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from collections_app import services as collection_services
from collections_app.models import PaymentLink
from credits.models import Loan
from credits.services import loans as loan_services
from integrations import fakes, payment_gateways
from tests.browser.test_application_flow import FAKE_GRECAPTCHA
from tests.browser.test_call_center_phone import PHONE, assert_no_sideways_scroll
from tests.factories import CustomerFactory, LoanFactory

pytestmark = pytest.mark.browser

VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"


@pytest.fixture
def google(settings):
    """reCAPTCHA configured, and Google's answer faked: the browser never leaves the machine."""
    settings.RECAPTCHA_SITE_KEY = "site-key"
    settings.RECAPTCHA_SECRET_KEY = "secret-key"
    settings.RECAPTCHA_VERIFY_URL = VERIFY_URL
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(
            VERIFY_URL,
            json={
                "success": True,
                "score": 0.9,
                "action": "portal_identify",
                # live_server's host, where the browser solved it
                "hostname": "localhost",
            },
        )
        yield mock


@pytest.fixture
def gateways():
    fakes.reset()
    yield
    fakes.reset()


def code_from_the_email(address: str) -> str:
    """Wait for the code's e-mail (sent after the request's commit) and read the code."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in mail.outbox:
            if address in message.to:
                return re.search(r"\b(\d{6})\b", message.body).group(1)
        time.sleep(0.1)
    raise AssertionError(f"No e-mail reached {address}")


def test_a_debtor_identifies_pays_an_installment_and_sees_it_paid(
    page: Page, live_server, transactional_db, google, gateways
):
    today = timezone.localdate()
    debtor = CustomerFactory(
        first_name="Rosa", last_name="Huamán", document_number="45678912", email="rosa@example.pe"
    )
    loan = loan_services.disburse(
        loan=LoanFactory(
            status=Loan.Status.READY_TO_DISBURSE,
            customer=debtor,
            start_date=today - timedelta(days=45),
            first_due_date=today - timedelta(days=15),
        ),
        actor=None,
    )
    first_row = page.locator(f"#installment-loan-{loan.pk}-1")

    def fake_google(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=FAKE_GRECAPTCHA)

    def fake_checkout(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body="<h1>Checkout de prueba</h1>")

    page.route("https://www.google.com/recaptcha/**", fake_google)
    page.route("https://fake-gateway.invalid/**", fake_checkout)
    page.set_viewport_size(PHONE)

    # The debtor gives their document and gets a code by e-mail.
    page.goto(f"{live_server.url}/portal/")
    assert_no_sideways_scroll(page)
    page.get_by_label("Tipo de documento").select_option(label="DNI")
    page.get_by_label("Número de documento").fill("45678912")
    page.get_by_role("button", name="Enviarme el código").click()
    expect(page.locator("#code-sent")).to_contain_text("Si el documento está registrado")
    assert_no_sideways_scroll(page)
    page.get_by_role("textbox", name="Código").fill(code_from_the_email("rosa@example.pe"))
    page.get_by_role("button", name="Ingresar").click()

    # The statement: the first installment is overdue.
    expect(page.get_by_role("heading", name="Hola, Rosa")).to_be_visible()
    expect(page.locator(f"#account-loan-{loan.pk}")).to_contain_text(loan.payment_code)
    expect(first_row.locator("[data-state]")).to_have_attribute("data-state", "overdue")
    assert_no_sideways_scroll(page)

    # They pay it with MercadoPago: the browser goes to the gateway's checkout.
    first_row.get_by_role("button", name="Pagar S/ 945.60").click()
    expect(page.get_by_role("heading", name="Checkout de prueba")).to_be_visible()
    link = PaymentLink.objects.get()
    assert page.url == link.url
    assert (link.installment_number, link.provider) == (1, "mercadopago")

    # Back from the gateway before its notification: waiting, honestly.
    page.goto(f"{live_server.url}/portal/pago/{link.reference}/")
    expect(page.locator("#link-state")).to_contain_text(
        "Estamos esperando la confirmación de MercadoPago"
    )

    # The gateway approves the payment.
    collection_services.apply_gateway_payment(
        provider="mercadopago",
        found=payment_gateways.GatewayPayment(
            provider_payment_id="9876543210",
            reference=link.reference,
            status=payment_gateways.APPROVED,
            amount=link.amount,
            currency=link.currency,
            paid_on=today,
            raw={},
        ),
    )
    page.reload()
    expect(page.locator("#link-state")).to_contain_text("Pago recibido")
    page.get_by_role("link", name="Ver mi estado de cuenta").click()
    expect(page.locator(f"#paid-summary-loan-{loan.pk}")).to_contain_text("1 cuota pagada")
    page.get_by_role("link", name="verlas").click()
    expect(first_row.locator("[data-state]")).to_have_attribute("data-state", "paid")
    assert_no_sideways_scroll(page)
