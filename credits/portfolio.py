"""The portfolio report from snapshots: the figures of `selectors.portfolio_summaries`, one
report per currency (soles and dollars are never added up), kept per day so the page does
not run the aging SQL (most of a second at a million installments) on every view.

A snapshot stays exact because every service that changes what the report reads calls
`mark_stale(from_day)` in its own transaction:

- a payment recorded, from the day it was received: the days before it are rebuilt
  without it;
- a payment annulled, from the day it was received too, not only today: the days between
  still count it, but rebuilt another way (as a payment annulled since, on the loan's status
  of now), which does not always give the same figures (a loan it had paid off comes back
  on those days, owing nothing);
- a disbursement, from its day: the loan enters the portfolio then;
- a write-off, from today: the loan leaves the buckets for the written-off line from the
  moment of its write-off (the report reads it from the ledger), so the days before keep it.

Creating a loan, sending it for signature and cancelling a draft leave the report alone
(it reads disbursed loans only); so does the nightly late interest, which changes neither
principal nor `paid_on`.

A past day is recomputed before it is shown when it is stale: it changes rarely (a payment
recorded late), and exactness is the point of looking back. Today changes with every
payment: its last figures are shown with the time they were computed while a task
recomputes them, and the page polls until they are fresh.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from credits import selectors
from credits.models import Bucket, PortfolioSnapshot
from lib import queue
from lib.money import Currency

REFRESH_TASK = "credits.refresh_portfolio_snapshot"
# A burst of payments sends one refresh per this many seconds; what changes in between is
# picked up by the next one (the page asks again while it shows stale figures, and beat
# runs the task every 5 minutes).
REFRESH_DEBOUNCE_SECONDS = 30
REFRESH_KEY = "credits:portfolio-refresh"
# Besides today, the task recomputes the stale snapshots of this many days back: a payment
# received yesterday and recorded today marks yesterday, the past day most looked at.
RECENT_DAYS = 7
# A PostgreSQL advisory lock: held shared by every transaction that marks snapshots stale,
# until it ends, and taken once exclusively by a computation before it reads the ledger.
MARKING_LOCK = 7_300_101


def portfolio_figures(
    as_of: date, currency: str
) -> tuple[selectors.PortfolioSummary, datetime, bool]:
    """Return the report of the loans in `currency` as of a day, when it was computed, and
    whether changes since are still being added to it (only ever today's: a stale past day
    is computed again here).

    A fresh snapshot costs one query. Call it outside a transaction (see `refresh_snapshot`).
    """
    snapshot = PortfolioSnapshot.objects.filter(as_of=as_of).first()
    if snapshot is not None and has_figures(snapshot):
        if not snapshot.is_stale:
            return summary_of(snapshot, currency), snapshot.computed_at, False
        if as_of == timezone.localdate():
            # Robust: a cache or broker down must not hide the figures it has.
            transaction.on_commit(request_refresh, robust=True)
            return summary_of(snapshot, currency), snapshot.computed_at, True
    snapshot = refresh_snapshot(as_of)
    return summary_of(snapshot, currency), snapshot.computed_at, snapshot.is_stale


def refresh_snapshot(as_of: date) -> PortfolioSnapshot:
    """Compute the report as of a day, store it, and return the stored snapshot.

    Two computations of the same day at once both save (the same figures); one that a
    change overtook while it read the ledger saves its figures still stale. That rests on
    the row existing, committed, before the ledger is read, so that `mark_stale` in another
    transaction finds it: call this outside a transaction.
    """
    PortfolioSnapshot.objects.get_or_create(as_of=as_of)
    _wait_for_marking()
    snapshot = PortfolioSnapshot.objects.get(as_of=as_of)
    computed_at = timezone.now()
    figures = figures_of(selectors.portfolio_summaries(as_of))
    # Never over figures read later than these (a slower computation finishing last).
    not_newer = PortfolioSnapshot.objects.filter(pk=snapshot.pk).filter(
        Q(computed_at__isnull=True) | Q(computed_at__lte=computed_at)
    )
    saved = not_newer.filter(version=snapshot.version).update(
        figures=figures, computed_at=computed_at, is_stale=False
    )
    if not saved:
        not_newer.update(figures=figures, computed_at=computed_at)
    snapshot.refresh_from_db()
    return snapshot


def refresh_snapshots(today: date | None = None) -> list[date]:
    """Compute today's snapshot if it is missing or stale, and the stale ones of the last
    `RECENT_DAYS` days; return the days computed."""
    today = today or timezone.localdate()
    days = set(
        PortfolioSnapshot.objects.filter(
            as_of__gte=today - timedelta(days=RECENT_DAYS), as_of__lt=today, is_stale=True
        ).values_list("as_of", flat=True)
    )
    current = PortfolioSnapshot.objects.filter(as_of=today).first()
    if current is None or current.is_stale or not has_figures(current):
        days.add(today)
    for day in sorted(days, reverse=True):  # today first: it is the one on screens
        refresh_snapshot(day)
    return sorted(days)


def mark_stale(from_day: date) -> None:
    """Mark the snapshots as of `from_day` and later as stale, and have today's recomputed
    once the transaction commits. Call it in every write that changes what the report reads."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # until the transaction ends: `_wait_for_marking`
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [MARKING_LOCK])
    marked = PortfolioSnapshot.objects.filter(as_of__gte=from_day)
    # Rows locked in day order: two changes marking overlapping days never deadlock.
    list(marked.select_for_update().order_by("as_of").values_list("pk", flat=True))
    marked.update(is_stale=True, version=F("version") + 1)
    # Robust: the write it follows is committed; a cache or broker down must not fail it.
    transaction.on_commit(request_refresh, robust=True)


