"""Keep the time metrics current: the facts (`ApplicationTime`, `StateStay`) and their
figures (`ApplicationTimeFigure`, `StateTimeFigure`) per cohort month and for the last
twelve months, with `TimeBuild` saying as of when.

Beat runs `refresh_times` right after the dashboards' summary (`gestiones.
refresh_report_summary`, every 5 minutes). A refresh rewrites the facts of the gestiones
that changed since the previous one (a gestión's `updated_at` moves on every follow-up,
reassignment or edit; a loan's on every status move and on its disbursement; a contract
signed or an application approved or opened counts too), then the figures of the months
those facts belong to, of the months whose figures move with the clock (stays still
current, applications waiting for approval whose target passed since), and of the last
twelve months; once a day, or when nothing was built yet, it rewrites everything. All in
one transaction: readers see the old figures or the new ones, never half of each.

A reassignment moves no history: each stay counts for the agent in charge when it began,
and each application for the agent in charge when it was approved (not approved yet: the
gestión's agent), as the follow-ups name them (`FollowUp.agent`).
"""

import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import (
    Count,
    DateField,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from credits.models import LedgerEntry, Loan, LoanContract
from crm.gestiones.models import (
    ApplicationTime,
    ApplicationTimeFigure,
    CreditApplication,
    CreditLead,
    FollowUp,
    Gestion,
    GestionState,
    Outcome,
    StateStay,
    StateTimeFigure,
    TimeBuild,
)
from crm.gestiones.reports import services as report_services
from crm.gestiones.reports.timing import figures
from lib import bulk

# The same cadence, look-back and daily full rebuild as the dashboards' summary: one beat
# task runs both.
REFRESH_MINUTES = report_services.REFRESH_MINUTES
LOOK_BACK = report_services.LOOK_BACK
FULL_EVERY = report_services.FULL_EVERY
WINDOW_MONTHS = 12
# Gestiones read, and rows written, per round trip: a full rebuild of a million
# follow-ups holds one batch in memory at a time.
BATCH = 2_000
# Ids per `IN (...)` list.
CHUNK = 500
# The follow-ups that say when a gestión changed state or agent: its creation, each change
# of state (which names the agent then) and each assignment.
_MOVED_OR_ASSIGNED = (
    Q(from_state__isnull=True) | ~Q(from_state=F("state")) | Q(kind=FollowUp.Kind.ASSIGNMENT)
)


@transaction.atomic
def refresh_times(*, full: bool = False) -> TimeBuild:
    """Rewrite the facts of what changed and the figures they feed (everything if `full`,
    if it was never built or if its last full rebuild is a day old); record when."""
    started = time.perf_counter()
    now = timezone.now()
    # Two refreshes at once wait for each other here; the very first has no row to lock:
    # a concurrent twin fails on the row's primary key and rolls back.
    build = TimeBuild.objects.select_for_update().filter(pk=1).first()
    full = full or build is None or build.full_built_at <= now - FULL_EVERY
    window = window_of(timezone.localdate(now))
    if full:
        for model in (ApplicationTime, StateStay):
            _delete(model)
        _write_application_facts(None)
        _write_stays(None)
        months = None
    else:
        since = build.built_at - LOOK_BACK
        months = _rewrite_facts(changed_gestiones(since=since))
        months |= _lead_months(since=since)
        months |= clock_months(previous=build.built_at, now=now)
    _write_figures(months, window, now)
    build = TimeBuild(
        pk=1,
        built_at=now,
        full_built_at=now if full else build.full_built_at,
        window_first=window[0],
        window_last=window[1],
        seconds=round(time.perf_counter() - started, 3),
    )
    build.save()
    return build


def window_of(today: date) -> figures.Period:
    """Return the first and last month of the twelve months up to `today`'s: the
    dashboards' default range."""
    last = today.replace(day=1)
    months = last.year * 12 + last.month - 1 - (WINDOW_MONTHS - 1)
    return date(months // 12, months % 12 + 1, 1), last


# --- What changed -----------------------------------------------------------------------


def changed_gestiones(*, since: datetime) -> set[int]:
    """Return the ids of the gestiones whose facts may have changed since `since`."""
    # No index on updated_at: one scan of the table, as the dashboards' summary does.
    ids = set(Gestion.objects.filter(updated_at__gte=since).values_list("pk", flat=True))
    applications = CreditApplication.objects.filter(
        Q(created_at__gte=since)
        | Q(approved_at__gte=since)
        | Q(loan__updated_at__gte=since)
        | Q(loan__contracts__completed_at__gte=since)
    )
    ids.update(applications.values_list("gestion_id", flat=True))
    # A product whose approval target changed moves every deadline of its applications.
    moved = ApplicationTime.objects.exclude(target_hours=F("product__approval_target_hours"))
    ids.update(moved.values_list("gestion_id", flat=True))
    return ids


def _lead_months(*, since: datetime) -> set[date]:
    """Return the months of the leads received or decided since `since`: the leads that
    never became an application count in their month's funnel."""
    leads = CreditLead.objects.filter(Q(received_at__gte=since) | Q(decided_at__gte=since))
    return set(leads.order_by().values_list(_month("received_at"), flat=True).distinct())


def clock_months(*, previous: datetime, now: datetime) -> set[date]:
    """Return the months whose figures changed only because time passed since `previous`:
    those with a stay still current (it lasts longer now), and those with an open
    application still unapproved whose approval target passed in between."""
    current = StateStay.objects.filter(left_at__isnull=True)
    months = set(current.order_by().values_list("month", flat=True).distinct())
    passed = ApplicationTime.objects.filter(
        approved_at__isnull=True, is_open=True, deadline_at__gte=previous, deadline_at__lt=now
    )
    months.update(passed.order_by().values_list("month", flat=True).distinct())
    return months


def _rewrite_facts(gestion_ids: set[int]) -> set[date]:
    """Rewrite the facts of these gestiones; return the months they were and are in."""
    months: set[date] = set()
    ordered = sorted(gestion_ids)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        for model in (ApplicationTime, StateStay):
            facts = model.objects.filter(gestion_id__in=chunk).order_by()
            months.update(facts.values_list("month", flat=True).distinct())
            _delete(model, chunk)
        months |= _write_application_facts(chunk)
        months |= _write_stays(chunk)
    return months


def _delete(model, gestion_ids: list[int] | None = None) -> None:
    """Delete `model`'s facts of these gestiones (all if None) in one statement.

    Not QuerySet.delete(): with a post_delete receiver anywhere it reads every row first
    (see reports.services._delete_months); derived rows need no signal.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field("gestion").column)
    with connection.cursor() as cursor:
        if gestion_ids is None:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - our own table's quoted name
        else:
            marks = ", ".join(["%s"] * len(gestion_ids))
            cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", gestion_ids)  # noqa: S608


# --- Facts: applications ----------------------------------------------------------------

_APPLICATION_COLUMNS = (
    "gestion_id",
    "loan_product_id",
    "loan_product__approval_target_hours",
    "gestion__branch_id",
    "agent_in_charge",
    "gestion__outcome",
    "gestion__created_at",
    "lead_received_at",
    "approved_at",
    "loan_id",
    "loan__status",
    "loan__status_changed_at",
    "loan__disbursed_at",
    "contract_signed_at",
)


# The columns written, in the order `_application_facts` gives them.
APPLICATION_TIME_COLUMNS = (
    "gestion_id",
    "month",
    "product_id",
    "branch_id",
    "agent_id",
    "lead_at",
    "applied_at",
    "approved_at",
    "signed_at",
    "disbursed_at",
    "application_seconds",
    "approval_seconds",
    "signature_seconds",
    "disbursement_seconds",
    "target_hours",
    "deadline_at",
    "is_approved_late",
    "is_open",
)


def _write_application_facts(gestion_ids: list[int] | None) -> set[date]:
    """Write the `ApplicationTime` of these gestiones' applications (all if None); return
    their months."""
    signed = (
        LoanContract.objects.filter(
            loan=OuterRef("loan_id"),
            status=LoanContract.Status.COMPLETED,
            completed_at__isnull=False,
        )
        .order_by("completed_at")
        .values("completed_at")[:1]
    )
    # The advisor an application counts for: the agent in charge just before its approval
    # (who approved it, not whoever the approved state hands it to at that moment); one
    # not approved, the gestión's agent now (in charge of approving it, or who closed it).
    # One probe of the follow-ups' index per application, in the same query.
    approver = (
        FollowUp.objects.filter(
            _MOVED_OR_ASSIGNED,
            gestion=OuterRef("gestion_id"),
            agent__isnull=False,
            created_at__lt=OuterRef("approved_at"),
        )
        .order_by("-created_at", "-id")
        .values("agent_id")[:1]
    )
    applications = (
        CreditApplication.objects.order_by("gestion_id")
        .annotate(
            contract_signed_at=Subquery(signed),
            agent_in_charge=Coalesce(
                Subquery(approver), F("gestion__agent_id"), output_field=IntegerField()
            ),
        )
        .values_list(*_APPLICATION_COLUMNS)
    )
    months: set[date] = set()
    for rows in _batches(applications, "gestion_id", gestion_ids):
        facts = _application_facts(rows)
        bulk.insert_rows(ApplicationTime, APPLICATION_TIME_COLUMNS, facts)
        months.update(fact[1] for fact in facts)
    return months


def _application_facts(rows: list[tuple]) -> list[tuple]:
    """Return the ApplicationTime rows (APPLICATION_TIME_COLUMNS) of these applications."""
    zone = timezone.get_default_timezone()
    # Loans disbursed without a signed contract on record, and those back in "ready to
    # disburse" after their disbursement was annulled: their move to "ready to disburse",
    # from the ledger.
    unsigned = [
        row[9]
        for row in rows
        if row[13] is None
        and row[9]
        and (row[10] in Loan.DISBURSED or row[10] == Loan.Status.READY_TO_DISBURSE)
    ]
    ready_at = _ready_to_disburse_moments(unsigned)
    facts = []
    for (
        gestion_id,
        product_id,
        target_hours,
        branch_id,
        agent_id,
        outcome,
        created_at,
        lead_at,
        approved_at,
        loan_id,
        loan_status,
        status_changed_at,
        disbursed_at,
        contract_signed_at,
    ) in rows:
        signed_at = contract_signed_at
        if signed_at is None:
            signed_at = ready_at.get(loan_id)
        if signed_at is None and loan_status == Loan.Status.READY_TO_DISBURSE:
            # Never disbursed: its move there is its last.
            signed_at = status_changed_at
        # The loan's disbursement as it stands: an annulled one cleared it (back to "ready
        # to disburse", credits.services.loans.annul_disbursement), a new one set it anew.
        if loan_id is None:
            disbursed_at = None
        deadline_at = lead_at + timedelta(hours=target_hours)
        facts.append(
            (
                gestion_id,
                figures.month_of(lead_at, zone),
                product_id,
                branch_id,
                agent_id,
                lead_at,
                created_at,
                approved_at,
                signed_at,
                disbursed_at,
                figures.seconds_between(lead_at, created_at),
                _seconds(lead_at, approved_at),
                _seconds(lead_at, signed_at),
                _seconds(lead_at, disbursed_at),
                target_hours,
                deadline_at,
                approved_at is not None and approved_at > deadline_at,
                outcome == Outcome.OPEN,
            )
        )
    return facts


def _seconds(start: datetime, end: datetime | None) -> int | None:
    return None if end is None else figures.seconds_between(start, end)


def _ready_to_disburse_moments(loan_ids: list[int]) -> dict[int, datetime]:
    """Return when each of these loans, disbursed once at least, moved to "ready to
    disburse".

    `credits.services.ledger.move_status` writes a STATUS entry per move without naming
    the status reached, but a loan is disbursed only from "ready to disburse", which it
    leaves only by the disbursement: its last STATUS entry before the first DISBURSEMENT
    entry is that move. An annulled disbursement moves the loan back there (its status
    changed then: not when it got ready), and a new one follows: the first DISBURSEMENT
    entry still marks it. A loan without those entries (imported, or never disbursed)
    gets none.
    """
    if not loan_ids:
        return {}
    entries = LedgerEntry.objects.order_by()
    first_disbursement = dict(
        entries.filter(loan_id__in=loan_ids, kind=LedgerEntry.Kind.DISBURSEMENT)
        .values("loan_id")
        .annotate(first=Min("id"))
        .values_list("loan_id", "first")
    )
    moments: dict[int, datetime] = {}
    moves = entries.filter(
        loan_id__in=list(first_disbursement), kind=LedgerEntry.Kind.STATUS
    ).order_by("loan_id", "id")
    for loan_id, entry_id, created_at in moves.values_list("loan_id", "id", "created_at"):
        if entry_id < first_disbursement[loan_id]:
            moments[loan_id] = created_at
    return moments


# --- Facts: state stays -----------------------------------------------------------------


STATE_STAY_COLUMNS = (
    "gestion_id",
    "state_id",
    "branch_id",
    "agent_id",
    "opened_at",
    "month",
    "entered_at",
    "left_at",
    "seconds",
)


def _write_stays(gestion_ids: list[int] | None) -> set[date]:
    """Write the `StateStay` rows of these gestiones (all if None); return their months."""
    zone = timezone.get_default_timezone()
    is_open = {
        pk: outcome == Outcome.OPEN
        for pk, outcome in GestionState.objects.values_list("pk", "outcome")
    }
    gestiones = Gestion.objects.order_by("pk").values_list(
        "pk", "state_id", "state_entered_at", "created_at", "branch_id", "agent_id"
    )
    months: set[date] = set()
    for rows in _batches(gestiones, "pk", gestion_ids):
        # Only the follow-ups that moved the gestión (and its creation), and those that
        # gave it to an agent: the others keep the state and the agent, and say nothing
        # about how long a stay lasted or who was in charge.
        steps = (
            FollowUp.objects.filter(gestion_id__in=[row[0] for row in rows])
            .filter(_MOVED_OR_ASSIGNED)
            .order_by("gestion_id", "created_at", "id")
            .values_list("gestion_id", "from_state_id", "state_id", "created_at", "agent_id")
        )
        by_gestion: defaultdict[int, list[tuple]] = defaultdict(list)
        in_charge: defaultdict[int, Charge] = defaultdict(Charge)
        for gestion_id, from_state_id, to_state_id, at, agent_id in steps:
            if from_state_id != to_state_id:  # a move or the creation, not an assignment
                by_gestion[gestion_id].append((from_state_id, to_state_id, at))
            if agent_id is not None:
                in_charge[gestion_id].add(at, agent_id)
        stays = []
        for pk, state_id, state_entered_at, created_at, branch_id, agent_id in rows:
            month = figures.month_of(created_at, zone)
            months.add(month)
            charge = in_charge.get(pk)
            for stay_state, entered_at, left_at in stays_of(
                created_at=created_at,
                state_id=state_id,
                state_entered_at=state_entered_at,
                moves=by_gestion.get(pk, ()),
            ):
                # A gestión stays in its closing state for good: not a time to measure.
                if left_at is None and not is_open.get(stay_state, False):
                    continue
                stays.append(
                    (
                        pk,
                        stay_state,
                        branch_id,
                        agent_id if charge is None else charge.at(entered_at, agent_id),
                        created_at,
                        month,
                        entered_at,
                        left_at,
                        _seconds(entered_at, left_at),
                    )
                )
        bulk.insert_rows(StateStay, STATE_STAY_COLUMNS, stays)
    return months


class Charge:
    """Who was in charge of one gestión and since when, from its follow-ups that name an
    agent (`FollowUp.agent`), added in order."""

    def __init__(self) -> None:
        self.moments: list[datetime] = []
        self.agents: list[int] = []

    def add(self, at: datetime, agent_id: int) -> None:
        self.moments.append(at)
        self.agents.append(agent_id)

    def at(self, moment: datetime, current: int | None) -> int | None:
        """Return the agent named last at or before `moment` (an assignment made with the
        change of state that began a stay is that stay's); none named by then (rows older
        than `FollowUp.agent`): `current`, the gestión's agent now."""
        index = bisect_right(self.moments, moment)
        return self.agents[index - 1] if index else current


def stays_of(
    *,
    created_at: datetime,
    state_id: int,
    state_entered_at: datetime,
    moves: Iterable[tuple],
) -> Iterator[tuple[int, datetime, datetime | None]]:
    """Yield (state, entered, left) for each stay of a gestión, the current one last with
    no `left`, from its moves (from_state, state, at) in order: its creation (no
    from_state) and each change of state.

    The gestión's own state and `state_entered_at` have the last word on the current stay:
    a change made without a follow-up (by hand in admin) still closes the stay before it.
    """
    current, entered = None, None
    for from_state, to_state, at in moves:
        if from_state is None:  # the creation
            if current is None:
                current, entered = to_state, at
            continue
        if current is None:  # no creation row (loaded data): the first state since creation
            current, entered = from_state, created_at
        yield current, entered, at
        current, entered = to_state, at
    if current is not None and current != state_id:
        yield current, entered, state_entered_at
        current = None
    yield state_id, state_entered_at, None


# --- Figures ----------------------------------------------------------------------------


def _write_figures(months: set[date] | None, window: figures.Period, now: datetime) -> None:
    """Replace the figures of `months` (every month if None) and of the `window`."""
    first, last = window
    if months is None:
        for model in (ApplicationTimeFigure, StateTimeFigure):
            _delete_figures(model, None)
        in_scope = Q()
    else:
        for model in (ApplicationTimeFigure, StateTimeFigure):
            _delete_figures(model, months)
        in_scope = Q(month__in=sorted(months)) | Q(month__gte=first, month__lte=last)

    def periods_of(fact) -> list[figures.Period]:
        periods = []
        if months is None or fact.month in months:
            periods.append((fact.month, fact.month))
        if first <= fact.month <= last:
            periods.append(window)
        return periods

    facts = figures.application_facts(ApplicationTime.objects.filter(in_scope), now)
    rows = list(
        figures.application_figures(
            facts.iterator(chunk_size=BATCH),
            periods_of=periods_of,
            groupings=figures.APPLICATION_GROUPINGS,
        )
    )
    figures.add_leads(rows, _unconverted_leads(months, window))
    _insert_figures(ApplicationTimeFigure, rows)

    stays = figures.stay_facts(StateStay.objects.filter(in_scope))
    state_rows = figures.state_figures(
        stays.iterator(chunk_size=BATCH),
        periods_of=periods_of,
        groupings=figures.STATE_GROUPINGS,
        allowed={state.pk: state.duration for state in GestionState.objects.all()},
        now=now,
    )
    _insert_figures(StateTimeFigure, state_rows)


def _insert_figures(model, rows: Iterable) -> None:
    columns = tuple(f.attname for f in model._meta.concrete_fields if not f.primary_key)
    bulk.insert_rows(model, columns, (tuple(getattr(row, c) for c in columns) for row in rows))


def _unconverted_leads(
    months: set[date] | None, window: figures.Period
) -> dict[figures.Period, int]:
    """Return how many leads without an application each stored period has."""
    leads = (
        CreditLead.objects.filter(application__isnull=True)
        .order_by()
        .values_list(_month("received_at"))
        .annotate(count=Count("pk"))
    )
    counts: defaultdict[figures.Period, int] = defaultdict(int)
    for month, count in leads:
        if months is None or month in months:
            counts[(month, month)] += count
        if window[0] <= month <= window[1]:
            counts[window] += count
    return counts


def _delete_figures(model, months: set[date] | None) -> None:
    """Delete `model`'s figures of `months` and of any longer period (all if None)."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if months is None:
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - our own table's quoted name
            return
        cursor.execute(f"DELETE FROM {table} WHERE first_month <> last_month")  # noqa: S608
        ordered = [connection.ops.adapt_datefield_value(month) for month in sorted(months)]
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start : start + CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"DELETE FROM {table} WHERE first_month = last_month "  # noqa: S608
                f"AND first_month IN ({marks})",
                chunk,
            )


# --- Helpers ----------------------------------------------------------------------------


def _batches(rows: QuerySet, key: str, ids: list[int] | None) -> Iterator[list[tuple]]:
    """Yield `rows` (a values_list ordered by `key`, first column the key) in batches:
    these ids a chunk at a time, or every row by keyset pages."""
    if ids is not None:
        for start in range(0, len(ids), CHUNK):
            batch = list(rows.filter(**{f"{key}__in": ids[start : start + CHUNK]}))
            if batch:
                yield batch
        return
    last = None
    while True:
        page = rows if last is None else rows.filter(**{f"{key}__gt": last})
        batch = list(page[:BATCH])
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def _month(field: str) -> TruncMonth:
    """The first day of the month of `field` in the local time zone."""
    return TruncMonth(field, output_field=DateField(), tzinfo=timezone.get_default_timezone())
