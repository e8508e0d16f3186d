"""Investors get back their capital to the cent: each payment is split on running totals."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db.models import Sum
from hypothesis import given, settings
from hypothesis import strategies as st

from credits.investors import services as investor_services
from credits.models import Distribution, Payment
from credits.services import distributions
from credits.services import payments as payment_services
from tests.credits.conftest import at
from tests.factories import InvestorFactory

CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- The split alone, over many payment sequences and shares ----------------------------


class Book:
    """A loan's component paid in a sequence of payments, split as `distribute_payment` does."""

    def __init__(self, shares: list[Decimal]):
        self.shares = shares
        self.paid = Decimal("0.00")
        self.received = [Decimal("0.00")] * len(shares)
        self.lines: list[tuple[Decimal, list[Decimal]]] = []

    def pay(self, amount: Decimal) -> list[Decimal]:
        self.paid += amount
        exact = [self.paid * s / 100 for s in self.shares]
        lines = distributions.split_running_total(exact, self.received, _cents(sum(exact)))
        self.received = [r + line for r, line in zip(self.received, lines, strict=True)]
        self.lines.append((amount, lines))
        return lines

    def annul_last(self) -> None:
        amount, lines = self.lines.pop()
        self.paid -= amount
        self.received = [r - line for r, line in zip(self.received, lines, strict=True)]


