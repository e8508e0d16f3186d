"""The investors' figures summed in SQL equal, to the cent, what summing every
participation in Python gave (the code before, kept here as the reference), on a book with
several investors, loans in several buckets, written-off loans, partial payments, odd
shares and platform fees, superseded installments and a loan in another currency."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from credits.investors import selectors
from credits.investors import services as investor_services
from credits.models import Bucket, Distribution, Installment, Loan, Participation
from lib import money
from tests.factories import InvestorFactory, LoanProductFactory

ZERO = Decimal("0.00")
TODAY = date(2026, 4, 10)


# --- The reference: the figures as `_live_shares` summed them before, row by row ----------


def _loan_unpaid(amount, condition=None):
    installments = Installment.objects.filter(loan=OuterRef("loan"), is_superseded=False)
    if condition is not None:
        installments = installments.filter(condition)
    per_loan = installments.values("loan").annotate(total=Sum(amount)).values("total")
    return Coalesce(
        Subquery(per_loan, output_field=selectors.PRECISE), ZERO, output_field=selectors.PRECISE
    )


def _reference_shares(investor=None, currency=None, today=TODAY, investors=None):
    rows = Participation.objects.order_by().filter(loan__status__in=Loan.LIVE)
    if investor is not None:
        rows = rows.filter(investor=investor)
    if investors is not None:
        rows = rows.filter(investor__in=investors)
    if currency:
        rows = rows.filter(loan__currency=currency)
    unpaid_interest = F("interest_due") - F("interest_paid")
    rows = rows.annotate(
        returned=Coalesce(
            Subquery(
                Distribution.objects.filter(participation=OuterRef("pk"))
                .order_by()
                .values("participation")
                .annotate(total=Sum("principal"))
                .values("total"),
                output_field=selectors.PRECISE,
            ),
            ZERO,
            output_field=selectors.PRECISE,
        ),
        loan_outstanding=_loan_unpaid(F("principal_due") - F("principal_paid")),
        loan_interest=_loan_unpaid(unpaid_interest),
        loan_interest_overdue=_loan_unpaid(unpaid_interest, Q(due_date__lt=today)),
    )
    shares = []
    for row in rows.values(
        "investor_id",
        "loan__bucket",
        "loan__status",
        "share",
        "amount",
        "returned",
        "loan__principal",
        "loan_outstanding",
        "loan__product__platform_fee_percent",
        "loan_interest",
        "loan_interest_overdue",
    ):
        kept = row["share"] * (100 - row["loan__product__platform_fee_percent"])
        shares.append(
            {
                "investor": row["investor_id"],
                "bucket": row["loan__bucket"],
                "written_off": row["loan__status"] == Loan.Status.WRITTEN_OFF,
                "outstanding": selectors.outstanding_share(
                    amount=row["amount"],
                    returned=row["returned"],
                    loan_principal=row["loan__principal"],
                    loan_outstanding=row["loan_outstanding"],
                ),
                "expected": money.cents(row["loan_interest"]) * kept / 100 / 100,
                "expected_overdue": money.cents(row["loan_interest_overdue"]) * kept / 100 / 100,
            }
        )
    return shares


def _reference_exposure(investor=None, currency=None):
    exposure = {}
    for share in _reference_shares(investor, currency):
        totals = exposure.setdefault(
            selectors.WRITTEN_OFF if share["written_off"] else share["bucket"],
            {"outstanding": ZERO, "expected": ZERO, "expected_overdue": ZERO},
        )
        for key in totals:
            totals[key] += share[key]
    return exposure


def _reference_summary(investor=None, currency=None):
    exposure = _reference_exposure(investor, currency)
    written_off = exposure.pop(selectors.WRITTEN_OFF, {})
    buckets = selectors._bucket_list(exposure)
    return {
        "outstanding": sum((b["outstanding"] for b in buckets), ZERO),
        "written_off": money.cents(written_off.get("outstanding")),
        "expected": money.cents(sum((r["expected"] for r in exposure.values()), ZERO)),
        "expected_overdue": money.cents(
            sum((r["expected_overdue"] for r in exposure.values()), ZERO)
        ),
        "buckets": buckets,
    }


def _summary(investor=None, currency=None):
    summary = selectors.investor_summary(investor, TODAY, currency=currency)
    return {
        "outstanding": summary.outstanding,
        "written_off": summary.written_off,
        "expected": summary.expected,
        "expected_overdue": summary.expected_overdue,
        "buckets": summary.buckets,
    }


# --- The book ------------------------------------------------------------------------------

SHARES = [
    Decimal("33.333333"),
    Decimal("12.345678"),
    Decimal("0.000001"),
    Decimal("50"),
    Decimal("4.320987"),
]
FEES = [Decimal("0"), Decimal("12.3457"), Decimal("10"), Decimal("33.3333")]
BUCKETS = [Bucket.CURRENT, Bucket.D1_30, Bucket.D31_60, Bucket.D61_90, Bucket.D90_PLUS]


@pytest.fixture
def book(make_active_loan):
    investors = [InvestorFactory(name=f"Inversionista {k}") for k in range(4)]
    products = [LoanProductFactory(method="flat", platform_fee_percent=fee) for fee in FEES]
    loans = []
    for k in range(15):
        loan = make_active_loan(
            product=products[k % len(products)],
            principal=Decimal("1000.01") + Decimal(k * 137) + Decimal("0.07") * k,
        )
        loans.append(loan)
        # Two or three investors a loan (four in one), odd shares.
        for j in range(2 + k % 2):
            Participation.objects.create(
                investor=investors[(k + j) % len(investors)],
                loan=loan,
                amount=Decimal("100.00"),
                share=SHARES[(k + j) % len(SHARES)],
            )
        if k == 4:
            Participation.objects.create(
                investor=investors[3], loan=loan, amount=Decimal("1.00"), share=Decimal("0.5")
            )
        # Partial payments of odd amounts, and installments past due.
        installments = list(loan.installments.order_by("number"))
        for n, installment in enumerate(installments[: k % 4 + 1]):
            Installment.objects.filter(pk=installment.pk).update(
                principal_paid=min(installment.principal_due, Decimal("13.37") * (n + k + 1)),
                interest_paid=min(installment.interest_due, Decimal("0.03") * (n + 2 * k + 1)),
                due_date=TODAY - timedelta(days=30 * (4 - n)),
            )
        if k % 3 == 2:  # due today: not past due yet
            Installment.objects.filter(pk=installments[-2].pk).update(due_date=TODAY)
        if k % 5 == 3:  # a rescheduled installment: superseded, out of every sum
            Installment.objects.filter(pk=installments[-1].pk).update(is_superseded=True)
        status = Loan.Status.WRITTEN_OFF if k % 6 == 5 else Loan.Status.ACTIVE
        Loan.objects.filter(pk=loan.pk).update(bucket=BUCKETS[k % len(BUCKETS)], status=status)
    # A paid loan (not live) and a loan in dollars, both with participations.
    Loan.objects.filter(pk=loans[0].pk).update(status=Loan.Status.PAID)
    dollars = make_active_loan(
        product=LoanProductFactory(currency="USD", method="flat"), principal=Decimal("777.77")
    )
    Participation.objects.create(
        investor=investors[1], loan=dollars, amount=Decimal("7.00"), share=Decimal("66.666667")
    )
    return investors


def test_the_book_has_what_the_comparison_needs(book):
    live = Loan.objects.filter(status__in=Loan.LIVE, participations__isnull=False).distinct()
    assert live.filter(status=Loan.Status.WRITTEN_OFF).exists()
    assert len({loan.bucket for loan in live}) == len(BUCKETS)
    assert Installment.objects.filter(principal_paid__gt=0, is_superseded=False).exists()


@pytest.mark.parametrize("currency", [None, "PEN", "USD"])
def test_every_investors_figures_equal_the_row_by_row_sums(book, currency):
    assert _summary(None, currency) == _reference_summary(None, currency)


def test_each_investors_figures_equal_the_row_by_row_sums(book):
    for investor in book:
        for currency in (None, "PEN", "USD"):
            assert _summary(investor, currency) == _reference_summary(investor, currency)


def test_the_exposure_per_bucket_equals_the_row_by_row_sums(book):
    # `expected` per bucket is not rounded yet: PostgreSQL sums it exactly, SQLite as a
    # float (15 digits), so it is compared to the cent and to a millionth of a cent.
    new = selectors._exposure(None, TODAY, "PEN")
    old = _reference_exposure(None, "PEN")
    assert new.keys() == old.keys()
    for key, totals in old.items():
        assert new[key]["outstanding"] == totals["outstanding"]
        for figure in ("expected", "expected_overdue"):
            assert money.cents(new[key][figure]) == money.cents(totals[figure])
            assert abs(new[key][figure] - totals[figure]) < Decimal("1e-8")


def test_the_ranking_outstanding_equals_the_row_by_row_sums(book, time_machine):
    time_machine.move_to(TODAY)
    ranking = selectors.capital_by_investor(10, currency="PEN")
    chosen = [row["investor"] for row in ranking]
    old: dict = {}
    for share in _reference_shares(currency="PEN", investors=chosen):
        if not share["written_off"]:
            old[share["investor"]] = old.get(share["investor"], ZERO) + share["outstanding"]
    assert {row["investor"]: row["outstanding"] for row in ranking} == {
        pk: money.cents(old.get(pk)) for pk in chosen
    }


def test_a_balance_is_the_capital_not_yet_returned_as_on_the_investors_page(make_active_loan):
    # 50 % and 50 % of 1,000.01: capitals 500.01 and 500.00 (rounded half up one by one,
    # both balances were 500.01, a cent more than the loan owes).
    first, second = InvestorFactory(), InvestorFactory()
    loan = make_active_loan(principal=Decimal("1000.01"))
    for investor in (first, second):
        investor_services.add_participation(
            loan=loan, investor=investor, actor=None, share=Decimal("50")
        )

    balances = [selectors.investor_summary(i, TODAY).outstanding for i in (first, second)]

    assert balances == [Decimal("500.01"), Decimal("500.00")]
    assert balances == [_reference_summary(i)["outstanding"] for i in (first, second)]
    assert balances == list(
        Participation.objects.filter(loan=loan).order_by("id").values_list("amount", flat=True)
    )


def test_the_panels_figures_are_summed_in_sql_into_a_few_rows(book, django_assert_num_queries):
    # One row per bucket and written-off or not, not one per participation (286,000 rows
    # summed in Python took 18 s).
    groups = set(
        Participation.objects.filter(loan__status__in=Loan.LIVE).values_list(
            "loan__bucket", "loan__status"
        )
    )
    with django_assert_num_queries(1):
        rows = selectors._share_totals(None, None, TODAY)
    assert len(rows) == len(groups) < Participation.objects.count()
