"""Regions that refresh themselves (lib.middleware.is_background_refresh): a refresh is nobody's
activity and never takes the page away, a person's click inside one is, and a refresh never
throws away the answer a person is waiting for."""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from callcenter import views as queue_views
from callcenter.models import Lead, QueueSettings
from crm import messages
from lib.middleware import BACKGROUND_REFRESH_HEADER
from tests.browser.pages import sign_in
from tests.factories import CustomerFactory, UserFactory

QUEUE = "/call-center-queue/"
INBOX = "/cobranzas/conversaciones/"
BELL = "/notificaciones/contador/"
QUEUE_ID = "queue-results-wrapper"
INBOX_ID = "conversation-results"
# What the regions' hx-headers declare; htmx sends it with every request from inside them.
DECLARED = {"HX-Request": "true", BACKGROUND_REFRESH_HEADER: "1"}
# The event a refresh gets instead of the sign-in (static/js/app.js shows it).
SESSION_ENDED = "session-ended"
TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates", Path(settings.BASE_DIR) / "jinja_templates"]
POLL = re.compile(r"""hx-trigger=(["'])[^"']*\bevery """)


def poll_of(region: str, page_url: str = f"http://testserver{QUEUE}") -> dict[str, str]:
    """The headers of a region's own refresh: the element that fires is the one replaced."""
    return {**DECLARED, "HX-Trigger": region, "HX-Target": region, "HX-Current-URL": page_url}


def click_in(region: str, page_url: str = f"http://testserver{QUEUE}") -> dict[str, str]:
    """The headers of a person's click on a boosted link inside a region (a sort, a page)."""
    return {**DECLARED, "HX-Boosted": "true", "HX-Target": region, "HX-Current-URL": page_url}


def opening_tag(text: str, at: int) -> str:
    """The HTML tag around position `at`, its quoted values and template tags kept whole."""
    start = text.rindex("<", 0, at)
    i, quote = start + 1, ""
    while True:
        if quote:
            if text[i] == quote:
                quote = ""
        elif text.startswith(("{%", "{{", "{#"), i):
            i = text.index({"{%": "%}", "{{": "}}", "{#": "#}"}[text[i : i + 2]], i) + 1
        elif text[i] in "\"'":
            quote = text[i]
        elif text[i] == ">":
            return text[start : i + 1]
        i += 1


def polling_tags() -> list[tuple[str, str]]:
    found = []
    for folder in TEMPLATE_DIRS:
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".html", ".jinja"):
                continue
            text = path.read_text(encoding="utf-8")
            for match in POLL.finditer(text):
                found.append(
                    (str(path.relative_to(settings.BASE_DIR)), opening_tag(text, match.start()))
                )
    return found


def session_kept_open_by(client, url: str, headers: dict[str, str]) -> bool:
    """Whether one request, a while after the sign-in, pushed the session's expiry forward."""
    expiry = Session.objects.get().expire_date
    later = timezone.now() + timedelta(seconds=settings.SESSION_REFRESH_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert client.get(url, headers=headers).status_code == 200
    return Session.objects.get().expire_date > expiry


# --- Which requests are activity -----------------------------------------------------------


def test_every_element_that_refreshes_itself_says_so_and_asks_for_itself():
    tags = polling_tags()

    # The queue, the inbox, the bell, an import's, a catalog import's and a campaign launch's
    # progress, the portfolio's figures: the progress pollers kept a forgotten session open.
    assert len(tags) >= 7, tags
    for path, tag in tags:
        assert f"""hx-headers='{{"{BACKGROUND_REFRESH_HEADER}": "1"}}'""" in tag, path
        # Only the element replaced by its own answer is a refresh (HX-Trigger == HX-Target).
        own_id = re.search(r'\bid="([^"]+)"', tag)
        target = re.search(r'\bhx-target="([^"]+)"', tag)
        if own_id and target:
            assert target.group(1) in ("this", f"#{own_id.group(1)}"), path


@pytest.mark.parametrize(
    ("who", "url", "region"),
    [
        ("agente", f"{QUEUE}?sort=-due_at", QUEUE_ID),
        ("cobranzas", f"{INBOX}?page=2", INBOX_ID),
    ],
)
def test_a_click_on_a_link_inside_a_refreshing_list_keeps_the_session_open(
    db, client, request, who, url, region
):
    request.getfixturevalue(who)
    client.post(reverse("login"), {"username": who, "password": "demo1234"})

    # The link inherits the region's hx-headers: htmx merges them from every ancestor.
    assert session_kept_open_by(client, url, click_in(region))


@pytest.mark.parametrize(
    ("who", "url", "headers"),
    [
        ("agente", QUEUE, poll_of(QUEUE_ID)),
        # The bell fills its count, an element without an id: htmx sends neither header.
        ("asesor", BELL, DECLARED),
    ],
)
def test_a_region_refreshing_itself_does_not_keep_the_session_open(
    db, client, request, who, url, headers
):
    request.getfixturevalue(who)
    client.post(reverse("login"), {"username": who, "password": "demo1234"})

    assert not session_kept_open_by(client, url, headers)


def test_a_search_sent_from_a_form_inside_a_refreshing_region_keeps_the_session_open(
    client, agente
):
    client.post(reverse("login"), {"username": "agente", "password": "demo1234"})
    # Another element than the region it fills (a form of its own, say), not boosted.
    headers = {**DECLARED, "HX-Trigger": "queue-filters", "HX-Target": QUEUE_ID}

    assert session_kept_open_by(client, f"{QUEUE}?q=rosa", headers)


# --- When the session ended ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        (QUEUE, poll_of(QUEUE_ID, "http://testserver/clientes/601/")),
        (
            BELL,
            {**DECLARED, "HX-Current-URL": "http://testserver/clientes/601/"},
        ),
    ],
)
def test_a_refresh_after_the_session_ended_leaves_the_page_and_says_so(db, client, url, headers):
    response = client.get(url, headers=headers)

    # Not HX-Redirect: the bell took the whole tab to the sign-in, wiping a half-written note.
    assert "HX-Redirect" not in response
    assert response.status_code == 286  # htmx stops asking
    assert response["HX-Reswap"] == "none"  # and leaves the region as it was
    assert json.loads(response["HX-Trigger"]) == {
        SESSION_ENDED: {
            "login": f"{reverse('login')}?next=/clientes/601/",
            "message": "Su sesión terminó: vuelva a ingresar.",
        }
    }


