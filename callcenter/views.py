"""The call-center screens: the queue, one lead's call with its order, annulling an
order confirmed by mistake, and putting back in the queue a lead an outcome took out."""

import hashlib
import re
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from callcenter import filters, forms, selectors, tables
from callcenter.models import CallRecord, CatalogProduct, Lead, Order
from callcenter.services import calls as call_services
from callcenter.services import leads as lead_services
from callcenter.services import orders as order_services
from callcenter.services import requeue as requeue_services
from crm import display
from integrations import kommo
from integrations.models import OutboxMessage
from lib import lists, people
from lib.confirmation import CONFIRM_FIELD, is_confirmed

# How far the queue counts its leads (lib.lists.CappedPaginator).
QUEUE_COUNT_CAP = 2_000
# How often the queue refreshes itself, in seconds (HTMX polling of the results).
QUEUE_REFRESH_SECONDS = 5
# The results wrapper: the element that polls, so a request it triggers is a refresh.
QUEUE_RESULTS_ID = "queue-results-wrapper"
# What the poll's own URL carries; the filters come from the form (hx-include) each time.
QUEUE_POLL_PARAMS = ("sort", "page")
# Where the results fragment says what it shows (queue_results.html's hx-vals «shown»), and
# where the fingerprinted part ends. The CSRF tokens differ on every render: left out.
QUEUE_SHOWN_FIELD = "shown"
QUEUE_SHOWN_PLACEHOLDER = b"__SHOWN__"
QUEUE_RESULTS_END = b"<!--/queue-results-wrapper-->"
_CSRF_VALUE = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*')


@require_GET
@permission_required("callcenter.view_lead", raise_exception=True)
def queue(request: HttpRequest) -> HttpResponse:
    # What the poll says it shows is not a filter: the sort and page links (built from the
    # query string) would carry it, and a click would put it in the address bar.
    # Nor are the empty filters the poll sends (hx-include sends the whole form), and the
    # keys go in one order: the links are then the same whoever asked (the page, a sort
    # click, a poll), and an unchanged list is seen as unchanged from the first poll.
    shown = request.GET.get(QUEUE_SHOWN_FIELD, "")
    query = QueryDict(mutable=True)
    for key in sorted(request.GET):
        values = request.GET.getlist(key)
        if key != QUEUE_SHOWN_FIELD and any(values):
            query.setlist(key, values)
    request.GET = query
    cutoff = selectors.queue_page_settings().hold_cutoff()
    response = lists.render_list(
        request,
        filterset=filters.LeadQueueFilter(
            request.GET, queryset=selectors.queue(request.user, cutoff=cutoff)
        ),
        table_class=tables.LeadQueueTable,
        # Every agent's page refreshes every few seconds: counting 10,001 waiting leads
        # cost ~1.5 ms each time; past 2,000 the queue says "más de 2,000".
        count_cap=QUEUE_COUNT_CAP,
        page_template="callcenter/queue.html",
        results_template="callcenter/partials/queue_results.html",
        extra_context={
            "refresh_seconds": QUEUE_REFRESH_SECONDS,
            "poll_url": _queue_poll_url(request),
            # Only the page's heading shows it: the refresh every few seconds (the
            # fragment) never reads it, so it is looked up only when rendered.
            "my_lead": SimpleLazyObject(
                lambda: selectors.lead_held_by(request.user, cutoff=cutoff)
            ),
            # Likewise only on the page: what is missing before any lead can enter.
            "queue_setup": SimpleLazyObject(lambda: _queue_setup(request)),
        },
    )
    if request.htmx.trigger == QUEUE_RESULTS_ID:
        # A poll is not a navigation: it leaves the address bar and the history alone.
        response.headers.pop("HX-Push-Url", None)
    return _unchanged_or_marked(request, response, shown)


def _unchanged_or_marked(request: HttpRequest, response: HttpResponse, shown: str) -> HttpResponse:
    """Return 204 to a poll whose results are the ones it already shows, else the response
    with the fingerprint of its results in place of the placeholder (sent back by the next
    poll). A swap of the same rows put a screen reader back at the list's top every 5 s."""
    content = response.content
    start = content.find(QUEUE_SHOWN_PLACEHOLDER)
    end = content.find(QUEUE_RESULTS_END, start)
    if response.status_code != 200 or start < 0 or end < 0:
        return response
    now_shown = hashlib.blake2b(
        _CSRF_VALUE.sub(rb"\1", content[start:end]), digest_size=8
    ).hexdigest()
    if request.htmx.trigger == QUEUE_RESULTS_ID and shown == now_shown:
        return HttpResponse(status=204)
    response.content = content.replace(QUEUE_SHOWN_PLACEHOLDER, now_shown.encode(), 1)
    return response


