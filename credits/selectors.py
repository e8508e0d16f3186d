"""Reads of the ledger: access helpers, screen querysets, balances and portfolio figures."""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from credits.models import (
    COMPONENTS,
    ZERO,
    Bucket,
    Component,
    Installment,
    Investor,
    LedgerEntry,
    Loan,
    LoanProduct,
    Participation,
    Payment,
    PaymentAllocation,
)
from crm.models import Branch, Customer
from lib import bulk, money, small_tables
from lib.money import Currency

# The report's line of loans written off, apart from the aging buckets (not a `Bucket`).
WRITTEN_OFF_LINE = "written_off"
PAR_BUCKETS = {
    30: (Bucket.D31_60, Bucket.D61_90, Bucket.D90_PLUS),
    90: (Bucket.D90_PLUS,),
}


def loans_visible_to(user: AbstractBaseUser) -> QuerySet[Loan]:
    """Return the loans a staff user may see: all of them, given the permission."""
    if not user.is_authenticated:
        return Loan.objects.none()
    if not user.has_perm("credits.view_loan"):
        return Loan.objects.none()
    return Loan.objects.all()


def loan_for(user: AbstractBaseUser, pk: int) -> Loan:
    """Return the loan `pk` if `user` may see it, else 404."""
    return get_object_or_404(
        loans_visible_to(user).select_related("customer", "product", "advisor", "branch"), pk=pk
    )


def loan_page(user: AbstractBaseUser, pk: int) -> Loan:
    """Return the loan `pk` for its page if `user` may see it, else 404: as `loan_for`, but
    with the product, advisor and branch from the process's copy of those small tables
    (lib.small_tables). Joined, they were three more tables for the ORM to write into the
    query (~0.6 ms of a ~10 ms page); the page writes only their names."""
    loan = get_object_or_404(loans_visible_to(user).select_related("customer"), pk=pk)
    products, people, branches = small_tables.rows(LoanProduct, small_tables.people(), Branch)
    small_tables.attach([loan], product=products, advisor=people, branch=branches)
    return loan


def loan_list(user: AbstractBaseUser) -> QuerySet[Loan]:
    """Return the loans for the list screen, newest first, with each row's related rows and
    outstanding principal.

    Newest by id rather than by `created_at` (the model's order): the same order for loans
    registered here, and the primary key's index reads a page of it where `created_at`,
    unindexed, had PostgreSQL sort all 43,000 loans (~20 ms) for every page. The related
    rows are prefetched for the page rather than joined, so a sort by a column the user
    picks orders loans alone, not 43,000 joined wide rows (~90 ms) to keep 25.
    """
    return (
        loans_visible_to(user)
        .prefetch_related(LIST_CUSTOMER, "product", "advisor", "branch")
        .annotate(outstanding=outstanding_principal_expression())
        .order_by("-id")
    )


# What a row of the list shows of the loan (a loan has ~40 columns).
LIST_LOAN_FIELDS = (
    "payment_code",
    "currency",
    "principal",
    "status",
    "days_past_due",
    "bucket",
    "customer_id",
    "product_id",
    "advisor_id",
    "branch_id",
)
# Without its phones: reading a phone parses it (~50 µs a row).
LIST_CUSTOMER_FIELDS = ("first_name", "last_name", "document_type", "document_number")
LIST_CUSTOMER = Prefetch("customer", queryset=Customer.objects.only(*LIST_CUSTOMER_FIELDS))


def loan_list_page(page: QuerySet[Loan]) -> list[Loan]:
    """Return a list page's loans (a slice of `loan_list`) with what each row shows: the
    customers in one query; the product, advisor and branch from the process's copy of those
    small tables (lib.small_tables) instead of three more queries (the export, reading
    every row, keeps `loan_list`'s prefetches)."""
    loans = list(page.prefetch_related(None).only(*LIST_LOAN_FIELDS))
    # The page's customers by id: Django's prefetch machinery cost more than the query.
    customers = Customer.objects.only(*LIST_CUSTOMER_FIELDS).in_bulk(
        {loan.customer_id for loan in loans}
    )
    products, users, branches = small_tables.rows(LoanProduct, small_tables.people(), Branch)
    small_tables.attach(loans, customer=customers, product=products, advisor=users, branch=branches)
    return loans


