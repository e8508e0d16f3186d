"""The SMS alphabet (GSM 03.38, "GSM-7"): how many parts a text takes, and its plain version.

A text whose every character is in the GSM alphabet travels in parts of 160 characters
(153 each once concatenated), the extension characters counting two; one character
outside it sends the whole text as UCS-2, in parts of 70 (67), and providers charge per
part. In Spanish "á", "í", "ó", "ú" (and their capitals) are outside it, while "ñ", "é",
"ü", "¿" and "¡" are in it.
"""

import functools
import unicodedata

BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through an escape: two characters each.
EXTENSION = frozenset("\f^{}\\[~]|€")
SINGLE, PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Typographic marks a word processor or a phone puts in, and their ASCII: NFKD keeps them.
_TYPOGRAPHIC = {
    "\u2018": "'",  # ‘
    "\u2019": "'",  # ’
    "\u201a": "'",  # ‚
    "\u201b": "'",  # ‛
    "\u00b4": "'",  # ´ (NFKD makes it a space and a combining accent)
    "\u2032": "'",  # ′
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u201e": '"',  # „
    "\u201f": '"',  # ‟
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
    "\u2033": '"',  # ″
    "\u2010": "-",  # ‐
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # ‒
    "\u2013": "-",  # –
    "\u2014": "-",  # —
    "\u2015": "-",  # ―
    "\u2212": "-",  # minus sign
    "\u2026": "...",  # …
}


def is_gsm(text: str) -> bool:
    """Whether `text` travels in the GSM alphabet (no character outside it)."""
    return all(ch in BASIC or ch in EXTENSION for ch in text)


def length(text: str) -> int:
    """Return the characters `text` counts as an SMS: GSM, the extension ones twice; else
    UCS-2's UTF-16 units (an emoji is two)."""
    if is_gsm(text):
        return len(text) + sum(1 for ch in text if ch in EXTENSION)
    return len(text.encode("utf-16-le")) // 2


def parts(text: str) -> int:
    """Return how many SMS `text` takes (0 for none)."""
    if not text:
        return 0
    single, part = (SINGLE, PART) if is_gsm(text) else (UCS2_SINGLE, UCS2_PART)
    count = length(text)
    return 1 if count <= single else -(-count // part)


def plain(text: str) -> str:
    """Return `text` with each character outside the GSM alphabet written as its plain
    equivalent when it has one ("á" → "a", "Í" → "I", "’" → "'", "…" → "..."); GSM
    characters stay ("ñ", "é", "ü"), and so does what has no GSM equivalent (an emoji)."""
    if is_gsm(text):
        return text
    return "".join(ch if ch in BASIC or ch in EXTENSION else _plain_char(ch) for ch in text)


@functools.lru_cache(maxsize=4096)
def _plain_char(ch: str) -> str:
    typographic = _TYPOGRAPHIC.get(ch)
    if typographic is not None:
        return typographic
    stripped = "".join(
        part for part in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(part)
    )
    return stripped if stripped and is_gsm(stripped) else ch
