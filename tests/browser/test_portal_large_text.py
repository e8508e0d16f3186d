"""The portal's statement on a cheap phone, in the system Chromium: at 320 px with the
system text at 200% (Android's largest) the page does not scroll sideways and an amount
stays on one line; at normal size its controls are thumb-sized (44 px)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from credits.models import Loan
from credits.services import loans as loan_services
from tests.browser.test_call_center_phone import assert_no_sideways_scroll
from tests.collections_app.test_portal import (  # noqa: F401 (its fixture: Google faked)
    CODE,
    google,
    identify,
    last_code,
)
from tests.factories import CustomerFactory, LoanFactory

pytestmark = pytest.mark.browser

# The root font at 200%, as a phone's largest system text does (the page's CSP is bypassed
# for this one test style: the context's bypass_csp).
LARGE_TEXT = """document.addEventListener("DOMContentLoaded", () => {
  const style = document.createElement("style");
  style.textContent = "html { font-size: 200% !important; }";
  document.head.appendChild(style);
});"""

ONE_LINE = """(element) => {
  const lines = element.getClientRects().length;
  const lineHeight = parseFloat(getComputedStyle(element).lineHeight);
  return lines === 1 && element.getBoundingClientRect().height < 1.5 * lineHeight;
}"""


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "bypass_csp": True}


@pytest.fixture
def statement(page: Page, live_server, transactional_db, settings):
    """A debtor with an overdue loan signed in to the portal (both fake gateways offered);
    the browser carries their session."""
    settings.PAYMENT_GATEWAYS_FAKE = True
    today = timezone.localdate()
    debtor = CustomerFactory(first_name="Rosa", document_number="45678912", email="r@example.pe")
    loan_services.disburse(
        loan=LoanFactory(
            status=Loan.Status.READY_TO_DISBURSE,
            customer=debtor,
            start_date=today - timedelta(days=45),
            first_due_date=today - timedelta(days=15),
        ),
        actor=None,
    )
    client = Client()
    identify(client, "45678912")
    client.post(CODE, {"code": last_code()})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    return f"{live_server.url}/portal/estado/"


def test_with_200_percent_text_at_320_px_nothing_scrolls_sideways_nor_splits_any_amount(
    page: Page, statement
):
    page.set_viewport_size({"width": 320, "height": 568})
    page.add_init_script(LARGE_TEXT)
    page.goto(statement)
    expect(page.get_by_role("heading", name="Hola, Rosa")).to_be_visible()
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") == 32

    assert_no_sideways_scroll(page)
    amounts = page.locator("main .amount")
    assert amounts.count() >= 4  # the summary, the card's total, its button, «Otro monto»
    split = [a.inner_text() for a in amounts.all() if not a.evaluate(ONE_LINE)]
    assert not split, split


def test_the_statements_controls_are_at_least_44_px_tall(page: Page, statement):
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(statement)
    expect(page.get_by_role("heading", name="Hola, Rosa")).to_be_visible()

    controls = {
        "Salir": page.locator("#portal-logout"),
        "MercadoPago": page.locator("#pay-with").get_by_role("link", name="MercadoPago"),
        "Clear": page.locator("#pay-with").get_by_role("link", name="Clear"),
        "Pagar S/ …": page.locator(".installments").get_by_role("button").first,
        "Pagar el total": page.locator("[id^=pay-total-]").first,
        "Otro monto": page.locator("[id^=amount-]").first,
    }
    heights = {name: control.bounding_box()["height"] for name, control in controls.items()}
    assert all(height >= 44 for height in heights.values()), heights
