import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from crm.models import Customer, Interaction
from tests.factories import (
    AppointmentFactory,
    CustomerFactory,
    InteractionFactory,
    TagFactory,
    UserFactory,
)

HTMX = {"HX-Request": "true"}


def test_anonymous_visitors_are_sent_to_sign_in(client, customer):
    for url in [reverse("crm:customer_list"), customer.get_absolute_url(), reverse("home")]:
        response = client.get(url)

        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_the_sign_in_page_is_public_and_in_spanish(client):
    response = client.get(reverse("login"))

    assertContains(response, "Contraseña")
    assertContains(response, "Ingresar")


def test_a_wrong_password_is_refused_in_spanish(client, asesor):
    response = client.post(reverse("login"), {"username": "asesor", "password": "incorrecta"})

    assert response.status_code == 200
    assertContains(response, "Por favor, introduzca un nombre de usuario y clave correctos")


def test_a_call_center_agent_is_refused_the_customer_list(client, agente, customer):
    client.force_login(agente)

    assert client.get(reverse("crm:customer_list")).status_code == 403
    assert client.get(customer.get_absolute_url()).status_code == 403
    assert client.get(reverse("crm:customer_create")).status_code == 403


def test_an_advisor_cannot_reach_admin(client, asesor):
    client.force_login(asesor)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert "/admin/login/" in response.url


def test_collections_may_read_customers_but_not_edit_them(client, cobranzas, customer):
    client.force_login(cobranzas)

    assert client.get(customer.get_absolute_url()).status_code == 200
    assert client.get(reverse("crm:customer_update", args=[customer.pk])).status_code == 403


def test_home_sends_staff_to_the_customer_list(client, asesor):
    client.force_login(asesor)

    response = client.get(reverse("home"))

    assert response.url == reverse("crm:customer_list")


def test_the_list_searches_by_document_number(client, asesor):
    CustomerFactory(first_name="Rosa", last_name="Huamán", document_number="45678912")
    CustomerFactory(first_name="Juan", last_name="Pérez", document_number="11111111")
    client.force_login(asesor)

    response = client.get(reverse("crm:customer_list"), {"q": "45678912"})

    assertContains(response, "Rosa")
    assertNotContains(response, "Juan")
    assertContains(response, "1 cliente")


def test_the_list_filters_by_tag(client, asesor):
    vip = TagFactory(name="VIP")
    CustomerFactory(first_name="Rosa", last_name="Huamán").tags.add(vip)
    CustomerFactory(first_name="Juan", last_name="Pérez")
    client.force_login(asesor)

    response = client.get(reverse("crm:customer_list"), {"tag": vip.pk})

    assertContains(response, "Rosa")
    assertNotContains(response, "Juan")


def test_an_htmx_search_gets_only_the_results_fragment(client, asesor, customer):
    client.force_login(asesor)

    response = client.get(reverse("crm:customer_list"), {"q": "Rosa"}, headers=HTMX)

    assertTemplateUsed(response, "crm/partials/customer_results.html")
    assertNotContains(response, "<nav")
    assert response["HX-Push-Url"] == reverse("crm:customer_list") + "?q=Rosa"


def test_the_list_paginates_and_sorts(client, asesor):
    for i in range(30):
        CustomerFactory(last_name=f"Apellido{i:02d}")
    client.force_login(asesor)

    page2 = client.get(reverse("crm:customer_list"), {"page": 2, "sort": "-name"})

    assertContains(page2, "30 clientes")
    assertContains(page2, "Apellido04")
    assertNotContains(page2, "Apellido29")


