"""Amounts written as Django's `floatformat:"2g"` writes them, at a tenth of its cost, and
numbers read as people type them (`read`, the one rule lib.fields' form fields follow).

`{{ value|floatformat:"2g" }}` costs ~9 µs a number: it rebuilds the digits one by one and
groups them through Django's number_format. A loan's schedule writes ~8 figures an
installment, 200 and more a page. `writer()` reads the active language's separators once
and returns a function that writes the same text with Python's own formatting.
"""

import re
import unicodedata
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from django.template.defaultfilters import floatformat
from django.utils import formats

CENT = Decimal("0.01")
# Past this many integer digits quantize() needs a wider context: floatformat writes them.
_MAX_ADJUSTED = 20


def writer() -> Callable[[object], str]:
    """Return a function writing an amount as `floatformat:"2g"` does in the active language:
    rounded half up to the cent, grouped by thousands ("1,234.50"; "1.234,50" where the
    country writes it so, config/formats). Call it once per render, not per number.

    A Decimal or int is written here; anything else (a float, text, None, NaN, a huge
    number) and a language not grouping by threes go to floatformat itself.
    """
    if formats.get_format("NUMBER_GROUPING") != 3:
        return _floatformat
    separators = {
        ord(","): formats.get_format("THOUSAND_SEPARATOR"),
        ord("."): formats.get_format("DECIMAL_SEPARATOR"),
    }
    if separators == {ord(","): ",", ord("."): "."}:
        separators = None

    def write(value: object) -> str:
        # Exact types: a bool (an int too) goes to floatformat with the other odd values.
        if type(value) not in (Decimal, int) or not _plain_number(value):
            return floatformat(value, "2g")
        rounded = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
        if not rounded:
            rounded = abs(rounded)  # floatformat writes no sign on a zero: -0.001 → "0.00"
        text = f"{rounded:,.2f}"
        return text.translate(separators) if separators else text

    return write


def _plain_number(value: Decimal | int) -> bool:
    if type(value) is int:
        return abs(value) < 10**_MAX_ADJUSTED
    return value.is_finite() and value.adjusted() < _MAX_ADJUSTED


def _floatformat(value: object) -> str:
    return floatformat(value, "2g")


# --- Reading ---------------------------------------------------------------------------------

# Longer than anyone types a number ("999,999,999,999.99" is 18): refused before it is parsed.
MAX_TYPED_LENGTH = 40
# What may group thousands besides "." and ",": a space, a no-break space, a thin space and a
# narrow no-break space (what Excel, Word and Costa Rica's format put between the groups).
_SPACES = " \u00a0\u2009\u202f"
_PLAIN_RE = re.compile(r"[0-9]+|[0-9]*[.,][0-9]+")
# One separator and three digits: "1.234" is 1234 or 1.234 depending on who typed it.
_AMBIGUOUS_RE = re.compile(r"[1-9][0-9]{0,2}[.,][0-9]{3}")
# Groups of three: (the pattern, the group separator, the decimal separator it then takes).
_GROUPED = [
    (re.compile(rf"[1-9][0-9]{{0,2}}(?:{re.escape(group)}[0-9]{{3}})+(?:{point}[0-9]+)?"), group)
    for group, point in [(".", ","), (",", r"\."), *((space, "[.,]") for space in _SPACES)]
]


class Unreadable(ValueError):
    """A text that is no number ("invalid") or could be two ("ambiguous")."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def read(text: str, *, grouped: bool = True) -> Decimal | None:
    """Return the number a person typed, None for nothing (empty, only spaces), or raise
    Unreadable. One rule whatever the country's formats, the imports' too (README):

    - "." or "," is the decimal separator: 1234.50, 1234,50, .5;
    - thousands come in groups of three after a separator that is not the decimal one:
      1,234.50, 1.234,50, 1,234,567, 1.234.567, or after spaces: 1 234, 1 234,50;
    - one separator followed by exactly three digits, 1.234 or 12,345, is "ambiguous"
      (thousands to a Peruvian, decimals to a Spaniard) and refused, never guessed;
    - one leading + or -; digits of any script (٣٤٥, ४२, ４２) read as the digits they are;
    - nothing else: no exponents (1e3), underscores (1_000), currency (S/), fractions (½,
      1/2), hexadecimal, Infinity or NaN — each "invalid".

    `grouped=False` is for a rate or a percentage, which has no thousands: any one "." or
    "," is the decimal separator (1,5 and 1.234 are 1.5 and 1.234) and groups are refused.
    The decimals are kept as typed (0.005 stays 0.005: the field refuses a third decimal),
    and -0 is 0.
    """
    text = str(text).strip()
    if not text:
        return None
    if len(text) > MAX_TYPED_LENGTH:
        raise Unreadable("invalid")
    text = "".join(_ascii_digit(char) for char in text)
    sign = text[0] if text[0] in "+-" else ""
    body = text[len(sign) :]
    if grouped and _AMBIGUOUS_RE.fullmatch(body):
        raise Unreadable("ambiguous")
    if _PLAIN_RE.fullmatch(body):
        digits = body.replace(",", ".")
    elif not grouped or (digits := _ungrouped(body)) is None:
        raise Unreadable("invalid")
    number = Decimal(sign + digits)
    return number if number else abs(number)  # -0 is 0


def _ascii_digit(char: str) -> str:
    # Any script's decimal digit, as int() and Decimal() read them; "²" and "½" are not.
    if char.isascii():
        return char
    digit = unicodedata.decimal(char, None)
    return str(digit) if digit is not None else char


def _ungrouped(body: str) -> str | None:
    """Return "1234.5" for "1,234.5", "1.234,5" or "1 234,5"; None for badly grouped text."""
    for pattern, group in _GROUPED:
        if pattern.fullmatch(body):
            return body.replace(group, "").replace(",", ".")
    return None
