"""Processing of stored webhook events: claim, run the provider's processor, record the outcome.

The outbox (calls out) lives in `integrations.outbox`.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from integrations import errors, webhooks
from integrations.models import WebhookEvent
from lib import queue

logger = logging.getLogger(__name__)

# A received event whose processing task has not claimed it by then was lost on the way
# (broker restart, a crash between commit and enqueue): the sweep enqueues it again.
RECEIVED_GRACE = timedelta(minutes=5)
# A processor runs for seconds (HTTP timeouts are 20 s); one claimed longer ago than this
# belongs to a worker that died mid-processing.
PROCESSING_TIMEOUT = timedelta(minutes=10)


def process_event(*, event_id: int) -> None:
    """Run the registered processor on a received or failed event, once at a time.

    Raise TemporaryProviderError (after recording it) so the task retries; any other
    error is recorded on the event and left for the retry sweep or a replay from admin.
    """
    claimed = WebhookEvent.objects.filter(
        pk=event_id, status__in=[WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED]
    ).update(
        status=WebhookEvent.Status.PROCESSING,
        attempts=F("attempts") + 1,
        last_attempt_at=timezone.now(),
    )
    if not claimed:
        # Someone else is processing it, or it is already done.
        return
    event = WebhookEvent.objects.get(pk=event_id)

    processor = webhooks.processor_for(event.provider)
    if processor is None:
        _finish(
            event,
            WebhookEvent.Status.FAILED,
            last_error=gettext("No hay un procesador registrado para el proveedor «%(provider)s».")
            % {"provider": event.provider},
        )
        return

    try:
        with transaction.atomic():
            processor(event)
            # In the processor's transaction: its writes and "processed" commit together.
            _finish(event, WebhookEvent.Status.PROCESSED, processed_at=timezone.now())
    except webhooks.IgnoreEvent as exc:
        _finish(event, WebhookEvent.Status.IGNORED, last_error=str(exc))
    except Exception as exc:
        logger.exception("Webhook event %s (%s) failed", event.pk, event.provider)
        _finish(event, WebhookEvent.Status.FAILED, last_error=errors.traceback_summary(exc))
        if isinstance(exc, errors.TemporaryProviderError):
            raise


@transaction.atomic
def replay_event(*, event: WebhookEvent) -> bool:
    """Put a failed or ignored event back in the inbox and enqueue it; return whether it was."""
    replayed = WebhookEvent.objects.filter(
        pk=event.pk, status__in=[WebhookEvent.Status.FAILED, WebhookEvent.Status.IGNORED]
    ).update(status=WebhookEvent.Status.RECEIVED, attempts=0)
    if replayed:
        queue.enqueue("integrations.process_event", event_id=event.pk)
    return bool(replayed)


def pending_events_to_retry() -> QuerySet[WebhookEvent]:
    """Return the events to enqueue again: received but never claimed, or failed with tries
    left and their wait (`retry_wait`) over."""
    now = timezone.now()
    failed = Q()
    for attempts in range(settings.WEBHOOK_MAX_ATTEMPTS):
        failed |= Q(attempts=attempts, last_attempt_at__lte=now - retry_wait(attempts))
    return WebhookEvent.objects.filter(
        Q(status=WebhookEvent.Status.RECEIVED, received_at__lt=now - RECEIVED_GRACE)
        | (Q(status=WebhookEvent.Status.FAILED) & failed)
    ).order_by("received_at")


# The first tries come at once: the receipt's drain, its recheck and the task's own quick
# retries (a provider down for seconds). After them the sweep waits longer each time, so an
# outage of minutes or hours is outlived: 5 minutes, then 10, 20, 40, 80 (about 2.5 hours
# with the default 10 attempts). Five quick tries once used every attempt within a minute.
QUICK_ATTEMPTS = 5
RETRY_WAIT = timedelta(minutes=5)


def retry_wait(attempts: int) -> timedelta:
    """How long after its last try a failed event with `attempts` tries is tried again."""
    if attempts < QUICK_ATTEMPTS:
        return timedelta(0)
    return RETRY_WAIT * 2 ** (attempts - QUICK_ATTEMPTS)


@transaction.atomic
def process_pending_events(*, limit: int = 500) -> int:
    """Recover events stuck in processing and enqueue the pending ones; return how many."""
    now = timezone.now()
    WebhookEvent.objects.filter(
        status=WebhookEvent.Status.PROCESSING, last_attempt_at__lt=now - PROCESSING_TIMEOUT
    ).update(
        status=WebhookEvent.Status.FAILED,
        last_error=gettext("El procesamiento se interrumpió antes de terminar."),
    )
    # Bounded, so one sweep cannot flood the broker; the next sweep takes the rest.
    event_ids = list(pending_events_to_retry().values_list("pk", flat=True)[:limit])
    for event_id in event_ids:
        queue.enqueue("integrations.process_event", event_id=event_id)
    return len(event_ids)


def process_received_events(*, batch: int = 100, recheck: bool = True) -> int:
    """Process the inbox's received events in arrival order until none is left; return how
    many were tried. The drain a receipt asks for (webhooks.request_drain).

    With `recheck`, it sends itself once more, without it, DRAIN_RECHECK_SECONDS later: a
    receipt that skipped asking (its process had asked within DRAIN_ASK_SECONDS) may
    commit just after this drain's last read.
    """
    # First: a receipt committed from now on asks for another drain.
    cache.delete(webhooks.DRAIN_KEY)
    tried = last = 0
    while True:
        event_ids = list(
            WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED, pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not event_ids:
            break
        for event_id in event_ids:
            try:
                process_event(event_id=event_id)
            except errors.TemporaryProviderError:
                # A provider briefly down: the event's own task retries it with backoff.
                queue.send_now("integrations.process_event", {"event_id": event_id}, countdown=30)
            tried += 1
        last = event_ids[-1]
    if recheck:
        queue.send_now(
            "integrations.process_received_events",
            {"recheck": False},
            countdown=webhooks.DRAIN_RECHECK_SECONDS,
        )
    return tried


def _finish(event: WebhookEvent, status: str, *, last_error: str = "", **fields) -> None:
    # Conditional on "processing", so a late finisher never overwrites a newer claim.
    WebhookEvent.objects.filter(pk=event.pk, status=WebhookEvent.Status.PROCESSING).update(
        status=status, last_error=last_error, **fields
    )
