"""Reads of investors: who may see whom, their participations, distributions and
liquidations, and the figures of the investors' panel."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.shortcuts import get_object_or_404
from django.utils import timezone

from credits.models import (
    ZERO,
    Bucket,
    Distribution,
    Installment,
    Investor,
    Liquidation,
    Loan,
    Participation,
)
from lib import money, search

# Loans whose money went out: the capital investors have deployed.
DISBURSED_STATUSES = (Loan.Status.ACTIVE, Loan.Status.PAID, Loan.Status.WRITTEN_OFF)


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


# The list's columns computed from participations, which a sort by them needs for every row.
LIST_FIGURES = ("loan_count", "capital")


def investor_list(user: AbstractBaseUser, *, sort: str = "") -> QuerySet[Investor]:
    """Return the investors for the list screen with their disbursed loans and capital, in
    the investor's currency (a loan in another currency, funded before `add_participation`
    refused it, is never added to it).

    `sort` is the list's `?sort=`. Sorted by a figure, every investor's participations are
    summed in one join grouped by investor. Otherwise each figure is a subquery over the
    row's own participations, which PostgreSQL computes only for the rows it returns: a
    page sorted by name sums that page's (at 286,000 participations, 0.2 s of SQL → 0.09 s;
    the subqueries for every row would take 0.7 s)."""
    investors = investors_visible_to(user)
    if sort.removeprefix("-") in LIST_FIGURES:
        disbursed = Q(
            participations__loan__status__in=DISBURSED_STATUSES,
            participations__loan__currency=F("currency"),
        )
        return investors.annotate(
            loan_count=Count("participations", filter=disbursed),
            capital=Sum("participations__amount", filter=disbursed, default=ZERO),
        )
    own = Participation.objects.order_by().filter(
        investor=OuterRef("pk"),
        loan__status__in=DISBURSED_STATUSES,
        loan__currency=OuterRef("currency"),
    )

    def per_investor(aggregate, nothing):
        field = aggregate.output_field
        rows = own.values("investor").annotate(total=aggregate).values("total")
        return Coalesce(Subquery(rows, output_field=field), nothing, output_field=field)

    return investors.annotate(
        loan_count=per_investor(Count("pk"), 0),
        capital=per_investor(Sum("amount", output_field=Participation.amount.field), ZERO),
    )


def search_investors(queryset: QuerySet[Investor], text: str) -> QuerySet[Investor]:
    """Filter by name, document number, e-mail or phone, whatever their accents and case:
    every word must be in one of them (lib.search, as the customer search)."""
    condition = search.matches_all(text)
    return queryset.filter(condition) if condition else queryset


def _loan_unpaid(amount, condition: Q | None = None):
    """Sum `amount` over the outer row's loan's live installments (and `condition`), as a
    subquery."""
    installments = Installment.objects.filter(loan=OuterRef("loan"), is_superseded=False)
    if condition is not None:
        installments = installments.filter(condition)
    per_loan = installments.values("loan").annotate(total=Sum(amount)).values("total")
    return Coalesce(Subquery(per_loan, output_field=PRECISE), ZERO, output_field=PRECISE)


def _loan_unpaid_principal():
    """The unpaid principal of the outer row's loan (its live installments), as a subquery."""
    return _loan_unpaid(F("principal_due") - F("principal_paid"))


def outstanding_share(
    *,
    amount: Decimal,
    returned: Decimal | float | None,
    loan_principal: Decimal,
    loan_outstanding: Decimal | float | None,
) -> Decimal:
    """Return an investor's balance in a loan (*saldo*): its capital less the principal it
    has been returned, so that capital = returned + balance, always, to the cent.

    The principal is shared by capital on running totals (`credits.services.distributions`),
    so for a participation that shared every payment of its loan this is its capital's part
    of the loan's unpaid principal to within a cent (rounded half up on its own, the parts
    of a 50/50 loan with 1,835.85 unpaid were 917.93 and 917.93: a cent more than the loan
    owes). It is kept to within a cent of that part otherwise: a participation that joined
    a loan already paying never gets back the principal paid before it, and a loan whose
    schedule is not live (a disbursement annulled) owes nothing.

    Every outstanding total of the investor screens is a sum of these (`_SHARE_TOTALS_SQL`
    computes the same in integers), so a total always equals the sum of its rows.
    """
    if loan_principal <= 0:
        return ZERO
    left = money.cents(amount) - money.cents(returned)
    part = money.cents(loan_outstanding) * amount / loan_principal
    lowest = part.quantize(money.CENT, rounding=ROUND_FLOOR)
    highest = part.quantize(money.CENT, rounding=ROUND_CEILING)
    return min(max(left, lowest), highest)


