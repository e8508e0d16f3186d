"""The daily cleanup of the inbox and the outbox: sent messages and processed or ignored
webhook events older than their keep days go, in bounded pk ranges; failed ones stay."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations import housekeeping, tasks
from integrations.models import OutboxMessage, WebhookEvent

pytestmark = pytest.mark.django_db

NOW = timezone.now()
OLD = NOW - timedelta(days=91)
RECENT = NOW - timedelta(days=89)


def message(status: str, *, at, **fields) -> OutboxMessage:
    return OutboxMessage.objects.create(
        destination="tests.destination",
        status=status,
        created_at=at,
        last_attempt_at=at,
        sent_at=at if status == OutboxMessage.Status.SENT else None,
        **fields,
    )


def event(status: str, *, at, n: int) -> WebhookEvent:
    return WebhookEvent.objects.create(
        provider="tests-provider",
        event_id=f"event-{n}",
        raw_body="{}",
        status=status,
        received_at=at,
        last_attempt_at=at,
        processed_at=at if status == WebhookEvent.Status.PROCESSED else None,
    )


def test_sent_messages_older_than_the_keep_days_go_and_the_others_stay():
    old_sent = message(OutboxMessage.Status.SENT, at=OLD)
    recent_sent = message(OutboxMessage.Status.SENT, at=RECENT)
    old_failed = message(OutboxMessage.Status.FAILED, at=OLD, last_error="Número inválido")
    old_queued = message(OutboxMessage.Status.QUEUED, at=OLD)

    deleted = housekeeping.delete_old_rows(now=NOW)

    assert deleted["outbox"] == 1
    assert not OutboxMessage.objects.filter(pk=old_sent.pk).exists()
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {
        recent_sent.pk,
        old_failed.pk,
        old_queued.pk,
    }


def test_processed_and_ignored_events_older_than_the_keep_days_go_failed_ones_stay():
    old_processed = event(WebhookEvent.Status.PROCESSED, at=OLD, n=1)
    old_ignored = event(WebhookEvent.Status.IGNORED, at=OLD, n=2)
    recent_processed = event(WebhookEvent.Status.PROCESSED, at=RECENT, n=3)
    recent_ignored = event(WebhookEvent.Status.IGNORED, at=RECENT, n=4)
    old_failed = event(WebhookEvent.Status.FAILED, at=OLD, n=5)
    old_received = event(WebhookEvent.Status.RECEIVED, at=OLD, n=6)

    deleted = housekeeping.delete_old_rows(now=NOW)

    assert deleted["webhooks"] == 2
    assert not WebhookEvent.objects.filter(pk__in=[old_processed.pk, old_ignored.pk]).exists()
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {
        recent_processed.pk,
        recent_ignored.pk,
        old_failed.pk,
        old_received.pk,
    }


def test_an_event_received_long_ago_but_processed_recently_stays():
    # A replay from admin last week: its outcome is recent, whatever its arrival.
    replayed = event(WebhookEvent.Status.PROCESSED, at=OLD, n=1)
    WebhookEvent.objects.filter(pk=replayed.pk).update(processed_at=RECENT, last_attempt_at=RECENT)

    housekeeping.delete_old_rows(now=NOW)

    assert WebhookEvent.objects.filter(pk=replayed.pk).exists()


def test_the_keep_days_come_from_the_settings(settings):
    settings.OUTBOX_KEEP_DAYS = 30
    settings.WEBHOOK_EVENTS_KEEP_DAYS = 200
    sent = message(OutboxMessage.Status.SENT, at=NOW - timedelta(days=31))
    processed = event(WebhookEvent.Status.PROCESSED, at=NOW - timedelta(days=199), n=1)

    assert housekeeping.delete_old_rows(now=NOW) == {"outbox": 1, "webhooks": 0}
    assert not OutboxMessage.objects.filter(pk=sent.pk).exists()
    assert WebhookEvent.objects.filter(pk=processed.pk).exists()


def test_rows_go_in_bounded_pk_ranges_and_a_run_deletes_at_most_max_rows():
    sent = [message(OutboxMessage.Status.SENT, at=OLD) for _ in range(7)]
    # A failed message between them, inside a range: the range keeps the conditions.
    failed = message(OutboxMessage.Status.FAILED, at=OLD)
    sent += [message(OutboxMessage.Status.SENT, at=OLD) for _ in range(3)]

    with CaptureQueriesContext(connection) as queries:
        deleted = housekeeping.delete_old_rows(now=NOW, batch=3, max_rows=8)

    assert deleted["outbox"] == 8
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    # 3 + 3 + 2 rows, each range its own statement; nothing of the webhooks' table.
    assert len(deletes) == 3
    assert all("integrations_outboxmessage" in sql for sql in deletes)
    left = set(OutboxMessage.objects.values_list("pk", flat=True))
    assert left == {failed.pk, sent[-2].pk, sent[-1].pk}

    # The next run takes the rest.
    assert housekeeping.delete_old_rows(now=NOW, batch=3, max_rows=8)["outbox"] == 2
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {failed.pk}


def test_rows_an_app_keeps_stay():
    kept = event(WebhookEvent.Status.IGNORED, at=OLD, n=1)
    gone = event(WebhookEvent.Status.IGNORED, at=OLD, n=2)
    housekeeping.register_kept(
        "tests.waiting", lambda: WebhookEvent.objects.filter(event_id="event-1")
    )
    try:
        housekeeping.delete_old_rows(now=NOW)
    finally:
        housekeeping.unregister_kept("tests.waiting")

    assert WebhookEvent.objects.filter(pk=kept.pk).exists()
    assert not WebhookEvent.objects.filter(pk=gone.pk).exists()


def test_beat_runs_the_cleanup_daily_at_0320():
    entry = settings.CELERY_BEAT_SCHEDULE["integrations-delete-old-rows"]
    assert entry["task"] == tasks.delete_old_rows.name == "integrations.delete_old_rows"
    assert entry["schedule"].hour == {3}
    assert entry["schedule"].minute == {20}

    sent = message(OutboxMessage.Status.SENT, at=timezone.now() - timedelta(days=91))
    tasks.delete_old_rows()

    assert not OutboxMessage.objects.filter(pk=sent.pk).exists()


@pytest.mark.django_db
def test_the_call_centers_kommo_updates_and_waiting_events_are_kept():
    """Saving the queue's settings replays the waiting Kommo events, and a lead's page reads
    its last Kommo update: the cleanup keeps both."""
    from datetime import timedelta

    from django.utils import timezone

    from callcenter.services import leads
    from integrations import housekeeping
    from integrations.models import OutboxMessage, WebhookEvent

    long_ago = timezone.now() - timedelta(days=400)
    update = OutboxMessage.objects.create(
        destination=leads.KOMMO_UPDATE_LEAD,
        payload={},
        status=OutboxMessage.Status.SENT,
        sent_at=long_ago,
    )
    waiting = WebhookEvent.objects.create(
        provider="kommo",
        event_id="waiting-1",
        raw_body="{}",
        status=WebhookEvent.Status.IGNORED,
        last_error=leads.WAITING_FOR_SETTINGS,
        last_attempt_at=long_ago,
    )

    housekeeping.delete_old_rows()

    assert OutboxMessage.objects.filter(pk=update.pk).exists()
    assert WebhookEvent.objects.filter(pk=waiting.pk).exists()