def test_a_click_inside_a_refreshing_list_after_the_session_ended_goes_to_the_sign_in(db, client):
    response = client.get(f"{QUEUE}?sort=-due_at", headers=click_in(QUEUE_ID))

    assert response["HX-Redirect"] == f"{reverse('login')}?next=/call-center-queue/"
    assert "HX-Trigger" not in response


# --- When what a region shows is gone -------------------------------------------------------

IMPORT_ID = "import-status"


def test_a_refresh_of_a_deleted_import_stops_asking_and_says_why(db, client):
    client.force_login(UserFactory(is_superuser=True))
    progress = reverse("crm:import_progress", args=[987654])  # deleted, or never there
    page = f"http://testserver{reverse('crm:import_detail', args=[987654])}"

    response = client.get(progress, headers=poll_of(IMPORT_ID, page))

    # A 404 swaps nothing and htmx asked again every second, for as long as the tab was open.
    assert response.status_code == 286  # htmx stops asking
    assert response["HX-Reswap"] == "none"  # and leaves the region as it was
    assert json.loads(response["HX-Trigger"]) == {
        "refresh-ended": {"message": "Lo que aquí se mostraba ya no existe: se dejó de actualizar."}
    }
    # A person asking for it still gets the 404 page.
    assert client.get(progress).status_code == 404


def test_a_refresh_the_person_may_no_longer_see_stops_asking_and_says_why(db, client):
    client.force_login(UserFactory(role="Agente call center"))  # no imports
    progress = reverse("crm:import_progress", args=[1])

    response = client.get(progress, headers=poll_of(IMPORT_ID))

    assert response.status_code == 286
    assert json.loads(response["HX-Trigger"]) == {
        "refresh-ended": {
            "message": "Ya no tiene acceso a lo que aquí se mostraba: se dejó de actualizar."
        }
    }
    assert client.get(progress).status_code == 403


@pytest.mark.browser
def test_the_page_of_an_import_deleted_meanwhile_says_so_and_stops_asking(
    page: Page, live_server, roles
):
    from crm.models import ImportBatch

    UserFactory(username="jefa", is_superuser=True)
    batch = ImportBatch.objects.create(
        kind="customers", file_name="clientes.csv", status=ImportBatch.Status.QUEUED
    )
    sign_in(page, live_server, "jefa")
    polls = sent_by(page, IMPORT_ID)
    page.goto(f"{live_server.url}{reverse('crm:import_detail', args=[batch.pk])}")
    expect(page.locator(f"#{IMPORT_ID}")).to_be_visible()

    ImportBatch.objects.filter(pk=batch.pk).delete()

    line = page.locator(f"#{IMPORT_ID}-stale")
    expect(line).to_have_text("Lo que aquí se mostraba ya no existe: se dejó de actualizar.")
    asked = len(polls)
    page.wait_for_timeout(2500)  # the block asked every second
    assert len(polls) == asked
    expect(page.locator(f"#{IMPORT_ID}")).to_be_visible()  # what it showed stays


# --- A refresh never throws a person's answer away (in Chromium) ---------------------------


def waiting_leads(*names: str) -> None:
    """The agent and these leads waiting in the queue, the first named the longest."""
    UserFactory(username="agente", role="Agente call center")
    QueueSettings.objects.update_or_create(
        pk=1, defaults={"pipeline_id": 1, "queue_status_id": 2, "sold_status_id": 3}
    )
    start = timezone.now() - timedelta(hours=1)
    for number, name in enumerate(names):
        lead = Lead(kommo_id=25399100 + number, contact_name=name, phone="+51 999 000 111")
        lead.in_queue = True
        lead.search_text = lead.build_search_text()
        lead.save()
        due = start + timedelta(minutes=number)
        Lead.objects.filter(pk=lead.pk).update(queued_at=due, due_at=due)


