"""The call center on a phone (375 × 812): a whole call, and no page scrolls sideways."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from callcenter.catalog import services as catalog_services
from callcenter.models import Lead, Order, QueueSettings
from tests.browser.pages import sign_in
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}


def assert_no_sideways_scroll(page: Page) -> None:
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{page.url} is {width}px wide on a {viewport}px screen"


def test_an_agent_on_a_phone_takes_a_lead_confirms_the_customer_and_orders(
    page: Page, live_server, roles
):
    UserFactory(
        username="agente", first_name="Gabriela", last_name="Torres", role="Agente call center"
    )
    QueueSettings.objects.update_or_create(
        pk=1, defaults={"pipeline_id": 1, "queue_status_id": 2, "sold_status_id": 3}
    )
    catalog_services.create_product(
        actor=None,
        data={
            "sku": "AUD-ANC-02",
            "name": "Audífonos con cancelación de ruido y estuche de viaje",
            "price": Decimal("399.00"),
            "stock": 4,
        },
    )
    customer = CustomerFactory(
        first_name="Rosa Elvira",
        last_name="Huamán Quispe de la Torre",
        document_number="45678912",
        phone="+51999000111",
        email="rosa.elvira.huaman.quispe.delatorre@correo-empresarial.example.com",
        address="Av. Mariscal Óscar R. Benavides 4520, dpto. 1203, Urb. Parque Mayor",
        city="Lima",
    )
    lead = Lead(
        kommo_id=25399013,
        name="Pedido web Facebook",
        contact_name="Rosa Elvira Huamán Quispe de la Torre",
        phone="+51 999 000 111",
        document_number="45678912",
        source="Facebook",
        address="Av. Mariscal Óscar R. Benavides 4520, dpto. 1203, Urb. Parque Mayor",
        in_queue=True,
        status_id=2,
        pipeline_id=1,
        suggested_customer=customer,
        suggested_by=Lead.Match.DOCUMENT,
    )
    lead.search_text = lead.build_search_text()
    lead.save()
    Lead.objects.filter(pk=lead.pk).update(queued_at=lead.created_at, due_at=lead.created_at)
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_viewport_size(PHONE)

    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    take = page.locator(f"#lead-{lead.pk}").get_by_role("button", name="Tomar")
    expect(take).to_be_in_viewport()
    assert_no_sideways_scroll(page)
    take.click()

    expect(page.get_by_role("heading", name="Rosa Elvira Huamán")).to_be_visible()
    expect(page.locator("#match-card")).to_contain_text("45678912")
    assert_no_sideways_scroll(page)
    page.get_by_role("button", name="Sí, es la misma persona").click()
    expect(page.locator("#messages")).to_contain_text("Cliente confirmado")
    assert_no_sideways_scroll(page)

    with page.expect_response(lambda response: "q=audif" in response.url):
        page.get_by_placeholder("Nombre o SKU").fill("audif")
    # The catalog's first load may still land after the search (it then asks for the same
    # words): the row is read once htmx has no catalog request in flight.
    page.wait_for_function("!document.querySelector('#catalog-card .htmx-request')")
    product_row = page.locator("#catalog-results tr", has_text="Audífonos")
    add = product_row.get_by_role("button", name="Agregar")
    add.scroll_into_view_if_needed()
    expect(add).to_be_in_viewport()
    assert_no_sideways_scroll(page)
    add.click()
    expect(page.locator("#cart-total")).to_contain_text("399.00")
    assert_no_sideways_scroll(page)
    page.get_by_role("button", name="Confirmar pedido").click()

    expect(page).to_have_url(re.compile(r"/call-center-queue/$"))
    expect(page.locator("#messages")).to_contain_text("confirmado")
    assert_no_sideways_scroll(page)
    assert Order.objects.get().customer == customer
