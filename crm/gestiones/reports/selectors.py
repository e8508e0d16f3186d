"""The gestiones dashboards' figures: one function per report, grouped in the database.

Every report takes a `ReportFilters` and returns rows and totals ready to show and export.
The database does the counting and the sums; Python only folds the grouped rows, a few
hundred at most, and looks up their names in the small configuration tables. Money is
`Decimal` with two places and stays per currency: soles and dollars never add up.
Percentages are rounded half-up to two places; the shares of a whole (the states' column)
by largest remainders, so they add up to 100.00.

Given the last refresh of the summary (`summary_build()`), a report reads the whole months
of its range from its section's summary table (`StateMonthSummary` and the like: a few
thousand rows a month) and only the days of a month the range cuts from the gestiones.
Without one (never built) it groups the gestiones themselves, one GROUP BY per section
over the filtered rows, as the summary's own tests use for reference.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from crm.gestiones.models import (
    ChannelMonthSummary,
    Gestion,
    GestionState,
    GestionType,
    Outcome,
    OutcomeMonthSummary,
    RejectionMonthSummary,
    RejectionReason,
    StateMonthSummary,
    SummaryBuild,
)
from crm.models import Branch, Channel, Product
from lib import money, people
from lib.money import Currency

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class ReportFilters:
    """What the dashboards look at: a range of creation days (inclusive, local time) and
    optionally one branch, agent, product and type. None means no limit."""

    start: date | None = None
    end: date | None = None
    branch: Branch | None = None
    agent: AbstractBaseUser | None = None
    product: Product | None = None
    gestion_type: GestionType | None = None


def local_midnight(day: date) -> datetime:
    """Return the aware start of `day` in the current time zone (America/Lima)."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def filtered_gestiones(filters: ReportFilters) -> QuerySet[Gestion]:
    """Return the gestiones the filters select, unordered, ready to be grouped."""
    gestiones = Gestion.objects.order_by()
    # Half-open ranges on the column itself, so the (created_at, …) index can serve them.
    if filters.start:
        gestiones = gestiones.filter(created_at__gte=local_midnight(filters.start))
    if filters.end:
        gestiones = gestiones.filter(created_at__lt=local_midnight(filters.end + timedelta(days=1)))
    if filters.branch:
        gestiones = gestiones.filter(branch=filters.branch)
    if filters.agent:
        gestiones = gestiones.filter(agent=filters.agent)
    if filters.gestion_type:
        gestiones = gestiones.filter(gestion_type=filters.gestion_type)
    if filters.product:
        # A semi-join: a gestión with two products counts once.
        with_product = Gestion.products.through.objects.filter(product=filters.product)
        gestiones = gestiones.filter(pk__in=with_product.values("gestion_id"))
    return gestiones


# --- Reading: the summary's whole months, the gestiones for the rest ---------------------


def summary_build() -> SummaryBuild | None:
    """Return the last refresh of the dashboards' summary; None if it was never built."""
    return SummaryBuild.objects.filter(pk=1).first()


Days = tuple[date | None, date | None]


@dataclass(frozen=True)
class Split:
    """Where a range of creation days is read from: the summary's months from `first` to
    `last` (None: no limit) when `months` is on, and `days` from the gestiones."""

    months: bool
    first: date | None
    last: date | None
    days: tuple[Days, ...]


def split_range(start: date | None, end: date | None, summary: SummaryBuild) -> Split:
    """Return which months of start–end the summary covers whole, and the days left over.

    A month is covered when the range holds every day of it that had gestiones at the
    refresh: the current month is whole up to its last gestión, and the default range
    (the last twelve months up to today) never reads the gestiones themselves.
    """
    first = last = None
    if start is not None:
        month = start.replace(day=1)
        first = month if start <= max(month, summary.first_day or month) else _next_month(month)
    if end is not None:
        month = end.replace(day=1)
        month_end = _next_month(month) - timedelta(days=1)
        last = (
            month
            if end >= min(month_end, summary.last_day or month_end)
            else _previous_month(month)
        )
    if first is not None and last is not None and first > last:
        return Split(months=False, first=None, last=None, days=((start, end),))
    days: list[Days] = []
    if start is not None and first is not None and start < first:
        days.append((start, first - timedelta(days=1)))
    if end is not None and last is not None and end >= _next_month(last):
        days.append((_next_month(last), end))
    return Split(months=True, first=first, last=last, days=tuple(days))


SummaryModel = type[
    StateMonthSummary | RejectionMonthSummary | OutcomeMonthSummary | ChannelMonthSummary
]