@pytest.mark.parametrize("search", ["", "ccori"])
def test_by_last_interaction_the_never_contacted_come_last_going_down_and_first_going_up(
    client, asesor, search
):
    """An import leaves its customers without one; on PostgreSQL they came first going
    down, ahead of everyone contacted (with a search too: lib.search sorts its matches)."""
    now = timezone.now()
    for name, moment in [("Nunca", None), ("Antes", now - timedelta(days=9)), ("Ahora", now)]:
        customer = CustomerFactory(first_name=name, last_name="Ccori")
        Customer.objects.filter(pk=customer.pk).update(last_interaction_at=moment)
    client.force_login(asesor)

    def names(sort):
        page = client.get(reverse("crm:customer_list"), {"sort": sort, "q": search})
        return re.findall(r"Nunca|Antes|Ahora", page.content.decode())

    assert names("-last_interaction_at") == ["Ahora", "Antes", "Nunca"]
    assert names("last_interaction_at") == ["Nunca", "Antes", "Ahora"]


@pytest.mark.parametrize("rows", [10, 200])
def test_the_list_costs_the_same_queries_for_10_or_200_customers(
    client, asesor, django_assert_max_num_queries, rows
):
    tag = TagFactory(name="VIP")
    for customer in CustomerFactory.create_batch(rows, advisor=asesor):
        customer.tags.add(tag)
    client.force_login(asesor)

    # Session and user (2), permissions (2), the filter form's four selects (8), count,
    # page, tags of the page, and the session's inactivity stamp (3).
    with django_assert_max_num_queries(18):
        response = client.get(reverse("crm:customer_list"), {"per_page": rows})

    assert response.status_code == 200


@pytest.mark.parametrize("rows", [10, 200])
def test_the_360_page_costs_the_same_queries_for_10_or_200_events(
    client, asesor, customer, django_assert_max_num_queries, rows
):
    customer.tags.add(TagFactory(name="VIP"))
    InteractionFactory.create_batch(rows, customer=customer, actor=asesor)
    AppointmentFactory.create_batch(rows // 10, customer=customer, advisor=asesor)
    client.force_login(asesor)
    # The process's first view also reads its copies of branches, channels and people
    # (lib.small_tables); every later one asks only for what is the customer's own.
    client.get(customer.get_absolute_url())

    # Session, user, permissions (4), customer, tags, first timeline page, counts per
    # kind, upcoming and past appointments (2), and the session's inactivity stamp (3).
    with django_assert_max_num_queries(13):
        response = client.get(customer.get_absolute_url())

    assert response.status_code == 200


def test_the_360_page_shows_profile_tags_and_the_first_page_of_history(client, asesor, customer):
    customer.tags.add(TagFactory(name="Cartera castigada"))
    now = timezone.now()
    for i in range(25):
        InteractionFactory(
            customer=customer, summary=f"Evento {i:02d}", occurred_at=now - timedelta(hours=i)
        )
    client.force_login(asesor)

    response = client.get(customer.get_absolute_url())

    assertContains(response, "Rosa Huamán Torres")
    assertContains(response, "Cartera castigada")
    assertContains(response, "Evento 00")
    assertContains(response, "Evento 19")
    assertNotContains(response, "Evento 20")
    assertContains(response, 'hx-trigger="revealed"')


def test_scrolling_loads_the_next_page_of_the_timeline(client, asesor, customer):
    now = timezone.now()
    for i in range(25):
        InteractionFactory(
            customer=customer, summary=f"Evento {i:02d}", occurred_at=now - timedelta(hours=i)
        )
    client.force_login(asesor)
    twentieth = customer.interactions.order_by("-occurred_at", "-id")[19]

    response = client.get(
        reverse("crm:customer_timeline", args=[customer.pk]),
        {"before_at": twentieth.occurred_at.isoformat(), "before_id": twentieth.pk},
        headers=HTMX,
    )

    assertTemplateUsed(response, "crm/partials/timeline_page.html")
    assertContains(response, "Evento 20")
    assertContains(response, "Evento 24")
    assertNotContains(response, "Evento 19")
    assertNotContains(response, 'hx-trigger="revealed"')


def test_the_next_page_link_carries_ids_without_thousands_separators(client, asesor, customer):
    # Ids pass 1,000 on any real database; a localized "1,020" in the link was a 400.
    now = timezone.now()
    for i in range(25):
        InteractionFactory(
            pk=1000 + i, customer=customer, summary=f"E{i}", occurred_at=now - timedelta(hours=i)
        )
    client.force_login(asesor)

    page = client.get(reverse("crm:customer_detail", args=[customer.pk]))
    link = re.search(r'hx-get="([^"]*before_id=[^"]*)"', page.content.decode()).group(1)
    more = client.get(link.replace("&amp;", "&"), headers=HTMX)

    assert more.status_code == 200
    assertContains(more, "E24")


def test_a_bad_timeline_cursor_is_a_400_not_a_500(client, asesor, customer):
    client.force_login(asesor)

    response = client.get(
        reverse("crm:customer_timeline", args=[customer.pk]),
        {"before_at": "ayer", "before_id": "x"},
    )

    assert response.status_code == 400


def test_the_quick_note_adds_to_the_timeline_without_a_reload(client, asesor, customer):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_add_note", args=[customer.pk]),
        {"kind": "call", "summary": "Promete pagar el viernes"},
        headers=HTMX,
    )

    assertTemplateUsed(response, "crm/partials/note_added.html")
    assertContains(response, 'hx-swap-oob="afterbegin:#timeline"')
    assertContains(response, "Promete pagar el viernes")
    note = customer.interactions.get()
    assert (note.kind, note.direction, note.actor) == ("call", "outbound", asesor)


