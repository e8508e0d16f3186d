"""Cal.com appointments end to end: webhook in, appointment on the customer, agenda out."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from crm import roles, services
from crm.forms import CustomerForm
from crm.models import Appointment, Customer, Interaction
from integrations.models import WebhookEvent
from tests.factories import AppointmentFactory, CustomerFactory, UserFactory

FIXTURES = Path(__file__).parent.parent / "integrations" / "fixtures" / "calcom"
SECRET = "calcom-webhook-secret"
ORIGINAL_UID = "bFJeNb2uX8ANpT3JL5EfXw"
NEW_UID = "k2Lw9TqXb7nPz4RsVd1YcE"
# Friday 27 November 2026, 9:00 in Lima: before the fixtures' appointments.
NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
HTMX = {"HX-Request": "true"}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def post_webhook(client, capture, body: dict, secret: str = SECRET):
    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    with capture(execute=True):
        return client.post(
            reverse("crm:calcom_webhook"),
            data=raw,
            content_type="application/json",
            headers={"X-Cal-Signature-256": signature},
        )


@pytest.fixture(autouse=True)
def calcom_settings(settings):
    settings.CALCOM_WEBHOOK_SECRET = SECRET


@pytest.fixture
def post(db, client, django_capture_on_commit_callbacks):
    def send(body: dict, secret: str = SECRET):
        return post_webhook(client, django_capture_on_commit_callbacks, body, secret)

    return send


@pytest.fixture
def rosa(db):
    return CustomerFactory(
        first_name="Rosa", last_name="Huamán", email="Rosa.Huaman@Example.com", phone=""
    )


@pytest.fixture
def andrea(db):
    return UserFactory(
        username="andrea",
        first_name="Andrea",
        last_name="Quispe",
        email="Andrea.Quispe@cartera.example",
        role="Asesor",
    )


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def test_a_booking_is_recorded_on_the_customer_found_by_email_and_the_advisor(post, rosa, andrea):
    response = post(fixture("booking_created"))

    assert response.status_code == 200
    assert response.json()["status"] == "stored"
    appointment = Appointment.objects.get()
    assert appointment.customer == rosa
    assert appointment.advisor == andrea
    assert appointment.calcom_uid == ORIGINAL_UID
    assert appointment.calcom_booking_id == 91
    assert appointment.status == Appointment.Status.SCHEDULED
    assert appointment.starts_at == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    assert appointment.ends_at == datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    assert appointment.location == "Cal Video"
    assert appointment.video_url == f"https://app.cal.com/video/{ORIGINAL_UID}"
    assert appointment.notes == "Quiero financiar un auto usado"
    interaction = rosa.interactions.get(kind=Interaction.Kind.APPOINTMENT)
    assert interaction.summary.startswith("Cita agendada: Asesoría de crédito")
    assert "01/12/2026 10:00" in interaction.summary
    assert interaction.payload["asesor"] == "Andrea Quispe"
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_booking_finds_the_customer_by_phone_when_the_email_is_unknown(post):
    customer = CustomerFactory(email="", phone="+51987654321")
    body = fixture("booking_created")
    body["payload"]["attendees"][0]["phoneNumber"] = "987 654 321"

    post(body)

    appointment = Appointment.objects.get()
    assert appointment.customer == customer
    assert appointment.attendee_phone == "+51987654321"


def test_a_booking_from_a_shared_phone_reaches_whom_an_sms_from_it_reaches(post):
    from crm import messages

    relative = CustomerFactory(email="", phone="+51911111111", phone_secondary="+51987654321")
    owner = CustomerFactory(email="", phone="+51987654321")
    body = fixture("booking_created")
    body["payload"]["attendees"][0]["email"] = "desconocido@correo.pe"
    body["payload"]["attendees"][0]["phoneNumber"] = "987 654 321"

    post(body)

    # It went to the oldest customer listing the number, even as a relative's second phone.
    assert Appointment.objects.get().customer == owner != relative
    assert messages.customer_for_address(messages.SMS, "+51987654321") == owner


def test_a_booking_by_someone_unknown_creates_no_customer_and_waits_to_be_registered(post):
    customers = Customer.objects.count()

    post(fixture("booking_created"))

    appointment = Appointment.objects.get()
    assert appointment.customer is None
    assert appointment.attendee_name == "Rosa Huamán"
    assert appointment.attendee_email == "rosa.huaman@example.com"
    assert appointment.attendee_phone == "+51987654321"
    assert Customer.objects.count() == customers
    assert not Interaction.objects.exists()


def test_registering_the_customer_links_the_appointments_they_booked_before(post, asesor):
    post(fixture("booking_created"))

    customer = services.create_customer(
        actor=asesor,
        data={
            "document_type": Customer.DocumentType.DNI,
            "document_number": "45678912",
            "first_name": "Rosa",
            "last_name": "Huamán",
            "email": "ROSA.HUAMAN@example.com",
        },
    )

    assert Appointment.objects.get().customer == customer
    assert customer.interactions.filter(kind=Interaction.Kind.APPOINTMENT).count() == 1


def test_an_organizer_who_is_no_user_leaves_the_appointment_without_advisor(post, rosa):
    UserFactory(username="inactive", email="andrea.quispe@cartera.example", is_active=False)

    post(fixture("booking_created"))

    assert Appointment.objects.get().advisor is None


def test_a_wrong_signature_is_refused_and_nothing_is_stored(post, rosa):
    response = post(fixture("booking_created"), secret="another-secret")

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
    assert not Appointment.objects.exists()


def test_every_webhook_is_refused_while_no_secret_is_configured(post, settings, rosa):
    settings.CALCOM_WEBHOOK_SECRET = ""

    response = post(fixture("booking_created"), secret="")

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_a_ping_is_answered_and_not_stored(post):
    response = post(fixture("ping"))

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert not WebhookEvent.objects.exists()


def test_a_booking_without_its_uid_is_a_bad_request_and_not_stored(post, rosa):
    # Signed by Cal.com but unreadable as a booking: 400, so it shows in Cal.com's log.
    booking = fixture("booking_created")
    del booking["payload"]["uid"]

    response = post(booking)

    assert response.status_code == 400
    assert "uid" in response.json()["detail"]
    assert not WebhookEvent.objects.exists()
    assert not Appointment.objects.exists()


def test_the_webhook_takes_only_posts(client, db):
    assert client.get(reverse("crm:calcom_webhook")).status_code == 405


def test_a_redelivered_booking_is_applied_once(post, rosa):
    post(fixture("booking_created"))
    again = post(fixture("booking_created"))
    resent = fixture("booking_created")
    resent["createdAt"] = "2026-11-25T14:10:00.000Z"
    post(resent)

    assert again.json()["status"] == "duplicate"
    assert Appointment.objects.count() == 1
    assert rosa.interactions.filter(kind=Interaction.Kind.APPOINTMENT).count() == 1
    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.IGNORED).count() == 1


def test_a_reschedule_moves_the_appointment_to_the_new_booking(post, rosa, andrea):
    post(fixture("booking_created"))

    post(fixture("booking_rescheduled"))

    appointment = Appointment.objects.get()
    assert appointment.calcom_uid == NEW_UID
    assert appointment.previous_calcom_uid == ORIGINAL_UID
    assert appointment.calcom_booking_id == 92
    assert appointment.status == Appointment.Status.RESCHEDULED
    assert appointment.starts_at == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
    latest = rosa.interactions.filter(kind=Interaction.Kind.APPOINTMENT).first()
    assert latest.summary == (
        "Cita reprogramada: Asesoría de crédito entre Andrea Quispe y Rosa Huamán,"
        " 03/12/2026 11:00 (antes: 01/12/2026 10:00)"
    )


def test_a_reschedule_of_a_booking_never_received_records_the_new_one(post, rosa):
    post(fixture("booking_rescheduled"))

    appointment = Appointment.objects.get()
    assert appointment.calcom_uid == NEW_UID
    assert appointment.status == Appointment.Status.RESCHEDULED
    assert appointment.customer == rosa


def test_a_cancellation_marks_the_appointment_cancelled_with_its_reason(post, rosa):
    post(fixture("booking_created"))

    post(fixture("booking_cancelled"))

    appointment = Appointment.objects.get()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancellation_reason == "Ya conseguí el financiamiento"
    latest = rosa.interactions.filter(kind=Interaction.Kind.APPOINTMENT).first()
    assert latest.summary.startswith("Cita cancelada:")
    assert latest.payload["motivo"] == "Ya conseguí el financiamiento"


def test_a_cancellation_of_an_unknown_booking_is_ignored(post):
    response = post(fixture("booking_cancelled"))

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED
    assert not Appointment.objects.exists()


def test_an_event_older_than_the_last_one_applied_changes_nothing(post, rosa):
    post(fixture("booking_created"))
    post(fixture("booking_cancelled"))
    timeline = rosa.interactions.count()

    # Sent before the cancellation, delivered after it.
    post(fixture("booking_rescheduled"))

    appointment = Appointment.objects.get()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.calcom_uid == ORIGINAL_UID
    assert rosa.interactions.count() == timeline
    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.IGNORED).count() == 1


def test_a_booking_delivered_after_its_reschedule_is_not_recorded_twice(post, rosa):
    post(fixture("booking_rescheduled"))

    post(fixture("booking_created"))

    appointment = Appointment.objects.get()
    assert appointment.calcom_uid == NEW_UID
    assert appointment.status == Appointment.Status.RESCHEDULED


def test_the_360_page_shows_the_customers_next_and_past_appointments(
    client, asesor, customer, frozen
):
    AppointmentFactory(
        customer=customer, title="Firma de contrato", starts_at=NOW + timedelta(days=2)
    )
    AppointmentFactory(
        customer=customer, title="Primera asesoría", starts_at=NOW - timedelta(days=3)
    )
    client.force_login(asesor)

    response = client.get(customer.get_absolute_url())

    assert [a.title for a in response.context["upcoming_appointments"]] == ["Firma de contrato"]
    assert [a.title for a in response.context["recent_appointments"]] == ["Primera asesoría"]
    assertContains(response, 'id="customer-appointments"')
    assertContains(response, "Firma de contrato")


def test_the_360_page_has_no_appointments_card_for_whoever_may_not_see_them(
    client, cobranzas, customer
):
    AppointmentFactory(customer=customer, title="Firma de contrato")
    client.force_login(cobranzas)

    response = client.get(customer.get_absolute_url())

    assertNotContains(response, 'id="customer-appointments"')


@pytest.fixture
def agenda_cast(db, asesor, frozen):
    """Andrea's (the asesor's) appointments and another advisor's, next week."""
    other = UserFactory(username="otro", first_name="Otro", last_name="Asesor", role="Asesor")
    monday = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    mine = AppointmentFactory(
        advisor=asesor, starts_at=monday, customer__first_name="Rosa", customer__last_name="Díaz"
    )
    theirs = AppointmentFactory(
        advisor=other,
        starts_at=monday + timedelta(hours=2),
        customer__first_name="Juan",
        customer__last_name="Pérez",
    )
    unregistered = AppointmentFactory(
        advisor=None,
        customer=None,
        starts_at=monday + timedelta(days=1),
        attendee_name="Lucía Ramos",
        attendee_email="lucia@example.com",
    )
    return {"mine": mine, "theirs": theirs, "unregistered": unregistered, "other": other}


