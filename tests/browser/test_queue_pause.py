"""The call queue's refresh stopped and resumed by the agent (accessibility pass F1, WCAG
2.2.2): a visible toggle button outside the list, pressed while paused, that keeps its
state across the list's new copies (a person's search) and not across page loads."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.pages import sign_in
from tests.browser.test_refreshing_pages import (
    count_polls,
    quick_queue,  # noqa: F401 (a fixture)
    wait_for_polls,
    waiting_leads,
)

pytestmark = pytest.mark.browser


def test_pausing_stops_the_queues_refresh_until_resumed(
    page: Page,
    live_server,
    roles,
    quick_queue,  # noqa: F811
):
    waiting_leads("Rosa Huamán", "Luis Medina")
    polls = count_polls(page)
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    toggle = page.get_by_role("button", name="Pausar actualización")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    wait_for_polls(page, polls, 1)

    toggle.click()
    polls.clear()
    page.wait_for_timeout(3500)  # three refreshes due, a second apart

    assert polls == []
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-refresh-note]")).to_have_text("Actualización en pausa")

    # A person's search brings a new list: still paused.
    page.get_by_role("searchbox").fill("Rosa")
    expect(page.locator("#queue-results-wrapper")).not_to_contain_text("Luis Medina")
    polls.clear()
    page.wait_for_timeout(2500)
    assert polls == []
    expect(page.locator("[data-refresh-note]")).to_have_text("Actualización en pausa")

    toggle.click()

    expect(toggle).to_have_attribute("aria-pressed", "false")
    wait_for_polls(page, polls, 2)
    expect(page.locator("[data-refresh-note]")).to_have_text("Se actualiza cada 1 s")


def test_a_page_load_starts_the_refresh_again(
    page: Page,
    live_server,
    roles,
    quick_queue,  # noqa: F811
):
    waiting_leads("Rosa Huamán")
    polls = count_polls(page)
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    page.get_by_role("button", name="Pausar actualización").click()

    page.reload()

    expect(page.get_by_role("button", name="Pausar actualización")).to_have_attribute(
        "aria-pressed", "false"
    )
    wait_for_polls(page, polls, 2)
