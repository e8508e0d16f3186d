"""A tap on a catalog row's «Agregar» is answered in that row, and in the order's summary:
on a phone the cart it updates is screens below the catalog."""

from django.urls import reverse

from tests.callcenter.conftest import make_product

HTMX = {"HX-Request": "true"}


def row_status(page: str, product_id: int) -> str:
    """Return what the answer puts into the row's status (its out-of-band part)."""
    start = page.index(f'<div id="product-status-{product_id}" hx-swap-oob="innerHTML">')
    return page[start:].split("</div>", 1)[0]


def test_the_tapped_row_says_how_many_the_order_now_has(client, agente, held_lead):
    product = make_product(stock=5, name="Funda para celular", price="39.90")
    client.force_login(agente)
    add = reverse("callcenter:cart_add", args=[held_lead.pk])
    client.post(add, {"product": product.pk, "quantity": 1}, headers=HTMX)

    response = client.post(add, {"product": product.pk, "quantity": 2}, headers=HTMX)

    page = response.content.decode()
    assert "Agregado · 3 en el pedido" in row_status(page, product.pk)
    summary = page[page.index('id="cart-summary"') :]
    assert 'hx-swap-oob="true"' in summary.split(">", 1)[0]
    assert "Pedido: 3 productos · S/ 119.70" in summary


def test_the_tapped_row_says_the_stock_refusal(client, agente, held_lead):
    product = make_product(stock=34, name="Set de toallas (4)")
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:cart_add", args=[held_lead.pk]),
        {"product": product.pk, "quantity": 999},
        headers=HTMX,
    )

    status = row_status(response.content.decode(), product.pk)
    assert "Solo hay 34 unidades de Set de toallas (4); el pedido llevaría 999." in status
    assert "Agregado" not in status
    assert f"callcenter-cart-{held_lead.pk}" not in client.session


def test_the_tapped_row_says_a_quantity_that_is_not_a_number(client, agente, held_lead):
    product = make_product(stock=5)
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:cart_add", args=[held_lead.pk]),
        {"product": product.pk, "quantity": "dos"},
        headers=HTMX,
    )

    assert "La cantidad debe ser un número entero." in row_status(
        response.content.decode(), product.pk
    )


def test_every_catalog_row_has_a_status_the_screen_reader_reads(client, agente, held_lead):
    product = make_product(stock=5)
    client.force_login(agente)

    response = client.get(reverse("callcenter:catalog", args=[held_lead.pk]), headers=HTMX)

    page = response.content.decode()
    assert f'id="product-status-{product.pk}" role="status"' in page
    # A second tap while the first is on its way sends nothing: the quantity doubled. The
    # button is not disabled meanwhile (it would lose the keyboard's focus).
    assert 'hx-sync="this:drop"' in page
    assert "hx-disabled-elt" not in page


def test_removing_a_line_updates_the_summary_too(client, agente, held_lead):
    product = make_product(stock=5)
    client.force_login(agente)
    client.post(
        reverse("callcenter:cart_add", args=[held_lead.pk]),
        {"product": product.pk, "quantity": 1},
        headers=HTMX,
    )

    response = client.post(
        reverse("callcenter:cart_remove", args=[held_lead.pk, product.pk]), headers=HTMX
    )

    page = response.content.decode()
    summary = page[page.index('id="cart-summary"') :].split(">", 1)[0]
    assert "d-none" in summary and 'hx-swap-oob="true"' in summary
