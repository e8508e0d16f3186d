"""End to end, in the system Chromium: the public calculator live, its charts, and CSP."""

import re
from urllib.parse import parse_qs

import pytest
import responses
from playwright.sync_api import ConsoleMessage, Page, Request, Route, expect

from crm.models import Customer

pytestmark = pytest.mark.browser

# Collects what CSP blocks, from before the page's own scripts run.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
# Stands in for Google's api.js: the browser never leaves the test machine.
FAKE_GRECAPTCHA = """
window.grecaptcha = {
  ready: (callback) => callback(),
  execute: (siteKey, options) => Promise.resolve(`token-${siteKey}-${options.action}`),
};
"""
VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"
CHARTS_DRAWN = """
() => [...document.querySelectorAll("canvas[data-chart]")].map((canvas) => {
  const chart = window.Chart && window.Chart.getChart(canvas);
  return chart ? {id: canvas.dataset.chart, first: chart.data.datasets[0].data[0],
                  datasets: chart.data.datasets.length, width: canvas.width} : null;
})
"""


@pytest.fixture
def console(page: Page) -> list[str]:
    """Record console errors and warnings, uncaught exceptions and CSP violations."""
    messages: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            messages.append(f"{message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    return messages


def test_a_visitor_changes_the_amount_and_sees_figures_and_charts_follow(
    page: Page, live_server, transactional_db, console
):
    page.goto(f"{live_server.url}/calculadora/")

    # The defaults: 10,000 at 18% in 12 monthly installments.
    french = page.locator("#scheme-french [data-figure=installment]")
    expect(french).to_have_text("S/ 916.80")
    page.wait_for_function("() => document.querySelectorAll('canvas[data-chart]').length === 2")
    page.wait_for_function(f"() => ({CHARTS_DRAWN})().every(Boolean)")
    drawn = page.evaluate(CHARTS_DRAWN)
    assert [c["id"] for c in drawn] == ["calc-balance-chart", "calc-interest-chart"]
    assert all(c["datasets"] == 3 and c["width"] > 0 for c in drawn)
    assert drawn[0]["first"] == 10000

    page.get_by_label("Monto (S/)").fill("20000")

    expect(french).to_have_text("S/ 1,833.60")
    expect(page.locator("#scheme-german [data-figure=installment]")).to_have_text("S/ 1,966.67")
    expect(page).to_have_url(re.compile(r"amount=20000"))
    page.wait_for_function(f"() => ({CHARTS_DRAWN})()[0]?.first === 20000")
    assert page.evaluate(CHARTS_DRAWN)[1]["first"] == 300  # the interest of the first installment
    expect(page.locator("#lead-simulation input[name=sim-amount]")).to_have_value("20000")
    assert page.evaluate("Object.keys(window.Chart.instances).length") == 2

    page.get_by_role("button", name="Ver cronograma").first.click()
    expect(page.locator("#schedule-french tbody tr")).to_have_count(12)

    assert page.evaluate("window.__cspViolations") == []
    assert console == []


def test_invalid_figures_show_spanish_errors_without_breaking_the_page(
    page: Page, live_server, transactional_db, console
):
    page.goto(f"{live_server.url}/calculadora/")

    page.get_by_label("Plazo (número de cuotas)").fill("0")

    expect(page.locator("#calculator-errors")).to_contain_text(
        "Asegúrese de que este valor es mayor o igual a 1."
    )
    expect(page.locator("canvas[data-chart]")).to_have_count(0)
    page.get_by_label("Plazo (número de cuotas)").fill("6")
    expect(page.locator("#schedule-french tbody tr")).to_have_count(6, timeout=5000)
    assert page.evaluate("Object.keys(window.Chart.instances).length") == 2
    assert page.evaluate("window.__cspViolations") == []
    assert console == []


def test_the_api_docs_run_under_the_content_security_policy(
    page: Page, live_server, transactional_db, console
):
    external: list[str] = []

    def note_external(request: Request) -> None:
        if not request.url.startswith(live_server.url):
            external.append(request.url)

    page.on("request", note_external)

    page.goto(f"{live_server.url}/api/v1/docs")

    expect(page.get_by_text("/api/v1/schedule-preview")).to_be_visible()
    assert external == []
    assert page.evaluate("window.__cspViolations") == []
    assert console == []


def test_a_prospect_leaves_their_details_through_recaptcha(
    page: Page, live_server, transactional_db, console, settings
):
    settings.RECAPTCHA_SITE_KEY = "site-key"
    settings.RECAPTCHA_SECRET_KEY = "secret-key"
    settings.RECAPTCHA_VERIFY_URL = VERIFY_URL

    def fake_google(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=FAKE_GRECAPTCHA)

    page.route("https://www.google.com/recaptcha/**", fake_google)
    page.goto(f"{live_server.url}/calculadora/")
    page.get_by_label("Nombres").fill("Lucía")
    page.get_by_label("Apellidos").fill("Paredes")
    page.get_by_label("Número de documento").fill("41234567")
    page.get_by_label("Celular").fill("987654321")
    page.get_by_label("¿Cuánto quiere invertir?").fill("15000")
    page.get_by_label("Acepto que me contacten").check()

    with responses.RequestsMock() as google:
        google.add(
            responses.POST,
            VERIFY_URL,
            json={
                "success": True,
                "score": 0.9,
                "action": "invest_lead",
                "hostname": "localhost",
            },
        )
        page.get_by_role("button", name="Quiero invertir").click()
        expect(page.get_by_role("alert")).to_contain_text("¡Gracias, Lucía!")
        sent = parse_qs(google.calls[0].request.body)

    assert sent["response"] == ["token-site-key-invest_lead"]
    lead = Customer.objects.get(document_number="41234567").interactions.get(kind="note")
    assert lead.summary == "Quiere invertir S/ 15,000.00 (calculadora)"
    assert page.evaluate("window.__cspViolations") == []
    assert console == []
