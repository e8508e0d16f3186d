"""Reassign the customers the list shows, filtered by one advisor, to another advisor."""

from collections.abc import Callable
from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods
from django_filters import FilterSet
from django_htmx.http import HttpResponseClientRedirect

from crm import filters, selectors
from crm.reassign import forms, services
from lib import confirmation, people

# Moving a whole portfolio is a supervisor's work: an advisor edits customers (the first
# permission) but does not reassign (the second, the workload's reassignment).
PERMISSIONS = ("crm.change_customer", "gestiones.reassign_gestion")


@require_http_methods(["GET", "POST"])
@permission_required(PERMISSIONS, raise_exception=True)
def customer_reassign(request: HttpRequest) -> HttpResponse:
    """Give every customer the list shows, filtered by one advisor, to another: a page
    that says how many and whose (the confirmation), then the POST, each customer with
    its timeline entry. The list's filters travel in the query string, so the customers
    moved are those the list showed, as they are at that moment."""
    return reassign_page(
        request,
        filterset=filters.CustomerFilter(
            request.GET, queryset=selectors.customers_visible_to(request.user)
        ),
        list_url=reverse("crm:customer_list"),
        missing=_("Filtre la lista por un asesor para reasignar sus clientes."),
        rows=lambda shown, advisor: shown.filter(advisor=advisor),
        form_class=partial(forms.ReassignCustomersForm, user=request.user),
        move=lambda rows, from_advisor, to_advisor, form: services.reassign_customers(
            customers=rows,
            from_advisor=from_advisor,
            to_advisor=to_advisor,
            actor=request.user,
            hooks=form.chosen_hooks(),
        ),
        say=_say_reassigned,
        template="crm/customer_reassign.html",
    )


def reassign_page(
    request: HttpRequest,
    *,
    filterset: FilterSet,
    list_url: str,
    missing: str,
    rows: Callable[[QuerySet, AbstractBaseUser], QuerySet],
    form_class: Callable[..., Form],
    move: Callable[[QuerySet, AbstractBaseUser, AbstractBaseUser, Form], int],
    say: Callable[..., None],
    template: str,
) -> HttpResponse:
    """A list's «Reasignar … a…»: the list's filters (`filterset`, from the query string)
    name one advisor, whose `rows` of what the list shows go to the form's `to_advisor`
    through `move`, and `say` tells how many. Without an advisor filter, back to the list
    with `missing`; a GET (or a form refused) renders `template`, the confirmation."""
    list_url = f"{list_url}?{request.GET.urlencode()}"
    from_advisor = filterset.form.cleaned_data.get("advisor") if filterset.is_valid() else None
    if from_advisor is None:
        messages.warning(request, missing)
        return HttpResponseClientRedirect(list_url) if request.htmx else redirect(list_url)
    from_label = filterset.form.fields["advisor"].label_from_instance(from_advisor)
    chosen = rows(filterset.qs, from_advisor)
    form = form_class(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        to_advisor = form.cleaned_data["to_advisor"]
        try:
            moved = move(chosen, from_advisor, to_advisor, form)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            say(
                request,
                moved=moved,
                expected=form.cleaned_data["expected"],
                from_label=from_label,
                to_label=people.display_name(to_advisor),
            )
            return redirect(list_url)
    return render(
        request,
        template,
        {
            "form": form,
            "count": chosen.count(),
            "from_label": from_label,
            "list_url": list_url,
            "action_url": request.get_full_path(),
        },
    )


def _say_reassigned(
    request: HttpRequest, *, moved: int, expected: int | None, from_label: str, to_label: str
) -> None:
    """Say how many customers changed hands, and when that is not what the page said."""
    confirmation.say_acted(
        request,
        done=moved,
        expected=expected,
        nothing=_(
            "No se reasignó ningún cliente: ninguno de los que muestra la lista seguía a "
            "cargo de %(from)s."
        )
        % {"from": from_label},
        said=ngettext(
            "%(n)s cliente de %(from)s reasignado a %(to)s.",
            "%(n)s clientes de %(from)s reasignados a %(to)s.",
            moved,
        )
        % {"n": moved, "from": from_label, "to": to_label},
    )
