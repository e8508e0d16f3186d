"""End to end, in the system Chromium: what an advisor and an agent see."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import pages
from tests.factories import CustomerFactory, InteractionFactory, UserFactory

pytestmark = pytest.mark.browser


def test_an_advisor_finds_a_customer_by_document_and_adds_a_note(page: Page, live_server, roles):
    UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán Torres", document_number="45678912")
    InteractionFactory(customer=rosa, summary="Llamada de bienvenida")
    CustomerFactory.create_batch(5)

    pages.sign_in(page, live_server, "asesor")
    expect(page).to_have_url(re.compile(r"/clientes/$"))
    page.get_by_placeholder("Documento, nombre o teléfono").fill("45678912")
    expect(page.locator("#result-count")).to_contain_text("1 cliente")
    page.get_by_role("link", name="Rosa Huamán Torres").click()

    expect(page.get_by_role("heading", name="Rosa Huamán Torres")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("Llamada de bienvenida")
    page.get_by_placeholder(re.compile("Escriba una nota")).fill(
        "Promete pagar el viernes en agencia"
    )
    page.get_by_role("button", name="Agregar").click()

    first = page.locator("#timeline .timeline-item").first
    expect(first).to_contain_text("Promete pagar el viernes en agencia")
    expect(first).to_contain_text("Andrea Quispe")
    expect(page.get_by_placeholder(re.compile("Escriba una nota"))).to_have_value("")
    assert rosa.interactions.filter(summary="Promete pagar el viernes en agencia").exists()


def test_the_timeline_loads_older_events_as_you_scroll(page: Page, live_server, roles):
    UserFactory(username="asesor", role="Asesor")
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán")
    for i in range(45):
        InteractionFactory(customer=rosa, summary=f"Evento número {i}")

    pages.sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}{rosa.get_absolute_url()}")
    expect(page.locator("#timeline .timeline-item")).to_have_count(20)
    page.locator("#timeline .timeline-item").last.scroll_into_view_if_needed()
    expect(page.locator("#timeline .timeline-item")).to_have_count(40)
    page.locator("#timeline .timeline-item").last.scroll_into_view_if_needed()

    expect(page.locator("#timeline .timeline-item")).to_have_count(45)


def test_a_call_center_agent_is_refused_the_customer_list(page: Page, live_server, roles):
    UserFactory(username="agente", role="Agente call center")

    pages.sign_in(page, live_server, "agente")
    response = page.goto(f"{live_server.url}/clientes/")

    assert response.status == 403
    expect(page.get_by_text("No tiene permiso para ver esta página.")).to_be_visible()
    expect(page.get_by_role("link", name="Clientes")).to_have_count(0)


def test_a_note_the_server_refuses_says_so_instead_of_nothing(page: Page, live_server, roles):
    """htmx swaps nothing on an error: in production (no debug script) a note refused with a
    403, a stale CSRF token after signing in again elsewhere, looked as if it did nothing."""
    UserFactory(username="asesor", role="Asesor")
    rosa = CustomerFactory(first_name="Rosa", last_name="Huamán")
    pages.sign_in(page, live_server, "asesor")
    page.goto(f"{live_server.url}{rosa.get_absolute_url()}")
    page.route(
        re.compile(r"/notas?/"),
        lambda route: (
            route.fulfill(status=403, body="")
            if route.request.method == "POST"
            else route.continue_()
        ),
    )

    page.get_by_placeholder(re.compile("Escriba una nota")).fill("Llamó hoy")
    page.get_by_role("button", name="Agregar").click()

    expect(page.locator("#htmx-error")).to_contain_text("No se pudo completar la acción")
    assert not rosa.interactions.filter(summary="Llamó hoy").exists()
