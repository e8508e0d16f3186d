"""Figures over the time facts: the funnel's counts and the medians and 90th percentiles of
each group, exact over the facts of the group.

One code for both readers: the refresh groups the facts of the periods it stores (by none,
one or two of product, branch and advisor), and the dashboard groups the facts of a range
or of filters the refresh did not store (only the groupings its filters need). Facts come
sorted by an outer key (the product, the state), so the groups that include it are
finished and let go as soon as the key changes; a group keeps its values as machine
integers, and only the groups without that key stay until the end.
"""

from array import array
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import NamedTuple

from django.db.models import BooleanField, Case, ExpressionWrapper, F, Q, QuerySet, When

from crm.gestiones.models import ApplicationTime, ApplicationTimeFigure, StateStay, StateTimeFigure
from crm.gestiones.models.timing import AGENT, BRANCH, PRODUCT

MEDIAN = Fraction(1, 2)
P90 = Fraction(9, 10)
TENTH = Decimal("0.1")
# The groupings the refresh stores for each period: none, one or two of the keys, what a
# dashboard with at most one filter shows (its tables add one key to the filter's). More
# filters group their few facts at once.
APPLICATION_GROUPINGS = (
    0,
    PRODUCT,
    BRANCH,
    AGENT,
    PRODUCT | BRANCH,
    PRODUCT | AGENT,
    BRANCH | AGENT,
)
# The stays are grouped by state always, and by branch or advisor (they have no product).
STATE_GROUPINGS = (0, BRANCH, AGENT)
# The measures of an application, from its lead: ApplicationTimeFigure's column prefixes.
MEASURES = ("application", "approval", "signature", "disbursement")

Period = tuple[date, date]


def percentile(values: list[int], fraction: Fraction) -> Decimal:
    """Return the `fraction` percentile of the sorted `values` as PostgreSQL's
    percentile_cont computes it: interpolated between the two nearest ranks.

    Exact: for the median and the 90th percentile of whole seconds the result has at most
    one decimal. Integer arithmetic (a hundred thousand groups a refresh).
    """
    numerator, denominator = fraction.numerator, fraction.denominator
    low, rest = divmod((len(values) - 1) * numerator, denominator)
    scaled = values[low] * denominator
    if rest:
        scaled += (values[low + 1] - values[low]) * rest
    return Decimal(scaled) / denominator


def is_stored(grouping: int, stored: Iterable[int]) -> bool:
    """Say whether the groupings a dashboard with filters `grouping` reads are stored."""
    return all((grouping | key) in stored for key in (0, PRODUCT, BRANCH, AGENT))


def seconds_between(start: datetime, end: datetime) -> int:
    """Return the whole seconds from `start` to `end` (negative when `end` comes first)."""
    delta = end - start
    return delta.days * 86_400 + delta.seconds


def month_of(moment: datetime, zone) -> date:
    """Return the first day of the month of `moment` in `zone`."""
    return moment.astimezone(zone).date().replace(day=1)


# --- Applications ---------------------------------------------------------------------


class ApplicationFact(NamedTuple):
    """What the figures read of an `ApplicationTime` (see `application_facts`)."""

    product_id: int
    branch_id: int | None
    agent_id: int | None
    month: date
    application_seconds: int
    approval_seconds: int | None
    signature_seconds: int | None
    disbursement_seconds: int | None
    is_approved_late: bool
    is_open_late: bool


def application_facts(facts: QuerySet[ApplicationTime], now: datetime) -> QuerySet:
    """Return `facts` as ApplicationFact tuples sorted by product, the breaches of the
    open ones measured at `now`."""
    open_late = Q(approved_at__isnull=True, is_open=True, deadline_at__lt=now)
    return (
        facts.annotate(is_open_late=ExpressionWrapper(open_late, output_field=BooleanField()))
        .order_by("product_id")
        .values_list(*ApplicationFact._fields)
    )


class _ApplicationGroup:
    __slots__ = ("applications", "approved", "disbursed", "late", "open_late", "signed", "values")

    def __init__(self) -> None:
        self.applications = self.approved = self.signed = self.disbursed = 0
        self.late = self.open_late = 0
        self.values = tuple(array("q") for _ in MEASURES)

    def add(self, fact: ApplicationFact, seconds: tuple) -> None:
        # A later stage implies the earlier ones: a loan disbursed without a signature on
        # record (signed on paper, moved by hand) was signed, and approved.
        disbursed = fact.disbursement_seconds is not None
        signed = disbursed or fact.signature_seconds is not None
        self.applications += 1
        self.approved += signed or fact.approval_seconds is not None
        self.signed += signed
        self.disbursed += disbursed
        self.late += fact.is_approved_late
        self.open_late += fact.is_open_late
        for values, value in zip(self.values, seconds, strict=True):
            if value is not None:
                values.append(value)

    def figure(self, key: tuple) -> ApplicationTimeFigure:
        (first, last), grouping, product_id, branch_id, agent_id = key
        figure = ApplicationTimeFigure(
            first_month=first,
            last_month=last,
            grouping=grouping,
            product_id=product_id,
            branch_id=branch_id,
            agent_id=agent_id,
            leads=self.applications,
            applications=self.applications,
            approved=self.approved,
            signed=self.signed,
            disbursed=self.disbursed,
            approved_late=self.late,
            open_late=self.open_late,
        )
        for measure, values in zip(MEASURES, self.values, strict=True):
            ordered = sorted(values)
            setattr(figure, f"{measure}_count", len(ordered))
            if ordered:
                setattr(figure, f"{measure}_median", percentile(ordered, MEDIAN))
                setattr(figure, f"{measure}_p90", percentile(ordered, P90))
        return figure


