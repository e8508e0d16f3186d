"""What every collections screen shares, importing no services (so the strategies' forms,
which the services reach through the events settings, can use it too): the confirmation
step of a POST, and a list's search form."""

from collections.abc import Iterable
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from lib.confirmation import CONFIRM_FIELD, is_confirmed

__all__ = ["CONFIRM_FIELD", "confirm", "is_confirmed"]

# The most a list's search takes.
SEARCH_CHARS = 100


def confirm(
    request: HttpRequest,
    *,
    title: str,
    lines: Iterable[str],
    button: str,
    cancel_url: str,
    is_danger: bool = True,
) -> HttpResponse:
    """Show what the POST is about to do, with a form that sends it again, confirmed."""
    hidden = [
        (name, value)
        for name in request.POST
        if name not in ("csrfmiddlewaretoken", CONFIRM_FIELD)
        for value in request.POST.getlist(name)
    ]
    return render(
        request,
        "collections_app/confirm.html",
        {
            "title": title,
            "lines": list(lines),
            "button": button,
            "is_danger": is_danger,
            "action": request.path,
            "hidden": hidden,
            "confirm_field": CONFIRM_FIELD,
            "cancel_url": cancel_url,
        },
    )


class ListFilterForm(forms.Form):
    """A list's query string: a search, and the list's own filters."""

    q = forms.CharField(
        label=_("Buscar"),
        required=False,
        max_length=SEARCH_CHARS,
        error_messages={
            "max_length": _("Escriba como máximo %(limit_value)d caracteres para buscar.")
        },
    )

    def filters(self) -> dict[str, Any] | None:
        """Return the filters the read takes; None when the query string is not valid."""
        if not self.is_valid():
            return None
        return dict(self.cleaned_data)
