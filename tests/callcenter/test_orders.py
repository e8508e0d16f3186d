"""Confirming an order: stock, order, call, timeline and the Kommo update, in one transaction."""

import threading
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


def test_an_agent_who_does_not_hold_the_lead_cannot_sell_it(held_lead, agente2):
    shoes = make_product(stock=5)

    with pytest.raises(ValidationError, match="Tome el lead"):
        order(held_lead, agente2, (shoes, 1))


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
