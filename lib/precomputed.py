"""Figures too slow to sum on every view (a panel, a report), computed ahead and kept in the
shared cache with the time they were computed, which the page shows.

    computed = precomputed.read_or_compute(key, compute, timeout=KEEP_SECONDS)
    computed.value, computed.computed_at

A cache that is down is logged, never raised: the page then computes the figures each
time, slowly but right.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

Value = TypeVar("Value")


@dataclass(frozen=True)
class Computed(Generic[Value]):
    value: Value
    computed_at: datetime


def read_or_compute(
    key: str,
    compute: Callable[[], Value],
    *,
    timeout: int,
    fresh: bool = False,
    usable: Callable[[Value], bool] = lambda value: True,
) -> Computed[Value]:
    """Return what is kept under `key` when it is `usable`; otherwise (or when `fresh`)
    compute it now, keep it for `timeout` seconds and return it."""
    if not fresh:
        kept = _read(key)
        if kept is not None and usable(kept.value):
            return kept
    return compute_and_keep(key, compute, timeout=timeout)


def compute_and_keep(key: str, compute: Callable[[], Value], *, timeout: int) -> Computed[Value]:
    """Compute the value now, keep it under `key` for `timeout` seconds and return it."""
    computed = Computed(value=compute(), computed_at=timezone.now())
    try:
        cache.set(key, computed, timeout=timeout)
    except Exception:
        logger.exception("precomputed %s: could not keep the figures", key)
    return computed


def _read(key: str) -> Computed | None:
    try:
        kept = cache.get(key)
    except Exception:
        logger.exception("precomputed %s: could not read the kept figures", key)
        return None
    return kept if isinstance(kept, Computed) else None
