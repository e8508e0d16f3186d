"""A Kommo lead that arrives before the queue's settings waits for them, and the empty
queue says what is missing."""

import pytest
from django.urls import reverse

from callcenter.models import Lead, QueueSettings
from callcenter.services import leads as lead_services
from integrations.models import WebhookEvent
from tests.callcenter.conftest import PIPELINE, QUEUE_STATUS, SECRET, fixture_body
from tests.factories import UserFactory

URL = reverse("callcenter:kommo_webhook", args=[SECRET])
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def blank_settings(db) -> QueueSettings:
    """The settings row as `migrate` leaves it: no Kommo stage."""
    QueueSettings.objects.update_or_create(
        pk=1, defaults={"pipeline_id": None, "queue_status_id": None, "sold_status_id": None}
    )
    return QueueSettings.objects.get(pk=1)


@pytest.fixture
def first_lead(client, django_capture_on_commit_callbacks, blank_settings):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL, data=fixture_body("lead_status_to_queue.txt"), content_type=FORM)
    return WebhookEvent.objects.get()


@pytest.fixture
def jefe(db):
    return UserFactory(username="jefe", is_staff=True, is_superuser=True)


def test_a_lead_sent_before_the_settings_waits_for_them(first_lead):
    assert Lead.objects.count() == 0
    assert first_lead.status == WebhookEvent.Status.IGNORED
    assert "Configuración de la cola" in first_lead.last_error
    assert first_lead.last_error == lead_services.WAITING_FOR_SETTINGS


def test_saving_the_settings_in_admin_puts_the_waiting_lead_in_the_queue(
    client, jefe, first_lead, django_capture_on_commit_callbacks
):
    client.force_login(jefe)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:callcenter_queuesettings_change", args=[1]),
            {
                "pipeline_id": str(PIPELINE),
                "queue_status_id": str(QUEUE_STATUS),
                "take_timeout_minutes": "30",
            },
            follow=True,
        )

    assert response.status_code == 200
    lead = Lead.objects.get(kommo_id=25399013)
    assert lead.in_queue
    first_lead.refresh_from_db()
    assert first_lead.status == WebhookEvent.Status.PROCESSED
    assert "1 evento de Kommo recibido antes de configurar la cola se procesa ahora" in (
        response.content.decode()
    )


def test_saving_settings_still_without_a_stage_leaves_the_event_waiting(
    client, jefe, first_lead, django_capture_on_commit_callbacks
):
    client.force_login(jefe)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:callcenter_queuesettings_change", args=[1]),
            {"pipeline_id": str(PIPELINE), "take_timeout_minutes": "30"},
        )

    first_lead.refresh_from_db()
    assert first_lead.status == WebhookEvent.Status.IGNORED
    assert first_lead.last_error == lead_services.WAITING_FOR_SETTINGS
    assert Lead.objects.count() == 0


def test_the_empty_queue_tells_an_administrator_the_stage_is_missing_and_who_waits(
    client, jefe, first_lead
):
    client.force_login(jefe)

    response = client.get(reverse("callcenter:queue"))

    text = response.content.decode()
    assert "La cola no está configurada: falta la etapa «Para Llamar»" in text
    assert "1 lead de Kommo espera esa configuración" in text
    assert reverse("admin:callcenter_queuesettings_change", args=[1]) in text


def test_the_empty_queue_tells_an_agent_whom_to_ask(client, agente, blank_settings):
    client.force_login(agente)

    response = client.get(reverse("callcenter:queue"))

    text = response.content.decode()
    assert "pida a un administrador que complete la etapa «Para Llamar»" in text
    assert "/admin/" not in text.split('id="queue-not-configured"')[1].split("</div>")[0]


def test_a_configured_queue_says_nothing_about_settings(client, jefe, queue_config):
    client.force_login(jefe)

    response = client.get(reverse("callcenter:queue"))

    assert 'id="queue-not-configured"' not in response.content.decode()
