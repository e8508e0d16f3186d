"""A debtor on a slow phone network taps «Enviarme el código» before Google's reCAPTCHA
script has arrived: the tap waits for it («Verificando…», the button disabled) and then goes
through; when the script never arrives the page says so, with what to do, and gives the
button back."""

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.test_application_flow import FAKE_GRECAPTCHA
from tests.browser.test_portal import google  # noqa: F401
from tests.factories import CustomerFactory

pytestmark = pytest.mark.browser

GOOGLE = "https://www.google.com/recaptcha/**"


def fill_the_document(page: Page, live_server) -> None:
    # Not "load": that waits for Google's script, which the debtor does not.
    page.goto(f"{live_server.url}/portal/", wait_until="domcontentloaded")
    page.get_by_label("Tipo de documento").select_option(label="DNI")
    page.get_by_label("Número de documento").fill("45678912")


def test_a_tap_before_googles_script_arrives_waits_for_it_and_identifies(
    page: Page,
    live_server,
    transactional_db,
    google,  # noqa: F811
):
    CustomerFactory(document_number="45678912", email="rosa@example.pe")
    held: list[Route] = []

    def hold(route: Route) -> None:  # answered only when the test says so: a slow 3G
        held.append(route)

    page.route(GOOGLE, hold)
    fill_the_document(page, live_server)
    button = page.get_by_role("button", name="Enviarme el código")

    button.click()

    expect(page.locator("#identify-recaptcha-status")).to_have_text("Verificando…")
    expect(button).to_be_disabled()
    assert "/portal/codigo/" not in page.url
    # Google's script arrives, seconds late.
    held[0].fulfill(status=200, content_type="text/javascript", body=FAKE_GRECAPTCHA)
    expect(page.locator("#code-sent")).to_contain_text("Si el documento está registrado")
    assert page.url.endswith("/portal/codigo/")
    assert google.calls[0].request.body.count("token-site-key-portal_identify") == 1


def test_when_googles_script_never_arrives_the_page_says_so(
    page: Page,
    live_server,
    transactional_db,
    google,  # noqa: F811
    settings,
):
    settings.COMPANY_ADDRESS = "Av. Arequipa 123, Lima"
    page.route(GOOGLE, lambda route: route.abort("blockedbyclient"))  # an ad-blocker
    fill_the_document(page, live_server)
    button = page.get_by_role("button", name="Enviarme el código")

    button.click()

    failed = page.locator("#identify-recaptcha-failed")
    expect(failed).to_be_visible(timeout=20_000)
    expect(failed).to_contain_text("No se pudo cargar la verificación de seguridad de Google")
    expect(failed).to_contain_text("acérquese a nuestra oficina: Av. Arequipa 123, Lima.")
    expect(button).to_be_enabled()
    expect(page.locator("#identify-recaptcha-status")).to_have_text("")
    assert page.url.endswith("/portal/")
    assert len(google.calls) == 0  # nothing was sent without the check
