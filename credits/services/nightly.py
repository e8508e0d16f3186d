"""The loans' nightly (beat's credits.update_delinquency at 01:15): credit balances spent on
what fell due, then late interest, days past due and aging buckets; and whether it ran for
a day, for the work that reads its figures (the collection flows at 09:00).

A worker stopped overnight comes back with every missed daily job due at once, in no order:
the flows ran before the nightly and told debtors «2 días de atraso» on their fifth day.
"""

from datetime import date

from django.core.cache import cache
from django.utils import timezone

from credits.services import delinquency
from credits.services import payments as payment_services

# Kept a few days: a lost mark (Redis restarted) only runs the nightly once more, which
# changes nothing (it is idempotent within a day).
MARK_SECONDS = 3 * 24 * 3600


def _mark(day: date) -> str:
    return f"credits:nightly:{day.isoformat()}"


def run(today: date | None = None) -> None:
    """Do the nightly's work for `today` (the local day), and mark it done."""
    today = today or timezone.localdate()
    # A credit balance pays what fell due before anything is charged as late.
    payment_services.apply_due_credit_balances(today=today)
    delinquency.update_delinquency(today=today)
    cache.set(_mark(today), True, timeout=MARK_SECONDS)


def ran(today: date) -> bool:
    """Whether the nightly finished for `today` (in this cache)."""
    return bool(cache.get(_mark(today)))


def run_unless_done(today: date | None = None) -> bool:
    """Run the nightly for `today` unless it finished already; return whether it ran."""
    today = today or timezone.localdate()
    if ran(today):
        return False
    run(today)
    return True
