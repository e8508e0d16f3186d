"""Confirming an order: stock, order, call, timeline and the Kommo update, in one transaction."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from callcenter.models import CallRecord, CatalogProduct, Lead, Order, StockMovement
from callcenter.services import calls as call_services
from crm.models import Interaction
from integrations.models import OutboxMessage
from tests.callcenter.conftest import PIPELINE, SOLD_STATUS, make_lead, make_product
from tests.factories import CustomerFactory, UserFactory


def order(lead, agent, *lines, notes=""):
    return call_services.confirm_order(
        lead=lead,
        agent=agent,
        lines=[call_services.CartLine(product_id=p.pk, quantity=q) for p, q in lines],
        notes=notes,
    )


def test_an_order_takes_the_stock_and_records_everything(held_lead, agente):
    shoes = make_product(stock=5, price="49.90", name="Zapatillas")
    cap = make_product(stock=2, price="15.00", name="Gorra")

    placed = order(held_lead, agente, (shoes, 2), (cap, 1), notes="Entregar de tarde")

    assert placed.total == Decimal("114.80")
    assert [(line.name, line.quantity, line.line_total) for line in placed.lines.all()] == [
        ("Zapatillas", 2, Decimal("99.80")),
        ("Gorra", 1, Decimal("15.00")),
    ]
    assert placed.delivery_address == held_lead.customer.address
    shoes.refresh_from_db()
    cap.refresh_from_db()
    assert (shoes.stock, cap.stock) == (3, 1)
    assert set(placed.stock_movements.values_list("delta", flat=True)) == {-2, -1}
    call = CallRecord.objects.get()
    assert (call.outcome, call.order) == (CallRecord.Outcome.SALE, placed)
    held_lead.refresh_from_db()
    assert not held_lead.in_queue
    assert held_lead.state == Lead.State.SOLD
    assert held_lead.taken_by is None
    assert held_lead.status_id == SOLD_STATUS
    entry = held_lead.customer.interactions.get(kind=Interaction.Kind.CALL)
    assert "Venta confirmada" in entry.summary and "114.80" in entry.summary
    message = OutboxMessage.objects.get()
    assert message.destination == "kommo.update_lead"
    assert message.payload == {
        "lead_id": held_lead.kommo_id,
        "status_id": SOLD_STATUS,
        "pipeline_id": PIPELINE,
    }


def test_more_than_the_stock_is_refused_and_nothing_is_written(held_lead, agente):
    shoes = make_product(stock=5)
    cap = make_product(stock=1, name="Gorra")

    with pytest.raises(ValidationError, match="Stock insuficiente de Gorra: queda 1 y"):
        order(held_lead, agente, (shoes, 2), (cap, 2))

    shoes.refresh_from_db()
    assert shoes.stock == 5
    assert Order.objects.count() == 0
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 0
    assert OutboxMessage.objects.count() == 0
    held_lead.refresh_from_db()
    assert held_lead.in_queue


def test_an_agent_who_does_not_hold_the_lead_cannot_sell_it(held_lead, agente, agente2):
    shoes = make_product(stock=5)
    agente.first_name, agente.last_name = "Ana", "Quispe"
    agente.save()

    with pytest.raises(
        ValidationError,
        match="Ana Quispe atiende este lead: solo quien lo atiende puede registrar el pedido",
    ):
        order(held_lead, agente2, (shoes, 1))


def test_a_free_lead_is_taken_before_its_order(queue_config, agente):
    lead = make_lead(customer=CustomerFactory())

    with pytest.raises(ValidationError, match="Tome el lead antes de registrar el pedido"):
        order(lead, agente, (make_product(stock=5), 1))


def test_a_hold_that_ran_out_is_no_reason_to_name_its_agent(queue_config, agente, agente2):
    expired = timezone.now() - timedelta(minutes=queue_config.take_timeout_minutes + 1)
    lead = make_lead(customer=CustomerFactory(), taken_by=agente2, taken_at=expired)

    with pytest.raises(ValidationError, match="Tome el lead antes de registrar el pedido"):
        order(lead, agente, (make_product(stock=5), 1))


def test_the_customer_data_comes_first(queue_config, agente):
    lead = make_lead(taken_by=agente, taken_at=timezone.now())

    with pytest.raises(ValidationError, match="Confirme los datos"):
        order(lead, agente, (make_product(stock=3), 1))


@pytest.mark.parametrize("quantity", [0, -1])
def test_quantities_must_be_positive(held_lead, agente, quantity):
    with pytest.raises(ValidationError, match="mayores que cero"):
        order(held_lead, agente, (make_product(stock=3), quantity))


def test_an_empty_order_is_refused(held_lead, agente):
    with pytest.raises(ValidationError, match="no tiene productos"):
        order(held_lead, agente)


def test_an_inactive_product_cannot_be_sold(held_lead, agente):
    product = make_product(stock=3)
    CatalogProduct.objects.filter(pk=product.pk).update(is_active=False)

    with pytest.raises(ValidationError, match="ya no está en el catálogo"):
        order(held_lead, agente, (product, 1))


def test_a_line_takes_up_to_the_maximum_quantity_and_no_more(held_lead, agente):
    limit = call_services.MAX_LINE_QUANTITY
    product = make_product(stock=limit + 5, price="1.00")

    placed = order(held_lead, agente, (product, limit))

    assert (placed.lines.get().quantity, placed.total) == (limit, Decimal(limit))


def test_above_the_maximum_quantity_is_refused_even_split_over_two_lines(held_lead, agente):
    limit = call_services.MAX_LINE_QUANTITY
    product = make_product(stock=limit + 5, name="Medias")

    with pytest.raises(ValidationError, match=f"Máximo {limit} unidades de Medias por pedido"):
        order(held_lead, agente, (product, limit - 1), (product, 2))

    product.refresh_from_db()
    assert product.stock == limit + 5
    assert Order.objects.count() == 0


def test_two_lines_of_one_product_become_one_line_with_the_sum(held_lead, agente):
    product = make_product(stock=5, price="33.33")

    placed = order(held_lead, agente, (product, 1), (product, 2))

    line = placed.lines.get()
    assert (line.quantity, line.line_total, placed.total) == (3, Decimal("99.99"), Decimal("99.99"))
    product.refresh_from_db()
    assert product.stock == 2
    assert list(placed.stock_movements.values_list("delta", flat=True)) == [-3]


def test_exactly_the_stock_left_can_be_sold(held_lead, agente):
    product = make_product(stock=3)

    order(held_lead, agente, (product, 3))

    product.refresh_from_db()
    assert product.stock == 0


def test_the_refusal_says_how_many_units_are_left(held_lead, agente):
    product = make_product(stock=2, name="Polo")

    with pytest.raises(
        ValidationError, match="Stock insuficiente de Polo: quedan 2 y el pedido lleva 3"
    ):
        order(held_lead, agente, (product, 3))


def test_products_of_two_currencies_do_not_mix_in_one_order(held_lead, agente):
    soles = make_product(stock=3)
    dollars = make_product(stock=3)
    CatalogProduct.objects.filter(pk=dollars.pk).update(currency="USD")

    with pytest.raises(ValidationError, match="una sola moneda"):
        order(held_lead, agente, (soles, 1), (dollars, 1))

    assert Order.objects.count() == 0
    soles.refresh_from_db()
    assert soles.stock == 3


def test_the_order_is_in_the_products_currency(held_lead, agente):
    dollars = make_product(stock=3)
    CatalogProduct.objects.filter(pk=dollars.pk).update(currency="USD")

    assert order(held_lead, agente, (dollars, 1)).currency == "USD"


def test_delivery_data_come_from_the_customer_first(held_lead, agente):
    held_lead.customer.city = "Arequipa"
    held_lead.customer.save(update_fields=["city"])
    Lead.objects.filter(pk=held_lead.pk).update(
        address="Jr. Lampa 55", city="Lima", phone="+51911111111"
    )
    held_lead.refresh_from_db()

    placed = order(held_lead, agente, (make_product(stock=1), 1))

    assert (
        placed.delivery_name,
        placed.delivery_phone,
        placed.delivery_address,
        placed.delivery_city,
    ) == (held_lead.customer.full_name, "+51987654321", "Av. Arequipa 1234", "Arequipa")


def test_delivery_data_the_customer_lacks_come_from_the_lead(queue_config, agente):
    customer = CustomerFactory(phone="", address="", city="")
    lead = make_lead(
        taken_by=agente,
        taken_at=timezone.now(),
        customer=customer,
        phone="+51922222222",
        address="Jr. Lampa 55",
        city="Lima",
    )

    placed = order(lead, agente, (make_product(stock=1), 1))

    assert (placed.delivery_phone, placed.delivery_address, placed.delivery_city) == (
        "+51922222222",
        "Jr. Lampa 55",
        "Lima",
    )


def test_a_lead_with_a_suggested_customer_waits_for_the_agents_confirmation(queue_config, agente):
    suggested = CustomerFactory()
    lead = make_lead(taken_by=agente, taken_at=timezone.now(), suggested_customer=suggested)

    with pytest.raises(ValidationError, match="Confirme antes si la persona es el cliente"):
        order(lead, agente, (make_product(stock=1), 1))

    assert Order.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_twenty_agents_racing_for_five_units_sell_exactly_five(roles, queue_config):
    """20 threads, each its own agent and lead and database connection, one unit each."""
    product = make_product(stock=5, name="Última edición")
    sellers = []
    for n in range(20):
        agent = UserFactory(username=f"racer{n}", role="Agente call center")
        lead = make_lead(taken_by=agent, taken_at=timezone.now(), customer=CustomerFactory())
        sellers.append((agent, lead))
    start = threading.Barrier(len(sellers))
    sold, refused, errors = [], [], []

    def sell(agent, lead):
        try:
            start.wait(timeout=30)
            order(lead, agent, (product, 1))
            sold.append(lead.pk)
        except ValidationError as exc:
            refused.append(" ".join(exc.messages))
        except Exception as exc:  # a deadlock or a lock timeout would land here
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=sell, args=seller) for seller in sellers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert (len(sold), len(refused)) == (5, 15)
    assert all("Stock insuficiente" in message for message in refused)
    product.refresh_from_db()
    assert product.stock == 0
    assert Order.objects.count() == 5
    assert product.movements.aggregate(total=Sum("delta"))["total"] == 0
    assert OutboxMessage.objects.count() == 5
    assert Lead.objects.filter(pk__in=sold, state=Lead.State.SOLD).count() == 5


def test_a_product_switched_off_is_named_when_the_order_is_refused(held_lead, agente):
    product = make_product(stock=3, name="Reloj clásico acero")
    CatalogProduct.objects.filter(pk=product.pk).update(is_active=False)

    with pytest.raises(ValidationError, match="Reloj clásico acero ya no está en el catálogo"):
        order(held_lead, agente, (make_product(stock=3), 1), (product, 1))
