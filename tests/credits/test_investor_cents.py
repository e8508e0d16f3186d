"""Investors' money exact to the cent: the platform fee on running totals, a paid-off loan
returning each capital whatever the shares typed, and a balance that is the capital not yet
returned."""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from hypothesis import given, settings
from hypothesis import strategies as st

from credits.investors import selectors
from credits.investors import services as investor_services
from credits.models import Distribution, LoanProduct, Payment
from credits.services import distributions
from credits.services import payments as payment_services
from tests.credits.conftest import at
from tests.factories import InvestorFactory, LoanProductFactory

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- The fee alone, over many payment sequences ------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 100_000), min_size=1, max_size=40),
    st.integers(0, 10_000),
)
def test_the_fees_of_a_participation_are_its_interest_times_the_rate_rounded_once(
    interest_cents, rate_basis_points
):
    rate = Decimal(rate_basis_points) / 10_000
    received = charged = ZERO
    for cents in interest_cents:
        interest = Decimal(cents) / 100
        fee = distributions.platform_fee(interest_before=received, interest=interest, rate=rate)
        assert ZERO <= fee <= interest
        received += interest
        charged += fee
        assert charged == _cents(received * rate)


def test_a_new_rate_applies_only_to_the_interest_received_after_it():
    # 100.00 of interest at 25 %, then the rate goes down to 20 %: rounded on everything
    # charged, the next 10.00 would have given back 3.00 (22.00 - 25.00).
    first = distributions.platform_fee(
        interest_before=ZERO, interest=Decimal("100.00"), rate=Decimal("0.25")
    )
    second = distributions.platform_fee(
        interest_before=Decimal("100.00"), interest=Decimal("10.00"), rate=Decimal("0.20")
    )

    assert (first, second) == (Decimal("25.00"), Decimal("2.00"))


# --- Through the payment service -----------------------------------------------------------


def _pay(loan, amount, on):
    with at(on):
        return payment_services.apply_payment(
            loan=loan, amount=amount, received_on=on, source=Payment.Source.CASH, actor=None
        )


def _pay_off_in_parts(loan) -> list[Payment]:
    """Pay each installment on its due day: a third first, the rest after."""
    made = []
    for row in list(loan.installments.filter(is_superseded=False).order_by("number")):
        row.refresh_from_db()
        made.append(_pay(loan, _cents(row.total_pending / 3), row.due_date))
        row.refresh_from_db()
        made.append(_pay(loan, row.total_pending, row.due_date))
    loan.refresh_from_db()
    assert loan.status == loan.Status.PAID
    return made


def _funded(make_active_loan, principal, shares=(), amounts=(), fee="25", term=12):
    product = LoanProductFactory(platform_fee_percent=Decimal(fee))
    with at(date(2026, 1, 1)):
        loan = make_active_loan(product=product, principal=Decimal(principal), term=term)
        made = [
            investor_services.add_participation(
                loan=loan, investor=InvestorFactory(), actor=None, share=Decimal(share)
            )
            for share in shares
        ] + [
            investor_services.add_participation(
                loan=loan, investor=InvestorFactory(), actor=None, amount=Decimal(amount)
            )
            for amount in amounts
        ]
    return loan, made


def _totals(participation) -> dict[str, Decimal]:
    sums = Distribution.objects.filter(participation=participation).aggregate(
        principal=Sum("principal", default=ZERO),
        interest=Sum("interest", default=ZERO),
        fee=Sum("platform_fee", default=ZERO),
    )
    return {key: _cents(Decimal(value)) for key, value in sums.items()}


@pytest.mark.parametrize(
    ("principal", "shares"),
    [("10000.00", ("50", "50")), ("7777.77", ("33.3333", "33.3333", "33.3334"))],
    ids=["50/50", "thirds"],
)
def test_each_investor_pays_the_fee_on_its_interest_rounded_once(
    make_active_loan, principal, shares
):
    loan, participations = _funded(make_active_loan, principal, shares)

    payments = _pay_off_in_parts(loan)

    assert len(payments) == 24
    for participation in participations:
        totals = _totals(participation)
        # Rounded on each line, one of two 50 % investors paid 13.21 and the other 13.19
        # on the same 52.72 of interest.
        assert totals["fee"] == _cents(totals["interest"] * Decimal("0.25"))
    lines = Distribution.objects.filter(payment__loan=loan)
    assert all(ZERO <= line.platform_fee <= line.interest for line in lines)


def test_equal_investors_pay_equal_fees_over_many_payments(make_active_loan):
    loan, (first, second) = _funded(make_active_loan, "5000.00", ("50", "50"))

    _pay_off_in_parts(loan)

    assert (
        _totals(first)
        == _totals(second)
        == {
            "principal": Decimal("2500.00"),
            "interest": Decimal("336.79"),
            "fee": Decimal("84.20"),
        }
    )


