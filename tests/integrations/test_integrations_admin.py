import pytest
from django.urls import reverse

from integrations.models import OutboxMessage, WebhookEvent


@pytest.fixture
def failed_event(db, provider) -> WebhookEvent:
    return WebhookEvent.objects.create(
        provider=provider,
        event_id="evt-1",
        raw_body='{"leads": {"status": [{"id": "7"}]}}',
        headers={"content-type": "application/json"},
        status=WebhookEvent.Status.FAILED,
        attempts=5,
        last_error="RuntimeError: Kommo no respondió",
    )


@pytest.fixture
def failed_message(db, destination) -> OutboxMessage:
    return OutboxMessage.objects.create(
        destination=destination,
        payload={"lead_id": 7, "status_id": 142},
        status=OutboxMessage.Status.FAILED,
        attempts=10,
        last_error="HTTP 400",
    )


def test_it_lists_webhook_events(admin_client, failed_event):
    response = admin_client.get(reverse("admin:integrations_webhookevent_changelist"))

    assert response.status_code == 200
    assert "evt-1" in response.text


def test_it_shows_a_webhook_event_read_only_with_its_body_pretty_printed(
    admin_client, failed_event
):
    response = admin_client.get(
        reverse("admin:integrations_webhookevent_change", args=[failed_event.pk])
    )

    assert response.status_code == 200
    assert "&quot;leads&quot;: {" in response.text
    assert 'name="_save"' not in response.text


def test_it_offers_no_way_to_add_webhook_events(admin_client, db):
    response = admin_client.get(reverse("admin:integrations_webhookevent_add"))

    assert response.status_code == 403


def test_it_reprocesses_the_selected_events(
    admin_client, failed_event, processor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:integrations_webhookevent_changelist"),
            {"action": "replay_events", "_selected_action": [failed_event.pk]},
            follow=True,
        )

    failed_event.refresh_from_db()
    assert failed_event.status == WebhookEvent.Status.PROCESSED
    assert processor.calls == [failed_event.pk]
    assert "1 evento vuelve a procesarse." in response.text


def test_it_lists_outbox_messages(admin_client, failed_message):
    response = admin_client.get(reverse("admin:integrations_outboxmessage_changelist"))

    assert response.status_code == 200
    assert "HTTP 400" in response.text


def test_it_shows_an_outbox_message_with_its_payload(admin_client, failed_message):
    response = admin_client.get(
        reverse("admin:integrations_outboxmessage_change", args=[failed_message.pk])
    )

    assert response.status_code == 200
    assert "&quot;status_id&quot;: 142" in response.text


def test_it_retries_the_selected_messages(
    admin_client, failed_message, sender, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:integrations_outboxmessage_changelist"),
            {"action": "retry_messages", "_selected_action": [failed_message.pk]},
            follow=True,
        )

    failed_message.refresh_from_db()
    assert failed_message.status == OutboxMessage.Status.SENT
    assert sender.sent == [{"lead_id": 7, "status_id": 142}]
    assert "1 mensaje vuelve a la cola." in response.text
