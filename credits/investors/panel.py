"""Every investor's figures on the investors' panel, computed ahead and kept in the cache.

Summing them reads every participation, distribution and unpaid installment (about 2 s at
286,000 participations and 1,000,000 installments), too slow for a panel several people
keep open. Beat computes them every `REFRESH_SECONDS` (`credits.refresh_investor_panel`);
the page shows the figures with the time they were computed, and «Recalcular ahora»
computes them there and then. One investor's figures are read directly (a fraction of a
second): they are not kept here.
"""

from dataclasses import dataclass
from datetime import date
from functools import partial

from django.utils import timezone

from credits.investors import selectors
from lib import precomputed
from lib.money import Currency

REFRESH_SECONDS = 5 * 60
# Kept a while past the next refresh, so a late beat never leaves the page to compute them.
KEEP_SECONDS = 4 * REFRESH_SECONDS
TOP_INVESTORS = 10
# Part of the key: figures kept by an older shape of `Panel` are not read back.
_KEY = "credits:investor-panel:v1:{currency}"


@dataclass(frozen=True)
class Panel:
    """Every investor's figures in one currency, as of a day."""

    summary: selectors.InvestorSummary
    months: list[dict]
    ranking: list[dict]
    as_of: date


def everyone(currency: str, *, fresh: bool = False) -> precomputed.Computed[Panel]:
    """Return every investor's figures in `currency`: the kept ones, unless `fresh` or none
    are kept for today (then computed here and kept)."""
    today = timezone.localdate()
    return precomputed.read_or_compute(
        _KEY.format(currency=currency),
        partial(_compute, currency),
        timeout=KEEP_SECONDS,
        fresh=fresh,
        usable=lambda panel: panel.as_of == today,
    )


def refresh_all() -> list[str]:
    """Compute and keep the figures of every currency; return the currencies."""
    for currency in Currency.values:
        precomputed.compute_and_keep(
            _KEY.format(currency=currency), partial(_compute, currency), timeout=KEEP_SECONDS
        )
    return list(Currency.values)


def _compute(currency: str) -> Panel:
    today = timezone.localdate()
    return Panel(
        summary=selectors.investor_summary(None, today, currency=currency),
        months=selectors.earnings_by_month(None, today, currency=currency),
        ranking=selectors.capital_by_investor(TOP_INVESTORS, currency=currency),
        as_of=today,
    )
