"""The time metrics of credit applications and of every gestión's states, precomputed.

Derived data, written only by `crm.gestiones.reports.timing.services.refresh_times`; the
gestiones, their follow-ups, the applications and their loans stay the truth.

Two layers. The facts: one `ApplicationTime` per credit application (its moments, from
the lead to the disbursement) and one `StateStay` per stretch of time a gestión spent in
a state (from its transitions). The figures: counts, medians and 90th percentiles over
those facts per period (one cohort month, or the last twelve months) and per group
(`ApplicationTimeFigure` per product, branch and advisor; `StateTimeFigure` per state,
branch and advisor), exact over the facts each row summarizes. The dashboard reads the
figures for a period it has, and groups the facts itself for any other range.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.gestiones.models.gestiones import Gestion
from crm.gestiones.models.processes import USER, GestionState
from crm.gestiones.models.reports import derived_key
from crm.models import Branch

# Which keys a figure row is grouped by, as bits of `grouping` (SQL's GROUPING() the other
# way round): a key whose bit is off is "every value", a key whose bit is on and is empty
# is "none" (an application without a branch). Stored: at most two keys at once.
PRODUCT, BRANCH, AGENT = 1, 2, 4
# A median or a percentile of whole seconds, interpolated: at most one decimal (p90 of
# n values falls at a tenth between two of them).
SECONDS = {"max_digits": 14, "decimal_places": 1}


class ApplicationTime(models.Model):
    """A credit application's moments, from the lead to the disbursement."""

    gestion = models.OneToOneField(
        Gestion,
        verbose_name=_("gestión"),
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # The first day of the lead's month, local time: the cohort.
    month = models.DateField(_("mes del lead"))
    product = derived_key("credits.LoanProduct", _("producto de crédito"))
    branch = derived_key(Branch, _("sucursal"), null=True)
    agent = derived_key(USER, _("asesor"), null=True)
    lead_at = models.DateTimeField(_("lead"))
    applied_at = models.DateTimeField(_("solicitud"))
    approved_at = models.DateTimeField(_("aprobación"), null=True, blank=True)
    signed_at = models.DateTimeField(_("firma"), null=True, blank=True)
    disbursed_at = models.DateTimeField(_("desembolso"), null=True, blank=True)
    # Whole seconds from the lead to each moment (empty: not reached): what the figures
    # read, a hundred thousand integers being far cheaper to fetch than as many moments.
    application_seconds = models.BigIntegerField(_("lead a solicitud (s)"))
    approval_seconds = models.BigIntegerField(_("lead a aprobación (s)"), null=True, blank=True)
    signature_seconds = models.BigIntegerField(_("lead a firma (s)"), null=True, blank=True)
    disbursement_seconds = models.BigIntegerField(_("lead a desembolso (s)"), null=True, blank=True)
    # The product's target when the row was written, and the moment it falls on.
    target_hours = models.PositiveIntegerField(_("meta de aprobación (horas)"))
    deadline_at = models.DateTimeField(_("aprobar antes de"))
    is_approved_late = models.BooleanField(_("aprobada fuera de meta"))
    # The gestión is still open (not approved yet counts against the target while it is).
    is_open = models.BooleanField(_("en curso"))

    class Meta:
        verbose_name = _("tiempos de una solicitud")
        verbose_name_plural = _("tiempos de las solicitudes")
        indexes = [
            # A range of lead days (the dashboard's, the breaches oldest first). The
            # figures read whole months: a scan of the table, no index needed.
            models.Index(fields=["lead_at"], name="gestiones_apptime_lead_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.gestion_id} · {self.lead_at:%d/%m/%Y}"


class StateStay(models.Model):
    """A stretch of time a gestión spent in one state: left, or current (`left_at` empty)."""

    gestion = derived_key(Gestion, _("gestión"))
    state = derived_key(GestionState, _("estado"))
    branch = derived_key(Branch, _("sucursal"), null=True)
    agent = derived_key(USER, _("gestor a cargo"), null=True)
    # The gestión's creation (the dashboards' cohort) and its month, local time.
    opened_at = models.DateTimeField(_("gestión creada"))
    month = models.DateField(_("mes de creación"))
    entered_at = models.DateTimeField(_("entró"))
    left_at = models.DateTimeField(_("salió"), null=True, blank=True)
    # Whole seconds from entering to leaving; empty while current (measured at each refresh).
    seconds = models.BigIntegerField(_("duración (s)"), null=True, blank=True)

    class Meta:
        verbose_name = _("permanencia en un estado")
        verbose_name_plural = _("permanencias en estados")
        # Few indexes: a full refresh writes every row again. The figures read whole
        # months, a scan of the table.
        indexes = [
            models.Index(fields=["gestion"], name="gestiones_stay_gestion_idx"),
            models.Index(fields=["opened_at"], name="gestiones_stay_opened_idx"),
            # The months whose figures move with the clock: those with current stays.
            models.Index(
                fields=["month"], condition=Q(left_at__isnull=True), name="gestiones_stay_open_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.gestion_id} · {self.entered_at:%d/%m/%Y %H:%M}"


class Figure(models.Model):
    """What every figure row has: its period of cohort months and its grouping."""

    # The first day of the first and of the last month of the period: equal for one month.
    first_month = models.DateField(_("desde el mes"))
    last_month = models.DateField(_("hasta el mes"))
    grouping = models.PositiveSmallIntegerField(_("agrupado por"))
    branch = derived_key(Branch, _("sucursal"), null=True)
    agent = derived_key(USER, _("asesor"), null=True)

    class Meta:
        abstract = True


class ApplicationTimeFigure(Figure):
    """The funnel and the times of the applications of a period, for one group."""

    product = derived_key("credits.LoanProduct", _("producto de crédito"), null=True)
    # The funnel: how many reached each stage (a later stage implies the earlier ones).
    leads = models.PositiveIntegerField(_("leads"), default=0)
    applications = models.PositiveIntegerField(_("solicitudes"), default=0)
    approved = models.PositiveIntegerField(_("aprobadas"), default=0)
    signed = models.PositiveIntegerField(_("firmadas"), default=0)
    disbursed = models.PositiveIntegerField(_("desembolsadas"), default=0)
    # Times from the lead, in seconds, over the applications whose moment is known.
    application_count = models.PositiveIntegerField(_("con momento de solicitud"), default=0)
    application_median = models.DecimalField(
        _("solicitud: mediana (s)"), **SECONDS, null=True, blank=True
    )
    application_p90 = models.DecimalField(
        _("solicitud: percentil 90 (s)"), **SECONDS, null=True, blank=True
    )
    approval_count = models.PositiveIntegerField(_("con momento de aprobación"), default=0)
    approval_median = models.DecimalField(
        _("aprobación: mediana (s)"), **SECONDS, null=True, blank=True
    )
    approval_p90 = models.DecimalField(
        _("aprobación: percentil 90 (s)"), **SECONDS, null=True, blank=True
    )
    signature_count = models.PositiveIntegerField(_("con momento de firma"), default=0)
    signature_median = models.DecimalField(
        _("firma: mediana (s)"), **SECONDS, null=True, blank=True
    )
    signature_p90 = models.DecimalField(
        _("firma: percentil 90 (s)"), **SECONDS, null=True, blank=True
    )
    disbursement_count = models.PositiveIntegerField(_("con momento de desembolso"), default=0)
    disbursement_median = models.DecimalField(
        _("desembolso: mediana (s)"), **SECONDS, null=True, blank=True
    )
    disbursement_p90 = models.DecimalField(
        _("desembolso: percentil 90 (s)"), **SECONDS, null=True, blank=True
    )
    # Breaches of the product's approval target: approved after it, or open and unapproved
    # past it at the refresh.
    approved_late = models.PositiveIntegerField(_("aprobadas fuera de meta"), default=0)
    open_late = models.PositiveIntegerField(_("sin aprobar fuera de meta"), default=0)

    class Meta:
        verbose_name = _("cifra de tiempos de solicitudes")
        verbose_name_plural = _("cifras de tiempos de solicitudes")
        indexes = [
            models.Index(
                fields=["first_month", "last_month", "grouping"], name="gestiones_appfig_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.first_month:%m/%Y}–{self.last_month:%m/%Y} · {self.applications}"


class StateTimeFigure(Figure):
    """The time the gestiones of a period spent in one state, for one group."""

    state = derived_key(GestionState, _("estado"))
    count = models.PositiveIntegerField(_("permanencias"))
    current = models.PositiveIntegerField(_("aún en el estado"))
    median = models.DecimalField(_("mediana (s)"), **SECONDS)
    p90 = models.DecimalField(_("percentil 90 (s)"), **SECONDS)
    # Stays longer than the state's allowed time (none when it has no limit).
    over = models.PositiveIntegerField(_("sobre el tiempo del estado"))

    class Meta:
        verbose_name = _("cifra de tiempos por estado")
        verbose_name_plural = _("cifras de tiempos por estado")
        indexes = [
            models.Index(
                fields=["first_month", "last_month", "grouping"], name="gestiones_statefig_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.first_month:%m/%Y}–{self.last_month:%m/%Y} · {self.count}"


class TimeBuild(models.Model):
    """When the time metrics were last refreshed: one row."""

    # The moment the figures are from: current stays and open applications are measured
    # up to it.
    built_at = models.DateTimeField(_("cifras al"))
    full_built_at = models.DateTimeField(_("último recálculo completo"))
    # The precomputed last-twelve-months period (its first and last month).
    window_first = models.DateField(_("primer mes del período"))
    window_last = models.DateField(_("último mes del período"))
    seconds = models.FloatField(_("duración (s)"), default=0)

    class Meta:
        verbose_name = _("cálculo de los tiempos")
        verbose_name_plural = _("cálculos de los tiempos")

    def __str__(self) -> str:
        return f"{self.built_at:%d/%m/%Y %H:%M}"
