"""Annulling an order confirmed by mistake: stock back, timeline, Kommo, who may, and when."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from callcenter.models import Lead, Order, QueueSettings, StockMovement
from callcenter.services import calls as call_services
from callcenter.services import orders as order_services
from crm.models import Interaction
from integrations.models import OutboxMessage
from tests.callcenter.conftest import (
    PIPELINE,
    QUEUE_STATUS,
    SOLD_STATUS,
    make_lead,
    make_product,
)
from tests.callcenter.files import ledger_mismatches
from tests.callcenter.html import elements, read
from tests.factories import CustomerFactory, UserFactory
from tests.races import at_once

Kommo = order_services.KommoAfterAnnulment


def sell(lead, agent, *lines) -> Order:
    return call_services.confirm_order(
        lead=lead,
        agent=agent,
        lines=[call_services.CartLine(product_id=p.pk, quantity=q) for p, q in lines],
    )


def may_annul_orders(user):
    """Give the user the permission supervisors have (crm.roles: callcenter.annul_order)."""
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="callcenter", codename="annul_order")
    )
    return user


@pytest.fixture
def jefa(db):
    return may_annul_orders(
        UserFactory(username="jefa", first_name="Carla", last_name="Soto", role="Supervisor")
    )


@pytest.fixture
def shoes(db):
    return make_product(stock=5, price="49.90", name="Zapatillas")


@pytest.fixture
def cap(db):
    return make_product(stock=2, price="15.00", name="Gorra")


@pytest.fixture
def sold(held_lead, agente, shoes, cap) -> Order:
    return sell(held_lead, agente, (shoes, 2), (cap, 1))


def sale_reached_kommo(order: Order) -> None:
    OutboxMessage.objects.filter(dedupe_key=order.call.kommo_dedupe_key).update(
        status=OutboxMessage.Status.SENT
    )


def annul(order, actor, reason="El cliente no pidió la gorra"):
    return order_services.annul_order(order=order, actor=actor, reason=reason)


# --- the service ------------------------------------------------------------------------


def test_annulling_gives_each_lines_units_back_as_movements_of_their_own(sold, jefa, shoes, cap):
    done = annul(sold, jefa)

    shoes.refresh_from_db()
    cap.refresh_from_db()
    assert (shoes.stock, cap.stock) == (5, 2)
    assert done.units == 3
    back = sold.stock_movements.filter(reason=StockMovement.Reason.ANNULMENT)
    assert sorted((m.product_id, m.delta, m.actor) for m in back) == [
        (shoes.pk, 2, jefa),
        (cap.pk, 1, jefa),
    ]
    assert ledger_mismatches() == []


def test_the_order_is_annulled_with_who_when_and_why(sold, jefa):
    annul(sold, jefa, reason="  Pedido   duplicado ")

    sold.refresh_from_db()
    assert sold.status == Order.Status.ANNULLED
    assert sold.annulled_by == jefa
    assert sold.annulled_at is not None
    assert sold.annul_reason == "Pedido duplicado"


def test_the_customers_timeline_says_who_annulled_it_and_why(sold, jefa):
    annul(sold, jefa, reason="Pedido duplicado")

    entry = sold.customer.interactions.order_by("-pk").first()
    assert entry.kind == Interaction.Kind.SYSTEM
    assert entry.actor == jefa
    assert f"Pedido {sold.pk} anulado por Carla Soto" in entry.summary
    assert "Pedido duplicado" in entry.summary
    assert "2 × Zapatillas, 1 × Gorra" in entry.summary
    assert entry.payload["motivo"] == "Pedido duplicado"


def test_the_lead_no_longer_says_its_sale_is_confirmed(sold, jefa, held_lead):
    annul(sold, jefa)

    held_lead.refresh_from_db()
    assert held_lead.state == Lead.State.ORDER_ANNULLED


def test_a_reason_is_required(sold, jefa, shoes):
    with pytest.raises(ValidationError) as refused:
        annul(sold, jefa, reason="   ")

    assert refused.value.message_dict == {"reason": ["Indique por qué se anula el pedido."]}
    sold.refresh_from_db()
    shoes.refresh_from_db()
    assert (sold.status, shoes.stock) == (Order.Status.CONFIRMED, 3)


def test_a_dispatched_order_is_refused_and_nothing_changes(sold, jefa, shoes):
    Order.objects.filter(pk=sold.pk).update(status=Order.Status.DISPATCHED)

    with pytest.raises(ValidationError) as refused:
        annul(sold, jefa)

    assert refused.value.messages == [
        f"El pedido {sold.pk} ya fue despachado: un pedido despachado no se puede anular."
    ]
    shoes.refresh_from_db()
    assert shoes.stock == 3
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.ANNULMENT).exists()


def test_an_annulled_order_is_not_annulled_twice(sold, jefa, shoes):
    annul(sold, jefa)

    with pytest.raises(ValidationError) as refused:
        annul(sold, jefa)

    assert f"El pedido {sold.pk} ya fue anulado el " in refused.value.messages[0]
    assert "por Carla Soto" in refused.value.messages[0]
    shoes.refresh_from_db()
    assert shoes.stock == 5


def test_the_agent_who_sold_it_may_annul_it_for_30_minutes(sold, agente):
    annul(sold, agente)

    sold.refresh_from_db()
    assert sold.status == Order.Status.ANNULLED


def test_after_30_minutes_only_a_supervisor_may_annul_it(sold, agente, jefa):
    Order.objects.filter(pk=sold.pk).update(created_at=timezone.now() - timedelta(minutes=31))
    sold.refresh_from_db()

    with pytest.raises(ValidationError) as refused:
        annul(sold, agente)
    annul(sold, jefa)

    assert refused.value.messages == [
        f"Pasaron más de 30 minutos desde que confirmó el pedido {sold.pk}: ahora solo un "
        "supervisor puede anularlo."
    ]
    sold.refresh_from_db()
    assert sold.annulled_by == jefa


def test_another_agent_may_not_annul_it(sold, agente2):
    with pytest.raises(PermissionDenied):
        annul(sold, agente2)

    sold.refresh_from_db()
    assert sold.status == Order.Status.CONFIRMED


# --- Kommo ------------------------------------------------------------------------------


def test_kommo_gets_the_lead_back_in_the_stage_it_had_before_the_sale(sold, jefa, held_lead):
    sale_reached_kommo(sold)

    done = annul(sold, jefa)

    assert (done.kommo, done.kommo_status_id) == (Kommo.MOVED_BACK, QUEUE_STATUS)
    move = OutboxMessage.objects.get(dedupe_key=sold.kommo_annulment_key)
    assert move.destination == "kommo.update_lead"
    assert move.payload == {
        "lead_id": held_lead.kommo_id,
        "status_id": QUEUE_STATUS,
        "pipeline_id": PIPELINE,
    }
    held_lead.refresh_from_db()
    assert held_lead.status_id == QUEUE_STATUS


def test_a_lead_kommo_moved_since_the_sale_stays_where_it_is(sold, jefa, held_lead):
    sale_reached_kommo(sold)
    Lead.objects.filter(pk=held_lead.pk).update(status_id=142)

    done = annul(sold, jefa)

    assert (done.kommo, done.kommo_status_id) == (Kommo.LEFT, 142)
    assert not OutboxMessage.objects.filter(dedupe_key=sold.kommo_annulment_key).exists()


def test_an_order_from_before_the_stage_was_kept_leaves_kommo_alone(sold, jefa):
    sale_reached_kommo(sold)
    Order.objects.filter(pk=sold.pk).update(kommo_status_before=None, kommo_pipeline_before=None)

    done = annul(sold, jefa)

    assert (done.kommo, done.kommo_status_id) == (Kommo.LEFT, SOLD_STATUS)
    assert OutboxMessage.objects.count() == 1  # the sale's


def test_a_sale_change_still_on_its_way_to_kommo_is_not_raced(sold, jefa):
    # The outbox keeps no order between messages: the move back could arrive first.
    done = annul(sold, jefa)

    assert done.kommo == Kommo.LEFT
    assert OutboxMessage.objects.count() == 1


def test_a_sale_that_never_reached_kommo_has_nothing_to_undo_there(sold, jefa):
    OutboxMessage.objects.update(status=OutboxMessage.Status.FAILED)

    done = annul(sold, jefa)

    assert done.kommo == Kommo.SALE_NEVER_SENT
    assert OutboxMessage.objects.count() == 1


def test_a_sale_that_moved_nothing_in_kommo_moves_nothing_back(held_lead, agente, jefa, shoes):
    QueueSettings.objects.filter(pk=1).update(sold_status_id=None)
    order = sell(held_lead, agente, (shoes, 1))

    done = annul(order, jefa)

    assert done.kommo == Kommo.UNTOUCHED
    assert not OutboxMessage.objects.exists()


# --- two at once ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_annulments_at_once_give_the_stock_back_once(roles, queue_config):
    agent = UserFactory(username="vendedora", role="Agente call center")
    boss = may_annul_orders(UserFactory(username="jefe", role="Supervisor"))
    product = make_product(stock=4, name="Licuadora")
    lead = make_lead(taken_by=agent, taken_at=timezone.now(), customer=CustomerFactory())
    order = sell(lead, agent, (product, 3))

    done, errors = at_once(
        lambda: annul(Order.objects.get(pk=order.pk), boss, "Duplicado"),
        lambda: annul(Order.objects.get(pk=order.pk), agent, "Me equivoqué"),
    )

    assert len(done) == 1
    assert len(errors) == 1 and "ya fue anulado" in errors[0]
    product.refresh_from_db()
    assert product.stock == 4
    assert StockMovement.objects.filter(reason=StockMovement.Reason.ANNULMENT).count() == 1
    assert ledger_mismatches() == []


# --- the screens ------------------------------------------------------------------------


def annul_url(order: Order) -> str:
    return reverse("callcenter:order_annul", args=[order.pk])


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_lead_page_offers_the_annulment_to_the_agent_who_sold_it(client, agente, sold):
    client.force_login(agente)

    page = client.get(sold.lead.get_absolute_url()).content.decode()

    assert f'href="{annul_url(sold)}"' in page
    assert "Anular pedido" in page


def test_past_30_minutes_the_agent_is_offered_nothing(client, agente, sold):
    Order.objects.filter(pk=sold.pk).update(created_at=timezone.now() - timedelta(hours=1))
    client.force_login(agente)

    page = client.get(sold.lead.get_absolute_url()).content.decode()

    assert f"Pedido {sold.pk}" in page
    assert annul_url(sold) not in page


def test_the_confirmation_page_asks_the_reason_and_annuls_nothing(client, jefa, sold, shoes):
    client.force_login(jefa)

    response = client.get(annul_url(sold))

    page = response.content.decode()
    assert response.status_code == 200
    assert f"¿Anular el pedido {sold.pk} por" in page
    assert "2 × Zapatillas vuelven al stock." in page
    assert "1 × Gorra vuelve al stock." in page
    assert read(page).inputs["confirm"] == "yes"
    assert "id_reason" in elements(page)
    sold.refresh_from_db()
    assert sold.status == Order.Status.CONFIRMED


def test_a_post_without_the_confirmation_only_shows_the_page_again(client, jefa, sold):
    client.force_login(jefa)

    response = client.post(annul_url(sold), {"reason": "Duplicado"})

    assert response.status_code == 200
    assert "Sí, anular el pedido" in response.content.decode()
    sold.refresh_from_db()
    assert sold.status == Order.Status.CONFIRMED


def test_a_confirmation_without_a_reason_says_so_next_to_the_box(client, jefa, sold):
    client.force_login(jefa)

    response = client.post(annul_url(sold), {"reason": "", "confirm": "yes"})

    assert "Indique por qué se anula el pedido." in response.content.decode()
    sold.refresh_from_db()
    assert sold.status == Order.Status.CONFIRMED


def test_the_confirmed_annulment_says_what_happened_and_what_kommo_needs(client, jefa, sold, shoes):
    client.force_login(jefa)

    response = client.post(annul_url(sold), {"reason": "Duplicado", "confirm": "yes"})

    assert response.status_code == 302
    assert response.url == sold.lead.get_absolute_url()
    assert said(response) == [
        f"Pedido {sold.pk} anulado: 3 unidades vuelven al stock.",
        "En Kommo el lead sigue en la etapa «Venta Confirmada»: muévalo a mano.",
    ]
    shoes.refresh_from_db()
    assert shoes.stock == 5


def test_the_moved_back_lead_is_reported_as_the_outbox_has_it(client, jefa, sold, settings):
    settings.KOMMO_TOKEN = "token-de-larga-duracion"
    sale_reached_kommo(sold)
    client.force_login(jefa)

    response = client.post(annul_url(sold), {"reason": "Duplicado", "confirm": "yes"})

    assert said(response)[1:] == [
        "En Kommo el lead vuelve a la etapa «Para Llamar», donde estaba antes de la venta.",
        "Cambio de etapa en cola para Kommo.",
    ]


def test_the_lead_page_shows_the_order_annulled_with_who_and_why(client, jefa, sold):
    annul(sold, jefa, reason="Duplicado")
    client.force_login(jefa)

    page = client.get(sold.lead.get_absolute_url()).content.decode()

    assert "Anulado" in page
    assert "por Carla Soto: Duplicado" in page
    assert annul_url(sold) not in page


def test_a_dispatched_order_is_refused_on_the_screen_too(client, jefa, sold):
    Order.objects.filter(pk=sold.pk).update(status=Order.Status.DISPATCHED)
    client.force_login(jefa)

    response = client.get(annul_url(sold))

    assert response.status_code == 302
    assert said(response) == [
        f"El pedido {sold.pk} ya fue despachado: un pedido despachado no se puede anular."
    ]


def test_another_agent_gets_403(client, agente2, sold):
    client.force_login(agente2)

    assert client.get(annul_url(sold)).status_code == 403
    assert client.post(annul_url(sold), {"reason": "x", "confirm": "yes"}).status_code == 403
    sold.refresh_from_db()
    assert sold.status == Order.Status.CONFIRMED


def test_someone_outside_the_call_center_gets_403(client, asesor, sold):
    client.force_login(asesor)

    assert client.get(annul_url(sold)).status_code == 403


def test_supervisors_may_annul_orders_and_agents_may_not(supervisor, agente):
    assert supervisor.has_perm("callcenter.annul_order")
    assert not agente.has_perm("callcenter.annul_order")