def outstanding_principal_expression() -> Subquery:
    """Sum of the live installments' unpaid principal, as a loan annotation.

    A correlated subquery rather than a join with `Sum`: a list's COUNT(*) leaves an unused
    subquery out, where a join would read every installment (1M rows) to count the loans.
    """
    unpaid = (
        Installment.objects.filter(loan=OuterRef("pk"), is_superseded=False)
        .order_by()
        .values("loan")
        .annotate(total=Sum(F("principal_due") - F("principal_paid")))
        .values("total")
    )
    return Coalesce(
        Subquery(unpaid, output_field=DecimalField(max_digits=14, decimal_places=2)), ZERO
    )


def live_installments(loan: Loan) -> QuerySet[Installment]:
    """Return the loan's current schedule (no superseded rows), in order."""
    return loan.installments.filter(is_superseded=False).order_by("number")


# The loan page lists this many payments, newest first, unless all are asked for.
PAYMENTS_SHOWN = 50


@dataclass(frozen=True)
class LoanPayments:
    """The payments a loan page lists, and how many the loan has."""

    shown: list[Payment]
    total: int

    @property
    def is_partial(self) -> bool:
        return len(self.shown) < self.total


def loan_payments(loan: Loan, *, limit: int | None = PAYMENTS_SHOWN) -> LoanPayments:
    """Return the loan's payments, newest first (`limit` of them; None: all), with who
    recorded or annulled them, their allocations, and `may_annul` on each.

    Payments are annulled newest first (`payments.annul_payment`): only the newest applied
    payment that paid anything, and any applied after it that paid nothing, may be. The
    people come from the process's copy of the user table (lib.small_tables), not two
    joins of it: the ORM took ~0.7 ms to write that query, even for a loan without payments.
    """
    total = loan.payments.count()
    listed = loan.payments.prefetch_related(
        Prefetch("allocations", queryset=_allocations_in_order())
    )
    payments = list(listed if limit is None else listed[:limit])
    if payments:
        (people,) = small_tables.rows(small_tables.people())
        small_tables.attach(payments, recorded_by=people, annulled_by=people)
    newest_paying = (
        loan.payments.filter(status=Payment.Status.APPLIED, allocations__isnull=False)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    for payment in payments:
        payment.may_annul = payment.is_applied and (
            newest_paying is None or payment.pk >= newest_paying
        )
    return LoanPayments(shown=payments, total=total)


def _allocations_in_order():
    return PaymentAllocation.objects.select_related("installment").order_by(
        "installment__number", "id"
    )


@dataclass(frozen=True)
class OpenInstallments:
    """A loan's installments with something left to pay, as a payment received on a day sees
    them: those due by then, the one in course, and the later ones."""

    due: list[Installment]
    in_course: list[Installment]  # the next one, or none
    later: list[Installment]

    @property
    def to_settle(self) -> Decimal:
        """Return what pays the loan off that day: the installments due and the one in course
        in full, and the principal of the later ones, which a prepayment pays without their
        interest. Anything more can only become a credit balance."""
        in_full = sum((r.total_pending for r in self.due + self.in_course), ZERO)
        return in_full + sum((r.pending(Component.PRINCIPAL) for r in self.later), ZERO)


def settles_with_credit(loan: Loan, to_settle: Decimal) -> Decimal:
    """Return what the debtor pays to settle `loan` today, `to_settle` being what its
    installments need: less its credit balance, money of theirs the loan already holds.

    An active loan's only, as the nightly spends it (apply_due_credit_balances): a
    written-off loan's credit waits for a person. Asked for this much (the portal, the bot,
    a total link), the payment spends the credit with it and settles the loan
    (`apply_payment`); asked for `to_settle`, the loan ended «Pagado» still holding the
    credit, to be given back.
    """
    if not has_credit_to_spend(loan):
        return to_settle
    return max(to_settle - loan.credit_balance, ZERO)


def has_credit_to_spend(loan: Loan) -> bool:
    """Whether the loan's credit balance pays its installments without a person: an active
    loan's (`settles_with_credit`)."""
    return loan.status == Loan.Status.ACTIVE and loan.credit_balance > 0


def open_installments(rows: Iterable[Installment], on: date) -> OpenInstallments:
    """Split a loan's live installments, in order, as a payment received on `on` pays them."""
    open_rows = [r for r in rows if r.total_pending > 0]
    due = [r for r in open_rows if r.due_date <= on]
    return OpenInstallments(
        due=due,
        in_course=open_rows[len(due) : len(due) + 1],
        later=open_rows[len(due) + 1 :],
    )


@dataclass(frozen=True)
class LoanBalance:
    principal_due: Decimal
    interest_due: Decimal
    fee_due: Decimal
    late_interest_due: Decimal
    total_due: Decimal
    overdue: Decimal  # what is unpaid on installments already past their due date
    principal_outstanding: Decimal
    paid: Decimal
    next_due_date: date | None
    next_due_amount: Decimal
    to_settle: Decimal  # what a payment today must not exceed, unless it overpays on purpose


def loan_balance(
    loan: Loan, today: date | None = None, *, installments: list[Installment] | None = None
) -> LoanBalance:
    """Return what a loan owes now, by component, and what comes next.

    `installments`, the loan's live installments in order, saves reading them again.
    """
    today = today or timezone.localdate()
    pending = dict.fromkeys(COMPONENTS, ZERO)
    overdue = paid = ZERO
    next_row = None
    rows = list(live_installments(loan)) if installments is None else installments
    for inst in rows:
        for component in COMPONENTS:
            pending[component] += inst.pending(component)
        paid += inst.total_paid
        if inst.total_pending > 0:
            if inst.due_date < today:
                overdue += inst.total_pending
            elif next_row is None:
                next_row = inst
    return LoanBalance(
        principal_due=pending[Component.PRINCIPAL],
        interest_due=pending[Component.INTEREST],
        fee_due=pending[Component.FEE],
        late_interest_due=pending[Component.LATE_INTEREST],
        total_due=sum(pending.values(), ZERO),
        overdue=overdue,
        principal_outstanding=pending[Component.PRINCIPAL],
        paid=paid,
        next_due_date=next_row.due_date if next_row else None,
        next_due_amount=next_row.total_pending if next_row else ZERO,
        to_settle=open_installments(rows, today).to_settle,
    )


@dataclass(frozen=True)
class Figures:
    """An installment's figures, read as plain values (no model object)."""

    number: int
    due_date: date
    due: Decimal  # all components
    paid: Decimal
    principal: Decimal  # principal still to pay
    late_interest: Decimal  # late interest still to pay
    paid_on: date | None

    @property
    def pending(self) -> Decimal:
        return self.due - self.paid

    def state(self, today: date) -> str:
        """ "paid", "overdue" or "upcoming", as schedule_rows says."""
        if self.pending <= 0:
            return "paid"
        return "overdue" if self.due_date < today else "upcoming"


@dataclass(frozen=True)
class OpenBalance:
    """What `loan_balance` says of a loan's open installments, from its Figures."""

    to_settle: Decimal
    overdue: Decimal
    overdue_late_interest: Decimal
    next_due_date: date | None
    next_due_amount: Decimal
    open_rows: tuple[Figures, ...]
    # The last day `to_settle` holds: the day before the installment in course falls due,
    # when the one after it enters in full (its interest with it). None when none follows.
    to_settle_until: date | None = None


# The columns installment_figures reads: the loan, number and day, due and paid amounts.
_FIGURE_COLUMNS = (
    "loan_id",
    "number",
    "due_date",
    "paid_on",
    *(f"{c}_due" for c in COMPONENTS),
    *(f"{c}_paid" for c in COMPONENTS),
)


def installment_figures(
    loan_ids: Iterable[int], *, open_only: bool = False
) -> dict[int, list[Figures]]:
    """Return each loan's live installments in order, as Figures, in one query; with
    `open_only`, only those not paid in full (all `open_balance` reads).

    For the pages that read many loans at once (the collection bot's lookup, the portal):
    model objects and their per-component properties cost several times the query. An
    installment's `paid_on` is set exactly when nothing is left to pay on it (the payment,
    annulment and waiver services keep it so; tests/credits/test_open_balances.py holds
    it), so "open" is read by the index of open installments.
    """
    count = len(COMPONENTS)
    principal = COMPONENTS.index(Component.PRINCIPAL)
    late = COMPONENTS.index(Component.LATE_INTEREST)
    figures: dict[int, list[Figures]] = {pk: [] for pk in loan_ids}
    rows = Installment.objects.filter(loan_id__in=bulk.ids_in(list(figures)), is_superseded=False)
    if open_only:
        rows = rows.filter(paid_on__isnull=True)
    rows = rows.order_by("loan_id", "number").values_list(*_FIGURE_COLUMNS)
    for row in rows:
        due, paid = row[4 : 4 + count], row[4 + count :]
        figures[row[0]].append(
            Figures(
                number=row[1],
                due_date=row[2],
                due=sum(due, ZERO),
                paid=sum(paid, ZERO),
                principal=due[principal] - paid[principal],
                late_interest=due[late] - paid[late],
                paid_on=row[3],
            )
        )
    return figures


def open_balance(figures: list[Figures], today: date) -> OpenBalance:
    """Return the figures of `loan_balance` and `open_installments` from a loan's Figures
    (a test holds both ways equal)."""
    open_rows = [r for r in figures if r.pending > 0]
    # As open_installments splits them for a payment received today.
    due_now = sum(1 for r in open_rows if r.due_date <= today)
    in_full, later = open_rows[: due_now + 1], open_rows[due_now + 1 :]
    overdue_rows = [r for r in open_rows if r.due_date < today]
    upcoming = next((r for r in open_rows if r.due_date >= today), None)
    return OpenBalance(
        to_settle_until=in_full[-1].due_date - timedelta(days=1) if later else None,
        to_settle=sum((r.pending for r in in_full), ZERO) + sum((r.principal for r in later), ZERO),
        overdue=sum((r.pending for r in overdue_rows), ZERO),
        overdue_late_interest=sum((r.late_interest for r in overdue_rows), ZERO),
        next_due_date=upcoming.due_date if upcoming else None,
        next_due_amount=upcoming.pending if upcoming else ZERO,
        open_rows=tuple(open_rows),
    )


def open_balances(loan_ids: Iterable[int], today: date) -> dict[int, OpenBalance]:
    """Return, per loan, what it owes today (open_balance), read in one query."""
    figures = installment_figures(loan_ids, open_only=True)
    return {pk: open_balance(rows, today) for pk, rows in figures.items()}


def balances_from_ledger(loan: Loan) -> dict:
    """Recompute, from the ledger alone, each installment's due and paid amounts and the credit.

    Returns {"installments": {id: {component: (due, paid)}}, "credit": Decimal}; superseded
    rows come out owing nothing.
    """
    rows: dict[int, dict[str, list[Decimal]]] = defaultdict(
        lambda: {c: [ZERO, ZERO] for c in COMPONENTS}
    )
    credit = ZERO
    entries = LedgerEntry.objects.filter(loan=loan).values_list(
        "installment_id", "component", "owed", "paid"
    )
    for installment_id, component, owed, paid in entries:
        if component == LedgerEntry.CREDIT_COMPONENT:
            credit += paid
        elif installment_id is not None and component:
            rows[installment_id][component][0] += owed
            rows[installment_id][component][1] += paid
    return {
        "installments": {
            pk: {c: (v[0], v[1]) for c, v in parts.items()} for pk, parts in rows.items()
        },
        "credit": credit,
    }


# --- Portfolio (SQL) --------------------------------------------------------------------
#
# The portfolio "as of" a day is the one the books showed at the end of that day: the loans
# disbursed by then and not yet paid off, what they owed, and how late they were. Today's
# installments and `paid` amounts are the state after every payment; the payments that
# count differently then and now (received later, or annulled later) are the only
# corrections, so a recent day costs about what today does.


def _day_end(day: date) -> datetime:
    """Return the first moment after `day`, local time (`date.max` has none: the far future)."""
    if day >= date.max:
        return timezone.make_aware(datetime.max - timedelta(days=2))
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def _days_before(day: date, days: int) -> date:
    return day - timedelta(days=days) if day.toordinal() > days else date.min


def _bucket_bounds(today: date) -> list[tuple[str, date]]:
    """Return (bucket, oldest unpaid due date on or after which a loan is in it), worst last."""
    return [
        (Bucket.CURRENT, today),
        (Bucket.D1_30, _days_before(today, 30)),
        (Bucket.D31_60, _days_before(today, 60)),
        (Bucket.D61_90, _days_before(today, 90)),
    ]


def _portfolio_sql(as_of: date) -> tuple[str, dict]:
    """Return SQL naming `per_loan` (loan_id, currency, oldest_due, outstanding,
    is_written_off) as of the end of a day, the loans of every currency.

    A loan is in the portfolio if it was disbursed by then and is live now, or is paid now
    but still owed something then. An installment counts if the payment that created it
    (a re-schedule) counted then and the one that replaced it did not; it was unpaid if
    nothing changed it since and it is unpaid now, or, if a payment changed it since, if
    its principal, interest and fees were not all paid by the payments that counted then.
    When no payment counts differently then and now (always so for today), that is simply
    today's live installments of today's live loans, and the cheaper SQL says just that.

    A loan written off by the end of the day (its write-off ledger entry, or, for a loan
    without one, the moment it took its written-off status) is `is_written_off` 1: it has
    left the gross portfolio, and the report shows it on a line of its own.
    """
    day_end = _day_end(as_of)
    params = {
        "day": connection.ops.adapt_datefield_value(as_of),
        "day_end": connection.ops.adapt_datetimefield_value(day_end),
        "applied": Payment.Status.APPLIED,
        "annulled": Payment.Status.ANNULLED,
        "principal": Component.PRINCIPAL,
        "late_interest": Component.LATE_INTEREST,
        "reschedule": LedgerEntry.Kind.RESCHEDULE,
        "active": Loan.Status.ACTIVE,
        "written_off": Loan.Status.WRITTEN_OFF,
        "paid": Loan.Status.PAID,
        "write_off": LedgerEntry.Kind.WRITE_OFF,
        "false": False,
    }
    changed = Payment.objects.filter(
        Q(status=Payment.Status.APPLIED, received_on__gt=as_of)
        | Q(status=Payment.Status.ANNULLED, received_on__lte=as_of, annulled_at__gte=day_end)
    )
    sql = _ROWS_THEN + _PER_LOAN_THEN if changed.exists() else _PER_LOAN_NOW
    sql += _WRITTEN_OFF_THEN
    return sql.format(  # table names from Django's metadata, values as parameters
        installment=Installment._meta.db_table,
        loan=Loan._meta.db_table,
        payment=Payment._meta.db_table,
        allocation=PaymentAllocation._meta.db_table,
        ledger=LedgerEntry._meta.db_table,
    ), params


# Nothing changed since: today's live installments of today's live loans.
_PER_LOAN_NOW = """
        WITH owed AS (
            SELECT i.loan_id,
                   MIN(CASE WHEN i.paid_on IS NULL AND i.due_date < %(day)s THEN i.due_date END)
                       AS oldest_due,
                   SUM(i.principal_due - i.principal_paid) AS outstanding
            FROM {installment} i
            JOIN {loan} l ON l.id = i.loan_id
            WHERE l.status IN (%(active)s, %(written_off)s) AND i.is_superseded = %(false)s
              -- Disbursed by the end of the day.
              AND (l.disbursed_at < %(day_end)s
                   OR (l.disbursed_at IS NULL AND l.start_date <= %(day)s))
            GROUP BY i.loan_id
        )
"""

_ROWS_THEN = """
        WITH counted AS (
            SELECT id FROM {payment}
            WHERE received_on <= %(day)s
              AND (status = %(applied)s OR annulled_at >= %(day_end)s)
        ),
        changed AS (
            -- Counted now but not then (-1), or then but not now (+1).
            SELECT id, loan_id, CASE WHEN status = %(applied)s THEN -1 ELSE 1 END AS sign
            FROM {payment}
            WHERE (status = %(applied)s AND received_on > %(day)s)
               OR (status = %(annulled)s AND received_on <= %(day)s
                   AND annulled_at >= %(day_end)s)
        ),
        delta AS (
            SELECT a.installment_id,
                   SUM(CASE WHEN a.component = %(principal)s
                            THEN c.sign * a.amount ELSE 0 END) AS principal,
                   SUM(CASE WHEN a.component = %(late_interest)s
                            THEN 0 ELSE c.sign * a.amount END) AS scheduled
            FROM {allocation} a JOIN changed c ON c.id = a.payment_id
            GROUP BY a.installment_id
        ),
        replaced AS (
            -- Rows a payment annulled since then had re-scheduled away on that day:
            -- annulling restores them and forgets the link, the ledger keeps it.
            SELECT le.installment_id AS id
            FROM {ledger} le
            JOIN changed c ON c.id = le.payment_id AND c.sign = 1
            JOIN {installment} r ON r.id = le.installment_id
            WHERE le.kind = %(reschedule)s AND le.owed < 0
              AND (r.created_by_payment_id IS NULL OR r.created_by_payment_id <> le.payment_id)
        ),
        rows_then AS (
            SELECT i.loan_id, l.status, i.due_date,
                   i.principal_due - i.principal_paid - COALESCE(d.principal, 0) AS principal_left,
                   CASE WHEN d.installment_id IS NULL
                        THEN CASE WHEN i.paid_on IS NULL THEN 1 ELSE 0 END
                        WHEN i.principal_paid + i.interest_paid + i.fee_paid + d.scheduled
                             < i.principal_due + i.interest_due + i.fee_due THEN 1
                        ELSE 0 END AS is_open
            FROM {installment} i
            JOIN {loan} l ON l.id = i.loan_id
            LEFT JOIN delta d ON d.installment_id = i.id
            WHERE (l.status IN (%(active)s, %(written_off)s)
                   OR (l.status = %(paid)s AND l.id IN (SELECT loan_id FROM changed)))
              AND (i.created_by_payment_id IS NULL
                   OR i.created_by_payment_id IN (SELECT id FROM counted))
              AND (i.superseded_by_payment_id IS NULL
                   OR i.superseded_by_payment_id NOT IN (SELECT id FROM counted))
              -- A row superseded with no payment (its disbursement annulled) never counts.
              AND (i.is_superseded = %(false)s
                   OR i.superseded_by_payment_id IS NOT NULL
                   OR i.created_by_payment_id IS NOT NULL)
              AND i.id NOT IN (SELECT id FROM replaced)
              -- Disbursed by the end of the day.
              AND (l.disbursed_at < %(day_end)s
                   OR (l.disbursed_at IS NULL AND l.start_date <= %(day)s))
        ),
"""

_PER_LOAN_THEN = """
        owed AS (
            SELECT loan_id,
                   MIN(CASE WHEN is_open = 1 AND due_date < %(day)s THEN due_date END)
                       AS oldest_due,
                   SUM(principal_left) AS outstanding
            FROM rows_then
            GROUP BY loan_id, status
            HAVING status <> %(paid)s OR MAX(is_open) = 1
        )
"""

# Only a loan written off or paid now may have been written off then (an annulled payment
# takes a loan written off before back to written off, never to active), so the ledger is
# read, by its loan index, for those few.
_WRITTEN_OFF_THEN = """
        , per_loan AS (
            SELECT o.loan_id, l.currency, o.oldest_due, o.outstanding,
                   CASE WHEN l.status = %(active)s THEN 0
                        WHEN COALESCE(
                                 (SELECT MIN(w.created_at) FROM {ledger} w
                                  WHERE w.loan_id = o.loan_id AND w.kind = %(write_off)s),
                                 CASE WHEN l.status = %(written_off)s
                                      THEN l.status_changed_at END
                             ) < %(day_end)s THEN 1
                        ELSE 0 END AS is_written_off
            FROM owed o
            JOIN {loan} l ON l.id = o.loan_id
        )
"""


def aging_report(today: date | None = None, *, currency: str | None = None) -> list[dict]:
    """Return, per aging bucket, the portfolio's loans and outstanding principal as of a day,
    of the loans in one currency (the lender's own, `settings.CURRENCY`, by default).

    Loans written off by then are not in it (`portfolio_summary` gives them apart).

    A loan's bucket comes from its oldest installment unpaid at the end of that day,
    computed here from the installments and payments (not from the nightly `Loan.bucket`),
    so the report is right even before the daily task has run, and for any past day.
    Bucket limits are passed as dates, which keeps the SQL the same on PostgreSQL and
    SQLite.
    """
    return _aging_by_currency(today or timezone.localdate())[currency or settings.CURRENCY][0]


def _aging_by_currency(today: date) -> dict[str, tuple[list[dict], int, Decimal]]:
    """Return, per currency (every one, with or without loans), `aging_report`'s rows, and
    the loans written off by then and their principal; one scan of the ledger for all."""
    per_loan, params = _portfolio_sql(today)
    cases = []
    for k, (bucket, since) in enumerate(_bucket_bounds(today)):
        cases.append(f"WHEN oldest_due >= %(since{k})s THEN %(bucket{k})s")
        params[f"since{k}"] = connection.ops.adapt_datefield_value(since)
        params[f"bucket{k}"] = str(bucket)
    params["current"], params["worst"] = str(Bucket.CURRENT), str(Bucket.D90_PLUS)
    params["written_off_line"] = WRITTEN_OFF_LINE
    sql = f"""{per_loan}
        SELECT currency,
               CASE WHEN is_written_off = 1 THEN %(written_off_line)s
                    WHEN oldest_due IS NULL THEN %(current)s {" ".join(cases)}
                    ELSE %(worst)s END AS bucket,
               COUNT(*), COALESCE(SUM(outstanding), 0)
        FROM per_loan
        GROUP BY 1, 2
    """  # noqa: S608 - table names from Django's metadata, values as parameters
    found: dict[str, dict[str, tuple[int, Decimal]]] = defaultdict(dict)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for currency, bucket, count, outstanding in cursor:
            found[currency][bucket] = (count, money.cents(outstanding))
    return {currency.value: _aging_rows(found[currency.value]) for currency in Currency}


def _aging_rows(found: dict[str, tuple[int, Decimal]]) -> tuple[list[dict], int, Decimal]:
    rows = [(bucket, *found.get(str(bucket), (0, ZERO))) for bucket in Bucket]
    percents = money.shares_of_100([outstanding for _bucket, _count, outstanding in rows])
    buckets = [
        {
            "bucket": str(bucket),
            "label": bucket.label,
            "loans": count,
            "outstanding": outstanding,
            "percent": percent,
        }
        for (bucket, count, outstanding), percent in zip(rows, percents, strict=True)
    ]
    return buckets, *found.get(WRITTEN_OFF_LINE, (0, ZERO))


def portfolio_first_day() -> date | None:
    """Return the first day there was a portfolio: the earliest disbursement, if any."""
    firsts = Loan.objects.filter(status__in=Loan.DISBURSED).aggregate(
        disbursed=Min("disbursed_at"),
        started=Min("start_date", filter=Q(disbursed_at__isnull=True)),
    )
    days = [firsts["started"]]
    if firsts["disbursed"] is not None:
        days.append(timezone.localdate(firsts["disbursed"]))
    return min((d for d in days if d is not None), default=None)


@dataclass(frozen=True)
class PortfolioSummary:
    """The portfolio report of the loans in one currency."""

    buckets: list[dict]
    outstanding: Decimal
    par30: Decimal  # percent of outstanding principal more than 30 days past due
    par90: Decimal
    collected_this_month: Decimal
    payments_this_month: int
    # Loans written off by then, out of the buckets, `outstanding` and PAR: their principal.
    written_off_loans: int = 0
    written_off: Decimal = ZERO


def portfolio_summary(
    today: date | None = None, *, currency: str | None = None
) -> PortfolioSummary:
    """Return the portfolio report as of a day of the loans in one currency (the lender's
    own, `settings.CURRENCY`, by default): see `portfolio_summaries`."""
    return portfolio_summaries(today)[currency or settings.CURRENCY]


def portfolio_summaries(today: date | None = None) -> dict[str, PortfolioSummary]:
    """Return the portfolio report as of a day, per currency (every one, with or without
    loans): outstanding by bucket, PAR30, PAR90, and the cash of that day's month up to it
    (payments annulled after it still counted then). Soles and dollars are never added up:
    each report has the loans in its currency only."""
    today = today or timezone.localdate()
    aging = _aging_by_currency(today)
    collected = (
        Payment.objects.received()
        .filter(
            received_on__gte=today.replace(day=1),
            received_on__lte=today,
        )
        .filter(Q(status=Payment.Status.APPLIED) | Q(annulled_at__gte=_day_end(today)))
        .values("loan__currency")
        .annotate(total=Sum("amount", default=ZERO), count=Count("id"))
        .order_by()
    )
    cash = {row["loan__currency"]: row for row in collected}
    summaries = {}
    for currency in Currency:
        buckets, written_off_loans, written_off = aging[currency.value]
        totals = cash.get(currency.value, {"total": ZERO, "count": 0})
        summaries[currency.value] = PortfolioSummary(
            buckets=buckets,
            outstanding=sum((b["outstanding"] for b in buckets), ZERO),
            par30=_par(buckets, 30),
            par90=_par(buckets, 90),
            # SQLite sums decimals as floats-in-text: round explicitly.
            collected_this_month=money.cents(totals["total"]),
            payments_this_month=totals["count"],
            written_off_loans=written_off_loans,
            written_off=written_off,
        )
    return summaries


def _par(buckets: list[dict], days: int) -> Decimal:
    """Return the percent of the outstanding principal more than `days` past due."""
    outstanding = sum((b["outstanding"] for b in buckets), ZERO)
    at_risk = sum((b["outstanding"] for b in buckets if b["bucket"] in PAR_BUCKETS[days]), ZERO)
    return (at_risk * 100 / outstanding).quantize(Decimal("0.01")) if outstanding else ZERO


# --- Loan screens -----------------------------------------------------------------------


def search_loans(queryset: QuerySet[Loan], text: str) -> QuerySet[Loan]:
    """Filter by exact payment code, or by the customer's document number or name.

    Customer terms match the customer's normalized `search_text` (accents and case do
    not matter), every term somewhere, as the customer list does.
    """
    from crm.models import Customer
    from lib import search

    text = (text or "").strip()
    condition = search.matches_all(text, field="customer__search_text")
    if not condition:
        return queryset
    # The payment code first, by its unique index: an OR of it with the customer's text,
    # two tables, had PostgreSQL join every loan to its customer to test either (or, as a
    # subquery, hash every matching customer: 80 ms a query for "a"). Without a code
    # that matches, the search is the customer's text alone, which PostgreSQL reads
    # from the customers' trigram index for a rare name, or along the loans' order for
    # a common one.
    coded = list(Loan.objects.filter(payment_code=text).values_list("pk", flat=True)[:1])
    if coded:
        # A code is rarely also in a customer's text: those customers, a few, by id.
        customers = Customer.objects.filter(search.matches_all(text))
        named = list(customers.values_list("pk", flat=True)[: search.FEW_MATCHES + 1])
        if len(named) <= search.FEW_MATCHES:
            condition = Q(customer_id__in=named)
        condition = Q(pk=coded[0]) | condition
    return search.narrowed(queryset, condition)


def payment_for(user: AbstractBaseUser, loan_pk: int, pk: int) -> Payment:
    """Return the payment `pk` of loan `loan_pk` if `user` may see that loan, else 404."""
    return get_object_or_404(
        Payment.objects.filter(loan__in=loans_visible_to(user)).select_related(
            "loan__customer", "loan__product"
        ),
        pk=pk,
        loan_id=loan_pk,
    )


@dataclass(frozen=True)
class ScheduleRow:
    installment: Installment
    state: str  # "paid", "overdue" or "upcoming"

    @property
    def is_paid(self) -> bool:
        return self.state == "paid"

    @property
    def is_overdue(self) -> bool:
        return self.state == "overdue"


def schedule_rows(
    loan: Loan, today: date | None = None, *, installments: list[Installment] | None = None
) -> list[ScheduleRow]:
    """Return the live installments, each with its state: paid, overdue or upcoming.

    `installments`, the loan's live installments in order, saves reading them again.
    """
    today = today or timezone.localdate()
    rows = []
    for inst in live_installments(loan) if installments is None else installments:
        if inst.total_pending <= 0:
            state = "paid"
        elif inst.due_date < today:
            state = "overdue"
        else:
            state = "upcoming"
        rows.append(ScheduleRow(installment=inst, state=state))
    return rows


def loan_participations(loan: Loan) -> list[Participation]:
    """Return the investors' parts of a loan, largest first, with their investor.

    The investors come from the process's copy of their small table (lib.small_tables):
    joined, the ORM took longer to write the query than PostgreSQL to answer it.
    """
    participations = list(loan.participations.order_by("-share", "id"))
    if participations:
        (investors,) = small_tables.rows(Investor)
        small_tables.attach(participations, investor=investors)
    return participations


def loan_contracts(loan: Loan) -> QuerySet:
    """Return the loan's contracts, newest first, each with its signers."""
    return loan.contracts.order_by("-created_at", "-id").prefetch_related("signers")


@dataclass(frozen=True)
class PortfolioLoan:
    loan: Loan
    outstanding: Decimal
    days_past_due: int
    bucket: str

    @property
    def bucket_label(self) -> str:
        return Bucket(self.bucket).label


def portfolio_loans(
    today: date | None = None, *, currency: str | None = None
) -> Iterator[PortfolioLoan]:
    """Yield the portfolio's loans in one currency (the lender's own by default) with their
    outstanding principal and aging as of a day.

    The figures come from the same SQL as `aging_report`, so the rows add up to the
    report's totals; loans written off by then are left out, as there.
    """
    today = today or timezone.localdate()
    currency = currency or settings.CURRENCY
    per_loan, params = _portfolio_sql(today)
    params["currency"] = currency
    with connection.cursor() as cursor:
        sql = f"""{per_loan}
            SELECT loan_id, oldest_due, outstanding FROM per_loan
            WHERE is_written_off = 0 AND currency = %(currency)s
        """  # noqa: S608
        cursor.execute(sql, params)
        figures = {row[0]: (row[1], money.cents(row[2])) for row in cursor}
    loans = (
        Loan.objects.filter(status__in=Loan.DISBURSED, currency=currency)
        .select_related("customer", "product")
        .order_by("customer__last_name", "customer__first_name", "payment_code")
    )
    # Streamed in chunks: the export writes one row at a time, however big the portfolio.
    for loan in loans.iterator(chunk_size=2000):
        if loan.pk not in figures:
            continue
        oldest_due, outstanding = figures[loan.pk]
        if isinstance(oldest_due, str):  # SQLite answers a CASE of dates as text
            oldest_due = date.fromisoformat(oldest_due)
        days = (today - oldest_due).days if oldest_due else 0
        yield PortfolioLoan(
            loan=loan,
            outstanding=outstanding,
            days_past_due=days,
            bucket=str(Bucket.for_days(days)),
        )


# --- Investors ----------------------------------------------------------------------------
