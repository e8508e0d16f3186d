from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from crm import filters, forms, merge, selectors, services, tables, timeline
from crm import messages as customer_messages
from crm import unsubscribe as unsubscribe_links
from crm.models import Appointment, Customer, Interaction
from lib import lists, ratelimit
from lib.confirmation import CONFIRM_FIELD, is_confirmed

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
    customer = selectors.customer_or_merged_for(request.user, pk)
    if customer.merged_into_id is not None:
        # A merged record is history: nothing edits it, its data is the kept one's.
        return _to_merged_into(request, customer)
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
    if customer.merged_into_id is not None:
        return _to_merged_into(request, customer)
    return render(request, "crm/customer_detail.html", customer_page_context(request, customer))


def customer_page_context(
    request: HttpRequest,
    customer: Customer,
    note_form: forms.QuickNoteForm | None = None,
    timeline_form: forms.TimelineFilterForm | None = None,
) -> dict:
    """Return what the 360 page shows, with the quick form as given (or a blank one) and
    the timeline as its filters ask (or from the newest entry)."""
    if timeline_form is None:
        timeline_form = forms.TimelineFilterForm({})
        timeline_form.is_valid()
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
        **timeline_context(customer, timeline_form),
        "note_form": note_form or forms.QuickNoteForm(),
    }


@require_GET
@permission_required("crm.view_customer", raise_exception=True)
@vary_on_headers("HX-Request")
def customer_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """Show the timeline as its filters ask, or its next page: to htmx, the part that
    changes (the timeline's panel, or the next entries); without JavaScript, the whole
    360 page with them."""
    form = forms.TimelineFilterForm(request.GET)
    form.is_valid()
    # The cursor, and the filters beside it, come from a «Cargar más» link, never typed.
    if form.has_bad_cursor() or (form.cursor() and form.has_bad_filters()):
        return HttpResponse(_("Parámetros de la línea de tiempo no válidos."), status=400)
    if not request.htmx:
        customer = selectors.customer_page(request.user, pk)
        if customer.merged_into_id is not None:
            return _to_merged_into(request, customer)
        context = customer_page_context(request, customer, timeline_form=form)
        return render(request, "crm/customer_detail.html", context)
    customer = selectors.customer_for(request.user, pk)
    if form.cursor():
        context = timeline_context(customer, form, panel=False)
        return render(request, "crm/partials/timeline_page.html", context)
    return render(request, "crm/partials/timeline.html", timeline_context(customer, form))


def timeline_context(
    customer: Customer, form: forms.TimelineFilterForm, *, panel: bool = True
) -> dict:
    """Return what the timeline shows for `form` (validated): one page of the entries its
    filters keep and the link to the next; with `panel`, also the filters' row."""
    url = reverse("crm:customer_timeline", args=[customer.pk])
    items, cursor = [], None
    if not form.has_bad_filters():
        items, cursor = selectors.timeline(customer, before=form.cursor(), **form.filters())
    context = {
        "customer": customer,
        "items": items,
        "timeline_items": timeline_items(items),
        "cursor": cursor,
        "more_url": _with_query(url, form.query(), _cursor_query(cursor)),
    }
    if not panel:
        return context
    counts = selectors.timeline_counts(customer)
    searched = form.query(kind=False)
    return {
        **context,
        "timeline_form": form,
        "kind": form.cleaned_data.get("kind") or "",
        "all_url": _with_query(url, searched),
        "kinds": [
            (value, label, counts.get(value, 0), _with_query(url, searched, {"kind": value}))
            for value, label in Interaction.Kind.choices
        ],
        "total": sum(counts.values()),
        "is_filtered": bool(form.query()) or form.has_bad_filters(),
        "no_match": "" if items or form.has_bad_filters() else form.no_match_message(),
        # A later page shown as a whole page (no JavaScript): a way back to the newest.
        "newest_url": _with_query(url, form.query()) if form.cursor() else "",
        "clear_url": url,
    }


def _cursor_query(cursor: tuple[datetime, int] | None) -> dict[str, str]:
    if cursor is None:
        return {}
    at, pk = cursor
    return {"before_at": at.isoformat(), "before_id": str(pk)}


def _with_query(url: str, *parts: dict[str, str]) -> str:
    query = urlencode({name: value for part in parts for name, value in part.items()})
    return f"{url}?{query}" if query else url


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
    customer = selectors.customer_or_merged_for(request.user, pk)
    if customer.merged_into_id is not None:
        return _note_to_merged_into(request, customer)
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
    except ValidationError as exc:
        if exc.code != "customer_merged":
            raise
        # Merged after this request read it: to the kept record, as above.
        customer.refresh_from_db(fields=["merged_into", "merged_at"])
        return _note_to_merged_into(request, customer)
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


# --- Unsubscribe ------------------------------------------------------------------------------

