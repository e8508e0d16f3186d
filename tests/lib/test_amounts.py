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


# --- Reading: one rule for every number a person types -----------------------------------

READ = [
    ("1234.50", "1234.50"),
    ("1234,50", "1234.50"),
    (".5", "0.5"),
    ("1,234.56", "1234.56"),  # Peru's own way, as the screens write it
    ("1.234,56", "1234.56"),
    ("12,345,678.9", "12345678.9"),
    ("1.234.567", "1234567"),
    ("1,5", "1.5"),  # no group of three: only a decimal
    ("0,123", "0.123"),  # a leading zero groups nothing
    ("1\u00a0234", "1234"),
    ("1\u2009234", "1234"),
    ("1\u202f234,50", "1234.50"),
    ("1 234.50", "1234.50"),
    ("+5", "5"),
    ("-1,234.50", "-1234.50"),
    ("٣٤٥", "345"),
    ("४२", "42"),
    ("４２", "42"),
    (" 7 ", "7"),
    ("0.005", "0.005"),  # kept: the field refuses the third decimal, nothing rounds it away
    ("1" * 20, "1" * 20),
]


@pytest.mark.parametrize(("typed", "number"), READ, ids=repr)
def test_read_takes_the_number_the_person_meant(typed, number):
    read = amounts.read(typed)

    assert read == Decimal(number)
    assert str(read) == number


def test_read_makes_minus_zero_a_zero():
    assert str(amounts.read("-0")) == "0"
    assert str(amounts.read("-0.00")) == "0.00"


@pytest.mark.parametrize("typed", ["", " ", "\u00a0\t"], ids=repr)
def test_read_takes_nothing_typed_for_none(typed):
    assert amounts.read(typed) is None


@pytest.mark.parametrize("typed", ["1.234", "1,234", "12,345", "999.000"], ids=repr)
def test_read_refuses_one_group_of_three_as_ambiguous(typed):
    with pytest.raises(amounts.Unreadable) as refused:
        amounts.read(typed)

    assert refused.value.code == "ambiguous"


UNREADABLE = [
    "1e3",
    "1E-2",
    "--5",
    "5-",
    "-",
    "1_000",
    "S/ 1 234,50",
    "S/ 150",
    "½",
    "1/2",
    "²",
    "0x10",
    "Infinity",
    "NaN",
    "1.5.",
    ".",
    "1 23",
    "1,23,456.7",
    "1.234,567.8",
    "5\x00",
    "9" * 41,
]


@pytest.mark.parametrize("typed", UNREADABLE, ids=repr)
def test_read_refuses_what_is_no_number(typed):
    with pytest.raises(amounts.Unreadable) as refused:
        amounts.read(typed)

    assert refused.value.code == "invalid"


@pytest.mark.parametrize(
    ("typed", "number"), [("1,5", "1.5"), ("1.234", "1.234"), ("32,5", "32.5")], ids=repr
)
def test_read_ungrouped_takes_any_one_separator_for_the_decimals(typed, number):
    assert amounts.read(typed, grouped=False) == Decimal(number)


@pytest.mark.parametrize("typed", ["1,234.5", "1 234", "1.234.567"], ids=repr)
def test_read_ungrouped_refuses_thousands(typed):
    with pytest.raises(amounts.Unreadable):
        amounts.read(typed, grouped=False)
