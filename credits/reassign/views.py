"""Reassign the open loans the list shows, filtered by one advisor, to another advisor."""

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from credits import filters, selectors
from credits.reassign import forms, services
from crm.reassign import views as reassign_views
from lib import confirmation

# As the customers' reassignment: a supervisor's work (an advisor edits loans but does
# not hand a portfolio over).
PERMISSIONS = ("credits.change_loan", "gestiones.reassign_gestion")


@require_http_methods(["GET", "POST"])
@permission_required(PERMISSIONS, raise_exception=True)
def loan_reassign(request: HttpRequest) -> HttpResponse:
    """Give every open loan the list shows, filtered by one advisor, to another: a page
    that says how many and whose (the confirmation), then the POST, each customer told on
    its timeline. The list's filters travel in the query string."""
    return reassign_views.reassign_page(
        request,
        filterset=filters.LoanFilter(request.GET, queryset=selectors.loan_list(request.user)),
        list_url=reverse("credits:loan_list"),
        missing=_("Filtre la lista por un asesor para reasignar sus créditos."),
        rows=services.open_loans,
        form_class=forms.ReassignLoansForm,
        move=lambda rows, from_advisor, to_advisor, _form: services.reassign_loans(
            loans=rows, from_advisor=from_advisor, to_advisor=to_advisor, actor=request.user
        ),
        say=_say_reassigned,
        template="credits/loan_reassign.html",
    )


def _say_reassigned(
    request: HttpRequest, *, moved: int, expected: int | None, from_label: str, to_label: str
) -> None:
    """Say how many loans changed hands, and when that is not what the page said."""
    confirmation.say_acted(
        request,
        done=moved,
        expected=expected,
        nothing=_(
            "No se reasignó ningún crédito: ninguno de los que muestra la lista seguía "
            "abierto y a cargo de %(from)s."
        )
        % {"from": from_label},
        said=ngettext(
            "%(n)s crédito de %(from)s reasignado a %(to)s.",
            "%(n)s créditos de %(from)s reasignados a %(to)s.",
            moved,
        )
        % {"n": moved, "from": from_label, "to": to_label},
    )
