"""Pages left open all day, in the system Chromium: what the call queue's refresh every few
seconds and the notifications bell keep for the person in front of them (static/js/app.js,
static/css/app.css, templates/base.html)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from callcenter import views
from callcenter.models import Lead, QueueSettings
from crm.gestiones.models import Notification
from tests.browser.pages import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

REGION = "queue-results-wrapper"
PHONE = {"width": 375, "height": 812}


def waiting_leads(*names: str) -> list[Lead]:
    """The agent Gabriela, the queue's Kommo settings and these leads waiting, the first
    named the longest (the queue lists them in that order)."""
    UserFactory(
        username="agente", first_name="Gabriela", last_name="Torres", role="Agente call center"
    )
    QueueSettings.objects.update_or_create(
        pk=1, defaults={"pipeline_id": 1, "queue_status_id": 2, "sold_status_id": 3}
    )
    start = timezone.now() - timedelta(hours=1)
    leads = []
    for number, name in enumerate(names):
        lead = Lead(kommo_id=25399000 + number, contact_name=name, phone="+51 999 000 111")
        lead.in_queue = True
        lead.search_text = lead.build_search_text()
        lead.save()
        due = start + timedelta(minutes=number)
        Lead.objects.filter(pk=lead.pk).update(queued_at=due, due_at=due)
        leads.append(lead)
    return leads


def count_polls(page: Page) -> list[str]:
    """The queue's own refreshes, as the browser finishes them (answered or not)."""
    polls: list[str] = []

    def seen(request) -> None:
        if request.headers.get("hx-trigger") == REGION:
            polls.append(request.url)

    page.on("requestfinished", seen)
    page.on("requestfailed", seen)
    return polls


def wait_for_polls(page: Page, polls: list[str], more: int, seconds: int = 15) -> None:
    """Let the real htmx poll `more` times, and the last answer settle."""
    goal = len(polls) + more
    for _tick in range(seconds * 5):
        if len(polls) >= goal:
            break
        page.wait_for_timeout(200)
    assert len(polls) >= goal, f"{len(polls)} polls, {goal} expected"
    page.wait_for_timeout(400)


@pytest.fixture
def quick_queue(monkeypatch):
    """The queue refreshing every second, so a test sees several refreshes in seconds."""
    monkeypatch.setattr(views, "QUEUE_REFRESH_SECONDS", 1)


def test_after_a_refresh_the_focus_is_on_the_same_leads_tomar(
    page: Page, live_server, roles, quick_queue
):
    _first, chosen, _third = waiting_leads("Rosa Huamán", "Luis Medina", "Pedro Soto")
    polls = count_polls(page)
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    take = page.locator(f"#lead-{chosen.pk}").get_by_role("button", name="Tomar")
    take.focus()

    wait_for_polls(page, polls, 2)

    # A new button after each refresh, and still Luis's: Enter takes the lead chosen. (Its
    # field name, «take», is every lead's: it went to the first lead's «Tomar».)
    expect(take).to_be_focused()
    assert page.evaluate("document.activeElement.id") == f"take-{chosen.pk}"


def test_when_someone_else_takes_the_focused_lead_the_focus_goes_to_no_other_lead(
    page: Page, live_server, roles, quick_queue
):
    _first, chosen, _third = waiting_leads("Rosa Huamán", "Luis Medina", "Pedro Soto")
    colleague = UserFactory(username="otro", role="Agente call center")
    polls = count_polls(page)
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    page.locator(f"#lead-{chosen.pk}").get_by_role("button", name="Tomar").focus()

    Lead.objects.filter(pk=chosen.pk).update(taken_by=colleague, taken_at=timezone.now())
    wait_for_polls(page, polls, 2)

    expect(page.locator(f"#lead-{chosen.pk}")).not_to_contain_text("Tomar")
    # Not the «Tomar» of Rosa or Pedro: the refreshed list itself, for the keyboard to go on.
    expect(page.locator(f"#{REGION}")).to_be_focused()
    expect(page.get_by_role("button", name="Tomar").first).not_to_be_focused()


def test_a_refresh_left_without_answer_is_abandoned_and_the_queue_refreshes_again(
    page: Page, live_server, roles, quick_queue
):
    waiting_leads("Rosa Huamán")
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    held: list[Route] = []
    sent: list[str] = []

    def hold_the_first(route: Route) -> None:
        if route.request.headers.get("hx-trigger") != REGION:
            route.continue_()
            return
        sent.append(route.request.url)
        if not held:
            held.append(route)  # never answered: a connection a proxy keeps open
        else:
            route.continue_()

    page.route(re.compile(r"/call-center-queue/(\?.*)?$"), hold_the_first)
    page.evaluate(
        "window.timeouts = 0;"
        " document.addEventListener('htmx:timeout', () => { window.timeouts += 1; })"
    )
    try:
        for _tick in range(150):  # up to 30 s: the refresh is abandoned after 20
            if len(sent) >= 2:
                break
            page.wait_for_timeout(200)

        assert len(held) == 1
        assert len(sent) >= 2, "the queue stopped refreshing behind the stalled request"
        assert page.evaluate("window.timeouts") == 1
        expect(page.locator(f"#{REGION}-stale")).to_have_count(0)  # the next one worked
    finally:
        for route in held:
            route.abort()


