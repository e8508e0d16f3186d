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


def test_shares_of_100_add_up_to_exactly_100_by_the_largest_remainders():
    # The demo's portfolio buckets: rounded one by one they made 100.01.
    amounts = [
        Decimal("2427972.65"),
        Decimal("679153.71"),
        Decimal("190991.35"),
        Decimal("173293.21"),
        Decimal("134920.78"),
    ]

    shares = money.shares_of_100(amounts)

    assert shares == [
        Decimal("67.33"),
        Decimal("18.83"),
        Decimal("5.30"),
        Decimal("4.80"),
        Decimal("3.74"),
    ]
    assert sum(shares) == Decimal("100.00")


def test_shares_of_100_round_to_the_places_asked_and_give_a_tie_to_the_first():
    shares = money.shares_of_100([1, 1, 1], places=1)

    assert shares == [Decimal("33.4"), Decimal("33.3"), Decimal("33.3")]


def test_shares_of_100_of_nothing_are_zeros():
    assert money.shares_of_100([Decimal("0.00")] * 5) == [Decimal("0.00")] * 5
    assert money.shares_of_100([0, 0], places=1) == [Decimal("0.0"), Decimal("0.0")]
    assert money.shares_of_100([]) == []