def _groups(
    filters: ReportFilters, summary: SummaryBuild | None, model: SummaryModel, *keys: str, **only
) -> list[dict]:
    """Return count and sums of the filtered gestiones grouped by `keys` and currency: one
    query to the summary's `model`, one to the gestiones for the days it does not cover; or
    one to the gestiones alone without a summary. `only` narrows the gestiones as `model`
    already is (the rejections table holds only rejected ones).

    The lists may hold a group twice (once from each); folding adds them up.
    """
    if summary is None:
        return _grouped(_with_month(filtered_gestiones(filters), keys).filter(**only), *keys)
    split = split_range(filters.start, filters.end, summary)
    groups = []
    if split.months:
        groups += _summed(_summary_rows(model, filters, split), *keys)
    if split.days:
        gestiones = filtered_gestiones(replace(filters, start=None, end=None))
        gestiones = gestiones.filter(_created_in(split.days))
        groups += _grouped(_with_month(gestiones, keys).filter(**only), *keys)
    return groups


def _summary_rows(model: SummaryModel, filters: ReportFilters, split: Split) -> QuerySet:
    rows = model.objects.order_by()
    if split.first:
        rows = rows.filter(month__gte=split.first)
    if split.last:
        rows = rows.filter(month__lte=split.last)
    # One layer: every gestión once, or the gestiones linked to the chosen product.
    if filters.product:
        rows = rows.filter(product=filters.product)
    else:
        rows = rows.filter(product__isnull=True)
    if filters.branch:
        rows = rows.filter(branch=filters.branch)
    if filters.agent:
        rows = rows.filter(agent=filters.agent)
    if filters.gestion_type:
        rows = rows.filter(gestion_type=filters.gestion_type)
    return rows


def _created_in(days: Iterable[Days]) -> Q:
    condition = Q()
    for first, last in days:
        part = Q()
        if first:
            part &= Q(created_at__gte=local_midnight(first))
        if last:
            part &= Q(created_at__lt=local_midnight(last + timedelta(days=1)))
        condition |= part
    return condition


def _with_month(gestiones: QuerySet[Gestion], keys: Iterable[str]) -> QuerySet[Gestion]:
    """Add the month of creation (local time) when a report groups by it."""
    return gestiones.annotate(month=TruncMonth("created_at")) if "month" in keys else gestiones


def _grouped(gestiones: QuerySet[Gestion], *keys: str) -> list[dict]:
    """Return count and sums of `gestiones` grouped by `keys` and currency: one query."""
    return list(
        gestiones.values(*keys, "currency").annotate(
            count=Count("id"),
            requested=Sum("amount_requested"),
            approved=Sum("amount_approved"),
        )
    )


def _summed(rows: QuerySet, *keys: str) -> list[dict]:
    """Return the summary `rows` added up by `keys` and currency, shaped as `_grouped`."""
    return list(
        rows.values(*keys, "currency").annotate(
            count=Sum("count"), requested=Sum("requested"), approved=Sum("approved")
        )
    )


# --- Folding ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Amounts:
    """Requested and approved sums in one currency."""

    currency: str
    requested: Decimal
    approved: Decimal

    @property
    def ratio(self) -> Decimal | None:
        """Return approved as a percentage of requested."""
        return money.percent(self.approved, self.requested)


class Tally:
    """What grouped rows add up to: a count, a count per outcome, sums per currency."""

    def __init__(self) -> None:
        self.count = 0
        self.outcomes: Counter[str] = Counter()
        self.requested: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
        self.approved: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)

    def add(self, group: dict) -> None:
        self.count += group["count"]
        if "outcome" in group:
            self.outcomes[group["outcome"]] += group["count"]
        self.requested[group["currency"]] += money.cents(group["requested"])
        self.approved[group["currency"]] += money.cents(group["approved"])

    def amounts(self, currencies: list[str]) -> list[Amounts]:
        return [Amounts(c, self.requested[c], self.approved[c]) for c in currencies]


def _fold(groups: Iterable[dict], key: Callable[[dict], Hashable]) -> dict[Hashable, Tally]:
    tallies: defaultdict[Hashable, Tally] = defaultdict(Tally)
    for group in groups:
        tallies[key(group)].add(group)
    return tallies


def _total(groups: Iterable[dict]) -> Tally:
    return _fold(groups, lambda g: None).get(None) or Tally()


def _currencies_in(groups: Iterable[dict]) -> list[str]:
    """Return the currencies the grouped rows hold, in Currency order; the local one if none."""
    present = {g["currency"] for g in groups}
    return [c for c in Currency.values if c in present] or [settings.CURRENCY]


# --- 1. Gestiones by type and state -----------------------------------------------------


@dataclass(frozen=True)
class StateRow:
    gestion_type: str
    state: str
    outcome: str
    count: int
    percent: Decimal
    amounts: list[Amounts]


@dataclass(frozen=True)
class StateReport:
    currencies: list[str]
    rows: list[StateRow]
    total: int
    total_amounts: list[Amounts]

    @property
    def total_percent(self) -> Decimal:
        return HUNDRED.quantize(CENT) if self.total else ZERO


