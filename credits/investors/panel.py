"""Every investor's figures on the investors' panel, computed ahead and kept in the cache.

Summing them reads every participation, distribution and unpaid installment (about 2 s at
286,000 participations and 1,000,000 installments), too slow for a panel several people
keep open. Beat computes them every `REFRESH_SECONDS` (`credits.refresh_investor_panel`);
the page shows the figures with the time they were computed, and «Recalcular ahora»
computes them there and then. One investor's figures are read directly (a fraction of a
second): they are not kept here.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime

from django.core.cache import cache
from django.utils import timezone

from credits.investors import selectors
from lib.money import Currency

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 5 * 60
# Kept a while past the next refresh, so a late beat never leaves the page to compute them.
KEEP_SECONDS = 4 * REFRESH_SECONDS
TOP_INVESTORS = 10
# Part of the key: figures kept by an older shape of `Panel` are not read back.
_KEY = "credits:investor-panel:v1:{currency}"


@dataclass(frozen=True)
class Panel:
    """Every investor's figures in one currency, as of a day, and when they were computed."""

    summary: selectors.InvestorSummary
    months: list[dict]
    ranking: list[dict]
    as_of: date
    computed_at: datetime


def everyone(currency: str, *, fresh: bool = False) -> Panel:
    """Return every investor's figures in `currency`: the kept ones, unless `fresh` or none
    are kept for today (then computed here and kept)."""
    if not fresh:
        kept = _read(currency)
        if kept is not None and kept.as_of == timezone.localdate():
            return kept
    return refresh(currency)


def refresh(currency: str) -> Panel:
    """Compute every investor's figures in `currency` now and keep them."""
    today = timezone.localdate()
    panel = Panel(
        summary=selectors.investor_summary(None, today, currency=currency),
        months=selectors.earnings_by_month(None, today, currency=currency),
        ranking=selectors.capital_by_investor(TOP_INVESTORS, currency=currency),
        as_of=today,
        computed_at=timezone.now(),
    )
    try:
        cache.set(_KEY.format(currency=currency), panel, timeout=KEEP_SECONDS)
    except Exception:  # a cache down: the page computes them each time, slowly but right
        logger.exception("investors' panel: could not keep the figures")
    return panel


def refresh_all() -> list[str]:
    """Compute and keep the figures of every currency; return the currencies."""
    for currency in Currency.values:
        refresh(currency)
    return list(Currency.values)


def _read(currency: str) -> Panel | None:
    try:
        kept = cache.get(_KEY.format(currency=currency))
    except Exception:
        logger.exception("investors' panel: could not read the kept figures")
        return None
    return kept if isinstance(kept, Panel) else None
