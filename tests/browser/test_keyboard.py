"""Keyboard use, in the system Chromium: the skip link, and the focus kept where it was when
a region refreshes itself (static/js/app.js)."""

import pytest
from playwright.sync_api import Page, expect

from callcenter import views
from callcenter.models import Lead
from tests.browser.pages import queue_with_two_leads, sign_in

pytestmark = pytest.mark.browser
# How many times the test lets htmx refresh the queue while a lead's link has the focus.
POLLS = 3


def test_the_skip_link_is_the_first_tab_and_takes_the_keyboard_to_the_content(
    page: Page, live_server, roles
):
    queue_with_two_leads()
    sign_in(page, live_server, "agente")
    # A lead's page: nothing on it has autofocus (the queue's search box has).
    page.goto(f"{live_server.url}/call-center-queue/leads/{Lead.objects.first().pk}/")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Saltar al contenido")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # shown while it has the focus
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")


def test_the_queue_refreshing_itself_keeps_the_focus_on_the_agents_lead(
    page: Page, live_server, roles, monkeypatch
):
    # A short interval, so the real htmx polls several times in a few seconds.
    monkeypatch.setattr(views, "QUEUE_REFRESH_SECONDS", 1)
    queue_with_two_leads()
    polls: list[str] = []
    page.on(
        "requestfinished",
        lambda request: (
            polls.append(request.url)
            if request.headers.get("hx-trigger") == "queue-results-wrapper"
            else None
        ),
    )
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    lead = page.locator("#queue-table").get_by_role("link", name="Pedro Soto")
    lead.focus()
    polls.clear()

    for _tick in range(60):  # up to 12 s for 3 polls a second apart
        if len(polls) >= POLLS:
            break
        page.wait_for_timeout(200)
    page.wait_for_timeout(300)  # the last swap settles

    assert len(polls) >= POLLS
    # The link is a new element after each refresh; the keyboard is still on it, not
    # thrown back to the top of the page.
    expect(page.locator("#queue-table").get_by_role("link", name="Pedro Soto")).to_be_focused()