def test_a_failed_refresh_says_once_that_the_data_are_old_until_one_works(
    page: Page, live_server, roles, quick_queue
):
    waiting_leads("Rosa Huamán")
    polls = count_polls(page)
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    answer = {"with": "502"}

    def outage(route: Route) -> None:
        if route.request.headers.get("hx-trigger") != REGION or answer["with"] == "ok":
            route.continue_()
        elif answer["with"] == "down":
            route.abort("internetdisconnected")
        else:
            route.fulfill(status=int(answer["with"]), body="Bad gateway")

    page.route(re.compile(r"/call-center-queue/(\?.*)?$"), outage)
    line = page.locator(".refresh-stale")

    wait_for_polls(page, polls, 3)
    # One line, however many refreshes failed; polite, beside the list.
    expect(line).to_have_count(1)
    expect(line).to_have_attribute("role", "status")
    expect(line).to_have_text(
        re.compile(r"^No se pudo actualizar \(error 502\): datos de las \d\d:\d\d, se reintenta\.$")
    )
    assert page.evaluate(f"document.getElementById('{REGION}').previousElementSibling.id") == (
        f"{REGION}-stale"
    )
    answer["with"] = "429"
    wait_for_polls(page, polls, 2)
    expect(line).to_have_text(re.compile(r"^No se pudo actualizar \(error 429\)"))
    answer["with"] = "down"
    wait_for_polls(page, polls, 2)
    expect(line).to_have_text(re.compile(r"^Sin conexión: datos de las \d\d:\d\d, se reintenta\.$"))
    expect(line).to_have_count(1)
    # A refresh is not a person's action: the alert for a refused action does not appear.
    expect(page.locator("#htmx-error")).to_have_count(0)

    answer["with"] = "ok"
    wait_for_polls(page, polls, 1)

    expect(line).to_have_count(0)
    expect(page.locator("#queue-table")).to_contain_text("Rosa Huamán")


def test_a_refresh_leaves_a_scrolled_page_where_it_was(page: Page, live_server, roles, quick_queue):
    waiting_leads(*(f"Cliente número {n}" for n in range(1, 21)))
    polls = count_polls(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    page.get_by_role("button", name="Tomar").nth(3).focus()
    page.evaluate("window.scrollTo(0, 400)")
    assert page.evaluate("window.scrollY") == 400

    wait_for_polls(page, polls, 2)

    # Chrome's scroll anchoring took the replaced row with it: the page jumped to its bottom.
    assert page.evaluate("window.scrollY") == 400


def test_on_a_phone_the_unread_count_shows_without_opening_the_menu(page: Page, live_server, roles):
    asesor = UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    for message in ("Le asignaron una gestión", "Una gestión está por vencer"):
        Notification.objects.create(recipient=asesor, kind=Notification.Kind.INFO, message=message)
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}/clientes/")

    expect(page.get_by_role("button", name="Menú")).to_be_visible()
    shown = page.locator(".notification-count .badge").filter(visible=True)
    expect(shown).to_have_count(1)
    expect(shown).to_have_text("2 sin leer")
    expect(shown).to_be_in_viewport()
    # The same count the bell got; one element with its id on the page.
    expect(page.locator("#unread-count")).to_have_count(1)
    expect(page.locator("#unread-count")).to_have_text("2 sin leer")

    page.set_viewport_size({"width": 1280, "height": 800})
    expect(shown).to_have_count(1)  # the bell's own, in the unfolded menu


def test_a_refresh_after_the_session_ended_keeps_the_page_and_says_so(
    page: Page, live_server, roles, quick_queue
):
    """The refresh navigated the whole tab to the sign-in: what the agent was typing went."""
    waiting_leads("Rosa Huamán")
    polls = count_polls(page)
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    search = page.locator("#queue-filters input[name=q]")
    search.fill("Rosa Hua")
    wait_for_polls(page, polls, 1)  # the search went, and a refresh after it

    page.context.clear_cookies()  # the session is gone, as when it expires
    wait_for_polls(page, polls, 1)

    expect(page.get_by_role("alert")).to_contain_text("Su sesión terminó: vuelva a ingresar.")
    expect(page.get_by_role("link", name="Ingresar")).to_be_visible()
    assert page.url.startswith(f"{live_server.url}/call-center-queue/")  # not the sign-in
    expect(search).to_have_value("Rosa Hua")