@st.composite
def shares_and_payments(draw):
    """Shares in basis points that add up to 100 % and a capital they split exactly, paid in
    a few to many payments of any size."""
    count = draw(st.integers(1, 5))
    cuts = sorted(draw(st.lists(st.integers(1, 9999), min_size=count - 1, max_size=count - 1)))
    points = [b - a for a, b in zip([0, *cuts], [*cuts, 10000], strict=True)]
    if any(p == 0 for p in points):
        points = [10000]
    shares = [Decimal(p) / 100 for p in points]
    # A capital in hundreds: each basis point of it is a whole number of cents.
    capital_cents = draw(st.integers(1, 100_000)) * 100 * 100
    pieces = draw(st.lists(st.integers(1, 10_000_000), min_size=1, max_size=40))
    total = sum(pieces)
    amounts = [capital_cents * p // total for p in pieces]
    amounts[-1] += capital_cents - sum(amounts)
    return shares, [Decimal(a) / 100 for a in amounts if a], Decimal(capital_cents) / 100


@settings(max_examples=300, deadline=None)
@given(shares_and_payments())
def test_each_payment_is_split_whole_and_a_paid_off_loan_returns_each_capital(case):
    shares, amounts, capital = case
    book = Book(shares)

    for amount in amounts:
        lines = book.pay(amount)
        assert sum(lines) == amount
        assert all(line >= 0 for line in lines)

    assert book.received == [capital * s / 100 for s in shares]


@settings(max_examples=200, deadline=None)
@given(shares_and_payments(), st.data())
def test_annulling_and_applying_again_leaves_the_same_totals(case, data):
    shares, amounts, _capital = case
    book = Book(shares)
    for amount in amounts:
        book.pay(amount)
    finished = list(book.received)
    # Annulments go newest first (the service refuses any other order).
    undone = data.draw(st.integers(1, len(amounts)))
    for _k in range(undone):
        book.annul_last()
    assert book.received == _replayed(shares, amounts[: len(amounts) - undone])
    for amount in amounts[len(amounts) - undone :]:
        book.pay(amount)

    assert book.received == finished


def _replayed(shares: list[Decimal], amounts: list[Decimal]) -> list[Decimal]:
    book = Book(shares)
    for amount in amounts:
        book.pay(amount)
    return book.received


def test_a_participant_already_a_cent_ahead_never_gets_a_negative_line():
    # Three thirds of 0.01: the first gets the cent. Paid 0.01 more, plain largest
    # remainder on 0.02 gives the cents to the first two, so the first would keep its
    # cent; a running total never goes down, whatever the remainders say.
    book = Book([Decimal("33.333333"), Decimal("33.333333"), Decimal("33.333334")])
    assert book.pay(CENT) == [Decimal("0.00"), Decimal("0.00"), CENT]
    assert book.pay(CENT) == [CENT, Decimal("0.00"), Decimal("0.00")]
    assert book.pay(CENT) == [Decimal("0.00"), CENT, Decimal("0.00")]
    assert book.received == [CENT, CENT, CENT]


@pytest.mark.parametrize(
    ("received", "paid_now", "lines"),
    [
        # Cents an older split gave one investor in excess are evened out by the next payment...
        (["0.52", "0.48"], "1.00", ["0.48", "0.52"]),
        # ...and taken back when the payment is too small to even them out otherwise.
        (["1.04", "0.96"], "0.02", ["-0.03", "0.05"]),
    ],
)
def test_cents_given_in_excess_before_are_evened_out(received, paid_now, lines):
    book = Book([Decimal("50"), Decimal("50")])
    book.received = [Decimal(r) for r in received]
    book.paid = sum(book.received)

    assert book.pay(Decimal(paid_now)) == [Decimal(x) for x in lines]
    assert book.received[0] == book.received[1]


# --- Through the payment service ----------------------------------------------------------


SHARE_SETS = [
    ("50", "50"),
    ("60", "40"),
    ("33.33", "33.33", "33.34"),
    ("10", "20", "30", "40"),
    ("12.5", "87.5"),
    ("40", "35"),  # funded in part: the rest is the lender's
]


def _funded_loan(make_active_loan, shares):
    with at(date(2026, 1, 1)):
        loan = make_active_loan(principal=Decimal("10000.00"))
        participations = [
            investor_services.add_participation(
                loan=loan, investor=InvestorFactory(), actor=None, share=Decimal(share)
            )
            for share in shares
        ]
    return loan, participations


def _pay(loan, amount, on):
    with at(on):
        return payment_services.apply_payment(
            loan=loan, amount=amount, received_on=on, source=Payment.Source.CASH, actor=None
        )


def _pay_off(loan, *, in_parts: bool) -> list[Payment]:
    """Pay each installment on its due day, whole or a third first and the rest after."""
    made = []
    for row in list(loan.installments.filter(is_superseded=False).order_by("number")):
        row.refresh_from_db()
        if in_parts:
            made.append(_pay(loan, _cents(row.total_pending / 3), row.due_date))
            row.refresh_from_db()
        made.append(_pay(loan, row.total_pending, row.due_date))
    loan.refresh_from_db()
    assert loan.status == loan.Status.PAID
    return made


def _returned(participations) -> dict[int, tuple[Decimal, Decimal]]:
    totals = {
        row["participation"]: (row["principal"], row["interest"])
        for row in Distribution.objects.filter(participation__in=participations)
        .values("participation")
        .annotate(principal=Sum("principal"), interest=Sum("interest"))
    }
    return {p.pk: totals.get(p.pk, (Decimal("0.00"), Decimal("0.00"))) for p in participations}


def _component(payment, component) -> Decimal:
    return payment.allocations.filter(component=component).aggregate(t=Sum("amount"))[
        "t"
    ] or Decimal("0.00")


@pytest.mark.parametrize("in_parts", [False, True], ids=["whole", "in_parts"])
@pytest.mark.parametrize("shares", SHARE_SETS, ids=["/".join(s) for s in SHARE_SETS])
def test_a_paid_off_loan_returns_each_investor_exactly_its_capital(
    make_active_loan, shares, in_parts
):
    loan, participations = _funded_loan(make_active_loan, shares)
    funded = sum(Decimal(s) for s in shares) / 100

    for payment in _pay_off(loan, in_parts=in_parts):
        lines = payment.distributions.aggregate(p=Sum("principal"), i=Sum("interest"))
        for key, component in (("p", "principal"), ("i", "interest")):
            paid = _component(payment, component)
            if funded == 1:
                assert lines[key] == paid
            else:  # the funded part, to the cent the running total rounds
                assert abs(lines[key] - paid * funded) <= CENT

    returned = _returned(participations)
    assert {pk: principal for pk, (principal, _i) in returned.items()} == {
        p.pk: p.amount for p in participations
    }


@pytest.mark.parametrize("shares", SHARE_SETS[:3], ids=["/".join(s) for s in SHARE_SETS[:3]])
def test_annulling_the_payoff_and_applying_it_again_leaves_the_same_totals(
    make_active_loan, shares
):
    loan, participations = _funded_loan(make_active_loan, shares)
    made = _pay_off(loan, in_parts=True)
    finished = _returned(participations)
    last = made[-1]
    before_last = {
        pk: (principal - line.principal, interest - line.interest)
        for line in last.distributions.all()
        for pk, (principal, interest) in finished.items()
        if pk == line.participation_id
    }

    with at(last.received_on, hour=15):
        payment_services.annul_payment(payment=last, actor=None, reason="Registrado dos veces")
    reversals = Distribution.objects.filter(payment=last, reversal_of__isnull=False)
    assert sorted((r.participation_id, -r.principal, -r.interest) for r in reversals) == sorted(
        (d.participation_id, d.principal, d.interest)
        for d in last.distributions.filter(reversal_of__isnull=True)
    )
    assert {pk: _returned(participations)[pk] for pk in before_last} == before_last
    _pay(loan, last.amount, last.received_on)

    assert _returned(participations) == finished


def test_an_investor_who_joins_a_loan_already_paying_shares_only_the_later_payments(
    make_active_loan,
):
    with at(date(2026, 1, 1)):
        loan = make_active_loan(principal=Decimal("10000.00"))
        first = investor_services.add_participation(
            loan=loan, investor=InvestorFactory(), actor=None, share=Decimal("50")
        )
    rows = list(loan.installments.order_by("number"))
    _pay(loan, rows[0].total_due, rows[0].due_date)
    with at(date(2026, 2, 10)):
        late = investor_services.add_participation(
            loan=loan, investor=InvestorFactory(), actor=None, share=Decimal("50")
        )

    second = _pay(loan, rows[1].total_due, rows[1].due_date)

    lines = {d.participation_id: d.principal for d in second.distributions.all()}
    principal = _component(second, "principal")
    assert lines[late.pk] + lines[first.pk] == principal
    assert abs(lines[late.pk] - principal / 2) <= CENT