# A person clicks once or twice; a mail client posts once. More is someone trying links.
UNSUBSCRIBE_RATE_LIMIT = "30/h"


# Public: the signed link is the secret (crm.unsubscribe). CSRF-exempt because a mail
# client's one-click POST (RFC 8058) carries no token; it can only stop messages to the
# customer the link was sent to.
@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, firma: str) -> HttpResponse:
    """Ask, then stop our messages to the customer of the e-mail this link came in."""
    message = unsubscribe_links.message_for(firma)
    if message is None:
        raise Http404
    if not ratelimit.allow(request, scope="unsubscribe", rate=UNSUBSCRIBE_RATE_LIMIT):
        return render(request, "crm/unsubscribe.html", {"state": "too_many"}, status=429)
    state = "already" if message.customer.has_opted_out else "ask"
    if request.method == "POST":
        customer_messages.opt_out_by_link(message)
        state = "done"
    return render(
        request, "crm/unsubscribe.html", {"state": state, "company": settings.COMPANY_NAME}
    )


# --- Merging two records of the same customer (crm.merge) ------------------------------------

MERGE_CANDIDATES = 20


def _to_merged_into(request: HttpRequest, customer: Customer) -> HttpResponse:
    """Send the 360 page of a merged record to the record it was merged into."""
    messages.info(
        request,
        _(
            "%(name)s fue fusionado en otro registro del mismo cliente el %(at)s: "
            "se muestra el registro que quedó."
        )
        % {
            "name": customer.full_name,
            "at": timezone.localtime(customer.merged_at).strftime("%d/%m/%Y %H:%M")
            if customer.merged_at
            else "—",
        },
    )
    return redirect("crm:customer_detail", pk=customer.merged_into_id)


def _note_to_merged_into(request: HttpRequest, customer: Customer) -> HttpResponse:
    """No note on a merged record: the tab goes to the kept one (an htmx request would
    swap that whole page into the note form)."""
    sent = _to_merged_into(request, customer)
    return HttpResponseClientRedirect(sent.url) if request.htmx else sent


@require_GET
@permission_required(["crm.view_customer", "crm.merge_customer"], raise_exception=True)
def customer_merge_pick(request: HttpRequest, pk: int) -> HttpResponse:
    """Find the other record of the same customer, by document or name."""
    customer = selectors.customer_or_merged_for(request.user, pk)
    if customer.merged_into_id is not None:
        return _to_merged_into(request, customer)
    query = (request.GET.get("q") or "").strip()[:100]
    candidates = []
    if query:
        candidates = list(
            selectors.search_customers(selectors.customer_list(request.user), query)
            .exclude(pk=customer.pk)
            .order_by("last_name", "first_name", "pk")[:MERGE_CANDIDATES]
        )
    return render(
        request,
        "crm/merge_pick.html",
        {"customer": customer, "query": query, "candidates": candidates, "limit": MERGE_CANDIDATES},
    )


@require_http_methods(["GET", "POST"])
@permission_required(["crm.view_customer", "crm.merge_customer"], raise_exception=True)
def customer_merge(request: HttpRequest, pk: int, other_pk: int) -> HttpResponse:
    """Compare two records side by side, choose what stays, and merge `other_pk` into `pk`
    once the person confirms (and confirms any change of identity with its key)."""
    keep = selectors.customer_for(request.user, pk)
    drop = selectors.customer_for(request.user, other_pk)
    confirmed = request.method == "POST" and is_confirmed(request.POST)
    form = merge.MergeForm(request.POST if confirmed else None, keep=keep, drop=drop)
    if confirmed and form.is_valid():
        try:
            merged = merge.merge_customers(
                keep=keep,
                drop=drop,
                choices=form.choices(),
                actor=request.user,
                identity_key=form.confirms_identity(),
                seen=form.cleaned_data["seen"],
            )
        except ValidationError as exc:
            # The page shows both records as they are now, and confirms what it shows.
            keep.refresh_from_db()
            drop.refresh_from_db()
            data = request.POST.copy()
            data["seen"] = merge.fingerprint(keep, drop)
            form = merge.MergeForm(data, keep=keep, drop=drop)
            form.is_valid()
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _(
                    "%(drop)s se fusionó en %(keep)s: todo lo de ese registro está ahora "
                    "aquí. Traído de ese registro: %(moved)s."
                )
                % {"drop": drop.full_name, "keep": keep.full_name, "moved": merged.moved},
            )
            return redirect("crm:customer_detail", pk=keep.pk)
    context = {
        "keep": keep,
        "drop": drop,
        "form": form,
        "moves": merge.moves(drop),
        "blockers": merge.blockers(keep, drop),
        "differences": merge.differences(keep, drop),
        "confirm_field": CONFIRM_FIELD,
    }
    return render(request, "crm/merge_compare.html", context)
