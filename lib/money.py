"""Money and ratios as `Decimal`: the currencies, the shape of amount fields, rounding, display.

Amounts are rounded half up to the cent wherever they are shown or stored; a percentage is
rounded half up to the places its screen shows. Nothing here knows what the amounts are of.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lib.search import normalize

# Field arguments of every amount and every rate column.
MONEY = {"max_digits": 14, "decimal_places": 2}
RATE = {"max_digits": 8, "decimal_places": 4}

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
HUNDRED = Decimal(100)


class Currency(models.TextChoices):
    PEN = "PEN", _("Soles (S/)")
    USD = "USD", _("Dólares (US$)")


CURRENCY_SYMBOLS = {Currency.PEN: "S/", Currency.USD: "US$"}

# What a person or a file may write for a currency, normalized (lib.search.normalize: lower
# case, no accents; dots and spaces at the ends dropped).
CURRENCY_SPELLINGS = {
    "pen": Currency.PEN,
    "s/": Currency.PEN,
    "s": Currency.PEN,
    "sol": Currency.PEN,
    "soles": Currency.PEN,
    "nuevos soles": Currency.PEN,
    "usd": Currency.USD,
    "us$": Currency.USD,
    "$": Currency.USD,
    "us": Currency.USD,
    "dolar": Currency.USD,
    "dolares": Currency.USD,
    "dolares americanos": Currency.USD,
}


def read_currency(value: object) -> str | None:
    """Return the currency a cell or a field says ("PEN", "USD"; S/, US$, soles, dólares
    too), "" when blank, None when it is none of them (the imports' and the API's one
    reader)."""
    text = normalize(str(value if value is not None else "")).strip(" .")
    if not text:
        return ""
    found = CURRENCY_SPELLINGS.get(text)
    return found.value if found is not None else None


def currency_refusal(value: object) -> str:
    """Say that `value` is not a currency we keep."""
    return gettext("La moneda «%(value)s» no es PEN (S/) ni USD (US$).") % {
        "value": str(value)[:20]
    }


def cents(value: Decimal | float | int | str | None) -> Decimal:
    """Return `value` rounded half up to the cent; None is 0.00.

    A float (SQLite sums decimal columns as floats) is read through its shortest text, so
    0.1 + 0.2 becomes 0.30, not 0.3000000000000000444.
    """
    if value is None:
        return ZERO
    if isinstance(value, float):
        value = str(value)
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def percent(part: int | Decimal, whole: int | Decimal, *, places: int = 2) -> Decimal | None:
    """Return `part` as a percentage of `whole`, rounded half up to `places`; None when whole
    is 0."""
    if not whole:
        return None
    step = Decimal(1).scaleb(-places)
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(step, rounding=ROUND_HALF_UP)


def shares_of_100(amounts: list[Decimal], *, places: int = 2) -> list[Decimal]:
    """Return each amount's percent of their sum, to `places`, adding up to exactly 100; all
    zeros when the sum is 0.

    Each share is rounded down and the steps left go to the largest remainders (largest
    remainder method; a tie to the first), so a percent column sums to the 100 under it.
    """
    step = Decimal(1).scaleb(-places)
    total = sum(amounts, Decimal(0))
    if not total:
        return [Decimal(0).quantize(step) for _amount in amounts]
    exact = [Decimal(amount) * HUNDRED / total for amount in amounts]
    shares = [value.quantize(step, rounding=ROUND_DOWN) for value in exact]
    left = int((HUNDRED - sum(shares, Decimal(0))) / step)
    by_remainder = sorted(range(len(amounts)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[:left]:
        shares[i] += step
    return shares


def format_money(amount: Decimal | None) -> str:
    """Return an amount with two decimals and thousands separators: 1,234.50 ("" for None)."""
    if amount is None:
        return ""
    return f"{cents(amount):,.2f}"