def _states(ids: Iterable[int]) -> dict[int, GestionState]:
    return {s.pk: s for s in GestionState.objects.select_related("gestion_type").filter(pk__in=ids)}


def _state_sort_key(state: GestionState) -> tuple:
    return (state.gestion_type.name, state.order, state.pk)


def gestiones_by_state(filters: ReportFilters, summary: SummaryBuild | None = None) -> StateReport:
    """Return the seed's "Gestiones por estados": count, share and amount per type and state.

    The state decides the type, so the query groups by state alone.
    """
    groups = _groups(filters, summary, StateMonthSummary, "state_id")
    currencies = _currencies_in(groups)
    tallies = _fold(groups, lambda g: g["state_id"])
    states = sorted(_states(tallies).values(), key=_state_sort_key)
    total = _total(groups)
    # Largest remainders, as the portfolio report: the shares add up to the 100.00 shown
    # under them (rounded one by one, three thirds made 99.99).
    shares = money.shares_of_100([Decimal(tallies[s.pk].count) for s in states])
    rows = [
        StateRow(
            gestion_type=state.gestion_type.name,
            state=state.name,
            outcome=state.outcome,
            count=tallies[state.pk].count,
            percent=share,
            amounts=tallies[state.pk].amounts(currencies),
        )
        for state, share in zip(states, shares, strict=True)
    ]
    return StateReport(
        currencies=currencies,
        rows=rows,
        total=total.count,
        total_amounts=total.amounts(currencies),
    )


# --- 2. Rejections: reason × rejected state ---------------------------------------------


@dataclass(frozen=True)
class PivotRow:
    reason: str
    cells: list[int]
    total: int


@dataclass(frozen=True)
class RejectionPivot:
    """The seed's "Solicitudes rechazadas y motivos": rows are reasons, columns the rejected
    states that appear, with row, column and grand totals."""

    columns: list[str]
    rows: list[PivotRow]
    column_totals: list[int]
    total: int


def rejections_by_reason(
    filters: ReportFilters, summary: SummaryBuild | None = None
) -> RejectionPivot:
    """Return the rejected gestiones counted by reason and rejected state.

    Reasons and states are configured per type; the same name in two types (a "Baja
    capacidad" in consumer and in vehicle loans) is one row or one column, as a reader of
    the table would expect. A rejection without a reason goes to "Sin motivo", last.
    """
    groups = _groups(
        filters,
        summary,
        RejectionMonthSummary,
        "rejection_reason_id",
        "state_id",
        outcome=Outcome.REJECTED,
    )
    states = _states(g["state_id"] for g in groups)
    reason_ids = {g["rejection_reason_id"] for g in groups} - {None}
    reasons = dict(
        RejectionReason.objects.filter(pk__in=reason_ids).order_by().values_list("pk", "name")
    )
    columns: list[str] = []
    for state in sorted(states.values(), key=_state_sort_key):
        if state.name not in columns:
            columns.append(state.name)
    named: dict[str, list[int]] = {}
    without_reason = [0] * len(columns)
    for g in groups:
        reason_id = g["rejection_reason_id"]
        if reason_id is None:
            counts = without_reason
        else:
            counts = named.setdefault(reasons[reason_id], [0] * len(columns))
        counts[columns.index(states[g["state_id"]].name)] += g["count"]
    # The seed's order: the most frequent reason first.
    rows = sorted(
        (PivotRow(name, counts, sum(counts)) for name, counts in named.items()),
        key=lambda r: (-r.total, r.reason),
    )
    if any(without_reason):
        rows.append(PivotRow(_("Sin motivo"), without_reason, sum(without_reason)))
    column_totals = [sum(r.cells[k] for r in rows) for k in range(len(columns))]
    return RejectionPivot(
        columns=columns, rows=rows, column_totals=column_totals, total=sum(column_totals)
    )


# --- 3. Requested vs approved -----------------------------------------------------------


@dataclass(frozen=True)
class AmountRow:
    label: str
    count: int
    amounts: list[Amounts]
    month: date | None = None


@dataclass(frozen=True)
class AmountReport:
    currencies: list[str]
    rows: list[AmountRow]
    total: AmountRow


@dataclass(frozen=True)
class AmountReports:
    by_type: AmountReport
    by_month: AmountReport


def _month_start(value: date | datetime) -> date:
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    return value.replace(day=1)


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _previous_month(month: date) -> date:
    return (month.replace(day=1) - timedelta(days=1)).replace(day=1)


