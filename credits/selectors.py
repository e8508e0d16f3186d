"""Reads of the ledger: access helpers, screen querysets, balances and portfolio figures."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    Min,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone

from credits.models import (
    ZERO,
    Bucket,
    Component,
    Installment,
    LedgerEntry,
    Loan,
    Payment,
)

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


def loan_list(user: AbstractBaseUser) -> QuerySet[Loan]:
    """Return the loans for the list screen with each row's joins and outstanding principal."""
    return (
        loans_visible_to(user)
        .select_related("customer", "product", "advisor", "branch")
        .annotate(outstanding=outstanding_principal_expression())
    )


def outstanding_principal_expression():
    """Sum of the live installments' unpaid principal, as a loan annotation."""
    return Sum(
        ExpressionWrapper(
            F("installments__principal_due") - F("installments__principal_paid"),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        ),
        filter=Q(installments__is_superseded=False),
        default=ZERO,
    )


def live_installments(loan: Loan) -> QuerySet[Installment]:
    """Return the loan's current schedule (no superseded rows), in order."""
    return loan.installments.filter(is_superseded=False).order_by("number")


def loan_payments(loan: Loan) -> QuerySet[Payment]:
    """Return the loan's payments with who recorded or annulled them and their allocations."""
    return loan.payments.select_related("recorded_by", "annulled_by").prefetch_related(
        Prefetch("allocations", queryset=_allocations_in_order())
    )


def _allocations_in_order():
    from credits.models import PaymentAllocation

    return PaymentAllocation.objects.select_related("installment").order_by(
        "installment__number", "id"
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


def loan_balance(loan: Loan, today: date | None = None) -> LoanBalance:
    """Return what a loan owes now, by component, and what comes next."""
    today = today or timezone.localdate()
    pending = dict.fromkeys(Component.values, ZERO)
    overdue = paid = ZERO
    next_row = None
    for inst in live_installments(loan):
        for component in Component.values:
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
    )