def test_a_new_platform_fee_does_not_charge_again_what_was_already_shared(make_active_loan):
    loan, (participation,) = _funded(make_active_loan, "10000.00", ("100",))
    rows = list(loan.installments.order_by("number"))
    _pay(loan, rows[0].total_due, rows[0].due_date)
    before = _totals(participation)
    LoanProduct.objects.filter(pk=loan.product_id).update(platform_fee_percent=Decimal("10"))
    loan.refresh_from_db()

    payment = _pay(loan, rows[1].total_due, rows[1].due_date)

    (line,) = payment.distributions.all()
    assert line.platform_fee == _cents(
        (before["interest"] + line.interest) * Decimal("0.10")
    ) - _cents(before["interest"] * Decimal("0.10"))
    assert line.platform_fee > 0


def test_three_investors_of_a_third_typed_as_percent_get_back_exactly_their_capital(
    make_active_loan,
):
    # 33.3333 % of 47,500.00 is 15,833.3175: a capital of 15,833.32 each; the loan's
    # principal shared by share gave the last one 15,833.31.
    loan, participations = _funded(make_active_loan, "47500.00", ("33.3333", "33.3333", "33.3333"))
    assert [p.amount for p in participations] == [Decimal("15833.32")] * 3

    _pay_off_in_parts(loan)

    assert [_totals(p)["principal"] for p in participations] == [Decimal("15833.32")] * 3


def test_capitals_typed_as_amounts_fund_a_loan_whole(make_active_loan):
    # Their shares rounded one by one (33.333286 %, 33.333286 %, 33.333429 %) add up to
    # 100.000001 %: the third was refused, «superarían el 100 %».
    loan, participations = _funded(
        make_active_loan, "7000.00", amounts=("2333.33", "2333.33", "2333.34")
    )

    assert sum(p.share for p in participations) == 100
    _pay_off_in_parts(loan)
    assert [_totals(p)["principal"] for p in participations] == [
        Decimal("2333.33"),
        Decimal("2333.33"),
        Decimal("2333.34"),
    ]


def test_capitals_typed_as_shares_never_pass_the_principal(make_active_loan):
    # 50 % of 1,000.01 is 500.005: 500.01 rounded half up, twice 1,000.02.
    loan, participations = _funded(make_active_loan, "1000.01", ("50", "50"), term=3)

    assert [p.amount for p in participations] == [Decimal("500.01"), Decimal("500.00")]
    _pay_off_in_parts(loan)
    assert [_totals(p)["principal"] for p in participations] == [
        Decimal("500.01"),
        Decimal("500.00"),
    ]


def test_a_capital_beyond_what_is_left_of_the_principal_is_refused(make_active_loan):
    loan, _participations = _funded(make_active_loan, "1000.00", ("60",), term=3)

    with pytest.raises(ValidationError, match=r"queda S/ 400\.00 por financiar"):
        investor_services.add_participation(
            loan=loan, investor=InvestorFactory(), actor=None, amount=Decimal("400.01")
        )


def _balances(investor) -> dict[int, Decimal]:
    rows = selectors.with_outstanding_share(selectors.investor_participations(investor))
    return {p.pk: p.outstanding_share for p in rows}


def _unpaid_principal(loan) -> Decimal:
    rows = loan.installments.filter(is_superseded=False)
    return sum((row.principal_due - row.principal_paid for row in rows), ZERO)


def test_a_balance_plus_what_was_returned_is_the_capital_after_every_payment(
    make_active_loan,
):
    loan, participations = _funded(make_active_loan, "3671.71", ("50", "50"))
    investors = [p.investor for p in participations]
    checked = 0

    for row in list(loan.installments.order_by("number")):
        row.refresh_from_db()
        for amount in (_cents(row.total_pending / 3), None):
            row.refresh_from_db()
            payment = _pay(loan, amount or row.total_pending, row.due_date)
            balances = {}
            for investor in investors:
                balances.update(_balances(investor))
            for participation in participations:
                returned = _totals(participation)["principal"]
                assert balances[participation.pk] + returned == participation.amount
            # The panel's figures (summed in SQL) are the same balances, and together they
            # are what the loan still owes of its principal (half up one by one, the parts
            # of 1,835.85 were 917.93 and 917.93).
            summaries = [selectors.investor_summary(i, payment.received_on) for i in investors]
            assert [s.outstanding for s in summaries] == [balances[p.pk] for p in participations]
            assert sum(balances.values()) == _unpaid_principal(loan)
            checked += 1

    loan.refresh_from_db()
    assert loan.status == loan.Status.PAID
    assert checked == 24
    assert set(_balances(investors[0]).values()) == {ZERO}


def test_an_investor_who_joined_a_loan_already_paying_keeps_its_part_of_what_is_unpaid(
    make_active_loan,
):
    # It never gets back the principal paid before it joined: capital less what it was
    # returned would count that as still owed to it.
    loan, _first = _funded(make_active_loan, "10000.00", ("50",))
    rows = list(loan.installments.order_by("number"))
    _pay(loan, rows[0].total_due, rows[0].due_date)
    with at(date(2026, 2, 10)):
        late = investor_services.add_participation(
            loan=loan, investor=InvestorFactory(), actor=None, share=Decimal("50")
        )
    _pay(loan, rows[1].total_due, rows[1].due_date)

    unpaid = _unpaid_principal(loan)
    balance = _balances(late.investor)[late.pk]
    assert abs(balance - unpaid / 2) < CENT
    assert balance < late.amount - _totals(late)["principal"]
    assert selectors.investor_summary(late.investor, rows[1].due_date).outstanding == balance
