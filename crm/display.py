"""How the screens write amounts and people for a person to read: "S/ 1,234.50", "Ana Ríos".

One way for every template (the `money` filter of `crm/templatetags/formatting.py`) and
for the sentences services write on the timeline, built on `lib.money`: rounded half up
to the cent, with the currency's symbol and the country's separators (config/formats).
"""

import functools
import re
from decimal import Decimal, InvalidOperation

from django.db.models import Field, Model
from django.utils import formats, translation
from phonenumber_field.phonenumber import to_python as phone_number

from lib import money


@functools.lru_cache(maxsize=4096)
def phone_national(stored: str) -> str:
    """Return a phone as stored (E.164, "+51987654321") as the country writes it: 987 654 321.

    Parsing and formatting with the phonenumbers library costs ~50 µs a number, on every
    row of every list; the same numbers come back page after page, so the answer is kept
    per process (a few thousand short strings).
    """
    if not stored:
        return ""
    number = phone_number(stored)
    return number.as_national if number and number.is_valid() else stored


def choice_label(instance: Model, field_name: str) -> str:
    """Return what `instance.get_<field_name>_display()` returns ("dni" → "DNI").

    Django's method builds a dict of the field's choices on every call, hashing each
    label, and each label is a lazy translation: a 10-choice field costs 10 catalog
    lookups per call, per row of a list or entry of a timeline. Here the dict is built
    once per field, and only the label shown is translated.
    """
    field = instance._meta.get_field(field_name)
    value = getattr(instance, field.attname)
    label = _choices(field).get(value)
    return str(value) if label is None else str(label)


@functools.cache
def _choices(field: Field) -> dict:
    return dict(field.flatchoices)


def currency_symbol(currency: str | None) -> str:
    """Return the symbol of a currency code ("PEN" → "S/"); an unknown code as it is."""
    if not currency:
        return ""
    return money.CURRENCY_SYMBOLS.get(currency, currency)


def amount(value: Decimal | float | int | str | None) -> str:
    """Return an amount with two decimals and thousands separators: 1,234.50 ("" for None)."""
    if value is None or value == "":
        return ""
    try:
        cents = money.cents(value)
    except (InvalidOperation, ValueError, TypeError):
        return str(value)
    separators = _separators(translation.get_language())
    if separators is None or not cents.is_finite() or cents.adjusted() >= _MAX_ADJUSTED:
        return formats.number_format(cents, decimal_pos=2, use_l10n=True, force_grouping=True)
    # Python's own grouping, with the language's separators: what number_format writes,
    # at a tenth of its ~15 µs (a list writes two or three amounts a row).
    text = f"{cents if cents else abs(cents):,.2f}"  # as number_format: 0.00, never -0.00
    return text.translate(separators) if separators else text


def whole(value: int) -> str:
    """Return a count with thousands separators: 12,500 (as lists write their counts)."""
    return formats.number_format(value, decimal_pos=0, use_l10n=True, force_grouping=True)


# Past this many integer digits an amount goes to number_format (as lib.amounts does).
_MAX_ADJUSTED = 20


@functools.lru_cache(maxsize=16)
def _separators(language: str | None) -> dict[int, str] | None:
    """Return how to turn "1,234.50" into the language's writing ({} when it is that
    already), or None when it does not group by threes (number_format writes those)."""
    if formats.get_format("NUMBER_GROUPING", language) != 3:
        return None
    thousand = formats.get_format("THOUSAND_SEPARATOR", language)
    decimal = formats.get_format("DECIMAL_SEPARATOR", language)
    if (thousand, decimal) == (",", "."):
        return {}
    return {ord(","): thousand, ord("."): decimal}


def money_text(value: Decimal | float | int | str | None, currency: str | None = None) -> str:
    """Return "S/ 1,234.50" ("US$ 10.00"; the amount alone without a currency; "" for None)."""
    text = amount(value)
    if not text:
        return ""
    symbol = currency_symbol(currency)
    return f"{symbol} {text}" if symbol else text


# Between a currency's symbol and its amount on a screen: "S/" never ends a line alone.
# Messages keep the plain space (a no-break space takes an SMS out of its 7-bit alphabet).
NO_BREAK_SPACE = "\u00a0"


def money_on_screen(value: Decimal | float | int | str | None, currency: str | None = None) -> str:
    """Return `money_text`, its symbol held to its amount by a no-break space."""
    return money_text(value, currency).replace(" ", NO_BREAK_SPACE, 1)


# An amount written after a currency code or symbol, as older timeline sentences (and apps
# that do not use `money_text` yet) wrote them: "PEN 1234.50", "USD 10", "S/ 1720.00".
_AMOUNT_IN_TEXT = re.compile(
    r"(?<![\w$/])(?P<currency>PEN|USD|S/|US\$)\s?"
    r"(?P<amount>-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)(?![\d.,]*\d)"
)
_SYMBOL_CODES = {symbol: code for code, symbol in money.CURRENCY_SYMBOLS.items()}


def amounts_in_text(text: str, *, on_screen: bool = False) -> str:
    """Return `text` with every "PEN 1234.50" in it written as money: "S/ 1,234.50" (held
    together by a no-break space `on_screen`)."""
    write = money_on_screen if on_screen else money_text

    def written(match: re.Match) -> str:
        currency = match["currency"]
        code = _SYMBOL_CODES.get(currency, currency)
        try:
            value = Decimal(match["amount"].replace(",", ""))
        except InvalidOperation:
            return match[0]
        return write(value, code)

    return _AMOUNT_IN_TEXT.sub(written, text or "")
