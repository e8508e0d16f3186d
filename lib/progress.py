"""Where a long background job stands, kept in the cache, and whether its worker died.

A job (an import) saves its progress every half second or so; its page reads it. The
progress is a courtesy: a cache that fails (Redis restarting) must not fail the job, so
saving and reading here never raise. The time of the last save is also the job's pulse: a
job "running" whose pulse stopped for `ABANDONED_AFTER` belongs to a worker that died
(killed by a deploy or out of memory), and may be taken up again (`claim`).
"""

import datetime
import logging
import time
from typing import Any

from django.core.cache import cache
from django.db.models import F, QuerySet
from django.utils import timezone

from lib import queue

logger = logging.getLogger(__name__)

# No progress for this long: the worker that ran the job is gone. Long enough for the
# slowest step that saves no progress (a big import's commit takes seconds, not minutes).
ABANDONED_AFTER = datetime.timedelta(minutes=15)
# How many times in all a job is sent to a worker by `send_again`'s callers: its first send,
# then beat's sends again while it stays without progress; after that it fails.
MAX_SENDS = 3
# How long the pulse `send_again` saves is kept: longer than ABANDONED_AFTER.
PULSE_SECONDS = 60 * 60


def save(key: str, values: dict[str, Any], timeout: int) -> None:
    """Keep `values` and the time now under `key`; a failing cache is logged, not raised."""
    try:
        cache.set(key, {**values, "at": time.time()}, timeout)
    except Exception:  # any cache backend's error: the job goes on
        logger.warning("Progress %s not saved: the cache failed", key, exc_info=True)


def read(key: str) -> dict[str, Any]:
    """Return what was saved under `key` ({} if nothing, or if the cache fails)."""
    try:
        saved = cache.get(key)
    except Exception:  # the page shows no progress rather than an error
        logger.warning("Progress %s not read: the cache failed", key, exc_info=True)
        return {}
    return saved if isinstance(saved, dict) else {}


def forget(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:  # it expires on its own
        logger.warning("Progress %s not deleted: the cache failed", key, exc_info=True)


def last_pulse(key: str, started: datetime.datetime) -> datetime.datetime:
    """The last sign of life of a job: its last progress saved, or when it started."""
    at = read(key).get("at")
    if isinstance(at, int | float):
        return max(started, datetime.datetime.fromtimestamp(at, tz=datetime.UTC))
    return started


def claim(
    rows: QuerySet,
    pk: int,
    *,
    queued: str,
    running: str,
    key: str,
    now: datetime.datetime | None = None,
) -> bool:
    """Mark the job `pk` running for this worker; return whether this call got it.

    A queued job is taken as it comes. A running one only when its pulse stopped for
    ABANDONED_AFTER, and then by one caller alone: the update names the start it read.
    `rows` has `status` and `started_at` columns.
    """
    now = now or timezone.now()
    if rows.filter(pk=pk, status=queued).update(status=running, started_at=now):
        return True
    started = rows.filter(pk=pk, status=running).values_list("started_at", flat=True).first()
    if started is None or now - last_pulse(key, started) < ABANDONED_AFTER:
        return False
    taken = bool(rows.filter(pk=pk, status=running, started_at=started).update(started_at=now))
    if taken:
        logger.warning("Job %s (%s) taken up again: its worker stopped", pk, rows.model.__name__)
    return taken


def abandoned(
    rows: QuerySet, *, queued: str, running: str, key_of, now: datetime.datetime | None = None
) -> list[int]:
    """The ids of `rows` queued or running whose pulse stopped for ABANDONED_AFTER: their
    task was lost (never sent, or its worker died). `key_of(pk)` is a job's progress key."""
    now = now or timezone.now()
    candidates = rows.filter(status__in=[queued, running]).values_list(
        "pk", "started_at", "created_at"
    )
    return [
        pk
        for pk, started, created in candidates
        if now - last_pulse(key_of(pk), started or created) >= ABANDONED_AFTER
    ]


def send_again(
    rows: QuerySet,
    *,
    queued: str,
    running: str,
    failed: str,
    failure: str,
    key_of,
    task: str,
    argument: str,
    now: datetime.datetime | None = None,
) -> int:
    """Send `task` again ({argument: id}) for each job `abandoned` finds, up to MAX_SENDS
    sends in all; fail with `failure`, finished now, one sent that many times (a file that
    kills its worker each time must not kill one every 15 minutes for ever). Return how
    many were sent again. Beat calls it.

    `rows` has `status`, `started_at`, `attempts` (the sends again so far), `failure` and
    `finished_at` columns. Each change is made only if the row is still as it was seen
    stale (status, start, attempts), so two beats, or beat and a redelivered task that has
    just claimed the job, never both act on it; the job's own `claim` makes a duplicate
    send harmless. A job is sent again queued, with a new pulse (the send is a sign of
    life): the next send comes only after ABANDONED_AFTER more, however long the task
    waits in the queue.
    """
    now = now or timezone.now()
    # Seen first, then found stale: a job claimed in between is seen as it was before.
    seen = {
        row["pk"]: row
        for row in rows.filter(status__in=[queued, running]).values(
            "pk", "status", "started_at", "attempts"
        )
    }
    stale = abandoned(
        rows.filter(pk__in=list(seen)), queued=queued, running=running, key_of=key_of, now=now
    )
    sent, given_up = [], []
    for job_id in stale:
        row = seen[job_id]
        unchanged = rows.filter(**row)
        if row["attempts"] + 1 >= MAX_SENDS:
            if unchanged.update(status=failed, failure=failure, finished_at=now):
                given_up.append(row["pk"])
            continue
        # Queued again: the task's `claim` takes it as it comes, with the new pulse.
        if not unchanged.update(status=queued, started_at=None, attempts=F("attempts") + 1):
            continue  # claimed, or sent again by another beat, since it was seen
        key = key_of(row["pk"])
        save(key, {k: v for k, v in read(key).items() if k != "at"}, PULSE_SECONDS)
        queue.send_now(task, {argument: row["pk"]})
        sent.append(row["pk"])
    if sent:
        logger.warning("%s %s sent again: their task was lost", rows.model.__name__, sent)
    if given_up:
        logger.warning(
            "%s %s failed: no progress after %s sends", rows.model.__name__, given_up, MAX_SENDS
        )
    return len(sent)