def agenda_ids(response) -> set[int]:
    return {a.pk for a in response.context["page"].object_list}


def test_an_advisor_sees_only_their_own_appointments(client, asesor, agenda_cast):
    client.force_login(asesor)

    response = client.get(reverse("crm:agenda"))

    assert agenda_ids(response) == {agenda_cast["mine"].pk}
    assertContains(response, "Rosa Díaz")
    assertContains(response, reverse("crm:customer_detail", args=[agenda_cast["mine"].customer_id]))
    assertNotContains(response, 'id="id_advisor"')


def test_a_supervisor_sees_everyones_and_may_pick_one_advisor(client, supervisor, agenda_cast):
    client.force_login(supervisor)

    everyone = client.get(reverse("crm:agenda"))
    other = client.get(reverse("crm:agenda"), {"advisor": agenda_cast["other"].pk})
    unassigned = client.get(reverse("crm:agenda"), {"advisor": "none"})

    assert agenda_ids(everyone) == {
        agenda_cast[name].pk for name in ("mine", "theirs", "unregistered")
    }
    assertContains(everyone, 'id="id_advisor"')
    assert agenda_ids(other) == {agenda_cast["theirs"].pk}
    assert agenda_ids(unassigned) == {agenda_cast["unregistered"].pk}


def test_the_agenda_shows_an_unregistered_attendee_as_a_customer_to_register(
    client, supervisor, agenda_cast
):
    client.force_login(supervisor)

    response = client.get(reverse("crm:agenda"))

    assertContains(response, "Lucía Ramos")
    assertContains(response, "Cliente por registrar")
    assertContains(response, reverse("crm:customer_create") + "?name=Luc%C3%ADa%20Ramos")


