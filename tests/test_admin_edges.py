"""Admin settings pages refuse absurd values, and the inbox and outbox stay on record."""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from callcenter import selectors as callcenter_selectors
from callcenter.catalog import services as catalog_services
from collections_app.models import PaymentAgreement
from credits.models import Loan
from crm.gestiones.models import Gestion, LifecycleEvent, LifecycleRun, Survey, SurveyInvitation
from integrations.models import OutboxMessage, WebhookEvent
from recovery.models import RecoverySettings
from tests import receipts
from tests.factories import CatalogProductFactory

# --- Call center: the queue's settings and the stock -------------------------------------------


def _queue_form(**changes) -> dict:
    data = {
        "pipeline_id": "6950551",
        "queue_status_id": "61000002",
        "sold_status_id": "61000005",
        "no_answer_status_id": "",
        "callback_status_id": "",
        "not_interested_status_id": "143",
        "take_timeout_minutes": "30",
    }
    return {**data, **changes}


@pytest.mark.parametrize("minutes", ["10000000000", "0", "1441"])
def test_the_queue_refuses_a_lead_hold_of_no_time_or_more_than_a_day(admin_client, minutes):
    row = callcenter_selectors.queue_settings()
    url = reverse("admin:callcenter_queuesettings_change", args=[row.pk])

    response = admin_client.post(url, _queue_form(take_timeout_minutes=minutes))

    assertContains(response, "La reserva de un lead dura entre 1 y 1440 minutos (un día).")
    row.refresh_from_db()
    assert row.take_timeout_minutes != int(minutes)


def test_a_hold_saved_before_the_bound_leaves_the_queue_page_working(client, db):
    """4,000 years of minutes (the most the column holds on PostgreSQL) overflowed the
    queue's date arithmetic: a 500 for every agent."""
    row = callcenter_selectors.queue_settings()
    type(row).objects.filter(pk=row.pk).update(take_timeout_minutes=2_147_483_647)
    row.refresh_from_db()

    cutoff = row.hold_cutoff()

    assert cutoff < timezone.now()


def test_the_queue_keeps_a_hold_within_a_day(admin_client):
    row = callcenter_selectors.queue_settings()
    url = reverse("admin:callcenter_queuesettings_change", args=[row.pk])

    response = admin_client.post(url, _queue_form(take_timeout_minutes="1440"))

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.take_timeout_minutes == 1440


@pytest.mark.parametrize("status_id", ["0", "-1"])
def test_the_queue_refuses_a_kommo_id_below_one(admin_client, status_id):
    row = callcenter_selectors.queue_settings()
    url = reverse("admin:callcenter_queuesettings_change", args=[row.pk])

    response = admin_client.post(url, _queue_form(sold_status_id=status_id))

    assertContains(response, "Indique el id de Kommo: un número mayor que cero.")
    row.refresh_from_db()
    assert row.sold_status_id != int(status_id)


def test_a_stock_adjustment_cannot_overflow_the_stock(admin_client):
    product = CatalogProductFactory(stock=5)
    url = reverse("admin:callcenter_catalogproduct_adjust_stock", args=[product.pk])

    response = admin_client.post(url, {"delta": "10000000000", "note": "Conteo"})

    assertContains(response, "El stock quedaría en más de 2,147,483,647 unidades")
    product.refresh_from_db()
    assert product.stock == 5
    assert not product.movements.exists()


def test_a_stock_adjustment_cannot_take_out_more_than_a_stock_can_hold(admin_client):
    product = CatalogProductFactory(stock=5)
    url = reverse("admin:callcenter_catalogproduct_adjust_stock", args=[product.pk])

    response = admin_client.post(url, {"delta": "-" + "9" * 25, "note": "Merma"})

    assertContains(response, "quedaría negativo: hay 5 unidades.")
    product.refresh_from_db()
    assert product.stock == 5


def test_the_stock_service_itself_refuses_a_stock_no_column_holds(db):
    """The bound is the service's: any caller, not only the admin's form."""
    product = CatalogProductFactory(stock=5)

    with pytest.raises(ValidationError) as refused:
        catalog_services.adjust_stock(
            product=product, delta=2_147_483_643, note="Conteo", actor=None
        )
    catalog_services.adjust_stock(product=product, delta=2_147_483_642, note="Conteo", actor=None)

    assert "más de 2,147,483,647 unidades" in refused.value.messages[0]
    product.refresh_from_db()
    assert product.stock == 2_147_483_647