def _principal_returned():
    """The principal the outer participation has been returned (reversals included), as a
    subquery."""
    returned = (
        Distribution.objects.filter(participation=OuterRef("pk"))
        .order_by()
        .values("participation")
        .annotate(total=Sum("principal"))
        .values("total")
    )
    return Coalesce(Subquery(returned, output_field=PRECISE), ZERO, output_field=PRECISE)


def investor_participations(investor: Investor) -> QuerySet[Participation]:
    """Return an investor's participations, newest first, with loan, customer, their
    loan's unpaid principal (`loan_outstanding`) and the principal they were returned
    (`principal_returned`): a page of them goes through `with_outstanding_share`."""
    return (
        investor.participations.select_related("loan__customer")
        .annotate(
            loan_outstanding=_loan_unpaid_principal(), principal_returned=_principal_returned()
        )
        .order_by("-created_at", "-id")
    )


def with_outstanding_share(participations: Iterable[Participation]) -> list[Participation]:
    """Return `participations` (from `investor_participations`) with each one's balance,
    its capital less the principal returned (`outstanding_share`, to the cent)."""
    participations = list(participations)
    for participation in participations:
        participation.outstanding_share = outstanding_share(
            amount=participation.amount,
            returned=participation.principal_returned,
            loan_principal=participation.loan.principal,
            loan_outstanding=participation.loan_outstanding,
        )
    return participations


def participation_counts(investor: Investor) -> dict[str, int]:
    """Return how many participations an investor has (`total`) and how many of them are
    in loans of another currency (`foreign`, see `foreign_participations`); one query."""
    return investor.participations.aggregate(
        total=Count("pk"), foreign=Count("pk", filter=~Q(loan__currency=investor.currency))
    )


