"""Amounts are written as Django's number_format writes them, in every language."""

import random
from decimal import Decimal

import pytest
from django.utils import formats, translation

from crm import display
from lib import money

ODD = [
    Decimal("0"),
    Decimal("-0.00"),
    Decimal("-0.001"),
    Decimal("0.005"),
    Decimal("-0.005"),
    Decimal("999.995"),
    Decimal("1234.5"),
    Decimal("-1234567.891"),
    Decimal("1E+25"),
    0,
    10**15,
    0.1 + 0.2,
    "12.3",
]


@pytest.mark.parametrize("language", ["es", "es-pe", "en", "de"])
def test_an_amount_is_written_as_number_format_writes_it(language):
    rng = random.Random(7)
    values = ODD + [Decimal(rng.randint(-(10**12), 10**12)) / 100 for _ in range(500)]
    with translation.override(language):
        for value in values:
            expected = formats.number_format(
                money.cents(value), decimal_pos=2, use_l10n=True, force_grouping=True
            )
            assert display.amount(value) == expected, value


def test_money_names_its_currency_and_nothing_is_blank():
    assert display.money_text(Decimal("1234.5"), "PEN") == "S/ 1,234.50"
    assert display.amount(None) == ""
    assert display.amount("no es un número") == "no es un número"