def _wait_for_marking() -> None:
    """Wait until the transactions marking snapshots stale right now have committed.

    Their UPDATE may have run before a new snapshot's row existed, and then did not bump
    its version: waiting makes the ledger read that follows see their changes, and those
    that mark later find the row. SQLite needs no lock: it runs one writing transaction at
    a time, so a row is either there for their UPDATE or inserted after they committed.
    """
    if connection.vendor != "postgresql":
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MARKING_LOCK])


def request_refresh() -> None:
    """Send the refresh task, unless one was sent in the last `REFRESH_DEBOUNCE_SECONDS`."""
    if cache.add(REFRESH_KEY, True, timeout=REFRESH_DEBOUNCE_SECONDS):
        queue.enqueue(REFRESH_TASK)


# --- Figures as JSON ------------------------------------------------------------------------
#
# {"currencies": {"PEN": {<one report>}, "USD": {...}}}, a report's amounts as strings (they
# come back as exact Decimals) and its bucket labels from `Bucket`.


def has_figures(snapshot: PortfolioSnapshot) -> bool:
    """Return whether a snapshot holds figures of today's shape, for every currency.

    Figures kept before the report was split by currency added soles and dollars up (and
    those kept before the written-off line counted written-off loans in the buckets): such
    a snapshot is computed again, as if it had none. So is one kept before a currency was
    added to `Currency`.
    """
    figures = snapshot.figures
    if not isinstance(figures, dict) or not isinstance(figures.get("currencies"), dict):
        return False
    return all(currency in figures["currencies"] for currency in Currency.values)


def figures_of(summaries: dict[str, selectors.PortfolioSummary]) -> dict:
    """Return the reports of every currency as JSON."""
    return {
        "currencies": {
            currency: _report_figures(summary) for currency, summary in summaries.items()
        }
    }


def _report_figures(summary: selectors.PortfolioSummary) -> dict:
    return {
        "buckets": [
            {
                "bucket": b["bucket"],
                "loans": b["loans"],
                "outstanding": str(b["outstanding"]),
                "percent": str(b["percent"]),
            }
            for b in summary.buckets
        ],
        "outstanding": str(summary.outstanding),
        "par30": str(summary.par30),
        "par90": str(summary.par90),
        "collected_this_month": str(summary.collected_this_month),
        "payments_this_month": summary.payments_this_month,
        "written_off_loans": summary.written_off_loans,
        "written_off": str(summary.written_off),
    }


def summary_of(snapshot: PortfolioSnapshot, currency: str) -> selectors.PortfolioSummary:
    """Return a snapshot's figures of one currency as `selectors.portfolio_summary` gave
    them; the snapshot must have figures of today's shape (`has_figures`)."""
    figures = snapshot.figures["currencies"][currency]
    return selectors.PortfolioSummary(
        buckets=[
            {
                "bucket": b["bucket"],
                "label": Bucket(b["bucket"]).label,
                "loans": b["loans"],
                "outstanding": Decimal(b["outstanding"]),
                "percent": Decimal(b["percent"]),
            }
            for b in figures["buckets"]
        ],
        outstanding=Decimal(figures["outstanding"]),
        par30=Decimal(figures["par30"]),
        par90=Decimal(figures["par90"]),
        collected_this_month=Decimal(figures["collected_this_month"]),
        payments_this_month=figures["payments_this_month"],
        written_off_loans=figures["written_off_loans"],
        written_off=Decimal(figures["written_off"]),
    )