def test_the_customer_form_starts_with_what_the_registrar_link_brings(client, asesor):
    client.force_login(asesor)

    response = client.get(
        reverse("crm:customer_create"), {"name": "Lucía Ramos", "email": "lucia@example.com"}
    )

    assert response.context["form"].initial == {
        "first_name": "Lucía",
        "last_name": "Ramos",
        "email": "lucia@example.com",
    }


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Lucía", "Lucía", None),
        ("Lucía Ramos", "Lucía", "Ramos"),
        ("Ana Lucía Ramos Quispe", "Ana Lucía", "Ramos Quispe"),
        ("  Rosa   Huamán  Díaz ", "Rosa", "Huamán Díaz"),
    ],
)
def test_a_booked_full_name_is_split_into_names_and_surnames(name, first, last):
    initial = CustomerForm.initial_from({"name": name})

    assert initial.get("first_name") == first
    assert initial.get("last_name") == last


def test_the_agenda_opens_on_the_next_two_weeks(client, supervisor, agenda_cast):
    AppointmentFactory(title="Pasada", starts_at=NOW - timedelta(days=1))
    AppointmentFactory(title="Lejana", starts_at=NOW + timedelta(days=20))
    client.force_login(supervisor)

    response = client.get(reverse("crm:agenda"))

    titles = {a.title for a in response.context["page"].object_list}
    assert "Pasada" not in titles
    assert "Lejana" not in titles
    assert len(titles) == 1  # the three of the cast share the factory's title