def foreign_participations(investor: Investor) -> QuerySet[Participation]:
    """Return an investor's participations in loans of another currency than theirs (made
    before `add_participation` refused them: out of their totals and liquidations)."""
    return (
        investor.participations.exclude(loan__currency=investor.currency)
        .select_related("loan")
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
    """Return the liquidations for the list screen with their investor and line count.

    The count is a subquery of the liquidation's own lines, computed for the page's rows
    only: a join grouped by liquidation counted every distribution for each page."""
    lines = (
        Distribution.objects.filter(liquidation=OuterRef("pk"))
        .order_by()
        .values("liquidation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        liquidations_visible_to(user)
        .select_related("investor")
        .annotate(line_count=Coalesce(Subquery(lines, output_field=IntegerField()), 0))
    )


def _earlier_first(liquidation: Liquidation) -> Case:
    """Order a liquidation's lines dated before its period (a reversal of a payment already
    liquidated, a line a liquidation of their days left out) before the period's own."""
    return Case(
        When(value_date__lt=liquidation.period_start, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )


def liquidation_lines(liquidation: Liquidation) -> QuerySet[Distribution]:
    """Return a liquidation's distributions, those of earlier periods first, each part in
    date order, with loan, customer and payment."""
    return liquidation.lines.select_related("payment", "participation__loan__customer").order_by(
        _earlier_first(liquidation), "created_at", "id"
    )


def liquidation_statement_lines(liquidation: Liquidation) -> QuerySet[tuple]:
    """Return a liquidation's lines as plain values (named tuples), those of earlier periods
    first, each part in date order: what its statement shows of each
    (jinja_templates/credits/statement_lines.jinja), the loan's code and the customer's
    names by join. A year's statement holds thousands: model instances of four tables for
    each took seconds to build."""
    return (
        liquidation.lines.order_by(_earlier_first(liquidation), "created_at", "id")
        .annotate(
            received_on=F("payment__received_on"),
            loan_code=F("participation__loan__payment_code"),
            first_name=F("participation__loan__customer__first_name"),
            last_name=F("participation__loan__customer__last_name"),
        )
        .values_list(
            "value_date",
            "payment_id",
            "received_on",
            "reversal_of_id",
            "loan_code",
            "first_name",
            "last_name",
            "principal",
            "interest",
            "platform_fee",
            "net",
            named=True,
        )
    )


@dataclass(frozen=True)
class EarlierLines:
    """A liquidation's lines dated before its period: how many, and their net."""

    count: int
    net: Decimal


def earlier_lines(liquidation: Liquidation) -> EarlierLines:
    """Return how many of a liquidation's lines are dated before its period, and their net;
    one aggregate query."""
    sums = liquidation.lines.filter(value_date__lt=liquidation.period_start).aggregate(
        count=Count("pk"), net=Sum("net", default=ZERO)
    )
    return EarlierLines(count=sums["count"], net=money.cents(sums["net"]))


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


# The SQL of `_share_totals`: every live installment's unpaid principal and interest summed
# per loan once (`unpaid`), and the principal returned to each participation in those loans
# (`returned`), joined to the participations (`parts`, `shares`), then summed per bucket and
# written-off or not (and per investor when asked): a few rows.
#
# An investor's balance in a loan is `outstanding_share`, as on the investor's page: its
# capital less the principal returned, kept between its capital's part of the loan's unpaid
# principal rounded down and rounded up to the cent. In integer cents, so that SQLite (which
# sums decimal columns as floats) computes it as PostgreSQL and Python do; the integer
# divisions are of numbers not negative, where both truncate as a floor.
_SHARE_TOTALS_SQL = """
WITH unpaid AS (
    SELECT i.loan_id AS loan_id,
        SUM(i.principal_due - i.principal_paid) AS principal,
        SUM(i.interest_due - i.interest_paid) AS interest,
        SUM(CASE WHEN i.due_date < %(today)s THEN i.interest_due - i.interest_paid ELSE 0 END)
            AS interest_overdue
    FROM {installment} i
    JOIN {loan} l ON l.id = i.loan_id
    WHERE NOT i.is_superseded AND l.status IN %(live)s {loan_filter}
        AND i.loan_id IN (SELECT p.loan_id FROM {participation} p WHERE 1 = 1 {share_filter})
    GROUP BY i.loan_id
),
returned AS (
    SELECT d.participation_id AS participation_id, SUM(d.principal) AS principal
    FROM {distribution} d
    JOIN {participation} p ON p.id = d.participation_id
    JOIN {loan} l ON l.id = p.loan_id
    WHERE l.status IN %(live)s {loan_filter} {share_filter}
    GROUP BY d.participation_id
),
parts AS (
    SELECT p.investor_id AS investor_id, l.bucket AS bucket, l.status AS status,
        CAST(ROUND(p.amount * 100) AS BIGINT) AS capital,
        CAST(ROUND(COALESCE(r.principal, 0) * 100) AS BIGINT) AS returned,
        CAST(ROUND(l.principal * 100) AS BIGINT) AS loan_principal,
        CAST(ROUND(COALESCE(u.principal, 0) * 100) AS BIGINT) AS unpaid,
        CAST(ROUND(COALESCE(u.interest, 0) * 100) AS BIGINT)
            * p.share * (100 - pr.platform_fee_percent) AS expected,
        CAST(ROUND(COALESCE(u.interest_overdue, 0) * 100) AS BIGINT)
            * p.share * (100 - pr.platform_fee_percent) AS expected_overdue
    FROM {participation} p
    JOIN {loan} l ON l.id = p.loan_id
    JOIN {product} pr ON pr.id = l.product_id
    LEFT JOIN unpaid u ON u.loan_id = p.loan_id
    LEFT JOIN returned r ON r.participation_id = p.id
    WHERE l.status IN %(live)s {loan_filter} {share_filter}
),
bounds AS (
    SELECT investor_id, bucket, status, expected, expected_overdue, loan_principal,
        capital - returned AS left_to_return,
        CASE WHEN loan_principal > 0 THEN capital * unpaid / loan_principal ELSE 0 END
            AS lowest,
        CASE WHEN loan_principal > 0
            THEN (capital * unpaid + loan_principal - 1) / loan_principal ELSE 0 END
            AS highest
    FROM parts
),
shares AS (
    SELECT investor_id, bucket, status, expected, expected_overdue,
        CASE WHEN loan_principal <= 0 THEN 0
            WHEN left_to_return < lowest THEN lowest
            WHEN left_to_return > highest THEN highest
            ELSE left_to_return END AS owed
    FROM bounds
)
SELECT {investor} bucket, status, SUM(owed), SUM(expected), SUM(expected_overdue)
FROM shares
GROUP BY {investor} bucket, status
"""


def _exact(value: Decimal | float | int | None) -> Decimal:
    """Return a sum read from the database as a Decimal (SQLite gives floats: through their
    shortest text, as `money.cents`)."""
    if value is None:
        return ZERO
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def _share_totals(
    investor: Investor | None,
    currency: str | None,
    today: date,
    *,
    investors: Iterable[int] | None = None,
) -> list[dict]:
    """Return the participations in live loans summed per `Loan.bucket` and written-off or
    not (and per investor, given `investors`), in one query: each row's `outstanding` is the
    sum of its participations' `outstanding_share` (each rounded to the cent), `expected` and
    `expected_overdue` their share of the unpaid interest net of the platform fee, all of it
    and the part already past due (not rounded: only summed)."""
    params: dict = {"today": today, "live": tuple(Loan.LIVE)}
    loan_filter = share_filter = ""
    if currency:
        loan_filter = "AND l.currency = %(currency)s"
        params["currency"] = currency
    if investor is not None:
        share_filter = "AND p.investor_id = %(investor)s"
        params["investor"] = investor.pk
    if investors is not None:
        params["investors"] = tuple(investors) or (None,)
        share_filter += " AND p.investor_id IN %(investors)s"
    sql = _SHARE_TOTALS_SQL.format(
        installment=Installment._meta.db_table,
        loan=Loan._meta.db_table,
        participation=Participation._meta.db_table,
        distribution=Distribution._meta.db_table,
        product=Loan._meta.get_field("product").related_model._meta.db_table,
        loan_filter=loan_filter,
        share_filter=share_filter,
        investor="investor_id," if investors is not None else "",
    )
    sql, values = _positional(sql, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        rows = cursor.fetchall()
    totals = []
    for row in rows:
        *key, owed, expected, expected_overdue = row
        investor_id = key.pop(0) if investors is not None else None
        bucket, status = key
        totals.append(
            {
                "investor": investor_id,
                "bucket": bucket,
                "written_off": status == Loan.Status.WRITTEN_OFF,
                "outstanding": _exact(owed).scaleb(-2),
                # Cents × share % × kept %: a millionth of the currency unit.
                "expected": _exact(expected).scaleb(-6),
                "expected_overdue": _exact(expected_overdue).scaleb(-6),
            }
        )
    return totals


def _positional(sql: str, params: dict) -> tuple[str, list]:
    """Return `sql` with its %(name)s placeholders as %s (a tuple as one %s per item) and
    their values in order: the same text runs on SQLite and PostgreSQL."""
    values: list = []

    def replace(match: re.Match) -> str:
        value = params[match.group(1)]
        if isinstance(value, tuple):
            values.extend(value)
            return "(" + ", ".join(["%s"] * len(value)) + ")"
        values.append(value)
        return "%s"

    return re.sub(r"%\((\w+)\)s", replace, sql), values


# Where `_exposure` keeps the written-off loans' shares, apart from the buckets.
WRITTEN_OFF = "written_off"


def _exposure(
    investor: Investor | None, today: date, currency: str | None
) -> dict[str, dict[str, Decimal]]:
    """Return, per `Loan.bucket`, the share of unpaid principal and of interest net of fee;
    written-off loans apart, under WRITTEN_OFF: they have left the portfolio, as in the
    portfolio report (their principal is not the investors' balance, their interest is
    not expected)."""
    exposure: dict[str, dict[str, Decimal]] = {}
    for share in _share_totals(investor, currency, today):
        totals = exposure.setdefault(
            WRITTEN_OFF if share["written_off"] else share["bucket"],
            {"outstanding": ZERO, "expected": ZERO, "expected_overdue": ZERO},
        )
        for key in totals:
            totals[key] += share[key]
    return exposure


def _bucket_list(exposure: dict[str, dict[str, Decimal]]) -> list[dict]:
    amounts = {b: money.cents(exposure.get(str(b), {}).get("outstanding")) for b in Bucket}
    # Percents that add up to exactly 100.00, as the portfolio report's.
    percents = money.shares_of_100(list(amounts.values()))
    return [
        {
            "bucket": str(bucket),
            "label": bucket.label,
            "outstanding": amount,
            "percent": percent,
        }
        for (bucket, amount), percent in zip(amounts.items(), percents, strict=True)
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
    outstanding: Decimal  # share of the active loans' unpaid principal
    written_off: Decimal  # share of the written-off loans' unpaid principal, apart
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
    written_off = exposure.pop(WRITTEN_OFF, {})
    buckets = _bucket_list(exposure)
    return InvestorSummary(
        capital_deployed=money.cents(deployed["capital"]),
        loans=deployed["loans"],
        outstanding=sum((b["outstanding"] for b in buckets), ZERO),
        written_off=money.cents(written_off.get("outstanding")),
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

    Grouped in SQL by the month of each line's value date (the payment's day, or the
    annulment's for a reversal), as liquidations pick their lines: a payment of 30 November
    keyed in on 1 December is November's in both. Months with nothing come out as zero.
    """
    today = today or timezone.localdate()
    first = _month_start(today, -(months - 1))
    rows = (
        _distributions(investor, currency)
        .filter(value_date__gte=first, value_date__lt=_month_start(today, 1))
        .annotate(month=TruncMonth("value_date"))
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
    """Return the investors with most capital deployed and their share outstanding (of
    active loans: written-off ones are out of the balance); two queries."""
    top = list(
        _participations(None, currency)
        .filter(loan__status__in=DISBURSED_STATUSES)
        .values("investor", "investor__name")
        .annotate(deployed=Sum("amount"))
        .order_by("-deployed", "investor__name")[:limit]
    )
    outstanding: dict[int, Decimal] = {}
    chosen = [row["investor"] for row in top]
    for share in _share_totals(None, currency, timezone.localdate(), investors=chosen):
        if share["written_off"]:
            continue
        outstanding[share["investor"]] = (
            outstanding.get(share["investor"], ZERO) + share["outstanding"]
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
