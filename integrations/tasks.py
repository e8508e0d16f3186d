"""Celery doors into the inbox and outbox services; ids in, nothing out."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from integrations import errors, housekeeping, outbox, services

logger = logging.getLogger(__name__)


# Retries here cover a provider that is briefly down while a processor calls it; the
# 5-minute sweep (process_pending_events) takes over after that, waiting longer each time
# (services.retry_wait), up to WEBHOOK_MAX_ATTEMPTS. Countdowns stay under 10 minutes,
# well inside the Redis broker's visibility timeout.
@shared_task(
    name="integrations.process_event",
    autoretry_for=(errors.TemporaryProviderError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=3,
)
def process_event(event_id: int) -> None:
    services.process_event(event_id=event_id)


# What a webhook's receipt asks for: every received event, in arrival order.
@shared_task(name="integrations.process_received_events")
def process_received_events(recheck: bool = True) -> None:
    services.process_received_events(recheck=recheck)


@shared_task(name="integrations.process_pending_events")
def process_pending_events() -> None:
    services.process_pending_events()


# No Celery retries: the outbox keeps its retry plan in the database (next_attempt_at).
@shared_task(name="integrations.deliver_message")
def deliver_message(message_id: int) -> None:
    outbox.deliver_message(message_id=message_id)


@shared_task(name="integrations.deliver_messages")
def deliver_messages(message_ids: list[int]) -> None:
    outbox.deliver_messages(message_ids=message_ids)


# Beat starts one every minute. The sweep stops sending after outbox.SWEEP_SECONDS (45 s);
# these limits only stop one stuck past that (a provider that never answers), well inside
# the hold that keeps a second sweep out (outbox.SWEEP_HOLD_SECONDS, 150 s).
@shared_task(name="integrations.deliver_due_messages", soft_time_limit=90, time_limit=120)
def deliver_due_messages() -> None:
    try:
        outbox.deliver_due_messages()
    except SoftTimeLimitExceeded:
        # What was not sent stays queued, or in sending until recovered: the next sweep.
        logger.warning("Outbox sweep stopped by its time limit.")


# Daily (beat): outbox messages sent, and webhook events processed or ignored, long ago.
@shared_task(name="integrations.delete_old_rows")
def delete_old_rows() -> None:
    housekeeping.delete_old_rows()
