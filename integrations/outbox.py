"""The outbox: calls to providers written with the business change, sent later with retries.

A domain service writes the message inside its own transaction:

    outbox.enqueue_message(destination="kommo.update_lead", payload={...}, dedupe_key=...)

and the app registers, in its AppConfig.ready, the callable that sends that destination's
payloads:

    outbox.register_sender("kommo.update_lead", kommo.update_lead_from_payload)

A sender raises TemporaryProviderError for what may work later and ProviderError for a
definitive refusal. The retry plan lives in the database (`next_attempt_at`), swept every
minute by `tasks.deliver_due_messages`, not in Celery countdowns: with Redis as broker a
countdown longer than the visibility timeout gets the task delivered twice.

The app may also register `on_failure`, called with each of the destination's messages
that ends failed (refused, out of attempts, given up by the sweep), so the people
concerned hear of it where they look (crm.messages writes the customer's timeline). It
runs in the transaction that marks the message failed; its own errors are logged and
noted on the message, and never make the message be sent again.

    outbox.register_sender("crm.customer_message", deliver, on_failure=record_failure)

A sender whose call went through but whose own record of it failed raises
`SentNotRecorded`: the message is kept sent, never sent again, with the reason in its
last_error for a person to read in admin («Mensajes salientes»).

A sender whose owner's rules hold the message for now (the customers' quiet hours, changed
since it was queued) raises `Deferred(until, reason)`: the message is queued again for
`until`, with the reason in its last_error, and no attempt is counted.

One sweep runs at a time (a hold in the rate limits' store, lib.ratelimit), and it stops
sending once SWEEP_SECONDS have passed, leaving the rest to the next one: a provider that
answers slowly cannot make sweeps pile up behind each other on every worker.
"""

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from integrations import errors
from integrations.models import OutboxMessage
from lib import bulk, queue, ratelimit
from lib.registry import Registry

logger = logging.getLogger(__name__)

Sender = Callable[[dict[str, Any]], None]
FailureHandler = Callable[[OutboxMessage], None]

# A send takes seconds (HTTP timeouts are 20 s); a message claimed longer ago than this
# belongs to a worker that died mid-send.
SENDING_TIMEOUT = timedelta(minutes=10)


class SentNotRecorded(Exception):
    """Raised by a sender once the provider has the message but recording that failed:
    the outbox marks the message sent, never to be sent again, with this error noted."""


class Deferred(Exception):
    """Raised by a sender, before calling the provider, for a message that must not go out
    before `until`: the outbox queues it again for then, counting no attempt."""

    def __init__(self, until: datetime, reason: str = "") -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason


_senders: Registry[Sender] = Registry("A sender for")
_failure_handlers: Registry[FailureHandler] = Registry("A failure handler for")


def register_sender(
    destination: str, sender: Sender, *, on_failure: FailureHandler | None = None
) -> None:
    """Make `sender` the callable that sends `destination`'s payloads (one per destination).

    `on_failure`, if given, is called with each of the destination's messages that ends
    failed, after its status, attempts and last_error are saved.
    """
    _senders.register(destination, sender)
    if on_failure is not None:
        _failure_handlers.register(destination, on_failure)


def unregister_sender(destination: str) -> None:
    """Forget `destination`'s sender and failure handler (for tests)."""
    _senders.unregister(destination)
    _failure_handlers.unregister(destination)


def sender_for(destination: str) -> Sender | None:
    """Return the callable registered for `destination`, or None."""
    return _senders.get(destination)


