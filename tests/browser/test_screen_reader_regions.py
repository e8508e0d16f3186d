"""What a screen reader meets where htmx changes the page, in the system Chromium
(accessibility pass F1-F3; static/js/app.js): the call queue refreshing every few seconds
no longer replaces an unchanged list nor focuses the agent's button again, its count is said
when it changes, and a button keeps the keyboard's focus while its request runs."""

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from callcenter.catalog import services as catalog_services
from callcenter.models import Lead
from crm.models import Interaction
from tests.browser.pages import sign_in
from tests.browser.test_refreshing_pages import (
    REGION,
    count_polls,
    quick_queue,  # noqa: F401 (a fixture)
    wait_for_polls,
    waiting_leads,
)
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.browser


def answers(page: Page) -> list[int]:
    """The status of each of the queue's own refreshes, as they come."""
    statuses: list[int] = []
    page.on(
        "response",
        lambda response: (
            statuses.append(response.status)
            if response.request.headers.get("hx-trigger") == REGION
            else None
        ),
    )
    return statuses


def test_a_refresh_that_changes_nothing_leaves_the_list_as_it_is(
    page: Page,
    live_server,
    roles,
    quick_queue,  # noqa: F811
):
    waiting_leads("Rosa Huamán", "Luis Medina")
    polls = count_polls(page)
    statuses = answers(page)
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    page.evaluate(f"window.listShown = document.getElementById('{REGION}')")

    wait_for_polls(page, polls, 3)

    # The same element: a screen reader reading it keeps its place.
    assert page.evaluate(f"window.listShown === document.getElementById('{REGION}')")
    assert statuses and set(statuses) == {204}


def test_the_focused_tomar_is_not_announced_again_and_few_refreshes_go_meanwhile(
    page: Page,
    live_server,
    roles,
    quick_queue,  # noqa: F811
):
    _first, chosen = waiting_leads("Rosa Huamán", "Luis Medina")
    polls = count_polls(page)
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    take = page.locator(f"#take-{chosen.pk}")
    take.focus()
    page.evaluate(
        "window.focusins = 0; document.addEventListener('focusin', () => { window.focusins += 1; })"
    )
    polls.clear()

    page.wait_for_timeout(6500)  # six refreshes due, a second apart

    # A new focus event is what a screen reader announces («Tomar a Luis Medina, botón»).
    assert page.evaluate("window.focusins") == 0
    assert 1 <= len(polls) <= 3  # every third one goes, and changes nothing
    expect(take).to_be_focused()
    expect(take).to_have_accessible_name("Tomar a Luis Medina")


def test_the_count_is_said_once_when_it_changes(
    page: Page,
    live_server,
    roles,
    quick_queue,  # noqa: F811
):
    _first, taken = waiting_leads("Rosa Huamán", "Luis Medina")
    polls = count_polls(page)
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    status = page.locator("#queue-count-live")
    wait_for_polls(page, polls, 2)
    expect(status).to_have_text("")  # nothing changed: nothing said

    Lead.objects.filter(pk=taken.pk).update(in_queue=False)
    wait_for_polls(page, polls, 2)

    expect(status).to_have_text("1 lead por llamar")
    expect(status).to_have_attribute("role", "status")


def test_agregar_keeps_the_keyboards_focus_and_a_second_press_in_flight_adds_nothing(
    page: Page, live_server, roles
):
    (lead,) = waiting_leads("Rosa Huamán")
    catalog_services.create_product(
        actor=None,
        data={
            "sku": "ZAP-RUN-40",
            "name": "Zapatillas Runner",
            "price": Decimal("189.90"),
            "stock": 3,
        },
    )
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    page.locator(f"#take-{lead.pk}").click()
    add = page.get_by_role("button", name="Agregar Zapatillas Runner")
    expect(page.get_by_role("textbox", name="Cantidad de Zapatillas Runner")).to_be_visible()
    expect(page.get_by_role("searchbox", name="Buscar en el catálogo")).to_be_visible()
    # The answer is held until the second press: the request is in flight meanwhile.
    held = []
    page.route(f"**/leads/{lead.pk}/carrito/", lambda route: held.append(route))

    add.focus()
    page.keyboard.press("Enter")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    # Not disabled while it works: a disabled button loses the focus to the page's top.
    expect(add).to_be_focused()
    page.keyboard.press("Enter")  # dropped (hx-sync): queued, it added a second pair
    page.wait_for_timeout(300)
    held[0].continue_()

    expect(page.locator("#cart-total")).to_contain_text("189.90")
    expect(add).to_be_focused()
    page.wait_for_timeout(500)
    assert len(held) == 1


def test_a_note_refused_then_saved_keeps_the_focus_in_the_box_and_says_it(
    page: Page, live_server, roles
):
    UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán Torres")
    sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}{rosa.get_absolute_url()}")
    box = page.locator("#id_summary")
    button = page.locator("#note-form").get_by_role("button", name="Agregar")

    button.focus()
    page.keyboard.press("Enter")  # nothing written

    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_be_focused()  # on the field refused, its error tied to it
    expect(box).to_have_accessible_description("Escriba el texto de la nota.")

    box.fill("Promete pagar el viernes")
    page.keyboard.press("Tab")
    expect(page.locator("#note-form button")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator("#timeline")).to_contain_text("Promete pagar el viernes")
    expect(box).to_be_focused()  # for the next note (it went to the page's top)
    expect(page.locator("#page-announcer")).to_have_text("Nota agregada.")
    assert Interaction.objects.filter(customer=rosa, summary="Promete pagar el viernes").exists()


def test_a_customer_search_says_how_many_it_found(page: Page, live_server, roles):
    UserFactory(username="asesor", role="Asesor")
    CustomerFactory(first_name="Rosa", last_name="Huamán Torres", document_number="45678912")
    CustomerFactory.create_batch(3)
    sign_in(page, live_server, "asesor")
    announcer = page.locator("#page-announcer")
    expect(announcer).to_have_text("")  # what the page showed on load is not said again

    page.get_by_placeholder("Documento, nombre o teléfono").fill("45678912")

    # The results are swapped in silently; the count is said by the page's status.
    expect(announcer).to_have_text("1 cliente")
    expect(announcer).to_have_attribute("role", "status")
