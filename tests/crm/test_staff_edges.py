"""Awkward input on the CRM's staff screens: each is explained in Spanish, never swallowed."""

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from crm import messages as crm_messages
from crm.models import OPT_OUT_TAG, Customer, Interaction, Tag
from integrations import outbox
from tests.factories import CustomerFactory, InteractionFactory, LoanFactory

HTMX = {"HX-Request": "true"}


def test_the_sign_in_page_says_which_field_is_missing(client, asesor):
    response = client.post(reverse("login"), {"username": "asesor", "password": ""})

    assert response.status_code == 200
    assertContains(response, "Este campo es obligatorio.")
    assertContains(response, 'id="id_password" class="form-control is-invalid"')


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"since": "9999-12-31"}, "Elija una fecha válida."),
        ({"since": "31/02/2026"}, "Introduzca una fecha válida."),
        ({"status": "perdida"}, "Elija una opción de la lista."),
        ({"q": "ro\x00sa"}, "Los caracteres nulos no están permitidos."),
    ],
)
def test_the_agenda_explains_a_filter_it_cannot_use(client, asesor, query, error):
    client.force_login(asesor)

    response = client.get(reverse("crm:agenda"), query)

    assertContains(response, error)
    assertContains(response, 'id="agenda-errors"')
    assertNotContains(response, "No hay citas en esas fechas.")


def test_the_agenda_explains_a_wrong_range_in_its_htmx_results_too(client, asesor):
    client.force_login(asesor)

    response = client.get(
        reverse("crm:agenda"), {"since": "2026-12-05", "until": "2026-12-01"}, headers=HTMX
    )

    assertContains(response, "La fecha final es anterior a la inicial.")
    assertNotContains(response, "No hay citas en esas fechas.")


def test_the_identity_confirmation_shows_the_old_and_the_new_values(client, supervisor, customer):
    LoanFactory(customer=customer, payment_code="L000000123")
    client.force_login(supervisor)
    data = {
        "document_type": "dni",
        "document_number": "45678913",
        "first_name": "Rosa María",
        "last_name": customer.last_name,
        "phone": "987654321",
    }

    response = client.post(reverse("crm:customer_update", args=[customer.pk]), data)

    assert response.status_code == 200
    assertContains(response, "Número de documento: 45678912 → 45678913")
    assertContains(response, "Nombres: Rosa → Rosa María")
    customer.refresh_from_db()
    assert customer.first_name == "Rosa"


@pytest.mark.parametrize("name", ["12345", "...", "-"])
def test_a_new_customer_needs_a_name_with_letters(client, asesor, name):
    client.force_login(asesor)
    data = {
        "document_type": "dni",
        "document_number": "45871236",
        "first_name": name,
        "last_name": "Quispe",
        "phone": "987654321",
    }

    response = client.post(reverse("crm:customer_create"), data)

    assert response.status_code == 200
    assertContains(response, "Escriba los nombres con letras.")
    assert not Customer.objects.filter(document_number="45871236").exists()


def test_a_company_name_may_carry_digits(client, asesor):
    client.force_login(asesor)
    data = {
        "document_type": "ruc",
        "document_number": "20100070970",
        "first_name": "Inversiones 2000 S.A.C.",
        "last_name": "",
        "phone": "987654321",
    }

    response = client.post(reverse("crm:customer_create"), data)

    assert response.status_code == 302
    assert Customer.objects.get(document_number="20100070970").first_name == (
        "Inversiones 2000 S.A.C."
    )


def test_a_customer_already_named_without_letters_keeps_other_edits_possible(
    client, asesor, customer
):
    Customer.objects.filter(pk=customer.pk).update(first_name="12345")
    client.force_login(asesor)
    data = {
        "document_type": "dni",
        "document_number": customer.document_number,
        "first_name": "12345",
        "last_name": customer.last_name,
        "phone": "987654321",
        "city": "Cusco",
    }

    response = client.post(reverse("crm:customer_update", args=[customer.pk]), data)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.city == "Cusco"


