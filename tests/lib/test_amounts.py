"""lib.amounts writes an amount as Django's `floatformat:"2g"` does, only faster."""

import random
from decimal import Decimal

import pytest
from django.template.defaultfilters import floatformat

from lib import amounts

EDGES = [
    Decimal("0"),
    Decimal("-0.00"),
    Decimal("-0.001"),
    Decimal("-0.005"),
    Decimal("0.005"),
    Decimal("1234.565"),
    Decimal("-1234.565"),
    Decimal("999999.995"),
    Decimal("1E+3"),
    Decimal("1.5E-7"),
    Decimal("123456789012.345"),
    Decimal("1E+40"),
    Decimal("NaN"),
    0,
    -7,
    1234567,
    1.005,
    "12.5",
    "",
    None,
]


@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_it_writes_what_floatformat_writes(value):
    assert amounts.writer()(value) == floatformat(value, "2g")


def test_it_writes_any_amount_as_floatformat_does():
    write = amounts.writer()
    generator = random.Random(7)
    for _ in range(2000):
        value = Decimal(generator.randint(-(10**12), 10**12)).scaleb(-generator.randint(0, 5))
        assert write(value) == floatformat(value, "2g"), value


def test_it_uses_the_countrys_separators(monkeypatch):
    separators = {"THOUSAND_SEPARATOR": ".", "DECIMAL_SEPARATOR": ",", "NUMBER_GROUPING": 3}
    real = amounts.formats.get_format
    monkeypatch.setattr(
        amounts.formats, "get_format", lambda name, *a, **k: separators.get(name) or real(name)
    )

    assert amounts.writer()(Decimal("1234567.891")) == "1.234.567,89"