def test_an_empty_note_comes_back_with_a_spanish_error_and_status_200(client, asesor, customer):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_add_note", args=[customer.pk]),
        {"kind": "note", "summary": ""},
        headers=HTMX,
    )

    assert response.status_code == 200
    assertContains(response, "Escriba el texto de la nota.")
    assert not customer.interactions.exists()


def test_an_agent_cannot_post_notes(client, agente, customer):
    client.force_login(agente)

    response = client.post(
        reverse("crm:customer_add_note", args=[customer.pk]), {"kind": "note", "summary": "Hola"}
    )

    assert response.status_code == 403
    assert not customer.interactions.exists()


def test_an_advisor_creates_a_customer(client, asesor):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_create"),
        {
            "document_type": "dni",
            "document_number": "45 678 912",
            "first_name": "Rosa",
            "last_name": "Huamán",
            "phone": "987 654 321",
        },
    )

    customer = Customer.objects.get()
    assert response.url == customer.get_absolute_url()
    assert customer.document_number == "45678912"
    assert str(customer.phone) == "+51987654321"
    assert customer.interactions.get().kind == Interaction.Kind.SYSTEM


def test_the_create_form_explains_every_mistake_in_spanish(client, asesor, customer):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_create"),
        {"document_type": "dni", "document_number": customer.document_number, "phone": "12"},
    )

    assert response.status_code == 200
    assertContains(response, "Ya existe un cliente")
    assertContains(response, "Este campo es obligatorio")
    assertContains(response, "número de teléfono")
    assert Customer.objects.count() == 1


def test_the_create_form_asks_for_a_way_to_contact(client, asesor):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_create"),
        {"document_type": "dni", "document_number": "45678912", "first_name": "Rosa"},
    )

    assertContains(response, "Registre al menos un celular o un correo")
    assert not Customer.objects.exists()


def test_an_advisor_edits_a_customer_and_the_change_is_on_the_timeline(client, asesor, customer):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_update", args=[customer.pk]),
        {
            "document_type": "dni",
            "document_number": customer.document_number,
            "first_name": "Rosa María",
            "last_name": customer.last_name,
            "phone": str(customer.phone),
        },
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.first_name == "Rosa María"
    assert "nombres" in customer.interactions.get().summary


def test_healthz_answers_without_sign_in(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_the_customer_list_offers_advisors_by_full_name(client, supervisor):
    UserFactory(username="u73021", first_name="Gabriela", last_name="Ríos", role="Asesor")
    client.force_login(supervisor)

    response = client.get(reverse("crm:customer_list"))

    field = response.context["filter"].form.fields["advisor"]
    offered = [str(label) for _value, label in field.choices]
    assert "Gabriela Ríos" in offered
    assert "u73021" not in offered
