"""End to end, in the system Chromium: an agent works a lead from the queue to a sale."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from callcenter import views
from callcenter.catalog import services as catalog_services
from callcenter.models import CatalogProduct, Lead, Order, QueueSettings
from tests.browser.pages import queue_with_two_leads, sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.browser
# How many times the browser test lets htmx refresh the queue.
POLLS = 6


def test_an_agent_takes_a_lead_corrects_the_phone_orders_and_the_lead_leaves(
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
            "sku": "ZAP-RUN-40",
            "name": "Zapatillas Runner",
            "price": Decimal("189.90"),
            "stock": 3,
        },
    )
    catalog_services.create_product(
        actor=None,
        data={"sku": "REL-CLA-02", "name": "Reloj clásico", "price": Decimal("329.00"), "stock": 0},
    )
    lead = Lead(
        kommo_id=25399013,
        name="Pedido web",
        contact_name="Rosa Huamán",
        phone="+51 999 000 111",
        address="Av. Arequipa 1234",
        in_queue=True,
        status_id=2,
        pipeline_id=1,
    )
    lead.search_text = lead.build_search_text()
    lead.save()
    Lead.objects.filter(pk=lead.pk).update(queued_at=lead.created_at, due_at=lead.created_at)
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(f"{live_server.url}/ingresar/")
    page.get_by_label("Usuario").fill("agente")
    page.get_by_label("Contraseña").fill("demo1234")
    page.get_by_role("button", name="Ingresar").click()
    page.goto(f"{live_server.url}/call-center-queue/")
    row = page.locator(f"#lead-{lead.pk}")
    expect(row).to_contain_text("Rosa Huamán")
    row.get_by_role("button", name="Tomar").click()

    expect(page.get_by_role("heading", name="Rosa Huamán")).to_be_visible()
    page.get_by_label("Número de documento").fill("45678912")
    page.get_by_label("Celular").fill("912 345 678")
    page.get_by_role("button", name="Guardar datos").click()
    expect(page.locator("#messages")).to_contain_text("Datos del cliente confirmados")
    expect(page.locator("#lead-phone")).to_contain_text("+51912345678")

    page.get_by_placeholder("Nombre o SKU").fill("zap")
    product_row = page.locator("#catalog-results tr", has_text="Zapatillas Runner")
    expect(product_row).to_contain_text("3")
    expect(page.locator("#catalog-results")).not_to_contain_text("Reloj clásico")  # filtered
    product_row.get_by_role("button", name="Agregar").click()
    expect(page.locator("#cart-total")).to_contain_text("189.90")
    page.get_by_role("button", name="Confirmar pedido").click()

    expect(page).to_have_url(re.compile(r"/call-center-queue/$"))
    expect(page.locator("#messages")).to_contain_text("confirmado")
    expect(page.locator(f"#lead-{lead.pk}")).to_have_count(0)
    expect(page.locator("#result-count")).to_contain_text("0 leads")
    order = Order.objects.get()
    assert str(order.customer.phone) == "+51912345678"
    assert CatalogProduct.objects.get(sku="ZAP-RUN-40").stock == 2
    lead.refresh_from_db()
    assert lead.state == Lead.State.SOLD and not lead.in_queue


def test_the_queue_polls_all_day_without_its_url_or_history_growing(
    page: Page, live_server, roles, monkeypatch
):
    # A short interval, so the real htmx polls several times in a few seconds.
    monkeypatch.setattr(views, "QUEUE_REFRESH_SECONDS", 1)
    queue_with_two_leads()
    polls: list[str] = []
    page.on(
        "request",
        lambda request: (
            polls.append(request.url)
            if request.headers.get("hx-trigger") == "queue-results-wrapper"
            else None
        ),
    )
    sign_in(page, live_server, "agente")
    page.goto(f"{live_server.url}/call-center-queue/")
    page.get_by_label("Buscar").fill("rosa")
    expect(page.locator("#result-count")).to_contain_text("1 lead por llamar")
    page.get_by_role("link", name="Intentos").click()  # a boosted sort link
    expect(page).to_have_url(re.compile(r"sort=attempts"))
    address, history = page.url, page.evaluate("history.length")
    polls.clear()

    for _tick in range(100):  # up to 20 s for 6 polls a second apart
        if len(polls) >= POLLS:
            break
        page.wait_for_timeout(200)

    assert len(polls) >= POLLS
    assert len(set(polls)) == 1, polls  # the same URL every time: nothing appended
    assert polls[0].count("sort=") == 1 and polls[0].count("q=rosa") == 1
    assert len(polls[0]) < 250
    assert page.url == address
    assert page.evaluate("history.length") == history
    expect(page.locator("#queue-results-wrapper")).to_have_count(1)
    expect(page.locator("#queue-table")).to_have_count(1)
    expect(page.locator("#queue-table")).to_contain_text("Rosa Huamán")
    expect(page.locator("#queue-table")).not_to_contain_text("Pedro Soto")