# --- Integrations: the inbox and the outbox are evidence --------------------------------------


def test_webhook_events_cannot_be_deleted_from_admin(admin_client):
    event = WebhookEvent.objects.create(
        provider="kommo", event_id="evt-1", raw_body="{}", status=WebhookEvent.Status.PROCESSED
    )
    changelist = reverse("admin:integrations_webhookevent_changelist")

    one = admin_client.post(
        reverse("admin:integrations_webhookevent_delete", args=[event.pk]), {"post": "yes"}
    )
    bulk = admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )

    assert one.status_code == 403
    assert bulk.status_code in (200, 302)
    assert WebhookEvent.objects.filter(pk=event.pk).exists()


def test_outbox_messages_cannot_be_deleted_from_admin(admin_client):
    message = OutboxMessage.objects.create(
        destination="kommo.lead_status", payload={}, status=OutboxMessage.Status.SENT
    )
    changelist = reverse("admin:integrations_outboxmessage_changelist")

    one = admin_client.post(
        reverse("admin:integrations_outboxmessage_delete", args=[message.pk]), {"post": "yes"}
    )
    bulk = admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [message.pk], "post": "yes"},
    )

    assert one.status_code == 403
    assert bulk.status_code in (200, 302)
    assert OutboxMessage.objects.filter(pk=message.pk).exists()


# --- Recovery: the portal's settings ------------------------------------------------------------


PNG = receipts.PNG


def _portal_form(portal: RecoverySettings, **changes) -> dict:
    data = {
        "title": portal.title,
        "intro": portal.intro,
        "offer_text": portal.offer_text,
        "legal_text": "",
        "countdown_hours": "48",
        "decline_reasons": portal.decline_reasons,
        "advisor_whatsapp": "51987654321",
        "max_discount_percent": "95",
    }
    return {**data, **changes}


@pytest.mark.parametrize("typed", ["²", "abc", "51 987 abc 654321"])
def test_the_advisor_whatsapp_refuses_what_is_not_a_number(admin_client, typed):
    portal = RecoverySettings.current()
    portal.advisor_whatsapp = "51911111111"
    portal.save()
    url = reverse("admin:recovery_recoverysettings_change", args=[portal.pk])

    response = admin_client.post(url, _portal_form(portal, advisor_whatsapp=typed))

    assertContains(response, "Escriba solo el número, con código de país: 51987654321.")
    portal.refresh_from_db()
    assert portal.advisor_whatsapp == "51911111111"


def test_the_advisor_whatsapp_takes_a_number_as_people_type_it(admin_client):
    portal = RecoverySettings.current()
    url = reverse("admin:recovery_recoverysettings_change", args=[portal.pk])

    response = admin_client.post(url, _portal_form(portal, advisor_whatsapp="+51 (987) ６５４-321"))

    assert response.status_code == 302
    portal.refresh_from_db()
    assert portal.advisor_whatsapp == "51987654321"


def test_a_decline_reason_longer_than_what_the_portal_keeps_is_refused(admin_client):
    portal = RecoverySettings.current()
    url = reverse("admin:recovery_recoverysettings_change", args=[portal.pk])
    reasons = "No tengo dinero\n" + "x" * 201

    response = admin_client.post(url, _portal_form(portal, decline_reasons=reasons))

    assertContains(response, "La línea 2 tiene 201 caracteres: cada motivo puede tener hasta 200.")
    portal.refresh_from_db()
    assert "x" * 201 not in portal.decline_reasons


# --- Gestiones and collections: columns read in Spanish ------------------------------------------


def test_the_service_written_gestiones_rows_read_in_spanish(demo, client):
    SurveyInvitation.objects.create(
        survey=Survey.objects.first(),
        gestion=Gestion.objects.filter(survey_invitation__isnull=True).first(),
    )
    LifecycleRun.objects.get_or_create(
        event=LifecycleEvent.objects.first(), loan=Loan.objects.first()
    )
    client.force_login(User.objects.get(username="admin"))
    pages = {
        "admin:gestiones_surveyinvitation_changelist": ("Encuesta", "Enviada", "Respondida"),
        "admin:gestiones_lifecyclerun_changelist": ("Evento", "Crédito", "Mensaje en cola"),
        "admin:gestiones_gestionstate_changelist": ("Duración",),
    }

    for name, spanish in pages.items():
        page = client.get(reverse(name))
        for label in spanish:
            assertContains(page, label)
        for english in ("Sent at", "Answered at", "Is message sent", "Ran at", "Duration"):
            assert english not in page.text, (name, english)


