"""People by their full name and counts in the right number, across the call center."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from callcenter.catalog import services as catalog_services
from callcenter.filters import LeadQueueFilter
from callcenter.models import CallRecord, Lead
from callcenter.services import calls as call_services
from tests.callcenter.conftest import make_lead, make_product
from tests.factories import UserFactory


def test_the_queues_agent_filter_names_agents_by_full_name(agente2, queue_config):
    UserFactory(username="mtorres", first_name="", last_name="", role="Agente call center")

    labels = dict(LeadQueueFilter(queryset=Lead.objects.all()).filters["agent"].extra["choices"])

    assert labels[str(agente2.pk)] == "Luis Ramos"
    assert "mtorres" in labels.values()  # nobody's name on file: the username, not a blank


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:callcenter_callrecord_changelist",
        "admin:callcenter_order_changelist",
        "admin:callcenter_lead_changelist",
    ],
)
def test_the_admin_lists_show_agents_by_full_name(admin_client, agente2, held_lead, url_name):
    product = make_product(stock=2)
    other = make_lead(taken_by=agente2, taken_at=timezone.now(), customer=held_lead.customer)
    call_services.confirm_order(
        lead=other, agent=agente2, lines=[call_services.CartLine(product.pk, 1)]
    )
    make_lead(taken_by=agente2, taken_at=timezone.now())

    page = admin_client.get(reverse(url_name)).content.decode()

    assert "Luis Ramos" in page
    assert "agente2" not in page


def test_the_cart_says_one_unit_in_the_singular(client, agente, held_lead):
    product = make_product(stock=1, name="Mochila de viaje")
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:cart_add", args=[held_lead.pk]),
        {"product": product.pk, "quantity": 2},
        headers={"HX-Request": "true"},
    )

    assert "Solo hay 1 unidad de Mochila de viaje; el pedido llevaría 2." in (
        response.content.decode()
    )


def test_a_short_cart_line_says_how_many_are_left_in_the_singular(client, agente, held_lead):
    product = make_product(stock=2, name="Mochila de viaje")
    client.force_login(agente)
    client.post(
        reverse("callcenter:cart_add", args=[held_lead.pk]), {"product": product.pk, "quantity": 2}
    )
    type(product).objects.filter(pk=product.pk).update(stock=1)

    page = client.get(held_lead.get_absolute_url()).content.decode()

    assert "solo queda 1" in page


@pytest.mark.django_db
def test_a_stock_adjustment_that_would_go_negative_says_one_unit_in_the_singular():
    product = make_product(stock=1, name="Mochila de viaje", sku="MOC-VIA-02")

    with pytest.raises(ValidationError) as refused:
        catalog_services.adjust_stock(product=product, delta=-2, note="Merma", actor=None)

    assert refused.value.messages == [
        "El stock de Mochila de viaje (MOC-VIA-02) quedaría negativo: hay 1 unidad."
    ]


def test_the_admin_says_one_unit_in_the_singular_after_an_adjustment(admin_client, db):
    product = make_product(stock=3, name="Mochila de viaje", sku="MOC-VIA-02")

    response = admin_client.post(
        reverse("admin:callcenter_catalogproduct_adjust_stock", args=[product.pk]),
        {"delta": -2, "note": "Merma"},
        follow=True,
    )

    assert "ahora hay 1 unidad." in response.content.decode()


def test_taking_a_held_lead_names_the_holder_by_full_name(agente, agente2, queue_config):
    lead = make_lead(taken_by=agente2, taken_at=timezone.now())

    with pytest.raises(ValidationError, match="Luis Ramos ya está atendiendo este lead"):
        call_services.take_lead(lead=lead, agent=agente)


def test_a_release_by_a_supervisor_names_both_people_on_the_timeline(
    supervisor, agente2, held_lead
):
    supervisor.first_name, supervisor.last_name = "Marta", "Salas"
    supervisor.save()
    type(held_lead).objects.filter(pk=held_lead.pk).update(taken_by=agente2)

    call_services.release_lead(lead=held_lead, actor=supervisor)

    assert held_lead.customer.interactions.filter(
        summary="Lead liberado por Marta Salas (lo atendía Luis Ramos)."
    ).exists()
    assert CallRecord.objects.count() == 0


@pytest.mark.django_db
def test_stock_messages_write_thousands_with_separators():
    product = make_product(stock=12_500, name="Mochila de viaje", sku="MOC-VIA-02")

    with pytest.raises(ValidationError) as refused:
        catalog_services.adjust_stock(product=product, delta=-20_000, note="Merma", actor=None)

    assert refused.value.messages == [
        "El stock de Mochila de viaje (MOC-VIA-02) quedaría negativo: hay 12,500 unidades."
    ]


def test_the_admin_writes_the_adjusted_stock_with_separators(admin_client, db):
    product = make_product(stock=12_000, name="Mochila de viaje", sku="MOC-VIA-02")

    response = admin_client.post(
        reverse("admin:callcenter_catalogproduct_adjust_stock", args=[product.pk]),
        {"delta": 500, "note": "Llegó mercadería"},
        follow=True,
    )

    assert "ahora hay 12,500 unidades." in response.content.decode()
