"""The time metrics as the dashboard shows them: the funnel, the times from the lead per
product, branch and advisor against the approval target, the time in each state, and the
breaches of the target.

Everything is as of the last refresh (`TimeBuild.built_at`). A range the refresh stored
(one cohort month, or the last twelve months) reads its few hundred figure rows; any
other range groups the refresh's facts of that range at once, with the same code, so its
figures are as exact, only slower to get.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from credits.models import LoanProduct
from crm.gestiones.models import (
    ApplicationTime,
    ApplicationTimeFigure,
    CreditLead,
    GestionState,
    StateStay,
    StateTimeFigure,
    TimeBuild,
)
from crm.gestiones.models.timing import AGENT, BRANCH, PRODUCT
from crm.gestiones.reports.selectors import local_midnight
from crm.gestiones.reports.timing import figures
from crm.models import Branch
from lib import money, people

# The period of the figures grouped at once (not stored): any two dates will do.
AT_ONCE = (date.min, date.min)


@dataclass(frozen=True)
class TimeFilters:
    """A range of cohort days (inclusive, local time: the lead's day for applications, the
    gestión's creation for states) and optionally one product, branch and advisor."""

    start: date | None = None
    end: date | None = None
    product: LoanProduct | None = None
    branch: Branch | None = None
    agent: AbstractBaseUser | None = None

    @property
    def grouping(self) -> int:
        """Return the figure grouping the filters fix (the bits of the keys they name)."""
        return (
            (PRODUCT if self.product else 0)
            | (BRANCH if self.branch else 0)
            | (AGENT if self.agent else 0)
        )

    def keys(self) -> dict:
        """Return the filters as figure and fact columns."""
        keys = {}
        if self.product:
            keys["product_id"] = self.product.pk
        if self.branch:
            keys["branch_id"] = self.branch.pk
        if self.agent:
            keys["agent_id"] = self.agent.pk
        return keys


def time_build() -> TimeBuild | None:
    """Return the last refresh of the time metrics; None if it never ran."""
    return TimeBuild.objects.filter(pk=1).first()


def stored_period(filters: TimeFilters, build: TimeBuild) -> figures.Period | None:
    """Return the stored period whose cohorts are exactly the range's, if there is one.

    The facts end at the refresh: a range that reaches its day holds that month whole.
    """
    if filters.start is None or filters.end is None or filters.start.day != 1:
        return None
    built_on = timezone.localdate(build.built_at)
    end = min(filters.end, built_on)
    if end < filters.start:
        return None
    first, last = filters.start, end.replace(day=1)
    month_end = (last.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if end not in (built_on, month_end):
        return None
    if first == last or (first, last) == (build.window_first, build.window_last):
        return first, last
    return None


# --- The report -------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """A time from the lead: over how many applications, its median and p90 in hours."""

    count: int
    median: Decimal | None
    p90: Decimal | None


@dataclass(frozen=True)
class TimeRow:
    label: str
    figure: ApplicationTimeFigure
    measures: list[Measure]
    # The product's approval target (a row of one product only).
    target_hours: int | None = None

    @property
    def breaches(self) -> int:
        return self.figure.approved_late + self.figure.open_late

    @property
    def within_target(self) -> Decimal | None:
        """Return the share of the approved applications approved within their target."""
        approved = self.measures[1].count
        return money.percent(approved - self.figure.approved_late, approved)


@dataclass(frozen=True)
class Stage:
    label: str
    count: int
    of_leads: Decimal | None
    of_previous: Decimal | None


@dataclass(frozen=True)
class StateRow:
    gestion_type: str
    state: str
    count: int
    current: int
    median: Decimal | None
    p90: Decimal | None
    allowed: Decimal | None  # hours; None: the state has no limit
    over: int

    @property
    def over_percent(self) -> Decimal | None:
        return money.percent(self.over, self.count) if self.allowed is not None else None


@dataclass(frozen=True)
class TimesReport:
    is_stored: bool
    total: TimeRow
    funnel: list[Stage]
    # None: the filters fix that key, so its table would repeat the total.
    by_product: list[TimeRow] | None
    by_branch: list[TimeRow] | None
    by_agent: list[TimeRow] | None
    states: list[StateRow] = field(default_factory=list)


def times_report(filters: TimeFilters, build: TimeBuild) -> TimesReport:
    """Return the funnel, the times per product, branch and advisor, and the time per
    state, for the filters, as of the last refresh."""
    bits = filters.grouping
    groupings = {bits, bits | PRODUCT, bits | BRANCH, bits | AGENT}
    state_grouping = bits & ~PRODUCT
    period = stored_period(filters, build)
    # Stored: a period the refresh keeps, and filters whose groupings it keeps.
    applications_stored = period is not None and figures.is_stored(
        bits, figures.APPLICATION_GROUPINGS
    )
    states_stored = period is not None and state_grouping in figures.STATE_GROUPINGS
    if applications_stored:
        application_rows = list(
            ApplicationTimeFigure.objects.filter(
                first_month=period[0], last_month=period[1], grouping__in=groupings
            ).filter(**filters.keys())
        )
    else:
        application_rows = _applications_at_once(filters, build, groupings)
    if states_stored:
        state_rows = list(
            StateTimeFigure.objects.filter(
                first_month=period[0], last_month=period[1], grouping=state_grouping
            ).filter(**_state_keys(filters))
        )
    else:
        state_rows = _states_at_once(filters, build)

    by_grouping: dict[int, list[ApplicationTimeFigure]] = {g: [] for g in groupings}
    for row in application_rows:
        by_grouping[row.grouping].append(row)
    products = {
        pk: (name, target)
        for pk, name, target in LoanProduct.objects.filter(
            pk__in={r.product_id for r in application_rows} - {None}
        ).values_list("pk", "name", "approval_target_hours")
    }
    branches = dict(
        Branch.objects.filter(pk__in={r.branch_id for r in application_rows} - {None})
        .order_by()
        .values_list("pk", "name")
    )
    agents = {
        user.pk: people.display_name(user)
        for user in get_user_model().objects.filter(
            pk__in={r.agent_id for r in application_rows} - {None}
        )
    }

    def product_row(row: ApplicationTimeFigure) -> TimeRow:
        name, target = products.get(row.product_id, ("—", None))
        return _time_row(name, row, target)

    total = next(iter(by_grouping[bits]), None) or ApplicationTimeFigure(grouping=bits)
    return TimesReport(
        is_stored=applications_stored and states_stored,
        total=_time_row(
            _("Total"), total, filters.product.approval_target_hours if filters.product else None
        ),
        funnel=_funnel(total),
        by_product=None
        if bits & PRODUCT
        else _sorted([product_row(r) for r in by_grouping[bits | PRODUCT]], "—"),
        by_branch=None
        if bits & BRANCH
        else _sorted(
            [
                _time_row(branches.get(r.branch_id, _("Sin sucursal")), r)
                for r in by_grouping[bits | BRANCH]
            ],
            _("Sin sucursal"),
        ),
        by_agent=None
        if bits & AGENT
        else _sorted(
            [
                _time_row(agents.get(r.agent_id, _("Sin asignar")), r)
                for r in by_grouping[bits | AGENT]
            ],
            _("Sin asignar"),
        ),
        states=_state_rows(state_rows),
    )


def _state_keys(filters: TimeFilters) -> dict:
    """Stays have no product: the product filter does not narrow them."""
    return {k: v for k, v in filters.keys().items() if k != "product_id"}


def _applications_at_once(
    filters: TimeFilters, build: TimeBuild, groupings: set[int]
) -> list[ApplicationTimeFigure]:
    """Group the range's application facts now, as the refresh does for its periods."""
    facts = figures.application_facts(application_facts(filters), build.built_at)
    rows = list(
        figures.application_figures(facts.iterator(), periods_of=_at_once, groupings=groupings)
    )
    if not filters.grouping:
        leads = CreditLead.objects.filter(application__isnull=True)
        figures.add_leads(rows, {AT_ONCE: _in_range(leads, "received_at", filters).count()})
    return rows


def _states_at_once(filters: TimeFilters, build: TimeBuild) -> list[StateTimeFigure]:
    """Group the range's stays now, as the refresh does for its periods."""
    stays = _in_range(StateStay.objects.filter(**_state_keys(filters)), "opened_at", filters)
    return list(
        figures.state_figures(
            figures.stay_facts(stays).iterator(),
            periods_of=_at_once,
            groupings=(filters.grouping & ~PRODUCT,),
            allowed={state.pk: state.duration for state in GestionState.objects.all()},
            now=build.built_at,
        )
    )


def _at_once(fact) -> tuple[figures.Period]:
    return (AT_ONCE,)


def _in_range(rows: QuerySet, field_name: str, filters: TimeFilters) -> QuerySet:
    # Half-open ranges on the column itself, so its index serves them.
    if filters.start:
        rows = rows.filter(**{f"{field_name}__gte": local_midnight(filters.start)})
    if filters.end:
        rows = rows.filter(**{f"{field_name}__lt": local_midnight(filters.end + timedelta(days=1))})
    return rows


def application_facts(filters: TimeFilters) -> QuerySet[ApplicationTime]:
    """Return the applications whose lead falls in the range, for the filters."""
    return _in_range(ApplicationTime.objects.filter(**filters.keys()), "lead_at", filters)


def _time_row(
    label: str, figure: ApplicationTimeFigure, target_hours: int | None = None
) -> TimeRow:
    measures = [
        Measure(
            count=getattr(figure, f"{measure}_count"),
            median=figures.hours(getattr(figure, f"{measure}_median")),
            p90=figures.hours(getattr(figure, f"{measure}_p90")),
        )
        for measure in figures.MEASURES
    ]
    return TimeRow(label=label, figure=figure, measures=measures, target_hours=target_hours)


def _sorted(rows: list[TimeRow], missing: str) -> list[TimeRow]:
    """Named rows alphabetically, the unnamed one last."""
    return sorted(rows, key=lambda row: (row.label == missing, row.label.lower()))


def _funnel(total: ApplicationTimeFigure) -> list[Stage]:
    counts = [
        (_("Leads"), total.leads),
        (_("Solicitudes"), total.applications),
        (_("Aprobadas"), total.approved),
        (_("Firmadas"), total.signed),
        (_("Desembolsadas"), total.disbursed),
    ]
    stages = []
    previous = None
    for label, count in counts:
        stages.append(
            Stage(
                label=label,
                count=count,
                of_leads=money.percent(count, total.leads),
                of_previous=None if previous is None else money.percent(count, previous),
            )
        )
        previous = count
    return stages


def _state_rows(rows: list[StateTimeFigure]) -> list[StateRow]:
    states = {
        state.pk: state
        for state in GestionState.objects.select_related("gestion_type").filter(
            pk__in={row.state_id for row in rows}
        )
    }
    found = [(states[row.state_id], row) for row in rows if row.state_id in states]
    found.sort(key=lambda pair: (pair[0].gestion_type.name, pair[0].order, pair[0].pk))
    return [
        StateRow(
            gestion_type=state.gestion_type.name,
            state=state.name,
            count=row.count,
            current=row.current,
            median=figures.hours(row.median),
            p90=figures.hours(row.p90),
            allowed=figures.hours(int(state.duration.total_seconds())) if state.duration else None,
            over=row.over,
        )
        for state, row in found
    ]


# --- Breaches ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    """An application that missed its product's approval target."""

    fact: ApplicationTime
    is_open: bool  # still waiting for approval (else: approved late)
    hours: Decimal  # from the lead to the approval, or to the refresh while open
    over: Decimal  # hours past the target


def breaches(filters: TimeFilters, build: TimeBuild) -> QuerySet[ApplicationTime]:
    """Return the range's applications approved after their target or still open and
    unapproved past it at the refresh, oldest lead first."""
    late = Q(approved_at__gt=F("deadline_at")) | Q(
        approved_at__isnull=True, is_open=True, deadline_at__lt=build.built_at
    )
    # The join to the gestión also drops the facts of a gestión deleted since the refresh.
    return (
        application_facts(filters)
        .filter(late)
        .select_related("gestion__customer", "product", "branch", "agent")
        .order_by("lead_at", "gestion_id")
    )


def breach_rows(facts: list[ApplicationTime], built_at: datetime) -> list[Breach]:
    rows = []
    for fact in facts:
        until = fact.approved_at or built_at
        hours = figures.hours(figures.seconds_between(fact.lead_at, until))
        rows.append(
            Breach(
                fact=fact,
                is_open=fact.approved_at is None,
                hours=hours,
                over=hours - fact.target_hours,
            )
        )
    return rows
