"""The queue and call screens: who may open them, and what each action does."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import (
    assertContains,
    assertNotContains,
    assertTemplateNotUsed,
    assertTemplateUsed,
)

from callcenter.models import CallRecord, Lead, Order
from crm import display
from tests.callcenter.conftest import make_lead, make_product
from tests.factories import UserFactory

QUEUE = reverse("callcenter:queue")


@pytest.mark.parametrize("who", ["agente", "supervisor"])
def test_agents_and_supervisors_open_the_queue(client, request, queue_config, who):
    client.force_login(request.getfixturevalue(who))

    assert client.get(QUEUE).status_code == 200


@pytest.mark.parametrize("who", ["asesor", "cobranzas", "outsider"])
def test_other_staff_cannot(client, request, queue_config, who):
    client.force_login(request.getfixturevalue(who))

    assert client.get(QUEUE).status_code == 403


def test_anonymous_users_are_sent_to_sign_in(client, queue_config):
    response = client.get(QUEUE)

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_the_queue_lists_leads_oldest_first_and_shows_who_holds_them(
    client, agente, agente2, queue_config
):
    now = timezone.now()
    newer = make_lead(contact_name="Beatriz Nueva", due_at=now)
    older = make_lead(
        contact_name="Ana Antigua",
        due_at=now - timedelta(hours=2),
        taken_by=agente2,
        taken_at=now,
    )
    make_lead(contact_name="Fuera De Cola", in_queue=False, state=Lead.State.SOLD)
    client.force_login(agente)

    page = client.get(QUEUE).content.decode()

    assert page.index("Ana Antigua") < page.index("Beatriz Nueva")
    assert "Fuera De Cola" not in page
    assert "Luis Ramos" in page  # the holder's name on the row
    take = reverse("callcenter:lead_take", args=[newer.pk])
    assert take in page
    assert reverse("callcenter:lead_take", args=[older.pk]) not in page


def test_search_and_filters_narrow_the_queue(client, agente, queue_config):
    make_lead(contact_name="Rosa Huamán", phone="+51987111222", document_number="45678912")
    make_lead(contact_name="Pedro Soto", phone="+51999888777", source="Facebook")
    client.force_login(agente)

    by_phone = client.get(QUEUE, {"q": "987 111 222"}).content.decode()
    by_document = client.get(QUEUE, {"q": "45678912"}).content.decode()
    by_name = client.get(QUEUE, {"q": "huaman"}).content.decode()
    by_source = client.get(QUEUE, {"source": "Facebook"}).content.decode()
    free = client.get(QUEUE, {"agent": "free", "state": "new"}).content.decode()

    assert "Rosa Huamán" in by_phone and "Pedro Soto" not in by_phone
    assert "Rosa Huamán" in by_document
    assert "Rosa Huamán" in by_name and "Pedro Soto" not in by_name
    assert "Pedro Soto" in by_source and "Rosa Huamán" not in by_source
    assert "Rosa Huamán" in free and "Pedro Soto" in free


def test_the_htmx_refresh_returns_only_the_results(client, agente, queue_config):
    make_lead(contact_name="Rosa Huamán")
    client.force_login(agente)

    response = client.get(QUEUE, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response.templates[0].name == "callcenter/partials/queue_results.html"
    assert 'hx-trigger="every 5s"' in response.content.decode()


def test_the_queue_costs_the_same_queries_for_5_or_25_leads(
    client, agente, queue_config, django_assert_max_num_queries
):
    client.force_login(agente)
    for _ in range(5):
        make_lead()
    client.get(QUEUE)  # warm the session and settings row

    with django_assert_max_num_queries(14) as five:
        client.get(QUEUE)
    for _ in range(20):
        make_lead()
    with django_assert_max_num_queries(len(five.captured_queries)):
        client.get(QUEUE)


def test_taking_a_lead_opens_its_call(client, agente, lead):
    client.force_login(agente)

    response = client.post(reverse("callcenter:lead_take", args=[lead.pk]))

    assert response.status_code == 302
    assert response["Location"] == lead.get_absolute_url()
    page = client.get(lead.get_absolute_url()).content.decode()
    assert "Confirmar datos" in page and "Catálogo" in page


def test_taking_a_held_lead_explains_who_has_it(client, agente, agente2, lead):
    Lead.objects.filter(pk=lead.pk).update(taken_by=agente2, taken_at=timezone.now())
    client.force_login(agente)

    response = client.post(reverse("callcenter:lead_take", args=[lead.pk]), follow=True)

    assert "Luis Ramos ya está atendiendo este lead" in response.content.decode()


def test_a_supervisor_releases_from_the_queue(client, supervisor, held_lead):
    client.force_login(supervisor)

    client.post(reverse("callcenter:lead_release", args=[held_lead.pk]))

    held_lead.refresh_from_db()
    assert held_lead.taken_by is None


def test_a_supervisor_cannot_take_leads(client, supervisor, lead):
    client.force_login(supervisor)

    assert client.post(reverse("callcenter:lead_take", args=[lead.pk])).status_code == 403


def test_the_agent_corrects_the_phone_and_the_crm_customer_follows(client, agente, held_lead):
    client.force_login(agente)
    customer = held_lead.customer
    data = {
        "contact-document_type": customer.document_type,
        "contact-document_number": customer.document_number,
        "contact-first_name": customer.first_name,
        "contact-last_name": customer.last_name,
        "contact-phone": "912 345 678",
        "contact-address": "Jr. Cusco 55",
        "contact-city": "Lima",
    }

    response = client.post(reverse("callcenter:lead_contact", args=[held_lead.pk]), data)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert str(customer.phone) == "+51912345678"
    assert customer.address == "Jr. Cusco 55"
    assert customer.interactions.filter(summary__startswith="Datos actualizados").exists()


def test_required_contact_fields_are_explained_in_spanish(client, agente, held_lead):
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:lead_contact", args=[held_lead.pk]),
        {"contact-document_type": "dni", "contact-document_number": "123"},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Ingrese el celular." in page
    assert "Ingrese la dirección de entrega." in page
    assert "El DNI debe tener exactamente 8 dígitos." in page


def test_the_catalog_shows_live_stock_and_the_cart_refuses_more(client, agente, held_lead):
    product = make_product(stock=2, name="Zapatillas Runner", sku="ZAP-001")
    client.force_login(agente)

    found = client.get(reverse("callcenter:catalog", args=[held_lead.pk]), {"q": "zap-001"})
    assert "Zapatillas Runner" in found.content.decode()
    add = reverse("callcenter:cart_add", args=[held_lead.pk])
    too_many = client.post(
        add, {"product": product.pk, "quantity": 3}, headers={"HX-Request": "true"}
    )
    assert "Solo hay 2 unidades de Zapatillas Runner" in too_many.content.decode()
    ok = client.post(add, {"product": product.pk, "quantity": 2}, headers={"HX-Request": "true"})
    assert "Confirmar pedido" in ok.content.decode()


def test_confirming_the_cart_places_the_order_and_returns_to_the_queue(client, agente, held_lead):
    product = make_product(stock=2)
    client.force_login(agente)
    client.post(
        reverse("callcenter:cart_add", args=[held_lead.pk]), {"product": product.pk, "quantity": 1}
    )

    response = client.post(reverse("callcenter:order_confirm", args=[held_lead.pk]), {"notes": ""})

    assert response.status_code == 302 and response["Location"] == QUEUE
    assert Order.objects.get().lines.get().product == product
    queue = client.get(QUEUE).content.decode()
    order = Order.objects.get()
    total = display.money_text(order.total, order.currency)
    assert f"Pedido {order.pk} confirmado por {total}." in queue
    assert total.startswith("S/ ")


def test_recording_a_call_back_needs_its_time(client, agente, held_lead):
    client.force_login(agente)
    url = reverse("callcenter:lead_outcome", args=[held_lead.pk])

    refused = client.post(url, {"outcome-outcome": "callback"})
    when = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    accepted = client.post(url, {"outcome-outcome": "callback", "outcome-callback_at": when})

    assert "Indique cuándo volver a llamar." in refused.content.decode()
    assert accepted.status_code == 302
    assert CallRecord.objects.get().outcome == CallRecord.Outcome.CALLBACK


def test_the_call_page_costs_the_same_queries_with_1_or_6_calls(
    client, agente, held_lead, django_assert_max_num_queries
):
    client.force_login(agente)
    CallRecord.objects.create(lead=held_lead, agent=agente, outcome=CallRecord.Outcome.NO_ANSWER)
    client.get(held_lead.get_absolute_url())  # warm the session and settings row
    with django_assert_max_num_queries(30) as one:
        client.get(held_lead.get_absolute_url())
    for _ in range(5):
        CallRecord.objects.create(
            lead=held_lead, agent=agente, outcome=CallRecord.Outcome.NO_ANSWER
        )

    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(held_lead.get_absolute_url())


def test_the_agent_filter_is_read_from_the_cache_and_shows_a_new_agent_at_once(
    client, agente, queue_config
):
    client.force_login(agente)
    client.get(reverse("callcenter:queue"))

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("callcenter:queue"))
    newcomer = UserFactory(first_name="Nadia", last_name="Nueva", role="Agente call center")
    after = client.get(reverse("callcenter:queue"))

    assert not [q for q in queries if "auth_user_groups" in q["sql"]]  # no agents query
    assertContains(after, f'<option value="{newcomer.pk}">Nadia Nueva</option>', html=True)


def test_the_queue_counts_up_to_its_cap_and_then_says_more_than(
    client, agente, queue_config, monkeypatch
):
    from callcenter import views

    monkeypatch.setattr(views, "QUEUE_COUNT_CAP", 2)
    for name in ("Ana", "Beto", "Carla"):
        make_lead(contact_name=name)
    client.force_login(agente)

    over = " ".join(client.get(QUEUE).content.decode().split())
    under = " ".join(client.get(QUEUE, {"q": "ana"}).content.decode().split())

    assert "Más de 2 leads por llamar" in over
    assert "1 lead por llamar" in under and "Más de" not in under


@pytest.mark.parametrize("when", ["9999-12-31T23:59", "2999-01-01T10:00"])
def test_a_call_back_years_ahead_is_refused_on_the_form(client, agente, held_lead, when):
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:lead_outcome", args=[held_lead.pk]),
        {"outcome-outcome": "callback", "outcome-callback_at": when},
    )

    assert response.status_code == 200
    assertContains(response, "Puede volver a llamar hasta el")
    assertContains(response, "(90 días desde hoy)")
    assert not CallRecord.objects.exists()


def test_a_call_back_time_already_past_is_refused_on_the_form(client, agente, held_lead):
    client.force_login(agente)
    when = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(
        reverse("callcenter:lead_outcome", args=[held_lead.pk]),
        {"outcome-outcome": "callback", "outcome-callback_at": when},
    )

    assertContains(response, "La hora para volver a llamar ya pasó")
    assert not CallRecord.objects.exists()


def test_releasing_a_lead_already_free_says_there_was_nothing_to_release(client, agente, lead):
    client.force_login(agente)

    response = client.post(reverse("callcenter:lead_release", args=[lead.pk]), follow=True)

    page = response.content.decode()
    assert "Este lead ya estaba libre; no había nada que liberar." in page
    assert "Lead liberado" not in page


def test_releasing_a_lead_another_agent_took_since_names_them(client, agente, agente2, lead):
    Lead.objects.filter(pk=lead.pk).update(taken_by=agente2, taken_at=timezone.now())
    client.force_login(agente)

    response = client.post(reverse("callcenter:lead_release", args=[lead.pk]), follow=True)

    page = response.content.decode()
    assert "Luis Ramos atiende este lead" in page
    assert "Lead liberado" not in page
    lead.refresh_from_db()
    assert lead.taken_by == agente2


def test_a_supervisor_is_told_whose_lead_they_released(client, supervisor, held_lead, agente):
    agente.first_name, agente.last_name = "Ana", "Quispe"
    agente.save()
    client.force_login(supervisor)

    response = client.post(reverse("callcenter:lead_release", args=[held_lead.pk]), follow=True)

    assert "Lead liberado: lo atendía Ana Quispe;" in response.content.decode()


def test_a_lead_another_agent_holds_takes_nothing_into_the_cart(client, agente, agente2, lead):
    Lead.objects.filter(pk=lead.pk).update(taken_by=agente2, taken_at=timezone.now())
    product = make_product(stock=5)
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:cart_add", args=[lead.pk]),
        {"product": product.pk, "quantity": 1},
        headers={"HX-Request": "true"},
    )

    # The page is reloaded whole: it says who holds the lead, and has no cart to confirm.
    assert response["HX-Redirect"] == lead.get_absolute_url()
    assert f"callcenter-cart-{lead.pk}" not in client.session
    page = client.get(lead.get_absolute_url()).content.decode()
    assert (
        "Luis Ramos atiende este lead: solo quien lo atiende puede agregar productos al pedido."
        in page
    )
    assert "Confirmar pedido" not in page


def test_a_free_lead_takes_nothing_into_the_cart_without_javascript_either(client, agente, lead):
    product = make_product(stock=5)
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:cart_add", args=[lead.pk]),
        {"product": product.pk, "quantity": 1},
        follow=True,
    )

    assert "Tome el lead antes de agregar productos al pedido." in response.content.decode()
    assert f"callcenter-cart-{lead.pk}" not in client.session


def test_an_order_on_a_lead_another_agent_took_says_so_and_who(client, agente, agente2, held_lead):
    client.force_login(agente)
    client.post(
        reverse("callcenter:cart_add", args=[held_lead.pk]),
        {"product": make_product(stock=5).pk, "quantity": 1},
    )
    Lead.objects.filter(pk=held_lead.pk).update(taken_by=agente2, taken_at=timezone.now())

    response = client.post(
        reverse("callcenter:order_confirm", args=[held_lead.pk]), {"notes": ""}, follow=True
    )

    page = response.content.decode()
    assert "Luis Ramos atiende este lead: solo quien lo atiende puede registrar el pedido." in page
    assert "antes de registrar la llamada" not in page
    assert not Order.objects.exists()


def test_the_catalog_opened_directly_is_the_call_page_with_its_results(client, agente, held_lead):
    make_product(stock=2, name="Zapatillas Runner", sku="ZAP-001")
    make_product(stock=2, name="Mochila de viaje", sku="MOC-001")
    client.force_login(agente)

    response = client.get(reverse("callcenter:catalog", args=[held_lead.pk]), {"q": "zap"})

    assertTemplateUsed(response, "base.html")
    assertTemplateUsed(response, "callcenter/lead_detail.html")
    assertContains(response, "Zapatillas Runner")
    assertNotContains(response, "Mochila de viaje")
    assertContains(response, 'value="zap"')
    assertContains(response, 'id="cart"')
    assert "HX-Request" in response["Vary"]


def test_the_catalog_search_box_gets_only_the_results(client, agente, held_lead):
    make_product(stock=2, name="Zapatillas Runner", sku="ZAP-001")
    client.force_login(agente)

    response = client.get(
        reverse("callcenter:catalog", args=[held_lead.pk]),
        {"q": "zap"},
        headers={"HX-Request": "true"},
    )

    assertTemplateUsed(response, "callcenter/partials/catalog_results.html")
    assertTemplateNotUsed(response, "callcenter/lead_detail.html")
    assertContains(response, "Zapatillas Runner")
    assert "HX-Request" in response["Vary"]


def test_the_cart_marks_a_product_switched_off_since_it_was_added(client, agente, held_lead):
    product = make_product(stock=5, name="Mochila de cuero")
    client.force_login(agente)
    client.post(
        reverse("callcenter:cart_add", args=[held_lead.pk]), {"product": product.pk, "quantity": 1}
    )
    product.is_active = False
    product.save(update_fields=["is_active"])

    page = client.get(held_lead.get_absolute_url()).content.decode()

    assert "Mochila de cuero" in page
    assert "ya no está en el catálogo: quítelo del pedido" in page


def test_the_cart_refuses_a_product_in_another_currency(client, agente, held_lead):
    soles = make_product(stock=5, price="100.00", name="Mochila de cuero")
    dollars = make_product(stock=5, price="300.00", name="Reloj importado")
    dollars.currency = "USD"
    dollars.save(update_fields=["currency"])
    client.force_login(agente)
    add = reverse("callcenter:cart_add", args=[held_lead.pk])
    client.post(add, {"product": soles.pk, "quantity": 1}, headers={"HX-Request": "true"})

    response = client.post(
        add, {"product": dollars.pk, "quantity": 1}, headers={"HX-Request": "true"}
    )

    page = response.content.decode()
    assert "El pedido ya lleva productos en S/ y Reloj importado está en US$" in page
    assert "Reloj importado" not in page.split('id="cart-error"')[1].split("</div>", 1)[1]
    assert "S/ 100.00" in page


def test_a_call_back_set_for_later_is_not_shown_as_waiting(client, agente, queue_config):
    later = timezone.now() + timedelta(hours=5)
    make_lead(
        contact_name="Carla Después", state=Lead.State.CALLBACK, due_at=later, callback_at=later
    )
    client.force_login(agente)

    page = client.get(QUEUE).content.decode()

    row = page.split('id="lead-', 1)[1].split("</tr>", 1)[0]
    shown = timezone.localtime(later).strftime("%d/%m %H:%M")
    assert f"desde el {shown}" in row
    assert "0\xa0minutos" not in row and "hace" not in row
