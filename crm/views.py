from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm import filters, forms, selectors, services, tables, timeline
from crm.models import Appointment, Customer, Interaction
from lib import lists

AGENDA_PAGE_SIZE = 25


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Send each role to its work: the customer list, or the call queue for its agents."""
    if request.user.has_perm("crm.view_customer"):
        return redirect("crm:customer_list")
    if request.user.has_perm("callcenter.view_lead"):
        return redirect("callcenter:queue")
    return render(request, "crm/home.html")


@require_GET
@permission_required("crm.view_customer", raise_exception=True)
def customer_list(request: HttpRequest) -> HttpResponse:
    return lists.render_list(
        request,
        filterset=filters.CustomerFilter(
            request.GET, queryset=selectors.customer_list(request.user)
        ),
        table_class=tables.CustomerTable,
        page_template="crm/customer_list.html",
        export_name="clientes",
        results_template="crm/partials/customer_results.html",
        create_link=(reverse("crm:customer_create"), _("Registrar el primero"))
        if request.user.has_perm("crm.add_customer")
        else None,
    )


@permission_required("crm.add_customer", raise_exception=True)
def customer_create(request: HttpRequest) -> HttpResponse:
    form = forms.CustomerForm(
        request.POST or None,
        initial=forms.CustomerForm.initial_from(request.GET),
        user=request.user,
    )
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.create_customer(
                actor=request.user, data=form.service_data(), tags=list(form.cleaned_data["tags"])
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request, _("Cliente %(name)s registrado.") % {"name": customer.full_name}
            )
            return redirect(customer)
    return render(request, "crm/customer_form.html", {"form": form, "customer": None})


@permission_required("crm.change_customer", raise_exception=True)
def customer_update(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_for(request.user, pk)
    form = forms.CustomerForm(request.POST or None, instance=customer, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_customer(
                customer=customer,
                actor=request.user,
                data=form.service_data(),
                tags=list(form.cleaned_data["tags"]),
                confirm_identity=form.confirms_identity(),
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Datos del cliente actualizados."))
            return redirect(customer)
    return render(request, "crm/customer_form.html", {"form": form, "customer": customer})


@require_GET
@permission_required("crm.view_customer", raise_exception=True)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_page(request.user, pk)
    return render(request, "crm/customer_detail.html", customer_page_context(request, customer))


def customer_page_context(
    request: HttpRequest, customer: Customer, note_form: forms.QuickNoteForm | None = None
) -> dict:
    """Return what the 360 page shows, with the quick form as given (or a blank one)."""
    items, cursor = selectors.timeline(customer)
    counts = selectors.timeline_counts(customer)
    upcoming, recent = (
        selectors.customer_appointments(customer)
        if request.user.has_perm("crm.view_appointment")
        else (None, None)
    )
    return {
        "customer": customer,
        "tags": selectors.customer_tags(customer),
        "upcoming_appointments": upcoming,
        "recent_appointments": recent,
        "items": items,
        "timeline_items": timeline_items(items),
        "cursor": cursor,
        "kind": "",
        "kinds": [(k, label, counts.get(k, 0)) for k, label in Interaction.Kind.choices],
        "total": sum(counts.values()),
        "note_form": note_form or forms.QuickNoteForm(),
    }


@require_GET
@permission_required("crm.view_customer", raise_exception=True)
def customer_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """Return one page of the timeline (the next as you scroll, or a kind filter's first)."""
    customer = selectors.customer_for(request.user, pk)
    form = forms.TimelineFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(_("Parámetros de la línea de tiempo no válidos."), status=400)
    kind = form.cleaned_data["kind"]
    items, cursor = selectors.timeline(customer, before=form.cursor(), kind=kind)
    template = "crm/partials/timeline_page.html" if form.cursor() else "crm/partials/timeline.html"
    return render(
        request,
        template,
        {
            "customer": customer,
            "items": items,
            "timeline_items": timeline_items(items),
            "cursor": cursor,
            "kind": kind,
        },
    )


def timeline_items(items: list[Interaction]) -> SafeString:
    """Write the timeline's entries as HTML, with a Jinja2 template (crm/timeline_items.jinja).

    Included once an entry, the Django template spent ~3 ms on a page of 20 (two date
    formats, the filters and the lookups of each entry, each through several layers);
    Jinja2 writes the same HTML in a fraction of that (config/jinja2.py says why). The
    sentence and details are crm.timeline's, their line breaks as <br> (escaped first, as
    the `linebreaksbr` filter does in a template).
    """
    # Each label translated once a page, not once an entry (each lookup ~5 µs).
    kinds = dict(Interaction.Kind.choices)
    directions = dict(Interaction.Direction.choices)
    entries = []
    for item in items:
        entry = timeline.entry(item)
        details = [(label, linebreaksbr(value)) for label, value in entry.details]
        entries.append((item, linebreaksbr(entry.sentence), details))
    context = {
        "entries": entries,
        "kinds": {kind: str(kinds.get(kind, kind)) for kind in {item.kind for item in items}},
        "directions": {d: str(directions.get(d, d)) for d in {item.direction for item in items}},
    }
    # Jinja2 escaped every value it wrote: the page's Django template writes it as it is.
    return mark_safe(render_to_string("crm/timeline_items.jinja", context))  # noqa: S308


@require_POST
@permission_required("crm.add_interaction", raise_exception=True)
def customer_add_note(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_for(request.user, pk)
    form = forms.QuickNoteForm(request.POST)
    if not form.is_valid():
        if not request.htmx:
            # Sent without JavaScript: the whole page again, with the form's mistakes.
            customer = selectors.customer_page(request.user, pk)
            return render(
                request, "crm/customer_detail.html", customer_page_context(request, customer, form)
            )
        # htmx 2 swaps only 2xx answers: the invalid form comes back with 200.
        return render(
            request, "crm/partials/note_form.html", {"customer": customer, "note_form": form}
        )
    asked_at = timezone.now()
    try:
        interaction = services.add_note(
            customer=customer,
            kind=form.cleaned_data["kind"],
            summary=form.cleaned_data["summary"],
            direction=form.direction(),
            actor=request.user,
        )
    except Customer.DoesNotExist:
        raise Http404(_("El cliente ya no existe.")) from None
    # The same note sent again (the back button and send): the one saved a moment ago.
    repeated = interaction.created_at < asked_at
    if not request.htmx:
        if repeated:
            messages.info(request, _("Esa nota ya se guardó hace un momento: no se agregó otra."))
        else:
            messages.success(request, form.saved_message(len(interaction.text)))
        return redirect(customer)
    return render(
        request,
        "crm/partials/note_added.html",
        {
            "customer": customer,
            "note_form": forms.QuickNoteForm(),
            "timeline_items": "" if repeated else timeline_items([interaction]),
            "saved_chars": 0 if repeated else len(interaction.text),
            "note_repeated": repeated,
        },
    )


@require_GET
@permission_required("crm.view_appointment", raise_exception=True)
def agenda(request: HttpRequest) -> HttpResponse:
    """Show the appointments booked through Cal.com, by day: one's own, or everyone's."""
    form = forms.AgendaFilterForm(request.GET, user=request.user)
    if form.is_valid():
        appointments = selectors.agenda(request.user, **form.filters())
    else:
        appointments = Appointment.objects.none()
    page = Paginator(appointments, AGENDA_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return lists.render_page_or_fragment(
        request,
        page_template="crm/agenda.html",
        fragment_template="crm/partials/agenda_results.html",
        context=context,
    )