def requested_vs_approved(
    filters: ReportFilters, summary: SummaryBuild | None = None
) -> AmountReports:
    """Return requested and approved sums and their ratio, per type and per month of
    creation (local time, oldest first), grouped by type and month.

    Months without gestiones between the first and the last one show as zeros, so a chart
    of the series keeps its time scale.
    """
    groups = _groups(filters, summary, OutcomeMonthSummary, "gestion_type_id", "month")
    currencies = _currencies_in(groups)
    everything = _total(groups)
    total = AmountRow(_("Total"), everything.count, everything.amounts(currencies))

    types = _fold(groups, lambda g: g["gestion_type_id"])
    names = dict(GestionType.objects.filter(pk__in=types).order_by().values_list("pk", "name"))
    by_type = [
        AmountRow(names[pk], tally.count, tally.amounts(currencies)) for pk, tally in types.items()
    ]
    by_type.sort(key=lambda row: row.label)

    months = _fold(groups, lambda g: _month_start(g["month"]))
    by_month = []
    if months:
        month, last = min(months), max(months)
        while month <= last:
            tally = months.get(month) or Tally()
            by_month.append(
                AmountRow(
                    label=formats.date_format(month, "YEAR_MONTH_FORMAT"),
                    count=tally.count,
                    amounts=tally.amounts(currencies),
                    month=month,
                )
            )
            month = _next_month(month)
    return AmountReports(
        by_type=AmountReport(currencies, by_type, total),
        by_month=AmountReport(currencies, by_month, total),
    )


# --- 4 and 5. Per branch, agent and channel ---------------------------------------------


@dataclass(frozen=True)
class BreakdownRow:
    label: str
    count: int
    open: int
    success: int
    rejected: int
    closed: int
    amounts: list[Amounts]

    @property
    def finished(self) -> int:
        """Return the gestiones closed with any result: success, rejected or closed."""
        return self.success + self.rejected + self.closed

    @property
    def effectiveness(self) -> Decimal | None:
        """Return the successful share of the finished gestiones."""
        return money.percent(self.success, self.finished)


@dataclass(frozen=True)
class BreakdownReport:
    currencies: list[str]
    rows: list[BreakdownRow]
    total: BreakdownRow


def _breakdown_row(label: str, tally: Tally, currencies: list[str]) -> BreakdownRow:
    return BreakdownRow(
        label=label,
        count=tally.count,
        open=tally.outcomes[Outcome.OPEN],
        success=tally.outcomes[Outcome.SUCCESS],
        rejected=tally.outcomes[Outcome.REJECTED],
        closed=tally.outcomes[Outcome.CLOSED],
        amounts=tally.amounts(currencies),
    )


def _breakdown(
    groups: list[dict],
    field: str,
    names: Callable[[set[int]], dict[int, str]],
    missing: str,
) -> BreakdownReport:
    """Fold rows grouped by `field`, outcome and currency into one row per `field` value."""
    currencies = _currencies_in(groups)
    tallies = _fold(groups, lambda g: g[field])
    labels = names(set(tallies) - {None})
    keyed = [
        (pk, _breakdown_row(labels.get(pk, missing), tally, currencies))
        for pk, tally in tallies.items()
    ]
    # Named rows alphabetically, the unnamed one ("Sin sucursal") last; two agents with the
    # same name in the order they were created, whichever order the groups came in.
    keyed.sort(key=lambda k: (k[1].label == missing, k[1].label.lower(), k[0] is None, k[0] or 0))
    rows = [row for _, row in keyed]
    total = _breakdown_row(_("Total"), _total(groups), currencies)
    return BreakdownReport(currencies=currencies, rows=rows, total=total)


def _names(model) -> Callable[[set[int]], dict[int, str]]:
    return lambda ids: dict(model.objects.filter(pk__in=ids).order_by().values_list("pk", "name"))


def _agent_names(ids: set[int]) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=ids)
    return {user.pk: people.display_name(user) for user in users}


@dataclass(frozen=True)
class TeamReports:
    by_branch: BreakdownReport
    by_agent: BreakdownReport


def branches_and_agents(filters: ReportFilters, summary: SummaryBuild | None = None) -> TeamReports:
    """Return counts by outcome, amounts and effectiveness per branch and per agent in
    charge, grouped by branch, agent, outcome and currency."""
    groups = _groups(filters, summary, OutcomeMonthSummary, "branch_id", "agent_id", "outcome")
    return TeamReports(
        by_branch=_breakdown(groups, "branch_id", _names(Branch), _("Sin sucursal")),
        by_agent=_breakdown(groups, "agent_id", _agent_names, _("Sin asignar")),
    )


def by_channel(filters: ReportFilters, summary: SummaryBuild | None = None) -> BreakdownReport:
    """Return counts by outcome, amounts and effectiveness per channel."""
    groups = _groups(filters, summary, ChannelMonthSummary, "channel_id", "outcome")
    return _breakdown(groups, "channel_id", _names(Channel), _("Sin canal"))
