from datetime import UTC, datetime, timedelta

import pytest

from integrations import outbox, services, webhooks
from integrations.errors import TemporaryProviderError
from integrations.models import OutboxMessage, WebhookEvent

NOW = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def event(db, provider) -> WebhookEvent:
    return WebhookEvent.objects.create(provider=provider, event_id="evt-1", raw_body="{}")


def test_it_marks_the_event_processed_when_the_processor_succeeds(event, processor, time_machine):
    time_machine.move_to(NOW, tick=False)

    services.process_event(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.processed_at == NOW
    assert event.attempts == 1
    assert processor.calls == [event.pk]


def test_it_does_not_process_an_event_twice(event, processor):
    services.process_event(event_id=event.pk)

    services.process_event(event_id=event.pk)

    assert processor.calls == [event.pk]


def test_it_marks_the_event_failed_with_the_error_when_the_processor_raises(event, processor):
    processor.errors = [KeyError("lead_id")]

    services.process_event(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    assert "KeyError: 'lead_id'" in event.last_error
    assert event.processed_at is None


def test_it_rolls_back_what_a_failing_processor_wrote(event, processor):
    def enqueue_then_fail(event: WebhookEvent) -> None:
        outbox.enqueue_message(destination="tests.destination", payload={"id": 1})
        raise RuntimeError("half-way")

    processor.side_effect = enqueue_then_fail

    services.process_event(event_id=event.pk)

    assert not OutboxMessage.objects.exists()


def test_it_processes_a_failed_event_again_when_replayed(
    event, processor, django_capture_on_commit_callbacks
):
    processor.errors = [RuntimeError("bug")]
    services.process_event(event_id=event.pk)

    with django_capture_on_commit_callbacks(execute=True):
        replayed = services.replay_event(event=event)

    event.refresh_from_db()
    assert replayed is True
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.last_error == ""
    assert processor.calls == [event.pk, event.pk]


def test_it_does_not_replay_a_processed_event(event, processor, django_capture_on_commit_callbacks):
    services.process_event(event_id=event.pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        replayed = services.replay_event(event=event)

    assert replayed is False
    assert callbacks == []


def test_it_marks_the_event_ignored_when_the_processor_ignores_it(event, processor):
    processor.errors = [webhooks.IgnoreEvent("Estado de lead sin acción")]

    services.process_event(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.IGNORED
    assert event.last_error == "Estado de lead sin acción"


def test_it_marks_the_event_failed_when_no_processor_is_registered(db):
    event = WebhookEvent.objects.create(provider="nobody", event_id="evt-1", raw_body="{}")

    services.process_event(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.last_error == "No hay un procesador registrado para el proveedor «nobody»."


def test_it_records_a_temporary_provider_error_and_raises_it_for_the_task_to_retry(
    event, processor
):
    processor.errors = [TemporaryProviderError("HTTP 503")]

    with pytest.raises(TemporaryProviderError):
        services.process_event(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    assert "HTTP 503" in event.last_error


def test_it_enqueues_again_received_events_that_were_never_processed(
    event, processor, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(event.received_at + timedelta(minutes=6), tick=False)

    with django_capture_on_commit_callbacks(execute=True):
        enqueued = services.process_pending_events()

    event.refresh_from_db()
    assert enqueued == 1
    assert event.status == WebhookEvent.Status.PROCESSED


def test_it_leaves_recently_received_events_to_their_own_task(
    event, processor, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(event.received_at + timedelta(minutes=1), tick=False)

    with django_capture_on_commit_callbacks(execute=True):
        enqueued = services.process_pending_events()

    assert enqueued == 0
    assert processor.calls == []


def test_it_retries_failed_events_until_they_reach_the_max_attempts(
    event, processor, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    processor.errors = [RuntimeError("down"), RuntimeError("down"), RuntimeError("down")]
    services.process_event(event_id=event.pk)

    with django_capture_on_commit_callbacks(execute=True):
        services.process_pending_events()
    with django_capture_on_commit_callbacks(execute=True):
        enqueued_after_max = services.process_pending_events()

    event.refresh_from_db()
    assert event.attempts == 2
    assert event.status == WebhookEvent.Status.FAILED
    assert enqueued_after_max == 0


def test_it_recovers_events_stuck_in_processing_after_a_worker_died(
    event, processor, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(NOW, tick=False)
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=WebhookEvent.Status.PROCESSING, attempts=1, last_attempt_at=NOW
    )
    time_machine.move_to(NOW + timedelta(minutes=11), tick=False)

    with django_capture_on_commit_callbacks(execute=True):
        services.process_pending_events()

    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert event.attempts == 2


def test_after_the_quick_tries_the_sweep_waits_longer_each_time(
    event, processor, time_machine, django_capture_on_commit_callbacks
):
    """Five quick tries used every attempt within a minute: a payment notified during a
    provider's outage of a minute stayed failed until someone replayed it."""
    time_machine.move_to(NOW, tick=False)
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=WebhookEvent.Status.FAILED, attempts=5, last_attempt_at=NOW
    )

    def swept_after(minutes: int) -> int:
        time_machine.move_to(NOW + timedelta(minutes=minutes), tick=False)
        return services.pending_events_to_retry().filter(pk=event.pk).count()

    assert swept_after(4) == 0
    assert swept_after(5) == 1
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=6)
    assert swept_after(9) == 0
    assert swept_after(10) == 1
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=10)
    assert swept_after(60 * 24) == 0

    WebhookEvent.objects.filter(pk=event.pk).update(attempts=5)
    time_machine.move_to(NOW + timedelta(minutes=5), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.process_pending_events()
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
