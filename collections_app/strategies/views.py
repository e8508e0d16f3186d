"""The Segmentación, Plantillas and Eventos screens of Estrategias.

Every change goes through the topic's module (`segments.save_segment`,
`templating.save_template`, `events.save_event_settings`…), every record through its
access helper. Deleting a segment or a template first answers a confirmation page and
acts only on its POST; one in use is refused with where it is used.
"""

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from collections_app.models import (
    FLOW_FIRST_DAY,
    FLOW_LAST_DAY,
    MessageTemplate,
    Portfolio,
    Segment,
)
from collections_app.strategies import events, flows, forms, segments, templating, variables
from crm import selectors as crm_selectors
from crm.models import Customer, MessagePolicy
from lib import lists, search
from lib.lookups import whole_number

PAGE_SIZE = lists.LIST_PAGE_SIZE
# The preview names at most this many customers when a name matches several.
PREVIEW_MATCHES = 5

# What this person deleted last, kept in their session for a minute: a deletion's
# confirmation sent twice (a double click, the back button and send) finds its row gone and
# says it was deleted, instead of "not found". (Their deletions are also recorded, in
# crm.deletions, for the «Eliminaciones» page.)
JUST_DELETED = "strategies_just_deleted"
DELETION_REPEAT_WINDOW = timedelta(minutes=1)

VIEW_SEGMENTS = "collections_app.view_segment"
VIEW_TEMPLATES = "collections_app.view_messagetemplate"
VIEW_EVENTS = "collections_app.view_eventsetting"


def _list(
    request: HttpRequest, *, form: Any, rows: QuerySet, name: str, **context: Any
) -> HttpResponse:
    """Render a strategies list, `name`'s page or (HTMX) its results, 25 rows a page."""
    page = lists.CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return lists.render_page_or_fragment(
        request,
        page_template=f"collections_app/strategies/{name}_list.html",
        fragment_template=f"collections_app/strategies/partials/{name}_results.html",
        context={"form": form, "page": page, **context},
    )


def remember_deleted(request: HttpRequest, key: str, name: str) -> None:
    """Note in the session that this person just deleted `key` ("segment:12"), named `name`."""
    request.session[JUST_DELETED] = [key, name, timezone.now().isoformat()]


def deleted_a_moment_ago(
    request: HttpRequest, key: str, *, said: str, done_url: str
) -> HttpResponse:
    """Answer a deletion's confirmation whose row is gone: deleted by this person a moment
    ago, say `said` (with the name) and go where the first went; else 404."""
    noted = request.session.get(JUST_DELETED)
    if request.method != "POST" or not noted or noted[0] != key:
        raise Http404
    if datetime.fromisoformat(noted[2]) < timezone.now() - DELETION_REPEAT_WINDOW:
        raise Http404
    messages.info(request, said % {"name": noted[1]})
    return redirect(done_url)


def _confirm_delete(
    request: HttpRequest,
    *,
    title: str,
    lines: list[str],
    problem: str,
    cancel_url: str,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "collections_app/strategies/confirm_delete.html",
        {
            "title": title,
            "lines": lines,
            "problem": problem,
            "cancel_url": cancel_url,
            "confirm_field": forms.CONFIRM_FIELD,
        },
        status=status,
    )


# --- Segmentación ----------------------------------------------------------------------------


@require_GET
@permission_required(VIEW_SEGMENTS, raise_exception=True)
def strategies_home(request: HttpRequest) -> HttpResponse:
    """/cobranzas/estrategias/ itself (the README names it): its first tab, Segmentación."""
    return redirect("collections_app:segment_list")


@require_GET
@permission_required(VIEW_SEGMENTS, raise_exception=True)
def segment_list(request: HttpRequest) -> HttpResponse:
    """The segments by name; each one's count loads after the page (it may take a while)."""
    form = forms.SegmentFilterForm(request.GET)
    filters = form.filters()
    rows = segments.segment_list(**filters) if filters is not None else Segment.objects.none()
    page = lists.CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = [(segment, segments.describe(segment)) for segment in page.object_list]
    return lists.render_page_or_fragment(
        request,
        page_template="collections_app/strategies/segment_list.html",
        fragment_template="collections_app/strategies/partials/segment_results.html",
        context={"form": form, "page": page},
    )


