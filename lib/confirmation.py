"""The confirmation step of a POST that deletes, voids or undoes: a page shows what will
happen, and only its own form, which sends CONFIRM_FIELD, acts."""

from collections.abc import Mapping

from django.contrib import messages
from django.http import HttpRequest
from django.utils.translation import ngettext

# The field a confirmation page's form sends, with CONFIRMED.
CONFIRM_FIELD = "confirm"
CONFIRMED = "yes"


def is_confirmed(data: Mapping) -> bool:
    """Say whether a POST comes from its confirmation page (not a first click)."""
    return data.get(CONFIRM_FIELD) == CONFIRMED


def shown_differs(expected: int | None, done: int) -> str:
    """The sentence a result message adds when the page that asked showed `expected` rows
    and `done` were acted on (the list changed meanwhile); "" when they agree."""
    if expected is None or expected == done:
        return ""
    return ngettext(
        "La página mostraba %(n)s: la lista cambió mientras tanto.",
        "La página mostraba %(n)s: la lista cambió mientras tanto.",
        expected,
    ) % {"n": expected}


def say_acted(
    request: HttpRequest, *, done: int, expected: int | None, nothing: str, said: str
) -> None:
    """Say `said` when `done` rows were acted on (adding `shown_differs` when the page had
    shown another number), or `nothing` as a warning when none were."""
    if not done:
        messages.warning(request, nothing)
        return
    if differs := shown_differs(expected, done):
        said += " " + differs
    messages.success(request, said)