def sent_by(page: Page, region: str) -> list[str]:
    """The region's own refreshes, as the browser sends them."""
    polls: list[str] = []
    page.on(
        "request", lambda r: polls.append(r.url) if r.headers.get("hx-trigger") == region else None
    )
    return polls


@pytest.mark.browser
def test_a_sort_clicked_while_the_queue_refreshes_is_the_order_that_stays(
    page: Page, live_server, roles, monkeypatch
):
    monkeypatch.setattr(queue_views, "QUEUE_REFRESH_SECONDS", 1)
    waiting_leads("Rosa Huamán", "Luis Medina", "Pedro Soto")
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}{QUEUE}")
    expect(page.locator("#queue-table tbody tr").first).to_contain_text("Rosa Huamán")
    held: list[Route] = []

    def hold_the_sort(route: Route) -> None:
        if "sort=" in route.request.url and not held:
            held.append(route)  # a slow answer
        else:
            route.continue_()

    page.route(re.compile(r"/call-center-queue/(\?.*)?$"), hold_the_sort)
    polls = sent_by(page, QUEUE_ID)
    page.locator("#queue-table thead a[href*='sort=-due_at']").click()
    page.wait_for_timeout(2500)  # the queue's refresh comes due twice meanwhile
    held[0].continue_()

    # The refresh waited for the person's answer: it answered first, and the sort's answer,
    # meant for the list it had replaced, was thrown away.
    expect(page.locator("#queue-table tbody tr").first).to_contain_text("Pedro Soto")
    page.wait_for_timeout(2500)
    expect(page.locator("#queue-table tbody tr").first).to_contain_text("Pedro Soto")
    assert "sort=-due_at" in page.locator(f"#{QUEUE_ID}").get_attribute("hx-get")
    assert all("sort=-due_at" in url for url in polls) and len(polls) >= 1


def open_the_inbox(page: Page, live_server) -> None:
    """The inbox of three conversations, its clock in the test's hands (it refreshes every 30 s)."""
    UserFactory(username="cobranzas", role="Cobranzas")
    for n in range(3):
        messages.record_inbound(
            channel=messages.SMS,
            provider="twilio",
            provider_message_id=f"SM{n:032d}",
            address=str(CustomerFactory().phone),
            body=f"Mensaje {n}",
        )
    page.clock.install()
    sign_in(page, live_server, "cobranzas")
    page.goto(f"{live_server.url}{INBOX}")
    expect(page.locator("#result-count")).to_have_text("3 conversaciones")


@pytest.mark.browser
def test_a_search_typed_while_the_inbox_refreshes_is_the_list_that_stays(
    page: Page, live_server, roles
):
    open_the_inbox(page, live_server)
    count = page.locator("#result-count")
    held: list[Route] = []

    def hold_the_search(route: Route) -> None:
        if (
            "q=zzzz" in route.request.url
            and route.request.headers.get("hx-trigger") != INBOX_ID
            and not held
        ):
            held.append(route)  # a slow answer
        else:
            route.continue_()

    page.route(re.compile(r"/cobranzas/conversaciones/(\?.*)?$"), hold_the_search)
    polls = sent_by(page, INBOX_ID)
    page.locator("#id_q").fill("zzzz-nadie")
    page.clock.run_for(400)  # the search waits for a pause in the typing
    page.wait_for_timeout(300)
    assert len(held) == 1
    page.clock.run_for(30_000)  # the inbox's refresh comes due
    page.wait_for_timeout(800)
    held[0].continue_()

    # The refresh waited for the person's answer: it answered first, and the search's
    # answer, meant for the list it had replaced, was thrown away.
    expect(count).to_have_text("0 conversaciones")
    page.clock.run_for(30_000)
    page.wait_for_timeout(800)
    assert len(polls) == 1
    # The next refresh asks for the search shown, not the list before it.
    assert "q=zzzz-nadie" in polls[0]
    expect(count).to_have_text("0 conversaciones")


@pytest.mark.browser
def test_the_menus_count_of_payments_to_verify_and_the_inbox_alerts_keep_up(
    page: Page, live_server, roles
):
    from collections_app.models import ReportedPayment

    open_the_inbox(page, live_server)
    badge = page.locator("#reported-badge")
    reported = page.locator("#alert-reported [data-count]")
    expect(reported).to_have_text("0")
    expect(badge).to_have_text("")
    page.locator("#conversation-alerts > summary").click()  # the agent closes the alerts

    ReportedPayment.objects.create(
        customer=CustomerFactory(),
        receivable_kind="loan",
        receivable_id=1,
        receivable_code="L000000001",
        currency="PEN",
        amount="500.00",
        paid_on=timezone.localdate(),
        method=ReportedPayment.Method.TRANSFER,
        receipt="comprobantes/x/recibo.pdf",
    )
    page.clock.run_for(60_000)

    # Both were read once, when the page opened, and stayed at 0 all day.
    expect(badge).to_have_text("1 por verificar")
    expect(reported).to_have_text("1")
    assert page.locator("#conversation-alerts").get_attribute("open") is None  # still closed
