"""End to end, in the system Chromium: a double click on a form's button sends it twice
(the browser shows the second answer). The page the person ends on says what the first
send did, and nothing is made or deleted twice."""

import contextlib
import re

import pytest
from playwright.sync_api import Page, Route, expect

from collections_app.models import Segment
from crm.gestiones.models import Campaign, DeletionRecord
from tests.browser.pages import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.browser


def click_twice(page: Page, button) -> None:
    """Click `button` twice as a person's double click does: the second click lands after
    the server has done the first send's work and before its answer is shown, so the
    browser drops that answer and shows the second's. (Playwright's dblclick clicks twice
    before the first request leaves: the browser sends one.)"""
    held: list[tuple[Route, object]] = []

    def hold_the_first_answer(route: Route) -> None:
        if route.request.method == "POST" and not held:
            held.append((route, route.fetch(max_redirects=0)))  # the first send's work done
        else:
            route.continue_()

    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    # The form sends itself to the page's address (its HTMX helpers go elsewhere).
    page.route(page.url, hold_the_first_answer)
    button.click(no_wait_after=True)
    while not held:
        page.wait_for_timeout(20)
    # Mouse events do not wait for the navigation the first click started.
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_load_state()
    route, answer = held[0]
    with contextlib.suppress(Exception):  # the browser dropped that request: the point
        route.fulfill(response=answer)


def test_a_double_click_on_a_new_segments_save_makes_one_and_says_so(
    page: Page, live_server, roles
):
    UserFactory(username="cobranzas", first_name="Carla", last_name="Ríos", role="Cobranzas")
    sign_in(page, live_server, "cobranzas")
    page.goto(f"{live_server.url}/cobranzas/estrategias/segmentos/nuevo/")
    page.get_by_label("Nombre").fill("Mora temprana")

    click_twice(page, page.get_by_role("button", name="Guardar"))

    expect(page.locator("#messages")).to_contain_text(
        "El segmento «Mora temprana» ya se creó hace un momento: no se creó otro."
    )
    assert Segment.objects.filter(name="Mora temprana").count() == 1


def test_a_double_click_on_a_deletions_confirmation_says_it_was_deleted(
    page: Page, live_server, roles
):
    UserFactory(username="jefa", first_name="Ana", last_name="Díaz", role="Administrador")
    campaign = Campaign.objects.create(name="Borrador", slug="borrador", kind="outbound")
    sign_in(page, live_server, "jefa")
    page.goto(f"{live_server.url}/gestiones/campanas/{campaign.pk}/eliminar/")

    click_twice(page, page.get_by_role("button", name="Sí, eliminar"))

    expect(page).to_have_url(re.compile(r"/gestiones/campanas/$"))
    expect(page.locator("#messages")).to_contain_text(
        "Campaña «Borrador» ya se eliminó hace un momento."
    )
    assert DeletionRecord.objects.count() == 1