def enqueue_message(
    *,
    destination: str,
    payload: dict[str, Any],
    dedupe_key: str = "",
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Queue a message for `destination`, sent once the caller's transaction commits.

    Call it inside the transaction of the business change. With a `dedupe_key` already
    used, return the existing message and queue nothing. A message `not_before` a later
    time (held by quiet hours) waits for the sweep that finds it due.
    """
    if dedupe_key:
        existing = OutboxMessage.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    try:
        # A savepoint: losing a race on dedupe_key must not break the caller's transaction.
        with transaction.atomic():
            now = timezone.now()
            message = OutboxMessage.objects.create(
                destination=destination,
                payload=payload,
                dedupe_key=dedupe_key,
                next_attempt_at=max(now, not_before or now),
            )
    except IntegrityError:
        if not dedupe_key:
            raise
        return OutboxMessage.objects.get(dedupe_key=dedupe_key)
    if message.next_attempt_at <= now:
        queue.enqueue("integrations.deliver_message", message_id=message.pk)
    return message


def enqueue_messages(
    *, destination: str, payloads: list[dict[str, Any]], not_before: datetime | None = None
) -> list[int]:
    """Queue many messages for `destination` at once: one COPY (lib.bulk), and one task for
    them all; return their ids.

    The bulk path of a flow's batch (no dedupe keys: the caller decides what is new).
    Messages held until `not_before` are left to the sweep.
    """
    if not payloads:
        return []
    now = timezone.now()
    due = max(now, not_before or now)
    ids = bulk.create_rows(
        OutboxMessage,
        [
            {
                "destination": destination,
                "payload": payload,
                "dedupe_key": "",
                "status": OutboxMessage.Status.QUEUED,
                "attempts": 0,
                "next_attempt_at": due,
                "last_attempt_at": None,
                "last_error": "",
                "created_at": now,
                "sent_at": None,
            }
            for payload in payloads
        ],
    )
    if due <= now:
        queue.enqueue("integrations.deliver_messages", message_ids=ids)
    return ids


def deliver_messages(*, message_ids: list[int]) -> None:
    """Send a batch of queued messages, one after the other (the task of a batch)."""
    for message_id in message_ids:
        deliver_message(message_id=message_id)


def deliver_message(*, message_id: int) -> None:
    """Send a due queued message once, and record the outcome or plan the next attempt."""
    now = timezone.now()
    claimed = OutboxMessage.objects.filter(
        pk=message_id, status=OutboxMessage.Status.QUEUED, next_attempt_at__lte=now
    ).update(status=OutboxMessage.Status.SENDING, last_attempt_at=now)
    if not claimed:
        # Sent, failed, not due yet, or another worker has it.
        return
    message = OutboxMessage.objects.get(pk=message_id)

    sender = sender_for(message.destination)
    if sender is None:
        _fail(
            message,
            attempts=message.attempts + 1,
            error=gettext("No hay un remitente registrado para el destino «%(destination)s».")
            % {"destination": message.destination},
        )
        return

    try:
        sender(message.payload)
    except Deferred as exc:
        # Not an attempt: nothing reached the provider. Never due at once again, so a
        # sender that defers to the past cannot spin inside one sweep.
        _finish(
            message,
            status=OutboxMessage.Status.QUEUED,
            last_error=exc.reason,
            next_attempt_at=max(exc.until, timezone.now() + timedelta(seconds=1)),
        )
    except SentNotRecorded as exc:
        # The provider has it: sending it again would reach the customer twice.
        logger.error("Outbox message %s (%s) sent, not recorded", message.pk, message.destination)
        _finish(
            message,
            status=OutboxMessage.Status.SENT,
            attempts=message.attempts + 1,
            last_error=gettext(
                "Enviado, pero no se pudo registrar su estado (la ficha del cliente puede "
                "seguir diciendo «en cola»): %(error)s"
            )
            % {"error": exc},
            sent_at=timezone.now(),
        )
    except errors.TemporaryProviderError as exc:
        _plan_retry(message, error=str(exc), not_before=exc.retry_after)
    except errors.ProviderError as exc:
        _fail(message, attempts=message.attempts + 1, error=str(exc))
    except Exception as exc:
        # A bug or an unexpected failure in the sender: retried like a temporary error, so
        # a fix deployed in time still sends it; bounded by OUTBOX_MAX_ATTEMPTS.
        logger.exception("Outbox message %s (%s) failed", message.pk, message.destination)
        _plan_retry(message, error=errors.traceback_summary(exc))
    else:
        _finish(
            message,
            status=OutboxMessage.Status.SENT,
            attempts=message.attempts + 1,
            last_error="",
            sent_at=timezone.now(),
        )


# The sweep sends this many due messages itself; a larger backlog (a morning's messages
# held by quiet hours) goes to the workers in batch tasks of SWEEP_BATCH.
SWEEP_INLINE = 500
SWEEP_BATCH = 500
SWEEP_MAX = 20_000
# The sweep stops sending after this long (beat starts one every minute); a send already
# begun ends first, so with HTTP timeouts of 20 s the task's soft time limit
# (integrations.tasks) is further off.
SWEEP_SECONDS = 45
# How long the one-sweep-at-a-time hold lasts if its worker dies without releasing it:
# longer than the task's hard time limit, so two sweeps never overlap.
SWEEP_HOLD_SECONDS = 150


def deliver_due_messages(*, limit: int = SWEEP_INLINE, seconds: float = SWEEP_SECONDS) -> int:
    """Recover messages stuck in sending, then send the due ones; return how many were
    tried here or handed to batches (0 when another sweep is running).

    Up to `limit` are sent here, for `seconds` at most; beyond that, up to SWEEP_MAX more
    are handed to the workers in batches. A batch sent twice (the next sweep finds it still
    queued) is harmless: each message is claimed once.
    """
    with ratelimit.one_at_a_time("outbox-sweep", seconds=SWEEP_HOLD_SECONDS) as held:
        if not held:
            logger.info("Outbox sweep skipped: another one is running.")
            return 0
        return _sweep(limit=limit, until=timezone.now() + timedelta(seconds=seconds))


def _sweep(*, limit: int, until: datetime) -> int:
    recover_stuck_messages()
    # Oldest first, and bounded, so one sweep ends well before the next one starts. Those
    # due at the same moment (a night's messages held until 08:00) in the order they were
    # written: «recibimos su pago» before «verificamos su pago».
    message_ids = list(
        OutboxMessage.objects.filter(
            status=OutboxMessage.Status.QUEUED, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at", "created_at", "pk")
        .values_list("pk", flat=True)[: limit + SWEEP_MAX]
    )
    for start in range(limit, len(message_ids), SWEEP_BATCH):
        queue.send_now(
            "integrations.deliver_messages",
            {"message_ids": message_ids[start : start + SWEEP_BATCH]},
        )
    inline = message_ids[:limit]
    for done, message_id in enumerate(inline):
        if timezone.now() >= until:
            # The rest wait for the next sweep, a minute away.
            logger.warning("Outbox sweep out of time: %s due messages left", len(inline) - done)
            return len(message_ids) - len(inline) + done
        deliver_message(message_id=message_id)
    return len(message_ids)


def recover_stuck_messages() -> int:
    """Put messages whose sender died mid-send back in the queue; return how many."""
    now = timezone.now()
    stuck = OutboxMessage.objects.filter(
        status=OutboxMessage.Status.SENDING, last_attempt_at__lt=now - SENDING_TIMEOUT
    )
    error = gettext("El envío se interrumpió antes de terminar.")
    # The interrupted send counts as an attempt: a message that kills its worker every
    # time must not loop forever. One row at a time, so the owner hears of exactly the
    # messages this sweep gave up on (another sweep running at once gets the others).
    failed = 0
    given_up = stuck.filter(attempts__gte=settings.OUTBOX_MAX_ATTEMPTS - 1)
    for message_id in list(given_up.values_list("pk", flat=True)):
        with transaction.atomic():
            if stuck.filter(pk=message_id).update(
                status=OutboxMessage.Status.FAILED, attempts=F("attempts") + 1, last_error=error
            ):
                failed += 1
                _tell_owner(message_id)
    requeued = stuck.update(
        status=OutboxMessage.Status.QUEUED,
        attempts=F("attempts") + 1,
        next_attempt_at=now,
        last_error=error,
    )
    return failed + requeued


@transaction.atomic
def retry_message(*, message: OutboxMessage) -> bool:
    """Queue a failed message again with fresh attempts; return whether it was."""
    retried = OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxMessage.Status.FAILED
    ).update(status=OutboxMessage.Status.QUEUED, attempts=0, next_attempt_at=timezone.now())
    if retried:
        queue.enqueue("integrations.deliver_message", message_id=message.pk)
    return bool(retried)


def backoff_seconds(attempts: int) -> float:
    """Return the wait before the next attempt: full jitter over a capped exponential."""
    ceiling = min(
        settings.OUTBOX_BACKOFF_MAX_SECONDS, settings.OUTBOX_BACKOFF_BASE_SECONDS * 2**attempts
    )
    # Jitter spreads the retries of a provider outage; it needs no cryptographic quality.
    return max(1.0, random.uniform(0, ceiling))  # noqa: S311


def _plan_retry(message: OutboxMessage, *, error: str, not_before: float | None = None) -> None:
    attempts = message.attempts + 1
    if attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        _fail(message, attempts=attempts, error=error)
        return
    # A provider that says when to come back (a 429's Retry-After) is not called sooner.
    wait = max(backoff_seconds(attempts), not_before or 0)
    _finish(
        message,
        status=OutboxMessage.Status.QUEUED,
        attempts=attempts,
        last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=wait),
    )


def _fail(message: OutboxMessage, *, attempts: int, error: str) -> None:
    """Mark a message being sent as failed for good, and tell its destination's owner."""
    with transaction.atomic():
        if _finish(
            message, status=OutboxMessage.Status.FAILED, attempts=attempts, last_error=error
        ):
            _tell_owner(message.pk)


def _tell_owner(message_id: int) -> None:
    """Call the failure handler of a just-failed message's destination, if it has one."""
    message = OutboxMessage.objects.get(pk=message_id)
    handler = _failure_handlers.get(message.destination)
    if handler is None:
        return
    try:
        # A savepoint: a handler that breaks must not undo "failed", or the message would
        # sit in "sending" until the sweep sent it again.
        with transaction.atomic():
            handler(message)
    except Exception as exc:
        logger.exception(
            "Failure handler of outbox message %s (%s)", message.pk, message.destination
        )
        note = gettext("No se pudo avisar del fallo: %(error)s") % {
            "error": errors.traceback_summary(exc)
        }
        OutboxMessage.objects.filter(pk=message.pk).update(
            last_error=f"{message.last_error}\n\n{note}"
        )


def _finish(message: OutboxMessage, **fields: Any) -> bool:
    # Conditional on "sending", so a send the stuck-message sweep gave up on cannot
    # overwrite what happened since.
    return bool(
        OutboxMessage.objects.filter(pk=message.pk, status=OutboxMessage.Status.SENDING).update(
            **fields
        )
    )
