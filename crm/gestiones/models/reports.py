"""The dashboards' summary: the gestiones counted and summed per month of creation and
per the keys the dashboard sections group and filter by, precomputed so that a section
reads a few thousand rows instead of grouping a million gestiones.

Derived data, written only by `crm.gestiones.reports.services.refresh_summary`; the
gestiones stay the truth. Each month holds two layers: rows whose `product` is empty
count every gestión once (read when no product is chosen), and rows with a product count
the gestiones linked to it (read when that product is chosen), as the product filter of
the raw reports does with its many-to-many.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.gestiones.models.processes import USER, GestionState, GestionType, RejectionReason
from crm.models import Branch, Channel, Product
from lib.money import Currency

# Sums of up to millions of amounts: wider than one amount (lib.money.MONEY).
TOTAL = {"max_digits": 20, "decimal_places": 2}


def derived_key(model, verbose_name, *, null: bool = False) -> models.ForeignKey:
    """A key of a derived row (summaries, time facts), to a table it was computed from.

    No constraint and no cascade: derived rows must never stop anyone deleting a state, a
    gestión, a branch or a user they no longer match; the next rebuild drops them.
    """
    return models.ForeignKey(
        model,
        verbose_name=verbose_name,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=null,
        blank=null,
        related_name="+",
    )


class SummaryRow(models.Model):
    """What every summary row has: the month, the filter keys and the figures."""

    month = models.DateField(_("mes"))  # the first day of the month of creation, local time
    # Empty: every gestión once, whatever its products.
    product = derived_key(Product, _("producto"), null=True)
    gestion_type = derived_key(GestionType, _("tipo de gestión"))
    agent = derived_key(USER, _("gestor a cargo"), null=True)
    branch = derived_key(Branch, _("sucursal"), null=True)
    currency = models.CharField(_("moneda"), max_length=3, choices=Currency)
    count = models.PositiveIntegerField(_("gestiones"))
    # Empty when none of the gestiones has the amount, as SUM over them would be.
    requested = models.DecimalField(_("monto solicitado"), **TOTAL, null=True, blank=True)
    approved = models.DecimalField(_("monto aprobado"), **TOTAL, null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.month:%m/%Y} · {self.count}"


# One table per section, each with only the keys its section groups by: a table with every
# key would hold about as many rows a month as there are gestiones.


class StateMonthSummary(SummaryRow):
    """Gestiones per month and state: the "by type and state" section."""

    state = derived_key(GestionState, _("estado"))

    class Meta:
        verbose_name = _("resumen mensual por estado")
        verbose_name_plural = _("resúmenes mensuales por estado")
        # Every section reads one layer (a product or none) over a range of months.
        indexes = [models.Index(fields=["product", "month"], name="gestiones_state_sum_idx")]


class RejectionMonthSummary(SummaryRow):
    """Rejected gestiones per month, state and reason: the rejections section."""

    state = derived_key(GestionState, _("estado"))
    rejection_reason = derived_key(RejectionReason, _("motivo de rechazo"), null=True)

    class Meta:
        verbose_name = _("resumen mensual de rechazos")
        verbose_name_plural = _("resúmenes mensuales de rechazos")
        indexes = [models.Index(fields=["product", "month"], name="gestiones_reject_sum_idx")]


class OutcomeMonthSummary(SummaryRow):
    """Gestiones per month and outcome: the amounts section (by type and month) and the
    branches and agents section."""

    outcome = models.CharField(_("resultado"), max_length=10)

    class Meta:
        verbose_name = _("resumen mensual por resultado")
        verbose_name_plural = _("resúmenes mensuales por resultado")
        indexes = [models.Index(fields=["product", "month"], name="gestiones_outcome_sum_idx")]


class ChannelMonthSummary(SummaryRow):
    """Gestiones per month, outcome and channel: the channels section."""

    outcome = models.CharField(_("resultado"), max_length=10)
    channel = derived_key(Channel, _("canal"), null=True)

    class Meta:
        verbose_name = _("resumen mensual por canal")
        verbose_name_plural = _("resúmenes mensuales por canal")
        indexes = [models.Index(fields=["product", "month"], name="gestiones_channel_sum_idx")]


class SummaryBuild(models.Model):
    """When the summary was last refreshed, and the creation days it had then: one row."""

    # The moment the figures are from: the refresh read the gestiones as of then.
    built_at = models.DateTimeField(_("cifras al"))
    full_built_at = models.DateTimeField(_("último recálculo completo"))
    # The first and last local creation days of the gestiones at that moment (empty: none):
    # a range that ends on or after `last_day` covers that last month whole.
    first_day = models.DateField(_("primer día con gestiones"), null=True, blank=True)
    last_day = models.DateField(_("último día con gestiones"), null=True, blank=True)
    seconds = models.FloatField(_("duración (s)"), default=0)

    class Meta:
        verbose_name = _("cálculo del resumen de tableros")
        verbose_name_plural = _("cálculos del resumen de tableros")

    def __str__(self) -> str:
        return f"{self.built_at:%d/%m/%Y %H:%M}"
