"""Rounding, percentages and display of amounts."""

from decimal import Decimal

from lib import money


def test_it_rounds_to_the_cent_half_up():
    assert money.cents(Decimal("2.345")) == Decimal("2.35")
    assert money.cents(Decimal("-2.345")) == Decimal("-2.35")
    assert money.cents(None) == Decimal("0.00")


def test_it_reads_a_float_sum_through_its_shortest_text():
    assert money.cents(0.1 + 0.2) == Decimal("0.30")
    assert money.cents(1.005) == Decimal("1.01")


def test_it_gives_a_percentage_half_up_and_none_of_nothing():
    assert money.percent(1, 160) == Decimal("0.63")  # 0.625: half-up, not half-even
    assert money.percent(1, 3) == Decimal("33.33")
    assert money.percent(2, 3) == Decimal("66.67")
    assert money.percent(2, 3, places=1) == Decimal("66.7")
    assert money.percent(1, 0) is None


def test_it_formats_an_amount_with_thousands_and_two_decimals():
    assert money.format_money(Decimal("1234567.5")) == "1,234,567.50"
    assert money.format_money(None) == ""
