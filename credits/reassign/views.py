"""Reassign the open loans the list shows, filtered by one advisor, to another advisor."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from credits import filters, selectors
from credits.reassign import forms, services
from lib import confirmation, people

# As the customers' reassignment: a supervisor's work (an advisor edits loans but does
# not hand a portfolio over).
PERMISSIONS = ("credits.change_loan", "gestiones.reassign_gestion")


@require_http_methods(["GET", "POST"])
@permission_required(PERMISSIONS, raise_exception=True)
def loan_reassign(request: HttpRequest) -> HttpResponse:
    """Give every open loan the list shows, filtered by one advisor, to another: a page
    that says how many and whose (the confirmation), then the POST, each customer told on
    its timeline. The list's filters travel in the query string."""
    filterset = filters.LoanFilter(request.GET, queryset=selectors.loan_list(request.user))
    list_url = f"{reverse('credits:loan_list')}?{request.GET.urlencode()}"
    from_advisor = filterset.form.cleaned_data.get("advisor") if filterset.is_valid() else None
    if from_advisor is None:
        messages.warning(request, _("Filtre la lista por un asesor para reasignar sus créditos."))
        return HttpResponseClientRedirect(list_url) if request.htmx else redirect(list_url)
    from_label = filterset.form.fields["advisor"].label_from_instance(from_advisor)
    rows = services.open_loans(filterset.qs, from_advisor)
    form = forms.ReassignLoansForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        to_advisor = form.cleaned_data["to_advisor"]
        try:
            moved = services.reassign_loans(
                loans=rows, from_advisor=from_advisor, to_advisor=to_advisor, actor=request.user
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            _say_reassigned(
                request,
                moved=moved,
                expected=form.cleaned_data["expected"],
                from_label=from_label,
                to_label=people.display_name(to_advisor),
            )
            return redirect(list_url)
    return render(
        request,
        "credits/loan_reassign.html",
        {
            "form": form,
            "count": rows.count(),
            "from_label": from_label,
            "list_url": list_url,
            "action_url": request.get_full_path(),
        },
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