@require_GET
@permission_required(VIEW_SEGMENTS, raise_exception=True)
def segment_count(request: HttpRequest, pk: int) -> HttpResponse:
    """How many customers a saved segment has today (the list asks after the page)."""
    segment = segments.segment_for(request.user, pk)
    return render(
        request,
        "collections_app/strategies/partials/segment_count.html",
        {"count": segments.count(segment, timezone.localdate()), "segment": segment},
    )


@require_POST
@permission_required(VIEW_SEGMENTS, raise_exception=True)
def segment_count_preview(request: HttpRequest) -> HttpResponse:
    """How many customers the rules being edited would have today; nothing is saved.

    The form's name may be taken or empty while editing: only the rules are read, and
    rules that do not parse count nobody, saying why.
    """
    form = forms.SegmentForm(request.POST)
    form.is_valid()
    rule_errors = [
        error
        for name, errors in form.errors.items()
        if name not in ("name", "description")
        for error in errors
    ]
    count = None if rule_errors else segments.count(form.rules(), timezone.localdate())
    return render(
        request,
        "collections_app/strategies/partials/segment_count.html",
        {"count": count, "errors": rule_errors, "live": True},
    )


@permission_required("collections_app.add_segment", raise_exception=True)
def segment_create(request: HttpRequest) -> HttpResponse:
    form = forms.SegmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            segment = segments.save_segment(data=form.service_data(), actor=request.user)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Segmento «%(name)s» creado.") % {"name": segment.name})
            return redirect("collections_app:segment_list")
    if request.method == "POST" and "name" in form.errors:
        twin = segments.just_created(request.user, request.POST.get("name", ""))
        if twin is not None:
            messages.info(
                request,
                _(
                    "El segmento «%(name)s» ya se creó hace un momento: no se creó otro. Para "
                    "otro segmento, use otro nombre."
                )
                % {"name": twin.name},
            )
            return redirect("collections_app:segment_update", pk=twin.pk)
    return render(
        request, "collections_app/strategies/segment_form.html", {"form": form, "segment": None}
    )


