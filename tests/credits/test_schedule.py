"""The schedule engine: exact sums for any product, and French agreeing with numpy-financial."""

import itertools
from datetime import date
from decimal import Decimal

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credits import schedule
from credits.schedule import FeeType, Frequency, Method

CENT = Decimal("0.01")

principals = st.decimals(min_value=Decimal("100.00"), max_value=Decimal("2000000.00"), places=2)
rates = st.decimals(min_value=Decimal("0"), max_value=Decimal("120"), places=2)
terms = st.integers(min_value=1, max_value=120)
methods = st.sampled_from(list(Method))
frequencies = st.sampled_from(list(Frequency))
fees = st.one_of(
    st.tuples(st.just(FeeType.NONE), st.just(Decimal("0"))),
    st.tuples(st.just(FeeType.FIXED), st.decimals(min_value=0, max_value=100, places=2)),
    st.tuples(st.just(FeeType.PERCENT), st.decimals(min_value=0, max_value=5, places=2)),
)


@settings(max_examples=300, deadline=None)
@given(principals, rates, terms, methods, frequencies, fees)
def test_principal_sums_exactly_to_the_loan_for_any_product(
    principal, rate, term, method, frequency, fee
):
    plan = schedule.build_schedule(
        principal=principal,
        annual_rate=rate,
        term=term,
        method=method,
        frequency=frequency,
        first_due_date=date(2026, 1, 31),
        fee_type=fee[0],
        fee_value=fee[1],
    )

    assert len(plan.rows) == term
    assert plan.total_principal == principal
    assert plan.rows[-1].balance == 0
    for row in plan.rows:
        for amount in (row.principal, row.interest, row.fee):
            assert amount == amount.quantize(CENT)
            assert amount >= 0
        assert row.total == row.principal + row.interest + row.fee
    assert plan.total == plan.total_principal + plan.total_interest + plan.total_fee
    balances = [principal] + [r.balance for r in plan.rows]
    # Never up; a tiny loan at a high rate may repay 0.00 principal in its first rows.
    assert all(a >= b >= 0 for a, b in itertools.pairwise(balances))
    dates = [r.due_date for r in plan.rows]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)


@settings(max_examples=200, deadline=None)
@given(principals, rates.filter(lambda r: r > 0), terms, frequencies)
def test_french_agrees_with_numpy_financial_to_the_cent(principal, rate, term, frequency):
    # numpy-financial computes in binary floats only: its inputs are floats, and its
    # answers are read back into Decimal so every comparison below is in Decimal.
    periodic = float(rate / 100 / schedule.PERIODS_PER_YEAR[frequency])
    loan = -float(principal)

    def npf_decimal(value) -> Decimal:
        return Decimal(str(float(value)))

    plan = schedule.build_schedule(
        principal=principal,
        annual_rate=rate,
        term=term,
        method=Method.FRENCH,
        frequency=frequency,
        first_due_date=date(2026, 1, 31),
    )

    payment = npf_decimal(npf.pmt(periodic, term, loan))
    cent, half_cent, tiny = Decimal("0.01"), Decimal("0.005"), Decimal("1e-9")
    for row in plan.rows[:-1]:
        assert abs(row.total - payment) <= half_cent + tiny
        assert abs(row.interest - npf_decimal(npf.ipmt(periodic, row.number, term, loan))) <= cent
        assert abs(row.principal - npf_decimal(npf.ppmt(periodic, row.number, term, loan))) <= cent
    # The last installment carries what the per-installment rounding left over: at most
    # half a cent of the level payment and half a cent of interest per installment.
    last = plan.rows[-1]
    assert abs(last.total - payment) <= cent * term + Decimal("1e-6")
    assert abs(last.interest - npf_decimal(npf.ipmt(periodic, term, term, loan))) <= cent


def test_french_installments_are_equal_but_the_last():
    plan = schedule.build_schedule(
        principal=Decimal("10000"),
        annual_rate=Decimal("24"),
        term=12,
        method=Method.FRENCH,
        frequency=Frequency.MONTHLY,
        first_due_date=date(2026, 1, 31),
    )

    assert {r.total for r in plan.rows[:-1]} == {Decimal("945.60")}
    assert plan.rows[0].interest == Decimal("200.00")
    assert plan.rows[-1].total == Decimal("945.55")
    assert plan.total_interest == Decimal("1347.15")


