"""Reads of the ledger: access helpers, screen querysets, balances and portfolio figures."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.shortcuts import get_object_or_404
from django.utils import timezone

from credits.models import (
    ZERO,
    Bucket,
    Component,
    Distribution,
    Installment,
    Investor,
    LedgerEntry,
    Liquidation,
    Loan,
    Participation,
    Payment,
)
from lib import money

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

# Loans whose money went out: the capital investors have deployed.
DISBURSED_STATUSES = (Loan.Status.ACTIVE, Loan.Status.PAID, Loan.Status.WRITTEN_OFF)
PERCENT = Decimal(100)
# Multiply by this rather than divide by 100: SQLite divides whole numbers as integers.
ONE_PERCENT = Decimal("0.01")
# Share-weighted sums keep six decimals in SQL and are rounded to cents once, at the end.
PRECISE = DecimalField(max_digits=24, decimal_places=6)


def investors_visible_to(user: AbstractBaseUser) -> QuerySet[Investor]:
    """Return the investors a staff user may see: all of them, given the permission."""
    if not user.is_authenticated:
        return Investor.objects.none()
    if not user.has_perm("credits.view_investor"):
        return Investor.objects.none()
    return Investor.objects.all()


def investor_for(user: AbstractBaseUser, pk: int) -> Investor:
    """Return the investor `pk` if `user` may see it, else 404."""
    return get_object_or_404(investors_visible_to(user), pk=pk)


def investor_list(user: AbstractBaseUser) -> QuerySet[Investor]:
    """Return the investors for the list screen with their disbursed loans and capital."""
    disbursed = Q(participations__loan__status__in=DISBURSED_STATUSES)
    return investors_visible_to(user).annotate(
        loan_count=Count("participations", filter=disbursed),
        capital=Sum("participations__amount", filter=disbursed, default=ZERO),
    )


def search_investors(queryset: QuerySet[Investor], text: str) -> QuerySet[Investor]:
    """Filter by name, document number or e-mail: every word must match one of them."""
    condition = Q()
    for term in text.split():
        condition &= (
            Q(name__icontains=term) | Q(document_number__icontains=term) | Q(email__icontains=term)
        )
    return queryset.filter(condition) if condition else queryset


def _loan_unpaid_principal():
    """The unpaid principal of the outer row's loan (its live installments), as a subquery."""
    per_loan = (
        Installment.objects.filter(loan=OuterRef("loan"), is_superseded=False)
        .values("loan")
        .annotate(total=Sum(F("principal_due") - F("principal_paid")))
        .values("total")
    )
    return Coalesce(Subquery(per_loan, output_field=PRECISE), ZERO, output_field=PRECISE)


def investor_participations(investor: Investor) -> QuerySet[Participation]:
    """Return an investor's participations with loan, customer and their share outstanding."""
    return (
        investor.participations.select_related("loan__customer")
        .annotate(loan_outstanding=_loan_unpaid_principal())
        .annotate(
            outstanding_share=ExpressionWrapper(
                F("loan_outstanding") * F("share") * ONE_PERCENT, output_field=PRECISE
            )
        )
        .order_by("-created_at", "-id")
    )


def investor_distributions(investor: Investor) -> QuerySet[Distribution]:
    """Return an investor's distributions, newest first, with loan, customer and liquidation."""
    return investor.distributions.select_related(
        "payment", "participation__loan__customer", "liquidation"
    ).order_by("-created_at", "-id")


def investor_liquidations(investor: Investor) -> QuerySet[Liquidation]:
    """Return an investor's liquidations, the latest period first."""
    return investor.liquidations.order_by("-period_end", "-id")


def liquidations_visible_to(user: AbstractBaseUser) -> QuerySet[Liquidation]:
    """Return the liquidations a staff user may see: all of them, given the permission."""
    if not user.is_authenticated:
        return Liquidation.objects.none()
    if not user.has_perm("credits.view_liquidation"):
        return Liquidation.objects.none()
    return Liquidation.objects.all()


def liquidation_for(user: AbstractBaseUser, pk: int) -> Liquidation:
    """Return the liquidation `pk` if `user` may see it, else 404."""
    return get_object_or_404(
        liquidations_visible_to(user).select_related("investor", "created_by"), pk=pk
    )


def liquidation_list(user: AbstractBaseUser) -> QuerySet[Liquidation]:
    """Return the liquidations for the list screen with their investor and line count."""
    return (
        liquidations_visible_to(user).select_related("investor").annotate(line_count=Count("lines"))
    )


def liquidation_lines(liquidation: Liquidation) -> QuerySet[Distribution]:
    """Return a liquidation's distributions in date order, with loan, customer and payment."""
    return liquidation.lines.select_related("payment", "participation__loan__customer").order_by(
        "created_at", "id"
    )


def _participations(investor: Investor | None, currency: str | None) -> QuerySet[Participation]:
    rows = Participation.objects.order_by()
    if investor is not None:
        rows = rows.filter(investor=investor)
    if currency:
        rows = rows.filter(loan__currency=currency)
    return rows


def _distributions(investor: Investor | None, currency: str | None) -> QuerySet[Distribution]:
    rows = Distribution.objects.order_by()
    if investor is not None:
        rows = rows.filter(investor=investor)
    if currency:
        rows = rows.filter(participation__loan__currency=currency)
    return rows


def _share_of(amount):
    """Sum of a participation's share of a per-installment amount, live installments only."""
    return Sum(
        amount * F("share") * ONE_PERCENT,
        filter=Q(loan__installments__is_superseded=False),
        output_field=PRECISE,
        default=ZERO,
    )


def _unpaid(component: str):
    return F(f"loan__installments__{component}_due") - F(f"loan__installments__{component}_paid")


