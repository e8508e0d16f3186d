"""An order is confirmed at the prices the agent was shown (and told the person on the
phone): a price or currency changed in the catalog since is refused, naming it, and the
cart then shows the new price for the agent to confirm again."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from callcenter.models import CatalogProduct, Lead, Order, StockMovement
from callcenter.services import calls as call_services
from tests.callcenter.conftest import make_product

HTMX = {"HX-Request": "true"}


def add(client, lead, product, quantity=1):
    client.post(
        reverse("callcenter:cart_add", args=[lead.pk]),
        {"product": product.pk, "quantity": quantity},
        headers=HTMX,
    )


def confirm(client, lead):
    """Confirm the cart's order; return what the agent was told."""
    response = client.post(reverse("callcenter:order_confirm", args=[lead.pk]), {"notes": ""})
    return response, [str(m) for m in get_messages(response.wsgi_request)]


def cart_of(client, lead) -> str:
    """Return the cart as the call page shows it."""
    page = client.get(lead.get_absolute_url()).content.decode()
    return page[page.index('id="cart"') :].split('id="order-form"', 1)[0]


def assert_nothing_sold(*products_and_stock):
    assert not Order.objects.exists()
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.SALE).exists()
    for product, stock in products_and_stock:
        product.refresh_from_db()
        assert product.stock == stock


def test_a_price_raised_after_the_agent_added_it_is_refused_then_sold_at_the_new_one(
    client, agente, held_lead
):
    watch = make_product(stock=5, price="49.90", name="Reloj clásico acero")
    client.force_login(agente)
    add(client, held_lead, watch, 2)
    CatalogProduct.objects.filter(pk=watch.pk).update(price=Decimal("59.90"))

    response, said = confirm(client, held_lead)

    assert response.status_code == 302 and response["Location"] == held_lead.get_absolute_url()
    assert said == [
        "El precio de Reloj clásico acero cambió de S/ 49.90 a S/ 59.90 desde que lo agregó. "
        "Revise el pedido con el cliente y confírmelo de nuevo."
    ]
    assert_nothing_sold((watch, 5))
    assert Lead.objects.get(pk=held_lead.pk).in_queue
    # The cart now shows the price the order would be confirmed at.
    cart = cart_of(client, held_lead)
    assert "2 × 59.90" in cart and "S/ 119.80" in cart
    assert "el precio cambió" not in cart

    response, said = confirm(client, held_lead)

    assert response["Location"] == reverse("callcenter:queue")
    placed = Order.objects.get()
    assert placed.total == Decimal("119.80")
    assert placed.lines.get().unit_price == Decimal("59.90")
    watch.refresh_from_db()
    assert watch.stock == 3


def test_a_price_lowered_is_refused_too_the_agent_quoted_more(client, agente, held_lead):
    towels = make_product(stock=4, price="89.00", name="Set de toallas (4)")
    client.force_login(agente)
    add(client, held_lead, towels)
    CatalogProduct.objects.filter(pk=towels.pk).update(price=Decimal("79.00"))

    _response, said = confirm(client, held_lead)

    assert said == [
        "El precio de Set de toallas (4) cambió de S/ 89.00 a S/ 79.00 desde que lo agregó. "
        "Revise el pedido con el cliente y confírmelo de nuevo."
    ]
    assert_nothing_sold((towels, 4))


def test_the_cart_says_a_price_changed_before_the_agent_confirms(client, agente, held_lead):
    watch = make_product(stock=5, price="49.90", name="Reloj clásico acero")
    client.force_login(agente)
    add(client, held_lead, watch)
    CatalogProduct.objects.filter(pk=watch.pk).update(price=Decimal("59.90"))

    cart = cart_of(client, held_lead)

    # What the person was told, and what it is now.
    assert "1 × 49.90" in cart
    assert "el precio cambió: ahora S/ 59.90" in cart