def _queue_setup(request: HttpRequest) -> dict:
    """Return what the queue page says while no «Para Llamar» stage is set (nothing can
    enter the queue then): to whoever may set it, where, and how many leads wait for it."""
    config = selectors.queue_page_settings()
    if config.queue_status_id is not None:
        return {}
    setup: dict = {"is_missing": True}
    if request.user.is_staff and request.user.has_perm("callcenter.change_queuesettings"):
        waiting, more = lead_services.waiting_leads_count()
        setup.update(
            can_configure=True,
            url=reverse("admin:callcenter_queuesettings_change", args=[config.pk]),
            waiting=waiting,
            more_waiting=more,
        )
    return setup


@require_GET
@permission_required("callcenter.view_lead", raise_exception=True)
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_for(request.user, pk)
    return render(request, "callcenter/lead_detail.html", _call_context(request, lead))


@require_POST
@permission_required("callcenter.take_lead", raise_exception=True)
def lead_take(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_for(request.user, pk)
    try:
        call_services.take_lead(lead=lead, agent=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("callcenter:queue")
    return redirect(lead)


@require_POST
@permission_required("callcenter.view_lead", raise_exception=True)
def lead_release(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_for(request.user, pk)
    try:
        holder = call_services.release_lead(lead=lead, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("callcenter:queue")
    _clear_cart(request, lead)
    if holder is None:
        # A page left open past the hold's end: say so, not that something was released.
        messages.info(request, _("Este lead ya estaba libre; no había nada que liberar."))
    elif holder.pk == request.user.pk:
        messages.success(request, _("Lead liberado: vuelve a estar libre en la cola."))
    else:
        messages.success(
            request,
            _("Lead liberado: lo atendía %(holder)s; vuelve a estar libre en la cola.")
            % {"holder": people.display_name(holder)},
        )
    return redirect("callcenter:queue")


@require_POST
@permission_required("callcenter.take_lead", raise_exception=True)
def lead_contact(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_for(request.user, pk)
    form = forms.ContactForm.for_lead(lead, request.POST)
    if form.is_valid():
        try:
            lead = call_services.confirm_contact_data(
                lead=lead,
                agent=request.user,
                data=form.cleaned_data,
                confirm_identity=form.confirms_identity(),
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            if lead.customer_id is None:
                messages.warning(
                    request,
                    _(
                        "Ese documento ya es de un cliente registrado. Compare los datos y "
                        "confirme si es la misma persona."
                    ),
                )
            else:
                messages.success(request, _("Datos del cliente confirmados."))
            return redirect(lead)
    context = _call_context(request, lead)
    context["contact_form"] = form
    return render(request, "callcenter/lead_detail.html", context)


@require_POST
@permission_required("callcenter.take_lead", raise_exception=True)
def lead_match_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide_match(
        request,
        pk,
        call_services.confirm_customer_match,
        missing=_("No se indicó el cliente a confirmar."),
        done=_("Cliente confirmado: el lead queda vinculado a su ficha en el CRM."),
    )


@require_POST
@permission_required("callcenter.take_lead", raise_exception=True)
def lead_match_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide_match(
        request,
        pk,
        call_services.reject_customer_match,
        missing=_("No se indicó el cliente a descartar."),
        done=_("Coincidencia descartada: confirme los datos de esta persona para registrarla."),
    )


def _decide_match(request: HttpRequest, pk: int, decide, *, missing: str, done: str):
    """Run the agent's decision on the customer a lead suggests; say what became of it."""
    lead = selectors.lead_for(request.user, pk)
    form = forms.CustomerMatchForm(request.POST)
    if not form.is_valid():
        messages.error(request, missing)
        return redirect(lead)
    try:
        decide(lead=lead, agent=request.user, customer_id=form.cleaned_data["customer"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect(lead)


@require_GET
@permission_required("callcenter.take_lead", raise_exception=True)
@vary_on_headers("HX-Request")
def catalog(request: HttpRequest, pk: int) -> HttpResponse:
    """Return the catalog search results with live stock: the fragment for the call page's
    search box, the call page with them for a search without JavaScript (or a new tab)."""
    lead = selectors.lead_for(request.user, pk)
    # A NUL cannot reach PostgreSQL (psycopg refuses the parameter: a 500).
    text = request.GET.get("q", "").replace("\x00", "")[:100]
    found = {"products": selectors.catalog_search(text), "q": text}
    if request.htmx:
        return render(request, "callcenter/partials/catalog_results.html", {"lead": lead, **found})
    return render(request, "callcenter/lead_detail.html", _call_context(request, lead) | found)


@require_POST
@permission_required("callcenter.take_lead", raise_exception=True)
def cart_add(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_for(request.user, pk)
    try:
        call_services.check_lead_held(
            lead=lead, agent=request.user, action=_("agregar productos al pedido")
        )
    except ValidationError as exc:
        # A page left open after the lead went to someone else (or out of the queue): its
        # cart can no longer become an order, and the page, reloaded, says who has the lead.
        _clear_cart(request, lead)
        messages.error(request, " ".join(exc.messages))
        if request.htmx:
            return HttpResponseClientRedirect(lead.get_absolute_url())
        return redirect(lead)
    form = forms.CartAddForm(request.POST)
    error = ""
    if form.is_valid():
        product = selectors.catalog_products([form.cleaned_data["product"]]).get(
            form.cleaned_data["product"]
        )
        cart = _cart(request, lead)
        line = cart.get(str(form.cleaned_data["product"]), {})
        wanted = line.get("quantity", 0) + form.cleaned_data["quantity"]
        if product is None or not product.is_active:
            error = _("Ese producto ya no está en el catálogo.")
        elif wanted > product.stock:
            error = ngettext(
                "Solo hay %(stock)s unidad de %(name)s; el pedido llevaría %(wanted)s.",
                "Solo hay %(stock)s unidades de %(name)s; el pedido llevaría %(wanted)s.",
                product.stock,
            ) % {
                "stock": display.whole(product.stock),
                "name": product.name,
                "wanted": display.whole(wanted),
            }
        elif wanted > call_services.MAX_LINE_QUANTITY:
            error = ngettext(
                "Máximo %(max)s unidad por producto.",
                "Máximo %(max)s unidades por producto.",
                call_services.MAX_LINE_QUANTITY,
            ) % {"max": call_services.MAX_LINE_QUANTITY}
        elif other := _other_currency(cart, product):
            # The order would be refused, and the cart's total added soles to dollars.
            error = _(
                "El pedido ya lleva productos en %(other)s y %(name)s está en %(currency)s: "
                "un pedido lleva productos de una sola moneda."
            ) % {
                "other": display.currency_symbol(other),
                "name": product.name,
                "currency": display.currency_symbol(product.currency),
            }
        else:
            # The price the cart shows from now on, and the one the order is confirmed at
            # (a line already in the cart keeps the price the person was told first).
            cart[str(product.pk)] = {
                "quantity": wanted,
                "price": line.get("price", str(product.price)),
                "currency": line.get("currency", product.currency),
            }
            _save_cart(request, lead, cart)
    else:
        error = " ".join(m for errors in form.errors.values() for m in errors)
    # The catalog row that was tapped answers too (the cart may be screens away): a valid
    # product id even when the quantity is not (a tampered id has no row).
    row_id = form.cleaned_data.get("product")
    if row_id is None:
        return _cart_response(request, lead, error=error)
    in_cart = _cart(request, lead).get(str(row_id), {}).get("quantity", 0)
    return _cart_response(
        request, lead, error=error, row={"id": row_id, "error": error, "in_cart": in_cart}
    )


@require_POST
@permission_required("callcenter.take_lead", raise_exception=True)
def cart_remove(request: HttpRequest, pk: int, product_id: int) -> HttpResponse:
    lead = selectors.lead_for(request.user, pk)
    cart = _cart(request, lead)
    cart.pop(str(product_id), None)
    _save_cart(request, lead, cart)
    return _cart_response(request, lead)


@require_POST
@permission_required("callcenter.add_order", raise_exception=True)
def order_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_for(request.user, pk)
    form = forms.OrderForm(request.POST)
    cart = _cart(request, lead)
    lines = [
        call_services.CartLine(
            product_id=int(product_id),
            quantity=line["quantity"],
            unit_price=Decimal(line["price"]) if "price" in line else None,
            currency=line.get("currency", ""),
        )
        for product_id, line in cart.items()
    ]
    if form.is_valid():
        try:
            order = call_services.confirm_order(
                lead=lead, agent=request.user, lines=lines, notes=form.cleaned_data["notes"]
            )
        except ValidationError as exc:
            if isinstance(exc, call_services.PriceChanged):
                # The refusal named the new prices: the cart shows them now, and confirmed
                # again (the agent told the person) the order goes through at them.
                for product_id, (price, currency) in exc.prices.items():
                    cart[str(product_id)].update(price=str(price), currency=currency)
                _save_cart(request, lead, cart)
            messages.error(request, " ".join(exc.messages))
            return redirect(lead)
        _clear_cart(request, lead)
        messages.success(
            request,
            _("Pedido %(order)s confirmado por %(total)s.")
            % {"order": order.pk, "total": display.money_text(order.total, order.currency)},
        )
        _report_kommo_update(request, order.call)
        return redirect("callcenter:queue")
    context = _call_context(request, lead)
    context["order_form"] = form
    return render(request, "callcenter/lead_detail.html", context)


@require_POST
@permission_required("callcenter.add_callrecord", raise_exception=True)
def lead_outcome(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_for(request.user, pk)
    form = forms.OutcomeForm(request.POST)
    if form.is_valid():
        try:
            call = call_services.record_outcome(
                lead=lead,
                agent=request.user,
                outcome=form.cleaned_data["outcome"],
                callback_at=form.cleaned_data.get("callback_at"),
                loss_reason=form.cleaned_data.get("loss_reason"),
                notes=form.cleaned_data.get("notes", ""),
            )
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                # About the lead, not a field (recorded a moment ago, no longer this agent's):
                # the page shows no call form to a lead not held, so it says it above.
                messages.error(request, " ".join(exc.messages))
                return redirect(lead)
            form.add_service_error(exc)
        else:
            _clear_cart(request, lead)
            messages.success(
                request,
                _("Llamada registrada: %(outcome)s.") % {"outcome": call.get_outcome_display()},
            )
            _report_kommo_update(request, call)
            return redirect("callcenter:queue")
    context = _call_context(request, lead)
    context["outcome_form"] = _asking_before_leaving(form, selectors.queue_settings())
    return render(request, "callcenter/lead_detail.html", context)


@require_http_methods(["GET", "POST"])
@permission_required("callcenter.view_order", raise_exception=True)
def order_annul(request: HttpRequest, pk: int) -> HttpResponse:
    """Annul an order confirmed by mistake, with a reason, from its confirmation page: a GET
    shows it, and a POST without its confirm field shows it again, annulling nothing.

    A supervisor annuls any order not dispatched; the agent who confirmed it, only for a
    while after (`callcenter.services.orders.may_annul`); another agent gets 403.
    """
    order = selectors.order_for(request.user, pk)
    refusal = order_services.annul_refusal(order, actor=request.user)
    if refusal:
        if order.status == Order.Status.ANNULLED:
            messages.info(request, refusal)
        else:
            messages.error(request, refusal)
        return redirect(order.lead)
    form = forms.OrderAnnulForm(request.POST or None)
    if not (form.is_valid() and is_confirmed(request.POST)):
        return _confirm_annulment(request, order, form)
    try:
        annulment = order_services.annul_order(
            order=order, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            form.add_service_error(exc)
            return _confirm_annulment(request, order, form)
        # Annulled, dispatched or out of time meanwhile (another tab, another person).
        messages.error(request, " ".join(exc.messages))
        return redirect(order.lead)
    messages.success(
        request,
        ngettext(
            "Pedido %(order)s anulado: %(units)s unidad vuelve al stock.",
            "Pedido %(order)s anulado: %(units)s unidades vuelven al stock.",
            annulment.units,
        )
        % {"order": order.pk, "units": display.whole(annulment.units)},
    )
    _report_kommo_after_annulment(request, annulment)
    return redirect(order.lead)


def _confirm_annulment(
    request: HttpRequest, order: Order, form: forms.OrderAnnulForm
) -> HttpResponse:
    """Show what annulling the order does, with the reason's field; Cancelar goes back to
    the lead's page."""
    lines = list(order.lines.all())
    return _confirm_page(
        request,
        order.lead,
        step=_("Anular pedido"),
        title=_("¿Anular el pedido %(order)s por %(total)s?")
        % {"order": order.pk, "total": display.money_text(order.total, order.currency)},
        figures=[
            (_("Cliente"), order.customer.full_name),
            (
                _("Confirmado"),
                _("%(when)s por %(agent)s")
                % {
                    "when": timezone.localtime(order.created_at).strftime("%d/%m/%Y %H:%M"),
                    "agent": people.display_name(order.agent),
                },
            ),
            (
                _("Entrega"),
                ", ".join(p for p in (order.delivery_address, order.delivery_city) if p),
            ),
        ],
        lines=[
            *(
                ngettext(
                    "%(quantity)s × %(name)s vuelve al stock.",
                    "%(quantity)s × %(name)s vuelven al stock.",
                    line.quantity,
                )
                % {"quantity": display.whole(line.quantity), "name": line.name}
                for line in lines
            ),
            _("El historial del cliente dirá quién lo anuló y por qué."),
        ],
        warning=_(
            "No se puede deshacer: un pedido anulado no se despacha ni vuelve a confirmarse."
        ),
        form=form,
        action=reverse("callcenter:order_annul", args=[order.pk]),
        form_id="order-annul-form",
        button=_("Sí, anular el pedido"),
        button_class="btn-danger",
    )


def _confirm_page(
    request: HttpRequest,
    lead: Lead,
    *,
    step: str,
    title: str,
    figures: list[tuple[str, str]],
    lines: list[str],
    form,
    action: str,
    form_id: str,
    button: str,
    button_class: str,
    warning: str = "",
    list_url: str = "",
    list_label: str = "",
) -> HttpResponse:
    """Render a call-center confirmation page (callcenter/confirm.html): what will happen,
    the reason's field, and the button that sends the confirm field; Cancelar goes back to
    the lead's page. Its breadcrumb starts at the queue unless `list_url` says otherwise."""
    return render(
        request,
        "callcenter/confirm.html",
        {
            "lead": lead,
            "step": step,
            "title": title,
            "figures": figures,
            "lines": lines,
            "warning": warning,
            "form": form,
            "action": action,
            "form_id": form_id,
            "button": button,
            "button_class": button_class,
            "list_url": list_url or reverse("callcenter:queue"),
            "list_label": list_label or _("Cola de llamadas"),
            "confirm_field": CONFIRM_FIELD,
        },
    )


OUT_OF_QUEUE_PAGE_SIZE = 25


@require_GET
@permission_required(requeue_services.PERMISSION, raise_exception=True)
def leads_out(request: HttpRequest) -> HttpResponse:
    """The leads out of the queue, the last changed first: where a supervisor finds the one
    to put back (`lead_requeue`)."""
    form = forms.OutOfQueueFilterForm(request.GET)
    criteria = form.cleaned_data if form.is_valid() else {}
    leads = selectors.out_of_queue(
        request.user, text=criteria.get("q", ""), state=criteria.get("state", "")
    )
    page = Paginator(leads, OUT_OF_QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "callcenter/leads_out.html",
        {
            "form": form,
            "page": page,
            "requeuable": {s.value for s in Lead.REQUEUABLE_STATES},
            "filtered": bool(criteria.get("q") or criteria.get("state")),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(requeue_services.PERMISSION, raise_exception=True)
def lead_requeue(request: HttpRequest, pk: int) -> HttpResponse:
    """Put back in the queue a lead a call's outcome took out, with a reason, from its
    confirmation page: a GET shows it, and a POST without its confirm field shows it again."""
    lead = selectors.lead_for(request.user, pk)
    refusal = requeue_services.requeue_refusal(lead, request.user)
    if refusal:
        (messages.info if lead.in_queue else messages.error)(request, refusal)
        return redirect(lead)
    form = forms.RequeueForm(request.POST or None)
    if not (form.is_valid() and is_confirmed(request.POST)):
        return _confirm_requeue(request, lead, form)
    try:
        done = requeue_services.requeue_lead(
            lead=lead, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            form.add_service_error(exc)
            return _confirm_requeue(request, lead, form)
        # Put back meanwhile (another tab, another supervisor), or Kommo busy with it.
        messages.error(request, " ".join(exc.messages))
        return redirect(lead)
    messages.success(
        request,
        _("Lead devuelto a la cola: había salido como «%(state)s»; queda libre, el primero.")
        % {"state": done.left_as},
    )
    if done.kommo_message is None:
        messages.info(request, _("Kommo no cambia: el lead ya estaba en «Para Llamar»."))
    else:
        _report_outbox(request, OutboxMessage.objects.filter(pk=done.kommo_message.pk).first())
    return redirect(lead)


def _confirm_requeue(request: HttpRequest, lead: Lead, form: forms.RequeueForm) -> HttpResponse:
    """Show what putting the lead back does, with the reason's field; Cancelar goes back to
    the lead's page."""
    call = requeue_services.last_outcome(lead)
    config = selectors.queue_settings()
    figures = [(_("Estado"), lead.get_state_display())]
    if call is not None:
        outcome = call.get_outcome_display()
        if call.loss_reason_id:
            outcome += f" · {call.loss_reason.name}"
        figures.append(
            (
                _("Última llamada"),
                _("%(when)s por %(agent)s: %(outcome)s")
                % {
                    "when": timezone.localtime(call.created_at).strftime("%d/%m/%Y %H:%M"),
                    "agent": people.display_name(call.agent),
                    "outcome": outcome,
                },
            )
        )
    lines = [_("Vuelve a la cola libre, el primero, como «Devuelto a la cola».")]
    if lead.status_id != config.queue_status_id:
        lines.append(
            _("En Kommo vuelve a la etapa «Para Llamar» (ahora en %(stage)s).")
            % {"stage": _stage_name(lead.status_id)}
        )
    if lead.customer_id:
        lines.append(_("El historial del cliente dirá quién lo devolvió y por qué."))
    return _confirm_page(
        request,
        lead,
        step=_("Devolver a la cola"),
        title=_("¿Devolver a %(name)s a la cola de llamadas?") % {"name": lead.display_name},
        figures=figures,
        lines=lines,
        form=form,
        action=reverse("callcenter:lead_requeue", args=[lead.pk]),
        form_id="lead-requeue-form",
        button=_("Sí, devolver a la cola"),
        button_class="btn-primary",
        list_url=reverse("callcenter:leads_out"),
        list_label=_("Fuera de la cola"),
    )


# --- helpers ------------------------------------------------------------------------------


def _queue_poll_url(request: HttpRequest) -> str:
    """Return the URL the queue refreshes from: the sort and page shown, each once.

    Built from scratch on every render, never from the request's own URL, so polling all
    day sends the same short URL (htmx appends the filters form to it).
    """
    params = {name: request.GET[name] for name in QUEUE_POLL_PARAMS if request.GET.get(name)}
    url = reverse("callcenter:queue")
    return f"{url}?{urlencode(params)}" if params else url


def _call_context(request: HttpRequest, lead: Lead) -> dict:
    config = selectors.queue_settings()
    held = lead.is_held_after(config.hold_cutoff())
    is_mine = held and lead.taken_by_id == request.user.pk
    context = {
        "lead": lead,
        "is_mine": is_mine,
        "holder_active": held,
        # A Jinja2 template writes the calls (each with two dates and an order sentence)
        # in a fraction of the Django template's time (config/jinja2.py says why).
        "history": mark_safe(  # noqa: S308 - written by an autoescaping template
            render_to_string(
                "callcenter/lead_history.jinja",
                {"calls": selectors.lead_calls(lead)},
                request,
            )
        ),
        "notes": [n for n in lead.notes.split("\n\n") if n.strip()],
        # A stage change Kommo refused for good shows only in the outbox otherwise: the
        # agent and the supervisor must know Kommo is out of date for this lead.
        "kommo_failure": selectors.failed_kommo_update(lead),
    }
    if request.user.has_perm("callcenter.view_order"):
        # Each order with whether this person may annul it now (a mistaken sale is undone
        # from here: the lead has left the queue, and with it the call's forms).
        now = timezone.now()
        context["orders"] = [
            (
                order,
                order.status == Order.Status.CONFIRMED
                and order_services.may_annul(request.user, order, now=now),
            )
            for order in selectors.lead_orders(lead)
        ]
    context["may_requeue"] = not lead.in_queue and not requeue_services.requeue_refusal(
        lead, request.user
    )
    if is_mine:
        # Only the agent holding the lead sees the forms and the cart.
        context.update(
            contact_form=forms.ContactForm.for_lead(lead),
            order_form=forms.OrderForm(),
            outcome_form=_asking_before_leaving(forms.OutcomeForm(), config),
            cart=_cart_lines(request, lead),
        )
    return context


def _asking_before_leaving(form: forms.OutcomeForm, config) -> forms.OutcomeForm:
    """Make the outcomes that take the lead out of the queue (which nothing here puts back)
    ask before the form is sent; the others, every call's, go at once."""
    return form.ask_before(
        {
            value: _(
                "¿Registrar la llamada como «%(outcome)s»? El lead sale de la cola, y solo "
                "un supervisor puede devolverlo a ella."
            )
            % {"outcome": label}
            for value, label in forms.OutcomeForm.OUTCOMES
            if value == CallRecord.Outcome.NOT_INTERESTED
            or (value == CallRecord.Outcome.NO_ANSWER and config.no_answer_status_id)
            or (value == CallRecord.Outcome.CALLBACK and config.callback_status_id)
        }
    )


def _report_kommo_update(request: HttpRequest, call: CallRecord) -> None:
    """Tell the agent what happened to the call's Kommo update, as the outbox has it now."""
    _report_outbox(request, selectors.kommo_update(call))


def _report_kommo_after_annulment(
    request: HttpRequest, annulment: order_services.Annulment
) -> None:
    """Say what the annulment did about the lead in Kommo, and only that."""
    after = order_services.KommoAfterAnnulment
    if annulment.kommo == after.UNTOUCHED:
        messages.info(request, _("Kommo no cambia: la venta no había movido el lead de etapa."))
    elif annulment.kommo == after.SALE_NEVER_SENT:
        messages.warning(
            request,
            _(
                "Kommo no cambia: el cambio de etapa de la venta no llegó a Kommo (falló), así "
                "que allí el lead sigue donde estaba. No reintente ese envío en Admin → "
                "Mensajes salientes."
            ),
        )
    elif annulment.kommo == after.LEFT:
        messages.warning(
            request,
            _("En Kommo el lead sigue en %(stage)s: muévalo a mano.")
            % {"stage": _stage_name(annulment.kommo_status_id)},
        )
    else:
        messages.info(
            request,
            _("En Kommo el lead vuelve a %(stage)s, donde estaba antes de la venta.")
            % {"stage": _stage_name(annulment.kommo_status_id)},
        )
        # As the outbox has it now: sent already, or still on its way.
        _report_outbox(request, OutboxMessage.objects.filter(pk=annulment.kommo_message.pk).first())


def _stage_name(status_id: int | None) -> str:
    """Name a Kommo stage as the queue's settings know it, else by its id."""
    config = selectors.queue_settings()
    if status_id is None:
        return _("su etapa actual")
    if status_id == config.sold_status_id:
        return _("la etapa «Venta Confirmada»")
    if status_id == config.queue_status_id:
        return _("la etapa «Para Llamar»")
    for outcome_status_id, outcome in (
        (config.not_interested_status_id, CallRecord.Outcome.NOT_INTERESTED),
        (config.no_answer_status_id, CallRecord.Outcome.NO_ANSWER),
        (config.callback_status_id, CallRecord.Outcome.CALLBACK),
    ):
        if status_id == outcome_status_id:
            return _("la etapa de «%(outcome)s»") % {"outcome": outcome.label}
    return _("la etapa %(id)s") % {"id": status_id}


def _report_outbox(request: HttpRequest, update: OutboxMessage | None) -> None:
    """Tell the agent what happened to a Kommo stage change, as the outbox has it now."""
    if update is None:
        messages.info(
            request, _("Kommo no se actualiza: este resultado no tiene etapa de Kommo configurada.")
        )
    elif update.status == OutboxMessage.Status.SENT:
        messages.info(request, _("Kommo actualizado: el lead cambió de etapa."))
    elif not kommo.is_configured():
        messages.warning(
            request,
            _(
                "Kommo no está configurado: el cambio de etapa no se envió (queda como fallido "
                "en Admin → Mensajes salientes, para reintentarlo cuando se configure)."
            ),
        )
    elif update.status == OutboxMessage.Status.FAILED:
        messages.warning(
            request,
            # The provider's own words are on the lead's page for who may retry it.
            _(
                "Kommo no se actualizó: no se pudo cambiar la etapa del lead (el motivo figura "
                "en la página del lead). Queda como fallido en Admin → Mensajes salientes para "
                "reintentarlo."
            ),
        )
    elif update.status == OutboxMessage.Status.SENDING:
        messages.info(request, _("Enviando el cambio de etapa a Kommo."))
    else:
        messages.info(request, _("Cambio de etapa en cola para Kommo."))


def _cart_key(lead: Lead) -> str:
    return f"callcenter-cart-{lead.pk}"


def _cart(request: HttpRequest, lead: Lead) -> dict[str, dict]:
    """Return the lead's cart: per product id, its quantity, and the unit price and currency
    it was shown at ("price", "currency"; a cart kept from before has only quantities)."""
    return {
        pid: dict(line) if isinstance(line, dict) else {"quantity": line}
        for pid, line in request.session.get(_cart_key(lead), {}).items()
    }


def _save_cart(request: HttpRequest, lead: Lead, cart: dict[str, dict]) -> None:
    request.session[_cart_key(lead)] = cart


def _clear_cart(request: HttpRequest, lead: Lead) -> None:
    request.session.pop(_cart_key(lead), None)


def _other_currency(cart: dict[str, dict], product: CatalogProduct) -> str:
    """Return the currency of the cart's other products when it is not `product`'s, else ""."""
    others = selectors.catalog_products(int(pid) for pid in cart if pid != str(product.pk))
    currencies = {
        cart[str(pid)].get("currency") or other.currency for pid, other in others.items()
    } - {product.currency}
    return ", ".join(sorted(currencies))


def _cart_lines(request: HttpRequest, lead: Lead) -> dict:
    """Return the cart's lines at the prices they were shown at, with live stock, and the
    total of the lines shown in the cart's currency (its first line's): never a mix.

    A line whose product's price changed since says so (confirming is refused until the
    agent has seen the new one); one whose product is now in another currency than the
    cart's is flagged, as a product switched off is, for confirming refuses it.
    """
    cart = _cart(request, lead)
    products = selectors.catalog_products(int(pid) for pid in cart)
    lines = []
    for pid, line in cart.items():
        product = products.get(int(pid))
        if product is None:
            continue
        price = Decimal(line["price"]) if "price" in line else product.price
        currency = line.get("currency") or product.currency
        lines.append(
            {
                "product": product,
                "quantity": line["quantity"],
                "price": price,
                "currency": currency,
                "total": price * line["quantity"],
                "short": line["quantity"] > product.stock,
                # Switched off in the catalog since it was added: the order would be refused.
                "withdrawn": not product.is_active,
                "price_changed": (price, currency) != (product.price, product.currency),
            }
        )
    currency = lines[0]["currency"] if lines else ""
    live = {line["product"].currency for line in lines}
    for line in lines:
        # Soles are never added to dollars: the order would be refused, naming this line.
        line["other_currency"] = line["currency"] != currency or (
            len(live) > 1 and line["product"].currency != currency
        )
    total = sum((line["total"] for line in lines if line["currency"] == currency), Decimal(0))
    units = sum(line["quantity"] for line in lines)
    return {"lines": lines, "total": total, "currency": currency, "units": units}


def _cart_response(
    request: HttpRequest, lead: Lead, *, error: str = "", row: dict | None = None
) -> HttpResponse:
    """Answer a change to the cart: the cart, its summary above the catalog on a phone and,
    after a tap on a catalog row, what came of it in that row (the cart may be screens away).
    """
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(lead)
    return render(
        request,
        "callcenter/partials/cart.html",
        {
            "lead": lead,
            "cart": _cart_lines(request, lead),
            "cart_error": error,
            "order_form": forms.OrderForm(),
            "is_mine": True,
            "swap_summary": True,
            "row": row,
        },
    )