def test_german_repays_equal_principal_with_interest_on_the_balance():
    plan = schedule.build_schedule(
        principal=Decimal("1000"),
        annual_rate=Decimal("24"),
        term=3,
        method=Method.GERMAN,
        frequency=Frequency.MONTHLY,
        first_due_date=date(2026, 1, 15),
    )

    assert [r.principal for r in plan.rows] == [
        Decimal("333.33"),
        Decimal("333.33"),
        Decimal("333.34"),
    ]
    assert [r.interest for r in plan.rows] == [Decimal("20.00"), Decimal("13.33"), Decimal("6.67")]


def test_flat_charges_interest_on_the_original_principal_every_period():
    plan = schedule.build_schedule(
        principal=Decimal("1200"),
        annual_rate=Decimal("26"),
        term=4,
        method=Method.FLAT,
        frequency=Frequency.BIWEEKLY,
        first_due_date=date(2026, 1, 15),
    )

    assert [r.interest for r in plan.rows] == [Decimal("13.00")] * 4
    assert [r.principal for r in plan.rows] == [Decimal("300.00")] * 4


@pytest.mark.parametrize(
    ("frequency", "expected"),
    [
        (Frequency.MONTHLY, [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]),
        (Frequency.BIWEEKLY, [date(2026, 1, 31), date(2026, 2, 15), date(2026, 2, 28)]),
        (Frequency.WEEKLY, [date(2026, 1, 31), date(2026, 2, 7), date(2026, 2, 14)]),
    ],
)
def test_due_dates_follow_the_frequency(frequency, expected):
    assert schedule.due_dates(date(2026, 1, 31), frequency, 3) == expected


@pytest.mark.parametrize(
    ("frequency", "periods"),
    [(Frequency.MONTHLY, 12), (Frequency.BIWEEKLY, 24), (Frequency.WEEKLY, 52)],
)
def test_the_periodic_rate_divides_the_annual_rate_by_the_periods_in_a_year(frequency, periods):
    assert schedule.periodic_rate(Decimal("24"), frequency) == Decimal("0.24") / periods


def test_fees_are_fixed_or_a_percent_of_each_installment():
    common = {
        "principal": Decimal("1000"),
        "annual_rate": Decimal("12"),
        "term": 2,
        "method": Method.GERMAN,
        "frequency": Frequency.MONTHLY,
        "first_due_date": date(2026, 1, 1),
    }

    fixed = schedule.build_schedule(**common, fee_type=FeeType.FIXED, fee_value=Decimal("5"))
    percent = schedule.build_schedule(**common, fee_type=FeeType.PERCENT, fee_value=Decimal("1"))

    assert [r.fee for r in fixed.rows] == [Decimal("5.00"), Decimal("5.00")]
    # 1 % of (500 + 10.00) and of (500 + 5.00), rounded half-up.
    assert [r.fee for r in percent.rows] == [Decimal("5.10"), Decimal("5.05")]


def test_a_fixed_french_installment_shortens_the_term():
    plan = schedule.build_schedule(
        principal=Decimal("10000"),
        annual_rate=Decimal("24"),
        term=12,
        method=Method.FRENCH,
        frequency=Frequency.MONTHLY,
        first_due_date=date(2026, 1, 31),
        installment=Decimal("1500"),
    )

    assert len(plan.rows) == 8
    assert {r.total for r in plan.rows[:-1]} == {Decimal("1500.00")}
    assert plan.total_principal == Decimal("10000")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"principal": Decimal("0")},
        {"term": 0},
        {"term": 601},
        {"annual_rate": Decimal("-1")},
        {"method": "balloon"},
        {"frequency": "daily"},
    ],
)
def test_it_refuses_impossible_terms(kwargs):
    args = {
        "principal": Decimal("1000"),
        "annual_rate": Decimal("10"),
        "term": 12,
        "method": Method.FRENCH,
        "frequency": Frequency.MONTHLY,
        "first_due_date": date(2026, 1, 1),
        **kwargs,
    }

    with pytest.raises(ValueError):
        schedule.build_schedule(**args)