@permission_required(VIEW_SEGMENTS, raise_exception=True)
def segment_update(request: HttpRequest, pk: int) -> HttpResponse:
    """A segment's rules; those who may change segments save them, the others read them."""
    segment = segments.segment_for(request.user, pk)
    may_change = request.user.has_perm("collections_app.change_segment")
    if request.method == "POST" and not may_change:
        raise PermissionDenied
    form = forms.SegmentForm(request.POST or None, instance=segment)
    if request.method == "POST" and form.is_valid():
        try:
            segments.save_segment(data=form.service_data(), actor=request.user, segment=segment)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Segmento «%(name)s» guardado.") % {"name": segment.name})
            return redirect("collections_app:segment_list")
    return render(
        request,
        "collections_app/strategies/segment_form.html",
        {
            "form": form,
            "segment": segment,
            "may_change": may_change,
            "flows": list(segment.flows.order_by("name").values_list("name", flat=True)),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required("collections_app.delete_segment", raise_exception=True)
def segment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then delete a segment no flow uses; say which flows use one that is in use."""
    try:
        segment = segments.segment_for(request.user, pk)
    except Http404:
        return deleted_a_moment_ago(
            request,
            f"segment:{pk}",
            said=_("El segmento «%(name)s» ya se eliminó hace un momento."),
            done_url=reverse("collections_app:segment_list"),
        )
    problem = segments.deletion_problem(segment)
    if request.method == "POST" and not problem and forms.is_confirmed(request.POST):
        try:
            segments.delete_segment(segment=segment, actor=request.user)
        except ValidationError as exc:
            problem = " ".join(exc.messages)
        else:
            remember_deleted(request, f"segment:{pk}", segment.name)
            messages.success(request, _("Segmento «%(name)s» eliminado.") % {"name": segment.name})
            return redirect("collections_app:segment_list")
    return _confirm_delete(
        request,
        title=_("¿Eliminar el segmento «%(name)s»?") % {"name": segment.name},
        lines=segments.describe(segment) or [_("Sin reglas: todos los deudores con créditos.")],
        problem=problem,
        cancel_url=reverse("collections_app:segment_update", args=[segment.pk]),
        status=409 if problem and request.method == "POST" else 200,
    )


# --- Plantillas ------------------------------------------------------------------------------


@require_GET
@permission_required(VIEW_TEMPLATES, raise_exception=True)
def template_list(request: HttpRequest) -> HttpResponse:
    form = forms.TemplateFilterForm(request.GET)
    filters = form.filters()
    rows = (
        templating.template_list(**filters)
        if filters is not None
        else MessageTemplate.objects.none()
    )
    return _list(request, form=form, rows=rows, name="template")


def _template_page(
    request: HttpRequest, form: forms.TemplateForm, template: MessageTemplate | None, **extra: Any
) -> HttpResponse:
    portfolio = form["portfolio"].value() or MessageTemplate._meta.get_field("portfolio").default
    return render(
        request,
        "collections_app/strategies/template_form.html",
        {
            "form": form,
            "template": template,
            "variables": variables.variables_for(portfolio),
            "counter": _counter(form["channel"].value(), form["body"].value()),
            "preview_form": forms.PreviewCustomerForm(),
            "may_change": True,
            **extra,
        },
    )


@permission_required("collections_app.add_messagetemplate", raise_exception=True)
def template_create(request: HttpRequest) -> HttpResponse:
    form = forms.TemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = templating.save_template(data=form.service_data(), actor=request.user)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Plantilla «%(name)s» creada.") % {"name": template.name})
            return redirect("collections_app:template_list")
    if request.method == "POST" and "name" in form.errors:
        twin = templating.just_created(request.POST.get("name", ""))
        if twin is not None:
            messages.info(
                request,
                _(
                    "La plantilla «%(name)s» ya se creó hace un momento: no se creó otra. Para "
                    "otra plantilla, use otro nombre."
                )
                % {"name": twin.name},
            )
            return redirect("collections_app:template_update", pk=twin.pk)
    return _template_page(request, form, None)


@permission_required(VIEW_TEMPLATES, raise_exception=True)
def template_update(request: HttpRequest, pk: int) -> HttpResponse:
    """A template; those who may change templates save it, the others read and preview it."""
    template = templating.template_for(request.user, pk)
    may_change = request.user.has_perm("collections_app.change_messagetemplate")
    if request.method == "POST" and not may_change:
        raise PermissionDenied
    form = forms.TemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        try:
            templating.save_template(
                data=form.service_data(), template=template, actor=request.user
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Plantilla «%(name)s» guardada.") % {"name": template.name})
            return redirect("collections_app:template_list")
    return _template_page(
        request, form, template, may_change=may_change, usage=templating.usage(template)
    )


@require_http_methods(["GET", "POST"])
@permission_required("collections_app.delete_messagetemplate", raise_exception=True)
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then delete a template nothing sends; say where one in use is sent from."""
    try:
        template = templating.template_for(request.user, pk)
    except Http404:
        return deleted_a_moment_ago(
            request,
            f"template:{pk}",
            said=_("La plantilla «%(name)s» ya se eliminó hace un momento."),
            done_url=reverse("collections_app:template_list"),
        )
    places = templating.usage(template)
    problem = (
        _("No se puede eliminar la plantilla: se usa en %(places)s.")
        % {"places": "; ".join(places)}
        if places
        else ""
    )
    if request.method == "POST" and not problem and forms.is_confirmed(request.POST):
        try:
            templating.delete_template(template=template, actor=request.user)
        except ValidationError as exc:
            problem = " ".join(exc.messages)
        else:
            remember_deleted(request, f"template:{pk}", template.name)
            messages.success(
                request, _("Plantilla «%(name)s» eliminada.") % {"name": template.name}
            )
            return redirect("collections_app:template_list")
    return _confirm_delete(
        request,
        title=_("¿Eliminar la plantilla «%(name)s»?") % {"name": template.name},
        lines=[
            f"{template.get_channel_display()} · {template.get_portfolio_display()}",
            template.body,
        ],
        problem=problem,
        cancel_url=reverse("collections_app:template_update", args=[template.pk]),
        status=409 if problem and request.method == "POST" else 200,
    )


@require_GET
@permission_required(VIEW_TEMPLATES, raise_exception=True)
def template_variables(request: HttpRequest) -> HttpResponse:
    """The variables a template of the chosen portfolio may say, as chips."""
    form = forms.DraftTemplateForm(request.GET)
    draft = form.draft()
    portfolio = draft.portfolio if draft is not None else MessageTemplate().portfolio
    return render(
        request,
        "collections_app/strategies/partials/template_variables.html",
        {"variables": variables.variables_for(portfolio)},
    )


def _counter(channel: str | None, body: str | None) -> dict[str, Any]:
    body = body or ""
    if channel not in templating.BODY_LIMITS:
        channel = MessageTemplate.Channel.SMS
    return {
        "length": len(body),
        "limit": templating.BODY_LIMITS[channel],
        "is_sms": channel == MessageTemplate.Channel.SMS,
        # As it is sent: «SMS sin tildes» writes "á" as "a" first.
        "parts": templating.sms_parts_as_sent(body),
        "max_parts": templating.SMS_PARTS,
        # What saving says: for an SMS, also more parts than it takes.
        "over": bool(templating.body_problem(channel, body)),
    }


@require_POST
@permission_required(VIEW_TEMPLATES, raise_exception=True)
def template_counter(request: HttpRequest) -> HttpResponse:
    """The body's length against its channel's limit, and (SMS) how many messages it takes."""
    form = forms.DraftTemplateForm(request.POST)
    draft = form.draft()
    counter = _counter(draft.channel, draft.body) if draft is not None else _counter("", "")
    return render(
        request, "collections_app/strategies/partials/template_counter.html", {"counter": counter}
    )


@require_POST
@permission_required((VIEW_TEMPLATES, "crm.view_customer"), raise_exception=True)
def template_preview(request: HttpRequest) -> HttpResponse:
    """The template being edited, written with a real customer's data; nothing is saved."""
    draft_form = None
    if "body" in request.POST:
        draft_form = forms.DraftTemplateForm(request.POST)
        draft = draft_form.draft()
    elif (template := whole_number(request.POST.get("template", ""))) is not None:
        # Without JavaScript the preview's form carries no text: the saved template's.
        draft = templating.template_for(request.user, template)
    else:
        draft = None
    who = forms.PreviewCustomerForm(request.POST)
    context: dict[str, Any] = {"preview_form": who}
    if draft is None and draft_form is not None and draft_form.errors:
        # Say what is wrong with what was typed (5,000 characters are not "nothing").
        context["problem"] = " ".join(
            str(error) for errors in draft_form.errors.values() for error in errors
        )
    elif draft is None:
        context["problem"] = _("Escriba la plantilla antes de verla con un cliente.")
    elif who.is_valid():
        text = who.cleaned_data["preview_customer"]
        found = _preview_customers(request, text)
        if not found:
            context["problem"] = _("No se encontró ningún cliente con «%(text)s».") % {"text": text}
        elif len(found) > 1:
            context["problem"] = _(
                "Varios clientes coinciden con «%(text)s»: escriba el documento de uno."
            ) % {"text": text}
            context["matches"] = found
        else:
            context.update(_preview(draft, found[0]))
    name = "partials/template_preview" if request.htmx else "template_preview_page"
    return render(request, f"collections_app/strategies/{name}.html", context)


def _preview_customers(request: HttpRequest, text: str) -> list[Customer]:
    """Return the customer whose document is `text`, or up to PREVIEW_MATCHES + 1 whose
    name, document or contact matches it."""
    visible = crm_selectors.customers_visible_to(request.user)
    digits = "".join(ch for ch in text if ch.isalnum())
    exact = list(visible.filter(document_number=digits.upper())[:2]) if digits else []
    if len(exact) == 1:
        return exact
    condition = search.matches_all(text)
    if not condition:
        return []
    return list(
        visible.filter(condition).order_by("last_name", "first_name", "pk")[: PREVIEW_MATCHES + 1]
    )


def _preview(draft: MessageTemplate, customer: Customer) -> dict[str, Any]:
    errors: list[str] = []
    try:
        templating.validate_template(draft)
    except ValidationError as exc:
        errors = [message for messages_ in exc.message_dict.values() for message in messages_]
    today = timezone.localdate()
    # As a flow step writes it: about one loan's installment (the one due nearest today),
    # not all the customer's loans taken together.
    # (Flows send only current-portfolio templates; a written-off one speaks of the
    # customer's campaigns.)
    recipient = (
        flows.preview_recipient(customer, today)
        if draft.portfolio == Portfolio.CURRENT
        else variables.Recipient(customer=customer)
    )
    used = dict.fromkeys(
        [*templating.placeholders(draft.subject), *templating.placeholders(draft.body)]
    )
    rendered = templating.render_for(draft, [recipient], today)[0]
    blank = [] if errors else templating.blank_variables(draft, recipient, today)
    return {
        "customer": customer,
        "rendered": rendered,
        "draft": draft,
        "errors": errors,
        # What this customer lacks today: the message would go with those values blank.
        "blank_variables": [name for name in blank if name not in variables.EVENT_VARIABLES],
        # An event's values exist only when it happens: the preview leaves them blank.
        "event_variables": [name for name in used if name in variables.EVENT_VARIABLES],
        "about": flows.preview_note(recipient),
    }


# --- Eventos ---------------------------------------------------------------------------------


def _events_page(
    request: HttpRequest,
    *,
    settings_form: forms.EventSettingsForm | None = None,
    policy_form: forms.MessagePolicyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    sees_policy = user.has_perm("crm.view_messagepolicy")
    if settings_form is None:
        settings_form = _settings_form()
    if policy_form is None and sees_policy:
        policy_form = forms.MessagePolicyForm(instance=MessagePolicy.current())
    return render(
        request,
        "collections_app/strategies/events.html",
        {
            "settings_form": settings_form,
            "policy_form": policy_form if sees_policy else None,
            "may_change": user.has_perm("collections_app.change_eventsetting"),
            "may_change_policy": user.has_perm("crm.change_messagepolicy"),
            "first_day": FLOW_FIRST_DAY,
            "last_day": FLOW_LAST_DAY,
        },
        status=status,
    )


def _settings_form(data=None) -> forms.EventSettingsForm:
    templates = list(MessageTemplate.objects.order_by("name", "pk"))
    return forms.EventSettingsForm(data, settings=events.current_settings(), templates=templates)


@require_http_methods(["GET", "POST"])
@permission_required(VIEW_EVENTS, raise_exception=True)
def event_settings(request: HttpRequest) -> HttpResponse:
    """The events settings, a section per portfolio, and below them the message policy."""
    if request.method == "GET":
        return _events_page(request)
    if not request.user.has_perm("collections_app.change_eventsetting"):
        raise PermissionDenied
    form = _settings_form(request.POST)
    if form.is_valid():
        try:
            events.save_event_settings(choices=form.choices(), actor=request.user)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Eventos guardados."))
            return redirect("collections_app:event_settings")
    return _events_page(request, settings_form=form)


@require_POST
@permission_required(
    (VIEW_EVENTS, "crm.view_messagepolicy", "crm.change_messagepolicy"), raise_exception=True
)
def message_policy(request: HttpRequest) -> HttpResponse:
    """Save the quiet hours and the daily limit."""
    form = forms.MessagePolicyForm(request.POST, instance=MessagePolicy.current())
    if form.is_valid():
        try:
            policy = events.save_message_policy(data=form.service_data(), actor=request.user)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("Horario de silencio, días sin mensajes y límite diario guardados. %(sms)s")
                % {
                    "sms": _("Los SMS salen sin tildes.")
                    if policy.is_sms_unaccented
                    else _("Los SMS salen como se escriben.")
                },
            )
            return redirect("collections_app:event_settings")
    return _events_page(request, policy_form=form)