def test_an_agreement_shows_its_plan_as_a_table_not_json(demo, client):
    agreement = PaymentAgreement.objects.exclude(plan=[]).first()
    client.force_login(User.objects.get(username="admin"))

    page = client.get(reverse("admin:collections_app_paymentagreement_change", args=[agreement.pk]))

    assertContains(page, "<td>Cuota 1</td>", html=False)
    assert "due_on" not in page.text


def test_an_image_with_a_very_long_name_is_refused_in_plain_spanish(admin_client):
    portal = RecoverySettings.current()
    url = reverse("admin:recovery_recoverysettings_change", args=[portal.pk])
    image = SimpleUploadedFile("n" * 150 + ".png", PNG, content_type="image/png")

    response = admin_client.post(url, {**_portal_form(portal), "logo": image})

    assertContains(
        response, "El nombre del archivo tiene 154 caracteres: cámbielo por uno de hasta 100."
    )
    assert "carácter(es)" not in response.text


def test_replaying_an_event_that_did_not_fail_says_it_was_not_replayed(admin_client):
    event = WebhookEvent.objects.create(
        provider="kommo", event_id="evt-2", raw_body="{}", status=WebhookEvent.Status.PROCESSED
    )

    response = admin_client.post(
        reverse("admin:integrations_webhookevent_changelist"),
        {"action": "replay_events", "_selected_action": [event.pk]},
        follow=True,
    )

    assertContains(
        response, "1 evento no se reprocesó: solo se reprocesan los fallidos o ignorados."
    )
    assert "0 eventos vuelven a procesarse" not in response.text


def test_retrying_a_sent_message_says_it_was_not_retried(admin_client):
    message = OutboxMessage.objects.create(
        destination="kommo.lead_status", payload={}, status=OutboxMessage.Status.SENT
    )

    response = admin_client.post(
        reverse("admin:integrations_outboxmessage_changelist"),
        {"action": "retry_messages", "_selected_action": [message.pk]},
        follow=True,
    )

    assertContains(response, "1 mensaje no se reintentó: solo se reintentan los fallidos.")
    assert "0 mensajes vuelven a la cola" not in response.text


def test_the_admin_search_box_has_no_english_alt_text(admin_client):
    page = admin_client.get(reverse("admin:integrations_apiclient_changelist"))

    assertContains(page, 'alt="Buscar"')
    assert 'alt="Search"' not in page.text


@pytest.mark.parametrize(
    "query",
    [
        "created_at__year=9999",
        "created_at__year=99999999999",
        "created_at__year=2026&created_at__month=13",
        "created_at__year=2026&created_at__month=2&created_at__day=x",
        "created_at__year=２０２６",
    ],
)
@pytest.mark.parametrize("model", ["crm/customer", "collections_app/paymentpromise"])
def test_a_date_drilldown_admin_cannot_read_gets_its_page_not_a_500(admin_client, query, model):
    address = f"/admin/{model}/"

    response = admin_client.get(f"{address}?{query}")

    assert response.status_code == 302
    assert response.url == f"{address}?e=1"
    assert admin_client.get(response.url).status_code == 200


def test_a_date_drilldown_in_range_lists_as_before(admin_client):
    response = admin_client.get("/admin/collections_app/paymentpromise/?promised_on__year=2026")

    assert response.status_code == 200


# Staff accounts: no way up from a role given `change_user` ----------------------------------


def test_a_staff_administrator_cannot_make_themselves_superuser(client, admin_user):
    from django.contrib.auth import get_user_model

    from tests.factories import UserFactory
    from tests.test_lost_updates import changed, shown_form

    manager = UserFactory(username="jefa", role="Administrador", is_staff=True)
    client.force_login(manager)
    own = reverse("admin:auth_user_change", args=[manager.pk])

    fields = shown_form(client, own)
    response = client.post(own, changed(fields, is_superuser="on"))
    # A superuser's account is not theirs to edit, nor its password to set.
    superuser_page = client.get(reverse("admin:auth_user_change", args=[admin_user.pk]))
    password_page = client.get(reverse("admin:auth_user_password_change", args=[admin_user.pk]))

    assert "is_superuser" not in dict(fields)
    assert response.status_code == 302
    assert not get_user_model().objects.get(pk=manager.pk).is_superuser
    assert superuser_page.status_code == 200  # to read only
    assert 'name="_save"' not in superuser_page.content.decode()
    assert password_page.status_code == 403