def test_the_agenda_filters_by_dates_status_and_name(client, supervisor, agenda_cast):
    agenda_cast["theirs"].status = Appointment.Status.CANCELLED
    agenda_cast["theirs"].save()
    client.force_login(supervisor)

    tuesday = client.get(reverse("crm:agenda"), {"since": "2026-12-01", "until": "2026-12-01"})
    cancelled = client.get(reverse("crm:agenda"), {"status": "cancelled"})
    by_name = client.get(reverse("crm:agenda"), {"q": "perez"})
    by_email = client.get(reverse("crm:agenda"), {"q": "lucia@example"})

    assert agenda_ids(tuesday) == {agenda_cast["unregistered"].pk}
    assert agenda_ids(cancelled) == {agenda_cast["theirs"].pk}
    assert agenda_ids(by_name) == {agenda_cast["theirs"].pk}
    assert agenda_ids(by_email) == {agenda_cast["unregistered"].pk}


def test_the_agenda_explains_a_range_that_ends_before_it_starts(client, asesor, agenda_cast):
    client.force_login(asesor)

    response = client.get(reverse("crm:agenda"), {"since": "2026-12-05", "until": "2026-12-01"})

    assert agenda_ids(response) == set()
    assertContains(response, "La fecha final es anterior a la inicial.")


def test_the_agenda_answers_htmx_with_its_results_only(client, asesor, agenda_cast):
    client.force_login(asesor)

    response = client.get(reverse("crm:agenda"), {"q": "rosa"}, headers=HTMX)

    assertTemplateUsed(response, "crm/partials/agenda_results.html")
    assertNotContains(response, "<html")
    assert response["HX-Push-Url"] == reverse("crm:agenda") + "?q=rosa"


@pytest.mark.parametrize("rows", [3, 30])
def test_the_agenda_costs_the_same_queries_for_3_or_30_appointments(
    client, supervisor, frozen, django_assert_max_num_queries, rows
):
    for hour in range(rows):
        AppointmentFactory(
            starts_at=NOW + timedelta(days=1, minutes=10 * hour),
            advisor=supervisor,
        )
    client.force_login(supervisor)

    # Session, user, permissions (2), the advisor select, count, page, and the session's
    # inactivity stamp (3).
    with django_assert_max_num_queries(10):
        response = client.get(reverse("crm:agenda"))

    assert response.status_code == 200


def test_the_agenda_needs_the_permission(client, agente):
    client.force_login(agente)

    assert client.get(reverse("crm:agenda")).status_code == 403


def test_the_agenda_is_in_the_menu_of_those_who_may_open_it(client, asesor, cobranzas):
    client.force_login(asesor)
    assertContains(client.get(reverse("crm:customer_list")), reverse("crm:agenda"))

    client.force_login(cobranzas)
    assertNotContains(client.get(reverse("crm:customer_list")), reverse("crm:agenda"))


def test_home_sends_a_call_center_agent_to_the_queue(client, agente):
    client.force_login(agente)

    response = client.get(reverse("home"))

    assert response.url == reverse("callcenter:queue")


def test_the_roles_see_appointments_as_the_table_says(db):
    roles.sync_roles()

    asesor = set(Group.objects.get(name="Asesor").permissions.values_list("codename", flat=True))
    supervisor = Group.objects.get(name="Supervisor").permissions.values_list("codename", flat=True)
    assert "view_appointment" in asesor
    assert "view_all_appointments" not in asesor
    assert {"view_appointment", "view_all_appointments"} <= set(supervisor)


def test_the_call_queue_is_in_the_menu_of_those_who_may_open_it(client, supervisor, asesor):
    client.force_login(supervisor)
    assertContains(client.get(reverse("crm:customer_list")), reverse("callcenter:queue"))

    client.force_login(asesor)
    assertNotContains(client.get(reverse("crm:customer_list")), reverse("callcenter:queue"))