def test_more_units_of_a_line_keep_the_price_the_person_was_told(client, agente, held_lead):
    watch = make_product(stock=5, price="49.90", name="Reloj clásico acero")
    client.force_login(agente)
    add(client, held_lead, watch)
    CatalogProduct.objects.filter(pk=watch.pk).update(price=Decimal("59.90"))
    add(client, held_lead, watch)

    _response, said = confirm(client, held_lead)

    assert "cambió de S/ 49.90 a S/ 59.90" in said[0]
    assert_nothing_sold((watch, 5))


def test_a_product_switched_to_another_currency_is_flagged_and_refused(client, agente, held_lead):
    shoes = make_product(stock=5, price="100.00", name="Zapatillas Runner")
    watch = make_product(stock=5, price="30.00", name="Reloj clásico acero")
    client.force_login(agente)
    add(client, held_lead, shoes)
    add(client, held_lead, watch)
    CatalogProduct.objects.filter(pk=watch.pk).update(currency="USD")

    cart = cart_of(client, held_lead)

    assert "ahora está en US$ y el pedido en S/: quítelo del pedido" in cart
    # Soles are not added to dollars: the total is what the person was told, in soles.
    assert 'id="cart-total">S/ 130.00<' in cart

    _response, said = confirm(client, held_lead)

    assert said == [
        "Reloj clásico acero ahora está en US$ y el pedido en S/: un pedido lleva productos "
        "de una sola moneda. Quítelo del pedido."
    ]
    assert_nothing_sold((shoes, 5), (watch, 5))

    # Removed, the rest of the order goes through in soles.
    client.post(reverse("callcenter:cart_remove", args=[held_lead.pk, watch.pk]), headers=HTMX)
    confirm(client, held_lead)
    assert (Order.objects.get().total, Order.objects.get().currency) == (Decimal("100.00"), "PEN")


def test_a_cart_whose_only_product_changed_currency_is_refused_then_sold_in_it(
    client, agente, held_lead
):
    shoes = make_product(stock=5, price="100.00", name="Zapatillas Runner")
    client.force_login(agente)
    add(client, held_lead, shoes)
    CatalogProduct.objects.filter(pk=shoes.pk).update(currency="USD", price=Decimal("27.00"))

    _response, said = confirm(client, held_lead)

    assert said[0].startswith(
        "El precio de Zapatillas Runner cambió de S/ 100.00 a US$ 27.00 desde que lo agregó."
    )
    assert_nothing_sold((shoes, 5))
    confirm(client, held_lead)
    assert (Order.objects.get().total, Order.objects.get().currency) == (Decimal("27.00"), "USD")


def test_the_service_checks_the_price_each_line_was_shown_at(held_lead, agente):
    watch = make_product(stock=5, price="59.90", name="Reloj clásico acero")

    with pytest.raises(call_services.PriceChanged) as refused:
        call_services.confirm_order(
            lead=held_lead,
            agent=agente,
            lines=[call_services.CartLine(watch.pk, 1, Decimal("49.90"), "PEN")],
        )

    assert refused.value.prices == {watch.pk: (Decimal("59.90"), "PEN")}
    assert_nothing_sold((watch, 5))
    placed = call_services.confirm_order(
        lead=held_lead,
        agent=agente,
        lines=[call_services.CartLine(watch.pk, 1, Decimal("59.90"), "PEN")],
    )
    assert placed.total == Decimal("59.90")


def test_a_cart_kept_from_before_prices_were_kept_still_sells(client, agente, held_lead):
    """A cart in a session from before this change has quantities only."""
    watch = make_product(stock=5, price="49.90")
    client.force_login(agente)
    session = client.session
    session[f"callcenter-cart-{held_lead.pk}"] = {str(watch.pk): 2}
    session.save()

    assert "2 × 49.90" in cart_of(client, held_lead)
    confirm(client, held_lead)
    assert Order.objects.get().total == Decimal("99.80")
