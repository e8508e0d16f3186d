"""The portfolio report as of a day, computed once and kept (credits/portfolio.py reads and
writes it)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class PortfolioSnapshot(models.Model):
    """The portfolio report as of the end of a day, as `selectors.portfolio_summary` gave it.

    Every service that changes what the report reads marks the snapshots of the days it
    changes as stale (`portfolio.mark_stale`); a stale day is computed again before it is
    trusted.
    """

    as_of = models.DateField(_("al día"), unique=True)
    # When the figures were read from the ledger; empty until a first computation saves them.
    computed_at = models.DateTimeField(_("calculado"), null=True, blank=True)
    is_stale = models.BooleanField(_("desactualizado"), default=True)
    # Bumped with every change that marks the day stale: a computation that read the ledger
    # before the bump saves its figures still stale, so a change made meanwhile is not lost.
    version = models.PositiveIntegerField(default=1)
    # Buckets and totals; amounts as strings, which come back as exact Decimals.
    figures = models.JSONField(_("cifras"), null=True, blank=True)

    class Meta:
        ordering = ["-as_of"]
        verbose_name = _("corte de cartera")
        verbose_name_plural = _("cortes de cartera")

    def __str__(self) -> str:
        return f"{self.as_of:%d/%m/%Y}"