def application_figures(
    facts: Iterable[tuple],
    *,
    periods_of: Callable[[ApplicationFact], Iterable[Period]],
    groupings: Iterable[int],
) -> Iterator[ApplicationTimeFigure]:
    """Yield one unsaved figure per period and group of `facts` (from
    `application_facts`): the funnel counted, each measure's median and p90, and the
    breaches of the approval target. Leads without an application are not facts: see
    `add_leads`."""
    groupings = tuple(groupings)
    by_product: dict[tuple, _ApplicationGroup] = {}
    overall: dict[tuple, _ApplicationGroup] = {}
    product = None
    for row in facts:
        fact = ApplicationFact._make(row)
        if fact.product_id != product:
            yield from (group.figure(key) for key, group in by_product.items())
            by_product = {}
            product = fact.product_id
        seconds = (
            fact.application_seconds,
            fact.approval_seconds,
            fact.signature_seconds,
            fact.disbursement_seconds,
        )
        for period in periods_of(fact):
            for grouping in groupings:
                groups = by_product if grouping & PRODUCT else overall
                key = (
                    period,
                    grouping,
                    fact.product_id if grouping & PRODUCT else None,
                    fact.branch_id if grouping & BRANCH else None,
                    fact.agent_id if grouping & AGENT else None,
                )
                group = groups.get(key)
                if group is None:
                    group = groups[key] = _ApplicationGroup()
                group.add(fact, seconds)
    yield from (group.figure(key) for key, group in by_product.items())
    yield from (group.figure(key) for key, group in overall.items())


def add_leads(figures: list[ApplicationTimeFigure], leads: dict[Period, int]) -> None:
    """Add the leads that never became an application to the ungrouped figure of their
    period (they have no product, branch or advisor yet), making it if there is none."""
    ungrouped = {(f.first_month, f.last_month): f for f in figures if f.grouping == 0}
    for period, count in leads.items():
        figure = ungrouped.get(period)
        if figure is None:
            figure = ApplicationTimeFigure(first_month=period[0], last_month=period[1], grouping=0)
            figures.append(figure)
            ungrouped[period] = figure
        figure.leads += count


# --- States -----------------------------------------------------------------------------


class StayFact(NamedTuple):
    """What the figures read of a `StateStay` (see `stay_facts`)."""

    state_id: int
    branch_id: int | None
    agent_id: int | None
    month: date
    seconds: int | None
    current_since: datetime | None  # a current stay's entry (empty once it is left)


def stay_facts(stays: QuerySet[StateStay]) -> QuerySet:
    """Return `stays` as StayFact tuples sorted by state."""
    # Only a current stay's moment is fetched: converting every row's would cost more
    # than the grouping itself.
    since = Case(When(left_at__isnull=True, then=F("entered_at")), default=None)
    return stays.annotate(current_since=since).order_by("state_id").values_list(*StayFact._fields)


class _StayGroup:
    __slots__ = ("current", "over", "values")

    def __init__(self) -> None:
        self.current = self.over = 0
        self.values = array("q")

    def figure(self, key: tuple) -> StateTimeFigure:
        (first, last), grouping, state_id, branch_id, agent_id = key
        ordered = sorted(self.values)
        return StateTimeFigure(
            first_month=first,
            last_month=last,
            grouping=grouping,
            state_id=state_id,
            branch_id=branch_id,
            agent_id=agent_id,
            count=len(ordered),
            current=self.current,
            median=percentile(ordered, MEDIAN),
            p90=percentile(ordered, P90),
            over=self.over,
        )


def state_figures(
    stays: Iterable[tuple],
    *,
    periods_of: Callable[[StayFact], Iterable[Period]],
    groupings: Iterable[int],
    allowed: dict[int, timedelta | None],
    now: datetime,
) -> Iterator[StateTimeFigure]:
    """Yield one unsaved figure per period, grouping and state of `stays` (from
    `stay_facts`): the stays counted, their median and p90 (a current stay counts up to
    `now`), how many are still current and how many went past the state's `allowed`
    time."""
    groupings = tuple(groupings)
    limits = {pk: None if limit is None else limit.total_seconds() for pk, limit in allowed.items()}
    groups: dict[tuple, _StayGroup] = {}
    state = None
    for row in stays:
        stay = StayFact._make(row)
        if stay.state_id != state:
            yield from (group.figure(key) for key, group in groups.items())
            groups = {}
            state = stay.state_id
        is_current = stay.seconds is None
        seconds = seconds_between(stay.current_since, now) if is_current else stay.seconds
        limit = limits.get(stay.state_id)
        is_over = limit is not None and seconds > limit
        for period in periods_of(stay):
            for grouping in groupings:
                key = (
                    period,
                    grouping,
                    stay.state_id,
                    stay.branch_id if grouping & BRANCH else None,
                    stay.agent_id if grouping & AGENT else None,
                )
                group = groups.get(key)
                if group is None:
                    group = groups[key] = _StayGroup()
                group.values.append(seconds)
                group.current += is_current
                group.over += is_over
    yield from (group.figure(key) for key, group in groups.items())


def hours(seconds: Decimal | int | None) -> Decimal | None:
    """Return `seconds` in hours, rounded half-up to one decimal (None stays None)."""
    if seconds is None:
        return None
    return (Decimal(seconds) / 3600).quantize(TENTH, rounding=ROUND_HALF_UP)
