"""The schedule engine: exact sums for any product, and French agreeing with numpy-financial."""

import dataclasses
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
    ("kwargs", "message"),
    [
        ({"principal": Decimal("0")}, "^principal must be positive$"),
        ({"term": 0}, "^term must be between 1 and 600$"),
        ({"term": 601}, "^term must be between 1 and 600$"),
        ({"annual_rate": Decimal("-1")}, "^annual_rate cannot be negative$"),
        ({"method": "balloon"}, "is not a valid Method"),
        ({"frequency": "daily"}, "is not a valid Frequency"),
        ({"installment": Decimal("0")}, "^installment must be positive$"),
        # 1 % a month of 1,000 is 10.00 of interest: an installment of 10 never repays it.
        (
            {"installment": Decimal("10.00"), "annual_rate": Decimal("12")},
            "^the installment does not cover the interest$",
        ),
    ],
)
def test_it_refuses_impossible_terms(kwargs, message):
    # The API names the bad parameter from these messages (credits.api._error_field).
    args = {
        "principal": Decimal("1000"),
        "annual_rate": Decimal("10"),
        "term": 12,
        "method": Method.FRENCH,
        "frequency": Frequency.MONTHLY,
        "first_due_date": date(2026, 1, 1),
        **kwargs,
    }

    with pytest.raises(ValueError, match=message):
        schedule.build_schedule(**args)


def _plan(**kwargs) -> schedule.Schedule:
    args = {
        "principal": Decimal("1000"),
        "annual_rate": Decimal("12"),
        "term": 12,
        "method": Method.FRENCH,
        "frequency": Frequency.MONTHLY,
        "first_due_date": date(2026, 1, 1),
        **kwargs,
    }
    return schedule.build_schedule(**args)


@pytest.mark.parametrize(("principal", "term"), [("0.01", 1), ("1.00", 600), ("0.50", 3)])
def test_the_smallest_loans_and_the_longest_term_still_add_up(principal, term):
    plan = _plan(principal=Decimal(principal), term=term)

    assert len(plan.rows) == term
    assert plan.total_principal == Decimal(principal)
    assert plan.rows[-1].balance == 0


def test_a_fixed_installment_at_zero_rate_needs_principal_over_installment_periods():
    plan = _plan(principal=Decimal("1.50"), annual_rate=Decimal("0"), installment=Decimal("0.50"))

    assert [r.principal for r in plan.rows] == [Decimal("0.50")] * 3
    assert plan.total_interest == 0


def test_a_fixed_installment_larger_than_the_debt_is_one_installment():
    plan = _plan(installment=Decimal("2000.00"))

    assert [(r.principal, r.interest) for r in plan.rows] == [
        (Decimal("1000.00"), Decimal("10.00"))
    ]


def test_the_regular_installment_is_the_first_rows_total():
    french = _plan()
    german = _plan(method=Method.GERMAN)

    assert french.installment == Decimal("88.85")
    # German installments fall: the first one is the largest.
    assert german.installment == Decimal("93.33")
    assert german.rows[1].total == Decimal("92.50")
    assert schedule.Schedule(rows=()).installment == 0


def test_the_totals_add_up_the_columns():
    plan = _plan(fee_type=FeeType.FIXED, fee_value=Decimal("2.50"))

    assert plan.total_principal == Decimal("1000.00")
    assert plan.total_interest == Decimal("66.19")
    assert plan.total_fee == Decimal("30.00")
    assert plan.total == Decimal("1096.19")
    assert plan.rows[0].total == Decimal("88.85") + Decimal("2.50")


def test_a_schedule_cannot_be_changed_once_built():
    plan = _plan()

    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.rows[0].principal = Decimal("0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.rows = ()


def test_the_choices_read_in_spanish():
    assert schedule.Method.choices == [
        ("french", "Francés (cuota fija)"),
        ("german", "Alemán (capital fijo)"),
        ("flat", "Interés flat (sobre el capital original)"),
    ]
    assert schedule.Frequency.choices == [
        ("monthly", "Mensual"),
        ("biweekly", "Quincenal"),
        ("weekly", "Semanal"),
    ]
    assert schedule.FeeType.choices == [
        ("none", "Sin comisión"),
        ("fixed", "Monto fijo por cuota"),
        ("percent", "% de capital + interés de cada cuota"),
    ]


@pytest.mark.parametrize(
    ("frequency", "first_due"),
    [
        (Frequency.MONTHLY, date(2026, 2, 28)),
        (Frequency.BIWEEKLY, date(2026, 2, 15)),
        (Frequency.WEEKLY, date(2026, 2, 7)),
    ],
)
def test_the_first_due_date_is_one_period_after_the_start(frequency, first_due):
    assert schedule.first_due_date_after(date(2026, 1, 31), frequency) == first_due