@pytest.mark.parametrize(("phone", "kept"), [("014221234", False), ("987654321", True)])
def test_a_landline_typed_as_the_mobile_is_refused(client, asesor, phone, kept):
    """SMS and WhatsApp go to the mobile: a Lima landline there would take them nowhere."""
    client.force_login(asesor)
    data = {"document_type": "dni", "document_number": "45871236", "first_name": "Ana"}

    response = client.post(reverse("crm:customer_create"), {**data, "phone": phone})

    assert Customer.objects.filter(document_number="45871236").exists() is kept
    if not kept:
        assertContains(response, "Es un teléfono fijo: regístrelo como teléfono alternativo")


def test_a_landline_stored_before_keeps_other_edits_possible(client, asesor, customer):
    Customer.objects.filter(pk=customer.pk).update(phone="+5114221234")
    client.force_login(asesor)
    data = {
        "document_type": "dni",
        "document_number": customer.document_number,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": "01 4221234",
        "city": "Cusco",
    }

    response = client.post(reverse("crm:customer_update", args=[customer.pk]), data)

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.city == "Cusco"


def test_a_long_unbroken_name_wraps_on_the_360_page_and_the_form(client, asesor, customer):
    Customer.objects.filter(pk=customer.pk).update(first_name="A" * 120)
    client.force_login(asesor)

    page = client.get(customer.get_absolute_url())
    form = client.get(reverse("crm:customer_update", args=[customer.pk]))

    assertContains(page, '<h1 class="h5 mb-0 text-break">')
    assertContains(page, '<li class="breadcrumb-item active text-break"')
    assertContains(form, '<li class="breadcrumb-item text-break">')


def test_a_call_logged_from_the_360_page_is_not_called_a_note(client, asesor, customer):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_add_note", args=[customer.pk]),
        {"kind": "call", "summary": "Dice que paga el viernes."},
        follow=True,
    )

    assertContains(response, "Llamada registrada.")
    assertNotContains(response, "Nota agregada")


@pytest.mark.parametrize("htmx", [False, True])
def test_the_same_note_sent_twice_is_saved_once(client, asesor, customer, time_machine, htmx):
    # The back button and send (or a form sent again without JavaScript) saved it twice.
    client.force_login(asesor)
    url = reverse("crm:customer_add_note", args=[customer.pk])
    data = {"kind": "note", "summary": "Pidió que lo llamen el lunes."}
    headers = HTMX if htmx else {}
    time_machine.move_to(timezone.now(), tick=False)

    client.post(url, data, headers=headers)
    time_machine.shift(5)
    again = client.post(url, data, headers=headers, follow=True)

    assert customer.interactions.filter(summary=data["summary"]).count() == 1
    assertContains(again, "Esa nota ya se guardó hace un momento: no se agregó otra.")
    if htmx:
        assertNotContains(again, "Pidió que lo llamen el lunes.")  # nothing added on top


def test_a_kind_the_quick_form_does_not_offer_is_explained(client, cobranzas, customer):
    client.force_login(cobranzas)

    response = client.post(
        reverse("crm:customer_add_note", args=[customer.pk]),
        {"kind": "payment", "summary": "Pagó 1000000000000"},
        headers=HTMX,
    )

    assertContains(response, "Elija una opción de la lista.")
    assert not customer.interactions.filter(kind=Interaction.Kind.PAYMENT).exists()


def test_an_invalid_note_without_javascript_shows_the_whole_360_page(client, asesor, customer):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_add_note", args=[customer.pk]), {"kind": "note", "summary": "  "}
    )

    assert response.status_code == 200
    assertContains(response, "Escriba el texto de la nota.")
    assertContains(response, 'id="customer-profile"')


