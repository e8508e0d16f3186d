"""Text normalization for the customer search: lower case, no accents, digits joined."""

import re
import unicodedata

from django.db.models import Q


def normalize(text: str) -> str:
    """Return `text` lower-cased and without accents ("Huamán" → "huaman")."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


def terms(text: str) -> list[str]:
    """Split what a user typed into search terms.

    A phone or document typed with spaces, dashes or a leading + ("+51 987-654 321") is
    one term of digits; anything else is split on spaces.
    """
    text = normalize(text)
    if not text:
        return []
    if re.fullmatch(r"[\d\s\-+().]+", text):
        digits = re.sub(r"\D", "", text)
        return [digits] if digits else []
    return text.split()


def matches_all(text: str, field: str = "search_text") -> Q:
    """Return the condition "every term of `text` is in `field`" (an empty Q for no terms).

    `field` holds text normalized like `normalize` does: the models' `search_text`.
    """
    condition = Q()
    for term in terms(text):
        condition &= Q(**{f"{field}__contains": term})
    return condition
