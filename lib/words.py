"""Numbers and amounts in Spanish words, as contracts and promissory notes write them."""

from decimal import Decimal

from lib.money import Currency, cents

CURRENCY_WORDS = {Currency.PEN: "soles", Currency.USD: "dólares americanos"}

_UNITS = (
    "cero",
    "uno",
    "dos",
    "tres",
    "cuatro",
    "cinco",
    "seis",
    "siete",
    "ocho",
    "nueve",
    "diez",
    "once",
    "doce",
    "trece",
    "catorce",
    "quince",
    "dieciséis",
    "diecisiete",
    "dieciocho",
    "diecinueve",
    "veinte",
    "veintiuno",
    "veintidós",
    "veintitrés",
    "veinticuatro",
    "veinticinco",
    "veintiséis",
    "veintisiete",
    "veintiocho",
    "veintinueve",
)
_TENS = {3: "treinta", 4: "cuarenta", 5: "cincuenta", 6: "sesenta"}
_TENS |= {7: "setenta", 8: "ochenta", 9: "noventa"}
_HUNDREDS = {1: "ciento", 2: "doscientos", 3: "trescientos", 4: "cuatrocientos"}
_HUNDREDS |= {5: "quinientos", 6: "seiscientos", 7: "setecientos"}
_HUNDREDS |= {8: "ochocientos", 9: "novecientos"}


def number_in_words(number: int) -> str:
    """Return a whole number in Spanish words: 1234 → "mil doscientos treinta y cuatro"."""
    if number < 0:
        return "menos " + number_in_words(-number)
    if number >= 10**18:
        raise ValueError("number too large to write in words")
    if number == 0:
        return "cero"
    parts = []
    for scale, one, many in ((10**12, "un billón", "billones"), (10**6, "un millón", "millones")):
        count, number = divmod(number, scale)
        if count == 1:
            parts.append(one)
        elif count:
            parts.append(f"{_before_noun(_below_million(count))} {many}")
    if number:
        parts.append(_below_million(number))
    return " ".join(parts)


def amount_in_words(amount: Decimal | None, currency: str = Currency.PEN) -> str:
    """Return an amount as a cheque writes it: "mil doscientos treinta y cuatro con 50/100 soles".

    The cents are rounded half up, as everywhere money is shown.
    """
    if amount is None:
        return ""
    amount = cents(amount)
    whole = int(abs(amount))
    hundredths = int((abs(amount) - whole) * 100)
    words = number_in_words(whole)
    if amount < 0:
        words = "menos " + words
    unit = CURRENCY_WORDS.get(currency, currency)
    return f"{words} con {hundredths:02d}/100 {unit}"


def _below_million(number: int) -> str:
    thousands, rest = divmod(number, 1000)
    parts = []
    if thousands == 1:
        parts.append("mil")
    elif thousands:
        parts.append(f"{_before_noun(_below_thousand(thousands))} mil")
    if rest:
        parts.append(_below_thousand(rest))
    return " ".join(parts)


def _below_thousand(number: int) -> str:
    hundreds, rest = divmod(number, 100)
    parts = []
    if hundreds:
        parts.append("cien" if number == 100 else _HUNDREDS[hundreds])
    if rest >= 30:
        tens, units = divmod(rest, 10)
        parts.append(_TENS[tens] + (f" y {_UNITS[units]}" if units else ""))
    elif rest:
        parts.append(_UNITS[rest])
    return " ".join(parts)


def _before_noun(words: str) -> str:
    """Shorten a final "uno" before "mil" or "millones": veintiún mil, treinta y un mil."""
    if words.endswith("veintiuno"):
        return words[: -len("veintiuno")] + "veintiún"
    if words.endswith("uno"):
        return words[:-1]
    return words
