"""Numbers and amounts in Spanish words."""

from decimal import Decimal

import pytest

from lib import words


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0, "cero"),
        (1, "uno"),
        (16, "dieciséis"),
        (21, "veintiuno"),
        (31, "treinta y uno"),
        (100, "cien"),
        (101, "ciento uno"),
        (1000, "mil"),
        (1234, "mil doscientos treinta y cuatro"),
        (2026, "dos mil veintiséis"),
        (21000, "veintiún mil"),
        (101000, "ciento un mil"),
        (1_000_000, "un millón"),
        (2_500_000, "dos millones quinientos mil"),
        (31_000_000, "treinta y un millones"),
        (1_000_000_000, "mil millones"),
    ],
)
def test_it_writes_numbers_in_spanish_words(number, expected):
    assert words.number_in_words(number) == expected


def test_it_writes_amounts_with_cents_and_currency():
    assert words.amount_in_words(Decimal("1234.50")) == (
        "mil doscientos treinta y cuatro con 50/100 soles"
    )
    assert words.amount_in_words(Decimal("1.005"), "USD") == "uno con 01/100 dólares americanos"
