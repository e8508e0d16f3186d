"""In Chromium at 375 × 740: «Agregar» answers in the tapped row and in a summary on screen,
and a double tap adds once (the cart is ~2,500 px below the catalog on a phone)."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.pages import sign_in
from tests.callcenter.conftest import make_product

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}


@pytest.fixture
def catalog_page(page: Page, live_server, roles, held_lead):
    products = [make_product(stock=20, price="39.90") for _ in range(20)]
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}{held_lead.get_absolute_url()}")
    expect(page.locator("#catalog-results tbody tr")).to_have_count(20)
    return page, products


def test_a_tap_on_agregar_is_answered_in_the_row_and_the_summary(catalog_page):
    page, products = catalog_page
    row = page.locator(f"#product-{products[3].pk}")
    row.scroll_into_view_if_needed()

    row.get_by_role("button", name="Agregar").click()

    expect(row.get_by_role("status")).to_have_text("Agregado · 1 en el pedido")
    expect(row.get_by_role("status")).to_be_in_viewport()
    summary = page.locator("#cart-summary")
    expect(summary).to_contain_text("Pedido: 1 producto · S/ 39.90")
    expect(summary.get_by_role("link", name="Ver pedido")).to_be_in_viewport()
    expect(page.locator("#cart")).not_to_be_in_viewport()


def test_a_double_tap_adds_one_and_a_later_tap_one_more(catalog_page):
    page, products = catalog_page
    adds: list[str] = []
    page.on("request", lambda r: adds.append(r.url) if r.method == "POST" else None)
    row = page.locator(f"#product-{products[2].pk}")
    add = row.get_by_role("button", name="Agregar")
    add.scroll_into_view_if_needed()

    add.dblclick()

    expect(row.get_by_role("status")).to_have_text("Agregado · 1 en el pedido")
    # Without the fix htmx queues the second tap's request and sends it once the first is
    # answered: it is given time to start, then to end.
    page.wait_for_timeout(300)
    page.wait_for_function("!document.querySelector('#catalog-results .htmx-request')")
    expect(row.get_by_role("status")).to_have_text("Agregado · 1 en el pedido")
    expect(page.locator("#cart tbody")).to_contain_text("1 × 39.90")
    assert len(adds) == 1

    add.click()

    expect(row.get_by_role("status")).to_have_text("Agregado · 2 en el pedido")
    expect(page.locator("#cart-summary")).to_contain_text("Pedido: 2 productos · S/ 79.80")