def test_admin_keeps_the_name_of_the_consent_tag(admin_client):
    tag = Tag.objects.create(name=OPT_OUT_TAG)

    admin_client.post(
        reverse("admin:crm_tag_change", args=[tag.pk]), {"name": "No llamar", "color": "danger"}
    )

    tag.refresh_from_db()
    assert tag.name == OPT_OUT_TAG
    assert tag.color == "danger"


def test_admin_cannot_delete_the_consent_tag_alone_or_in_bulk(admin_client):
    tag = Tag.objects.create(name=OPT_OUT_TAG)
    vip = Tag.objects.create(name="VIP")

    single = admin_client.post(reverse("admin:crm_tag_delete", args=[tag.pk]), {"post": "yes"})
    admin_client.post(
        reverse("admin:crm_tag_changelist"),
        {"action": "delete_selected", "_selected_action": [tag.pk, vip.pk], "post": "yes"},
    )

    assert single.status_code == 403
    assert Tag.objects.filter(name=OPT_OUT_TAG).exists()


def test_admin_still_renames_and_deletes_other_tags(admin_client):
    vip = Tag.objects.create(name="VIP")

    admin_client.post(
        reverse("admin:crm_tag_change", args=[vip.pk]), {"name": "Preferente", "color": "info"}
    )
    vip.refresh_from_db()
    admin_client.post(reverse("admin:crm_tag_delete", args=[vip.pk]), {"post": "yes"})

    assert vip.name == "Preferente"
    assert not Tag.objects.filter(pk=vip.pk).exists()


def test_a_phone_that_is_no_number_is_refused_in_plain_spanish(client, asesor):
    client.force_login(asesor)

    response = client.post(
        reverse("crm:customer_create"),
        {"document_type": "dni", "document_number": "45871236", "first_name": "Ana", "phone": "12"},
    )

    assertContains(response, "Ingrese un número de teléfono válido (ej.: ")
    assertNotContains(response, "válido  (")  # the library's own Spanish, double-spaced


