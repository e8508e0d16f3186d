"""End to end, in the system Chromium on a phone's width: a debtor identifies on /recovery/,
sees the offer with its countdown and declines it with a reason; the countdown running out
brings the concluded message; another debtor pays the offer at the (fake) MercadoPago.
"""

import re
from datetime import timedelta

import pytest
import responses
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from collections_app import services as collection_services
from collections_app.models import PaymentLink
from integrations import payment_gateways
from recovery.models import Campaign, RecoverySettings, Visit
from tests.browser.test_application_flow import FAKE_GRECAPTCHA
from tests.browser.test_call_center_phone import PHONE, assert_no_sideways_scroll
from tests.factories import CustomerFactory
from tests.recovery.conftest import make_campaign

pytestmark = pytest.mark.browser

VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"


@pytest.fixture(autouse=True)
def _frozen():
    """The real clock here (not recovery's frozen one): the countdown must tick."""
    yield


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
                "action": "recovery_identify",
                # live_server's host, where the browser solved it
                "hostname": "localhost",
            },
        )
        yield mock


@pytest.fixture
def portal(transactional_db):
    found = RecoverySettings.current()
    found.is_active = True
    found.countdown_enabled = True
    found.countdown_hours = 48
    found.legal_text = "Oferta sujeta a las condiciones de la campaña."
    found.save()
    return found


def offered(first_name: str, document_number: str) -> Campaign:
    customer = CustomerFactory(first_name=first_name, document_number=document_number)
    return make_campaign(customer, ends_on=timezone.localdate() + timedelta(days=30))


def open_offer(page: Page, live_server, document_number: str) -> None:
    def fake_google(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=FAKE_GRECAPTCHA)

    page.route("https://www.google.com/recaptcha/**", fake_google)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/recovery/")
    assert_no_sideways_scroll(page)
    page.get_by_label("Tipo de documento").select_option(label="DNI")
    page.get_by_label("Número de documento").fill(document_number)
    page.get_by_role("button", name="Ver mi oferta").click()


def test_a_debtor_sees_the_offer_counting_down_and_declines_it(
    page: Page, live_server, portal, google
):
    campaign = offered("Rosa", "45678912")

    open_offer(page, live_server, "45678912")

    # The offer: the debt struck through, the discount, what settles it, the countdown.
    expect(page.get_by_role("heading", name="Hola, Rosa")).to_be_visible()
    expect(page.locator("#recovery-debt")).to_have_text("S/ 12,000.00")
    expect(page.locator("#recovery-discount")).to_have_text("40 %")
    expect(page.locator("#recovery-amount")).to_have_text("S/ 7,200.00")
    clock = page.locator("[data-countdown-clock]")
    # It counts down in the browser (static/js/countdown.js).
    expect(clock).to_have_text(re.compile(r"^47:59:\d\d$"), timeout=5000)
    expect(page.locator("#recovery-legal")).to_contain_text("Oferta sujeta a las condiciones")
    assert_no_sideways_scroll(page)

    # Not interested: the reasons open below the button, without leaving the page.
    page.get_by_text("No me interesa esta oferta").click()
    page.get_by_label("El descuento no es suficiente").check()
    page.get_by_role("button", name="Enviar").click()

    expect(page.locator("#recovery-declined")).to_contain_text("El descuento no es suficiente")
    assert_no_sideways_scroll(page)
    visit = Visit.objects.get(campaign=campaign)
    assert (visit.furthest_step, visit.declined) == (Visit.Step.OFFER, True)
    assert visit.decline_reason == "El descuento no es suficiente"


def test_the_countdown_running_out_shows_the_offer_concluded(
    page: Page, live_server, portal, google
):
    campaign = offered("Julia", "41122334")
    # The debtor first came almost 48 hours ago: three seconds are left.
    Campaign.objects.filter(pk=campaign.pk).update(
        first_visit_at=timezone.now() - timedelta(hours=48) + timedelta(seconds=3),
        countdown_ends_at=timezone.now() + timedelta(seconds=3),
    )

    open_offer(page, live_server, "41122334")
    expect(page.locator("#recovery-countdown")).to_be_visible()

    # At zero the page asks the server again, which says the offer concluded.
    expect(page.locator("#recovery-concluded")).to_contain_text(
        "La oferta ha concluido, contáctanos para más detalles", timeout=10_000
    )
    expect(page.get_by_role("link", name="Habla con un asesor")).to_be_visible()
    expect(page.get_by_role("link", name="¡Cancelar mi deuda ahora!")).to_have_count(0)
    assert_no_sideways_scroll(page)


def test_a_debtor_pays_the_offer_through_mercadopago(page: Page, live_server, portal, google):
    campaign = offered("Pedro", "47788990")

    def fake_checkout(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body="<h1>Checkout de prueba</h1>")

    page.route("https://fake-gateway.invalid/**", fake_checkout)
    open_offer(page, live_server, "47788990")

    # "¡Cancelar mi deuda ahora!" leads to the payment options, then to the gateway.
    page.get_by_role("link", name="¡Cancelar mi deuda ahora!").click()
    expect(page.locator("#recovery-options")).to_contain_text("S/ 7,200.00")
    assert_no_sideways_scroll(page)
    page.get_by_role("button", name="Pagar con MercadoPago").click()
    expect(page.get_by_role("heading", name="Checkout de prueba")).to_be_visible()
    link = PaymentLink.objects.get()
    assert page.url == link.url
    assert (link.receivable_kind, link.receivable_id) == ("campaign", campaign.pk)

    # MercadoPago approves the payment.
    collection_services.apply_gateway_payment(
        provider="mercadopago",
        found=payment_gateways.GatewayPayment(
            provider_payment_id="9876543210",
            reference=link.reference,
            status=payment_gateways.APPROVED,
            amount=link.amount,
            currency=link.currency,
            paid_on=timezone.localdate(),
            raw={},
        ),
    )
    page.goto(f"{live_server.url}/recovery/pago/{link.reference}/")
    expect(page.locator("#link-state")).to_contain_text("Pago recibido")
    page.get_by_role("link", name="Volver a mi oferta").click()
    expect(page.locator("#recovery-paid")).to_contain_text("¡Su deuda está cancelada!")
    assert_no_sideways_scroll(page)
    assert Visit.objects.get(campaign=campaign).furthest_step == Visit.Step.PAID
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.PAID
