"""The confirmation step of a POST that deletes, voids or undoes: a page shows what will
happen, and only its own form, which sends CONFIRM_FIELD, acts."""

from collections.abc import Mapping

# The field a confirmation page's form sends, with CONFIRMED.
CONFIRM_FIELD = "confirm"
CONFIRMED = "yes"


def is_confirmed(data: Mapping) -> bool:
    """Say whether a POST comes from its confirmation page (not a first click)."""
    return data.get(CONFIRM_FIELD) == CONFIRMED