def balances_from_ledger(loan: Loan) -> dict:
    """Recompute, from the ledger alone, each installment's due and paid amounts and the credit.

    Returns {"installments": {id: {component: (due, paid)}}, "credit": Decimal}; superseded
    rows come out owing nothing.
    """
    rows: dict[int, dict[str, list[Decimal]]] = defaultdict(
        lambda: {c: [ZERO, ZERO] for c in Component.values}
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


def _bucket_bounds(today: date) -> list[tuple[str, date]]:
    """Return (bucket, oldest unpaid due date on or after which a loan is in it), worst last."""
    return [
        (Bucket.CURRENT, today),
        (Bucket.D1_30, today - timedelta(days=30)),
        (Bucket.D31_60, today - timedelta(days=60)),
        (Bucket.D61_90, today - timedelta(days=90)),
    ]


def aging_report(today: date | None = None) -> list[dict]:
    """Return, per aging bucket, the live loans and their outstanding principal, in SQL.

    A loan's bucket comes from its oldest unpaid installment's due date, computed here from
    the installments (not from the nightly `Loan.bucket`), so the report is right even
    before the daily task has run. Bucket limits are passed as dates, which keeps the SQL
    the same on PostgreSQL and SQLite.
    """
    today = today or timezone.localdate()
    bounds = _bucket_bounds(today)
    cases = " ".join("WHEN oldest_due >= %s THEN %s" for _b in bounds)
    params: list = []
    for bucket, since in bounds:
        params += [since, str(bucket)]
    installments = Installment._meta.db_table
    loans = Loan._meta.db_table
    sql = f"""
        WITH per_loan AS (
            SELECT i.loan_id,
                   MIN(CASE WHEN i.paid_on IS NULL AND i.due_date < %s THEN i.due_date END)
                       AS oldest_due,
                   SUM(i.principal_due - i.principal_paid) AS outstanding
            FROM {installments} i
            JOIN {loans} l ON l.id = i.loan_id
            WHERE l.status IN (%s, %s) AND i.is_superseded = %s
            GROUP BY i.loan_id
        )
        SELECT CASE WHEN oldest_due IS NULL THEN %s {cases} ELSE %s END AS bucket,
               COUNT(*), COALESCE(SUM(outstanding), 0)
        FROM per_loan
        GROUP BY 1
    """  # noqa: S608 - table names from Django's metadata, values as parameters
    all_params = [
        today,
        Loan.Status.ACTIVE,
        Loan.Status.WRITTEN_OFF,
        False,
        str(Bucket.CURRENT),
        *params,
        str(Bucket.D90_PLUS),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, all_params)
        found = {row[0]: (row[1], Decimal(row[2]).quantize(Decimal("0.01"))) for row in cursor}
    total = sum((v[1] for v in found.values()), ZERO)
    report = []
    for bucket in Bucket:
        count, outstanding = found.get(str(bucket), (0, ZERO))
        report.append(
            {
                "bucket": str(bucket),
                "label": bucket.label,
                "loans": count,
                "outstanding": outstanding,
                "percent": (outstanding * 100 / total).quantize(Decimal("0.01")) if total else ZERO,
            }
        )
    return report


@dataclass(frozen=True)
class PortfolioSummary:
    buckets: list[dict]
    outstanding: Decimal
    par30: Decimal  # percent of outstanding principal more than 30 days past due
    par90: Decimal
    collected_this_month: Decimal
    payments_this_month: int


def portfolio_summary(today: date | None = None) -> PortfolioSummary:
    """Return the portfolio report: outstanding by bucket, PAR30, PAR90 and this month's cash."""
    today = today or timezone.localdate()
    buckets = aging_report(today)
    outstanding = sum((b["outstanding"] for b in buckets), ZERO)

    def par(days: int) -> Decimal:
        at_risk = sum((b["outstanding"] for b in buckets if b["bucket"] in PAR_BUCKETS[days]), ZERO)
        return (at_risk * 100 / outstanding).quantize(Decimal("0.01")) if outstanding else ZERO

    collected = Payment.objects.filter(
        status=Payment.Status.APPLIED,
        received_on__gte=today.replace(day=1),
        received_on__lte=today,
    ).exclude(source=Payment.Source.CREDIT_BALANCE)
    totals = collected.aggregate(total=Sum("amount", default=ZERO))
    return PortfolioSummary(
        buckets=buckets,
        outstanding=outstanding,
        par30=par(30),
        par90=par(90),
        # SQLite sums decimals as floats-in-text: round explicitly.
        collected_this_month=Decimal(totals["total"]).quantize(Decimal("0.01")),
        payments_this_month=collected.count(),
    )


# --- Loan screens -----------------------------------------------------------------------


def search_loans(queryset: QuerySet[Loan], text: str) -> QuerySet[Loan]:
    """Filter by exact payment code, or by the customer's document number or name.

    Customer terms match the customer's normalized `search_text` (accents and case do
    not matter), every term somewhere, as the customer list does.
    """
    from crm.models import Customer
    from lib import search

    text = (text or "").strip()
    condition = search.matches_all(text)
    if not condition:
        return queryset
    customers = Customer.objects.filter(condition).values("pk")
    # Match first, then sort and page the matches (see crm.selectors.search_customers).
    matches = Loan.objects.filter(Q(payment_code=text) | Q(customer__in=customers))
    return queryset.filter(pk__in=matches.values("pk"))


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


def schedule_rows(loan: Loan, today: date | None = None) -> list[ScheduleRow]:
    """Return the live installments, each with its state: paid, overdue or upcoming."""
    today = today or timezone.localdate()
    rows = []
    for inst in live_installments(loan):
        if inst.total_pending <= 0:
            state = "paid"
        elif inst.due_date < today:
            state = "overdue"
        else:
            state = "upcoming"
        rows.append(ScheduleRow(installment=inst, state=state))
    return rows


def loan_participations(loan: Loan) -> QuerySet:
    """Return the investors' parts of a loan, largest first, with their investor."""
    return loan.participations.select_related("investor").order_by("-share", "id")


def loan_contracts(loan: Loan) -> QuerySet:
    """Return the loan's contracts, newest first."""
    return loan.contracts.order_by("-created_at", "-id")


@dataclass(frozen=True)
class PortfolioLoan:
    loan: Loan
    outstanding: Decimal
    days_past_due: int
    bucket: str

    @property
    def bucket_label(self) -> str:
        return Bucket(self.bucket).label


def portfolio_loans(today: date | None = None) -> Iterator[PortfolioLoan]:
    """Yield the live loans with their outstanding principal and aging as of `today`.

    Days past due come from the oldest unpaid installment due before `today`, as in
    `aging_report`, so the rows add up to the report's totals.
    """
    today = today or timezone.localdate()
    live = Q(installments__is_superseded=False)
    loans = (
        Loan.objects.filter(status__in=Loan.LIVE)
        .select_related("customer", "product")
        .annotate(
            outstanding=outstanding_principal_expression(),
            oldest_due=Min(
                "installments__due_date",
                filter=live
                & Q(installments__paid_on__isnull=True, installments__due_date__lt=today),
            ),
        )
        .order_by("customer__last_name", "customer__first_name", "payment_code")
    )
    # Streamed in chunks: the export writes one row at a time, however big the portfolio.
    for loan in loans.iterator(chunk_size=2000):
        days = (today - loan.oldest_due).days if loan.oldest_due else 0
        yield PortfolioLoan(
            loan=loan,
            outstanding=loan.outstanding,
            days_past_due=days,
            bucket=str(Bucket.for_days(days)),
        )


# --- Investors ----------------------------------------------------------------------------
