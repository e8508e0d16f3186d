"""A page that shows a refused form takes the keyboard's focus to what went wrong, in the
system Chromium (accessibility pass F6; static/js/app.js, static/js/error_summary.js): a
screen reader says the error at once, and the next Tab goes on from the form, not from the
page's top."""

import pytest
from playwright.sync_api import Page, expect

from crm.gestiones import examples, services
from tests.browser.pages import sign_in
from tests.browser.test_recovery_countdown import offered, open_offer
from tests.factories import CustomerFactory, UserFactory
from tests.recovery.test_portal_browser import (  # noqa: F401 (fixtures)
    _frozen,
    google,
    portal,
)

pytestmark = pytest.mark.browser


def test_a_refused_follow_up_takes_the_focus_to_its_error(page: Page, live_server, roles):
    advisor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    credit = examples.build_process(examples.CREDIT_APPLICATION, agents=[advisor])
    gestion = services.create_gestion(
        customer=CustomerFactory(),
        gestion_type=credit,
        data={"ingreso_mensual": "3200", "destino": "Vehículo"},
    )
    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}{gestion.get_absolute_url()}")

    page.get_by_role("button", name="Registrar seguimiento").last.click()

    expect(page).to_have_title(f"Error: Gestión #{gestion.pk} · Cartera")
    expect(page.locator("#follow-up-errors")).to_be_focused()


@pytest.mark.usefixtures("portal", "google")
def test_a_refused_decline_takes_the_focus_to_its_error(page: Page, live_server):
    offered("Rosa", "45678913")
    open_offer(page, live_server, "45678913")
    page.goto(f"{live_server.url}/recovery/no-me-interesa/")

    page.get_by_role("button", name="Enviar").click()

    expect(page).to_have_title("Error: No me interesa esta oferta · Cartera")
    expect(page.locator("#decline-errors")).to_be_focused()
