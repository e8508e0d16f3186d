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
from django.db.models import QuerySet
from django.utils import timezone

from lib import queue

logger = logging.getLogger(__name__)

# No progress for this long: the worker that ran the job is gone. Long enough for the
# slowest step that saves no progress (a big import's commit takes seconds, not minutes).
ABANDONED_AFTER = datetime.timedelta(minutes=15)


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
    rows: QuerySet, *, queued: str, running: str, key_of, task: str, argument: str
) -> int:
    """Send `task` again ({argument: id}) for each job `abandoned` finds; return how many.
    Beat calls it: the job's own `claim` makes a duplicate harmless."""
    job_ids = abandoned(rows, queued=queued, running=running, key_of=key_of)
    for job_id in job_ids:
        queue.send_now(task, {argument: job_id})
    if job_ids:
        logger.warning("%s %s sent again: their task was lost", rows.model.__name__, job_ids)
    return len(job_ids)
