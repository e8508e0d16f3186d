"""Housekeeping of the inbox and the outbox: rows whose work was done long ago are deleted.

Daily (beat, `integrations.delete_old_rows`):
- outbox messages sent more than OUTBOX_KEEP_DAYS ago. Queued, sending and failed ones
  stay: a failed message is retried from admin («Mensajes salientes») or from the
  customer's timeline, and its error is what people read.
- webhook events processed or ignored more than WEBHOOK_EVENTS_KEEP_DAYS ago. Received,
  processing and failed ones stay: a failed event waits for a replay from admin.

A domain app that still reads some of those rows (a screen compares them, or a person is
meant to replay them later) keeps them by registering, in its AppConfig.ready, a callable
that returns them:

    housekeeping.register_kept("callcenter.waiting_kommo_events", leads.waiting_events)

Rows go in pk ranges of BATCH, each range its own short DELETE, at most MAX_ROWS per run
and table; the next day's run takes the rest.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from integrations.models import OutboxMessage, WebhookEvent
from lib.registry import Registry

BATCH = 1_000
MAX_ROWS = 100_000

KeptRows = Callable[[], QuerySet]

_kept: Registry[KeptRows] = Registry("Rows kept from housekeeping by")


def register_kept(name: str, rows: KeptRows) -> None:
    """Keep the outbox messages or webhook events `rows()` returns out of the cleanup."""
    _kept.register(name, rows)


def unregister_kept(name: str) -> None:
    """Forget `name`'s kept rows (for tests)."""
    _kept.unregister(name)


def delete_old_rows(
    *, now: datetime | None = None, batch: int = BATCH, max_rows: int = MAX_ROWS
) -> dict[str, int]:
    """Delete the old sent messages and done webhook events; return how many of each."""
    now = now or timezone.now()
    return {
        "outbox": delete_in_batches(old_sent_messages(now=now), batch=batch, max_rows=max_rows),
        "webhooks": delete_in_batches(old_done_events(now=now), batch=batch, max_rows=max_rows),
    }


def old_sent_messages(*, now: datetime) -> QuerySet[OutboxMessage]:
    """Return the outbox messages sent more than OUTBOX_KEEP_DAYS ago that nobody keeps."""
    cutoff = now - timedelta(days=settings.OUTBOX_KEEP_DAYS)
    messages = OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT, sent_at__lt=cutoff)
    return _without_kept(messages)


def old_done_events(*, now: datetime) -> QuerySet[WebhookEvent]:
    """Return the webhook events processed or ignored more than WEBHOOK_EVENTS_KEEP_DAYS ago
    that nobody keeps."""
    cutoff = now - timedelta(days=settings.WEBHOOK_EVENTS_KEEP_DAYS)
    processed = Q(status=WebhookEvent.Status.PROCESSED) & (
        Q(processed_at__lt=cutoff) | Q(processed_at__isnull=True, received_at__lt=cutoff)
    )
    # An ignored event has no processed_at: its last try is when it was ignored.
    ignored = Q(status=WebhookEvent.Status.IGNORED) & (
        Q(last_attempt_at__lt=cutoff) | Q(last_attempt_at__isnull=True, received_at__lt=cutoff)
    )
    return _without_kept(WebhookEvent.objects.filter(processed | ignored))


def delete_in_batches(queryset: QuerySet, *, batch: int = BATCH, max_rows: int = MAX_ROWS) -> int:
    """Delete `queryset`'s rows one pk range at a time, at most `max_rows`; return how many.

    Each range is deleted with the queryset's own conditions, so a row that changed since
    it was read (an event replayed meanwhile) stays. No transaction around it all: each
    DELETE holds its locks for one range only.
    """
    deleted = last = 0
    while deleted < max_rows:
        pks = list(
            queryset.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[: min(batch, max_rows - deleted)]
        )
        if not pks:
            break
        count, _ = queryset.filter(pk__gte=pks[0], pk__lte=pks[-1]).delete()
        deleted += count
        last = pks[-1]
    return deleted


def _without_kept(queryset: QuerySet) -> QuerySet:
    model: type[Model] = queryset.model
    for name in _kept.names():
        kept = _kept.get(name)()
        if kept.model is model:
            queryset = queryset.exclude(pk__in=kept.values("pk"))
    return queryset
