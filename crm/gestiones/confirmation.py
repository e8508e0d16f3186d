"""The confirmation page of a gestiones step that cannot be undone (a follow-up that closes
the gestión, discarding a credit lead) or that a supervisor checks first (correcting a
gestión's state): the first POST shows it, with what was typed kept in hidden fields; only
its own form, which adds `lib.confirmation.CONFIRM_FIELD`, acts."""

from collections.abc import Iterable

from django.forms import BoundField
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from lib.confirmation import CONFIRM_FIELD

# What a confirmation page never sends again as typed: Django's token (the page has its
# own), the confirm field (only its button's form adds it), and "reload".
NOT_CARRIED = ("csrfmiddlewaretoken", CONFIRM_FIELD, "reload")


def carried(data: QueryDict, *, leave_out: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Return what was posted as (name, value) pairs for hidden fields, every value of a
    multiple field included, except `NOT_CARRIED` and `leave_out`."""
    skipped = {*NOT_CARRIED, *leave_out}
    return [
        (name, value) for name, values in data.lists() if name not in skipped for value in values
    ]


def confirmation_page(
    request: HttpRequest,
    *,
    title: str,
    subtitle: str,
    step: str,
    breadcrumb: list[tuple[str, str]],
    lines: list[str],
    warning: str,
    button: str,
    hidden: list[tuple[str, str]],
    figures: list[tuple[str, str]] = (),
    fields: Iterable[BoundField] = (),
    cancel_url: str = "",
    reload_label: str = "",
    danger: bool = True,
) -> HttpResponse:
    """Render templates/gestiones/confirm_step.html: its form posts to the same address."""
    return render(
        request,
        "gestiones/confirm_step.html",
        {
            "title": title,
            "subtitle": subtitle,
            "step": step,
            "breadcrumb": breadcrumb,
            "figures": list(figures),
            "lines": lines,
            "warning": warning,
            "button": button,
            "hidden": hidden,
            "fields": list(fields),
            "cancel_url": cancel_url,
            "reload_label": reload_label,
            "danger": danger,
            "confirm_field": CONFIRM_FIELD,
            "action": request.path,
        },
    )