def _exposure(
    investor: Investor | None, today: date, currency: str | None
) -> dict[str, dict[str, Decimal]]:
    """Return, per `Loan.bucket`, the share of unpaid principal and of interest net of fee."""
    kept = (PERCENT - F("loan__product__platform_fee_percent")) * ONE_PERCENT
    overdue = Q(loan__installments__is_superseded=False, loan__installments__due_date__lt=today)
    rows = (
        _participations(investor, currency)
        .filter(loan__status__in=Loan.LIVE)
        .values("loan__bucket")
        .annotate(
            outstanding=_share_of(_unpaid("principal")),
            expected=_share_of(_unpaid("interest") * kept),
            expected_overdue=Sum(
                _unpaid("interest") * kept * F("share") * ONE_PERCENT,
                filter=overdue,
                output_field=PRECISE,
                default=ZERO,
            ),
        )
    )
    return {row["loan__bucket"]: row for row in rows}


def _bucket_list(exposure: dict[str, dict[str, Decimal]]) -> list[dict]:
    amounts = {b: money.cents(exposure.get(str(b), {}).get("outstanding")) for b in Bucket}
    total = sum(amounts.values(), ZERO)
    return [
        {
            "bucket": str(bucket),
            "label": bucket.label,
            "outstanding": amount,
            "percent": money.cents(amount * PERCENT / total) if total else ZERO,
        }
        for bucket, amount in amounts.items()
    ]


def exposure_by_bucket(
    investor: Investor | None = None, today: date | None = None, *, currency: str | None = None
) -> list[dict]:
    """Return the investors' share of outstanding principal per delinquency bucket (Loan.bucket).

    Every investor's together when `investor` is None; one aggregate query.
    """
    return _bucket_list(_exposure(investor, today or timezone.localdate(), currency))


@dataclass(frozen=True)
class InvestorSummary:
    capital_deployed: Decimal  # participations in disbursed loans (active, paid, written off)
    loans: int
    outstanding: Decimal  # share of the live loans' unpaid principal
    earned: Decimal  # interest distributed net of the platform fee, reversals included
    principal_returned: Decimal
    expected: Decimal  # share of the unpaid interest still scheduled, net of the platform fee
    expected_overdue: Decimal  # the part of `expected` on installments already past due
    buckets: list[dict]


def investor_summary(
    investor: Investor | None = None, today: date | None = None, *, currency: str | None = None
) -> InvestorSummary:
    """Return an investor's figures, or every investor's together; three aggregate queries.

    `currency` keeps only loans in that currency, so soles and dollars are never added up.
    """
    today = today or timezone.localdate()
    deployed = (
        _participations(investor, currency)
        .filter(loan__status__in=DISBURSED_STATUSES)
        .aggregate(capital=Sum("amount", default=ZERO), loans=Count("loan", distinct=True))
    )
    paid = _distributions(investor, currency).aggregate(
        earned=Sum(F("interest") - F("platform_fee"), default=ZERO),
        principal=Sum("principal", default=ZERO),
    )
    exposure = _exposure(investor, today, currency)
    buckets = _bucket_list(exposure)
    return InvestorSummary(
        capital_deployed=money.cents(deployed["capital"]),
        loans=deployed["loans"],
        outstanding=sum((b["outstanding"] for b in buckets), ZERO),
        earned=money.cents(paid["earned"]),
        principal_returned=money.cents(paid["principal"]),
        expected=money.cents(sum((r["expected"] for r in exposure.values()), ZERO)),
        expected_overdue=money.cents(sum((r["expected_overdue"] for r in exposure.values()), ZERO)),
        buckets=buckets,
    )


def _month_start(day: date, months_later: int = 0) -> date:
    years, month = divmod(day.month - 1 + months_later, 12)
    return date(day.year + years, month + 1, 1)


def earnings_by_month(
    investor: Investor | None = None,
    today: date | None = None,
    *,
    months: int = 12,
    currency: str | None = None,
) -> list[dict]:
    """Return the net interest and the principal distributed in each of the last `months` months.

    Grouped in SQL by local calendar month; months with nothing come out as zero.
    """
    today = today or timezone.localdate()
    first = _month_start(today, -(months - 1))
    tz = timezone.get_current_timezone()
    rows = (
        _distributions(investor, currency)
        .filter(
            created_at__gte=datetime.combine(first, time.min, tzinfo=tz),
            created_at__lt=datetime.combine(_month_start(today, 1), time.min, tzinfo=tz),
        )
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(earned=Sum(F("interest") - F("platform_fee")), principal=Sum("principal"))
    )
    found = {(row["month"].year, row["month"].month): row for row in rows}
    result = []
    for k in range(months):
        month = _month_start(first, k)
        row = found.get((month.year, month.month), {})
        result.append(
            {
                "month": month,
                "earned": money.cents(row.get("earned")),
                "principal": money.cents(row.get("principal")),
            }
        )
    return result


def capital_by_investor(limit: int = 10, *, currency: str | None = None) -> list[dict]:
    """Return the investors with most capital deployed and their share outstanding; two queries."""
    top = list(
        _participations(None, currency)
        .filter(loan__status__in=DISBURSED_STATUSES)
        .values("investor", "investor__name")
        .annotate(deployed=Sum("amount"))
        .order_by("-deployed", "investor__name")[:limit]
    )
    outstanding = dict(
        _participations(None, currency)
        .filter(investor__in=[row["investor"] for row in top], loan__status__in=Loan.LIVE)
        .values_list("investor")
        .annotate(total=_share_of(_unpaid("principal")))
    )
    return [
        {
            "investor": row["investor"],
            "name": row["investor__name"],
            "deployed": money.cents(row["deployed"]),
            "outstanding": money.cents(outstanding.get(row["investor"])),
        }
        for row in top
    ]