def test_admin_shows_timeline_entries_but_cannot_delete_them_alone_or_in_bulk(admin_client):
    entry = InteractionFactory(summary="Llamada de prueba")

    page = admin_client.get(reverse("admin:crm_interaction_change", args=[entry.pk]))
    listing = admin_client.get(reverse("admin:crm_interaction_changelist"))
    single = admin_client.post(
        reverse("admin:crm_interaction_delete", args=[entry.pk]), {"post": "yes"}
    )
    admin_client.post(
        reverse("admin:crm_interaction_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )

    assertContains(page, "Llamada de prueba")
    assertNotContains(page, reverse("admin:crm_interaction_delete", args=[entry.pk]))
    assertNotContains(listing, "delete_selected")
    assert single.status_code == 403
    assert Interaction.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize(
    ("field", "value"), [("first_name", "Ana\x01"), ("address", "Av. Sol\x1b 1")]
)
def test_a_control_character_in_a_customer_is_refused_naming_it(client, asesor, field, value):
    client.force_login(asesor)
    data = {
        "document_type": "dni",
        "document_number": "45871236",
        "first_name": "Ana",
        "last_name": "Quispe",
        "phone": "987654321",
        field: value,
    }

    response = client.post(reverse("crm:customer_create"), data)

    assert response.status_code == 200
    assertContains(response, "Tiene un carácter de control invisible (U+00")
    assert not Customer.objects.filter(document_number="45871236").exists()


def test_a_control_character_in_a_note_is_refused_and_line_breaks_are_kept(
    client, asesor, customer
):
    client.force_login(asesor)
    url = reverse("crm:customer_add_note", args=[customer.pk])

    refused = client.post(url, {"kind": "note", "summary": "Llamó\x07 hoy"}, headers=HTMX)
    kept = client.post(url, {"kind": "note", "summary": "Llamó hoy.\r\nVuelve\tmañana."})

    assertContains(refused, "Tiene un carácter de control invisible (U+0007)")
    assert kept.status_code == 302
    assert list(customer.interactions.filter(kind="note").values_list("summary", flat=True)) == [
        "Llamó hoy.\r\nVuelve\tmañana."
    ]


def test_admin_refuses_a_control_character_in_a_customer(admin_client, customer):
    url = reverse("admin:crm_customer_change", args=[customer.pk])
    data = {
        "document_type": customer.document_type,
        "document_number": customer.document_number,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": "987654321",
        "city": "Li\x0bma",
    }

    response = admin_client.post(url, data)

    assertContains(response, "Tiene un carácter de control invisible (U+000B)")
    customer.refresh_from_db()
    assert customer.city != "Li\x0bma"


def test_a_document_number_too_long_is_not_also_called_missing(client, asesor):
    client.force_login(asesor)
    data = {
        "document_type": "dni",
        "document_number": "4" * 5000,
        "first_name": "Ana",
        "last_name": "Quispe",
        "phone": "987654321",
    }

    response = client.post(reverse("crm:customer_create"), data)

    assert response.status_code == 200
    assertContains(response, "20 caracteres")
    assertNotContains(response, "Ingrese el número de documento.")


def test_admin_says_a_message_its_channel_never_got_was_recorded_not_sent(
    admin_client, customer, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    customer.email = "rosa@example.pe"
    customer.save(update_fields=["email"])
    crm_messages.send_customer_message(
        customer=customer, channel=crm_messages.EMAIL, subject="Aviso", body="Hola"
    )
    outbox.deliver_due_messages()

    page = admin_client.get(reverse("admin:crm_message_changelist"))

    assertContains(
        page, '<td class="field-status_shown">Registrado, no enviado (canal no configurado)</td>'
    )


def test_admin_refuses_to_delete_a_person_who_advises_customers_and_says_to_deactivate(
    admin_client, asesor
):
    customer = CustomerFactory(advisor=asesor)
    InteractionFactory(customer=customer, actor=asesor)

    page = admin_client.post(reverse("admin:auth_user_delete", args=[asesor.pk]), {"post": "yes"})
    admin_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [asesor.pk], "post": "yes"},
    )

    assertContains(page, "desactívelo (desmarque «Activo») en lugar de borrarlo")
    assertContains(page, "clientes")
    customer.refresh_from_db()
    assert customer.advisor == asesor
    assert Interaction.objects.filter(actor=asesor).exists()


def test_admin_still_deletes_a_person_who_never_worked(admin_client, django_user_model):
    mistaken = django_user_model.objects.create_user("mal-escrito", password="x")

    admin_client.post(reverse("admin:auth_user_delete", args=[mistaken.pk]), {"post": "yes"})

    assert not django_user_model.objects.filter(pk=mistaken.pk).exists()


def test_admin_keeps_the_written_off_tag_that_recovery_manages(admin_client):
    from recovery.services import CASTIGADA_TAG

    tag = Tag.objects.create(name=CASTIGADA_TAG)

    renamed = admin_client.post(
        reverse("admin:crm_tag_change", args=[tag.pk]), {"name": "Castigo", "color": "danger"}
    )
    deleted = admin_client.post(reverse("admin:crm_tag_delete", args=[tag.pk]), {"post": "yes"})

    tag.refresh_from_db()
    assert renamed.status_code == 302
    assert (tag.name, deleted.status_code) == (CASTIGADA_TAG, 403)


def test_a_tag_deleted_in_admin_is_said_on_each_customers_timeline(admin_client, customer):
    vip = Tag.objects.create(name="VIP")
    customer.tags.add(vip)

    admin_client.post(
        reverse("admin:crm_tag_changelist"),
        {"action": "delete_selected", "_selected_action": [vip.pk], "post": "yes"},
    )

    assert not Tag.objects.filter(pk=vip.pk).exists()
    entry = Interaction.objects.get(customer=customer, payload__tag_deleted="VIP")
    assert entry.summary == "Etiqueta «VIP» quitada: se eliminó en Administración"
    assert entry.kind == Interaction.Kind.SYSTEM
