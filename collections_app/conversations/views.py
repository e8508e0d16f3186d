"""The conversations inbox: the list with its alerts, and one customer's conversation, where
an agent reads the thread, answers, assigns and labels it.

Every record through `selectors.conversation_for`; every change through `services`.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from collections_app.conversations import alerts, forms, selectors, services
from collections_app.models import Conversation
from crm import messages as customer_messages
from crm import selectors as crm_selectors
from crm.models import Message
from lib import confirmation, links, lists

VIEW = (selectors.VIEW_CONVERSATION, "crm.view_customer")
CHANGE = (selectors.CHANGE_CONVERSATION, "crm.view_customer")
# The results' root element: its own poll names it in the HX-Trigger header.
RESULTS_ID = "conversation-results"
RESULTS_TEMPLATE = "collections_app/conversations/partials/conversation_results.html"
ALERTS_TEMPLATE = "collections_app/conversations/partials/alerts.html"
# How far the inbox counts its conversations (lib.lists.CappedPaginator): as the call
# queue, it is left open and refreshes itself, and 80 pages is more than anyone pages
# through; counting to 10,001 behind the portfolio filter cost 2 ms a view.
INBOX_COUNT_CAP = 2_000


@require_GET
@permission_required(VIEW, raise_exception=True)
def conversation_list(request: HttpRequest) -> HttpResponse:
    """The inbox: the latest conversation first, the current portfolio unless told otherwise.

    The page is left open all day: its results ask for themselves every 30 seconds, and
    that answer is only the results, without a new history entry each time.
    """
    form = forms.ConversationFilterForm(request.GET)
    filters = form.filters()
    rows = (
        selectors.conversation_list(request.user, **filters)
        if filters is not None
        else Conversation.objects.none()
    )
    page = lists.CappedPaginator(rows, lists.LIST_PAGE_SIZE, cap=INBOX_COUNT_CAP).get_page(
        request.GET.get("page")
    )
    context = {
        "form": form,
        "page": page,
        "rows_html": _rows_html(request, page.object_list, former=form.former),
        "poll_url": request.get_full_path(),
        "reassign_url": _reassign_url(request, form, page),
    }
    if request.htmx and request.htmx.trigger == RESULTS_ID:
        response = render(request, RESULTS_TEMPLATE, context)
        patch_vary_headers(response, ("HX-Request",))
        return response
    return lists.render_page_or_fragment(
        request,
        page_template="collections_app/conversations/conversation_list.html",
        fragment_template=RESULTS_TEMPLATE,
        context=context,
    )


@require_http_methods(["GET", "POST"])
@permission_required(CHANGE, raise_exception=True)
def conversation_reassign(request: HttpRequest) -> HttpResponse:
    """Give every conversation the inbox shows, filtered by one person, to someone else:
    a page that says how many and whose (the confirmation), then the POST, each with its
    timeline entry as a single assignment writes. The filters travel in the query string,
    so the conversations moved are the ones the inbox showed, as they are at that moment."""
    filter_form = forms.ConversationFilterForm(request.GET)
    inbox_url = f"{reverse('collections_app:conversation_list')}?{request.GET.urlencode()}"
    from_id = filter_form.chosen_person()
    if from_id is None:
        messages.warning(
            request, _("Filtre la bandeja por una persona para reasignar sus conversaciones.")
        )
        return redirect(inbox_url)
    from_label = dict(_flat(filter_form.fields["agent"].choices)).get(from_id, "")
    rows = selectors.conversation_list(request.user, **filter_form.filters()).filter(
        customer__in=crm_selectors.customers_visible_to(request.user)
    )
    form = forms.ReassignForm(request.POST if request.method == "POST" else None)
    lists.cache_model_choices(form.fields["agent"], "collections.conversation_reassign_to")
    if form.is_bound and form.is_valid():
        agent = form.cleaned_data["agent"]
        try:
            moved = services.reassign_many(rows, agent, request.user)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            _say_reassigned(
                request,
                moved=moved,
                expected=form.cleaned_data["expected"],
                from_label=from_label,
                to_label=form.fields["agent"].label_from_instance(agent),
            )
            return redirect(inbox_url)
    count = rows.count()
    return render(
        request,
        "collections_app/conversations/conversation_reassign.html",
        {
            "form": form,
            "count": count,
            "from_label": from_label,
            "inbox_url": inbox_url,
            "action_url": request.get_full_path(),
        },
    )


def _flat(choices):
    """Yield the (value, label) pairs of choices, those of groups included."""
    for value, label in choices:
        if isinstance(label, list | tuple):
            yield from label
        else:
            yield value, label


def _say_reassigned(
    request: HttpRequest, *, moved: int, expected: int | None, from_label: str, to_label: str
) -> None:
    """Say how many conversations changed hands, and when that is not what the page said."""
    confirmation.say_acted(
        request,
        done=moved,
        expected=expected,
        nothing=_(
            "No se reasignó ninguna conversación: ninguna de las que muestra la bandeja "
            "seguía a cargo de %(from)s."
        )
        % {"from": from_label},
        said=ngettext(
            "%(n)s conversación de %(from)s reasignada a %(to)s.",
            "%(n)s conversaciones de %(from)s reasignadas a %(to)s.",
            moved,
        )
        % {"n": moved, "from": from_label, "to": to_label},
    )


@require_GET
@permission_required(VIEW, raise_exception=True)
def conversation_alerts(request: HttpRequest) -> HttpResponse:
    """The customers who need attention: the inbox loads them after its page (four short
    queries that would otherwise slow every page view), and without JavaScript they are a
    page of their own."""
    context = {"alerts": alerts.attention()}
    if request.htmx:
        response = render(request, ALERTS_TEMPLATE, context)
    else:
        response = render(
            request, "collections_app/conversations/conversation_alerts.html", context
        )
    patch_vary_headers(response, ("HX-Request",))
    return response


# A channel's icon in the inbox's rows (Bootstrap Icons).
CHANNEL_ICONS = {
    "whatsapp": "whatsapp",
    "sms": "chat-dots",
    "email": "envelope",
    "bot": "robot",
    "portal": "globe",
}


def _reassign_url(request: HttpRequest, form: forms.ConversationFilterForm, page) -> str:
    """Where the conversations the inbox shows, filtered by one person, are reassigned
    at once; "" when it shows none, or another filter, or the user may not reassign."""
    if form.chosen_person() is None or not page.paginator.count:
        return ""
    if not request.user.has_perms(CHANGE):
        return ""
    return f"{reverse('collections_app:conversation_reassign')}?{request.GET.urlencode()}"


def _rows_html(request: HttpRequest, conversations, *, former: dict[int, str]) -> str:
    """The page's rows, written by Jinja2: as a Django template they were 30 ms of the
    inbox's 50 (make bench-web). `former`: the people who may no longer be given a
    conversation, by id, named as the agent filter names them ("… (inactivo)")."""
    return mark_safe(  # noqa: S308 - written by an autoescaping template
        render_to_string(
            "collections_app/conversation_rows.jinja",
            {
                "rows": selectors.with_agents_and_labels(list(conversations)),
                "former": former,
                "link": links.pk_link("collections_app:conversation_detail"),
                "icons": CHANNEL_ICONS,
                "castigada": render_to_string(
                    "collections_app/conversations/partials/castigada_icon.html"
                ),
            },
            request,
        )
    )


@require_GET
@permission_required(VIEW, raise_exception=True)
def conversation_detail(request: HttpRequest, customer_pk: int) -> HttpResponse:
    """One customer's conversation; opening it marks it read.

    "Ver anteriores" asks for the page of the thread before the oldest one shown: HTMX
    puts it in place of the link; without JavaScript it is this page from there.
    """
    conversation = selectors.conversation_for(request.user, customer_pk)
    before = forms.ThreadForm(request.GET).cursor()
    if request.htmx and before is not None:
        items, cursor = selectors.thread(conversation.customer, before=before)
        response = render(
            request,
            "collections_app/conversations/partials/thread_older.html",
            {
                "conversation": conversation,
                "items": items,
                "items_html": _thread_html(request, conversation, items),
                "cursor": cursor,
            },
        )
        patch_vary_headers(response, ("HX-Request",))
        return response
    services.mark_read(conversation, request.user)
    return _render_detail(request, conversation, before=before)


def _render_detail(
    request: HttpRequest,
    conversation: Conversation,
    *,
    before: selectors.Cursor | None = None,
    reply_form: forms.ReplyForm | None = None,
    assign_form: forms.AssignForm | None = None,
    labels_form: forms.LabelsForm | None = None,
) -> HttpResponse:
    customer = conversation.customer
    items, cursor = selectors.thread(customer, before=before)
    channels = selectors.reply_channels(customer)
    labels = selectors.agent_and_labels(conversation)
    window_closes_at = services.whatsapp_window_closes_at(conversation)
    reply_form = reply_form or forms.ReplyForm(channels=channels)
    assign_form = assign_form or forms.AssignForm(initial={"agent": conversation.assigned_to_id})
    labels_form = labels_form or forms.LabelsForm(initial={"labels": labels})
    # The dropdowns' choices from the cache (lib.lists), not three queries a page view;
    # a choice posted is still checked against the database by the form and the service.
    lists.cache_form_choices(
        {
            "collections.conversation_assignees": assign_form.fields["agent"],
            "collections.conversation_label_set": labels_form.fields["labels"],
            "collections.whatsapp_templates": reply_form.fields["template"],
        }
    )
    holder_label = _former_holder_label(conversation, assign_form)
    if holder_label:
        assign_form.show_holder(conversation.assigned_to_id, holder_label)
    context: dict[str, Any] = {
        "conversation": conversation,
        "customer": customer,
        "items": items,
        "items_html": _thread_html(request, conversation, items),
        "cursor": cursor,
        "labels": labels,
        "channels": channels,
        "window_closes_at": window_closes_at,
        "offers_whatsapp": any(value == "whatsapp" for value, _label in channels),
        "reply_form": reply_form,
        "assign_form": assign_form,
        "holder_label": holder_label,
        "labels_form": labels_form,
        "may_change": request.user.has_perm(selectors.CHANGE_CONVERSATION),
        "may_collect": request.user.has_perm("collections_app.view_reportedpayment"),
    }
    return render(request, "collections_app/conversations/conversation_detail.html", context)


def _former_holder_label(conversation: Conversation, assign_form: forms.AssignForm) -> str:
    """Name who holds the conversation, marked why, when the assignment form does not offer
    them (deactivated, or without the role); "" otherwise. Read from the form's cached
    choices: a query (their is_active) only when the holder is missing from them."""
    if conversation.assigned_to_id is None:
        return ""
    offered = {str(value) for value, _label in assign_form.fields["agent"].widget.choices}
    if str(conversation.assigned_to_id) in offered:
        return ""
    return selectors.former_agent_label(conversation.assigned_to)


def _thread_html(
    request: HttpRequest, conversation: Conversation, items: list[selectors.ThreadItem]
) -> str:
    """A page of the thread, written by Jinja2 (as a Django template, a third of the page);
    a failed message offers to be sent again to who may reply."""
    resend = None
    if request.user.has_perms(CHANGE):
        # The address of message 0, its id put in place by the template.
        resend = {
            "csrf_token": get_token(request),
            "url": reverse(
                "collections_app:conversation_resend", args=[conversation.customer.pk, 0]
            ).replace("/0/reenviar/", "/{}/reenviar/"),
        }
    return mark_safe(  # noqa: S308 - written by an autoescaping template
        render_to_string(
            "collections_app/thread_items.jinja",
            {"items": items, "icons": CHANNEL_ICONS, "resend": resend},
        )
    )


def _detail_url(conversation: Conversation) -> str:
    return reverse("collections_app:conversation_detail", args=[conversation.customer.pk])


@require_POST
@permission_required(CHANGE, raise_exception=True)
def conversation_reply(request: HttpRequest, customer_pk: int) -> HttpResponse:
    conversation = selectors.conversation_for(request.user, customer_pk)
    form = forms.ReplyForm(request.POST, channels=selectors.reply_channels(conversation.customer))
    if form.is_valid():
        try:
            sending = services.reply(conversation, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            text = services.outcome_text(sending)
            if sending.is_queued:
                messages.success(request, text)
                _warn_if_only_recorded(request, form.cleaned_data["channel"])
            else:
                messages.warning(request, text)
            return redirect(_detail_url(conversation))
    return _render_detail(request, conversation, reply_form=form)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def conversation_resend(request: HttpRequest, customer_pk: int, message_pk: int) -> HttpResponse:
    """Queue again a message that failed for good (once: a double click queues it once)."""
    conversation = selectors.conversation_for(request.user, customer_pk)
    if customer_messages.resend_failed(
        customer=conversation.customer, message_id=message_pk, actor=request.user
    ):
        messages.success(request, _("Mensaje en cola de nuevo."))
        channel = (
            conversation.customer.messages.filter(pk=message_pk)
            .values_list("channel", flat=True)
            .first()
        )
        _warn_if_only_recorded(request, channel)
    else:
        messages.warning(
            request, _("Ese mensaje ya no está fallido: ya se volvió a poner en cola o se envió.")
        )
    return redirect(_detail_url(conversation))


def _warn_if_only_recorded(request: HttpRequest, channel: str | None) -> None:
    """Say so when `channel` has no provider: its message is recorded, not sent (as the
    flows warn before they send)."""
    if channel is None or customer_messages.is_delivered(channel):
        return
    messages.warning(
        request,
        _("%(channel)s no configurado: el mensaje se registrará sin enviarse.")
        % {"channel": Message.Channel(channel).label},
    )


@require_POST
@permission_required(CHANGE, raise_exception=True)
def conversation_assign(request: HttpRequest, customer_pk: int) -> HttpResponse:
    conversation = selectors.conversation_for(request.user, customer_pk)
    if "agent" not in request.POST and conversation.assigned_to_id is not None:
        # A browser sends no value for a disabled option: the page showed the holder who
        # may no longer be given conversations (show_holder) and it was saved unchanged.
        # Read as "Sin asignar", that would unassign it.
        messages.info(
            request,
            _(
                "No se cambió nada: la conversación sigue a cargo de %(name)s. Elija a quién "
                "asignarla, o «Sin asignar»."
            )
            % {"name": selectors.holder_label(conversation.assigned_to)},
        )
        return redirect(_detail_url(conversation))
    form = forms.AssignForm(request.POST)
    if form.is_valid():
        agent = form.cleaned_data["agent"]
        try:
            services.assign(conversation, agent, request.user)
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            if agent is None:
                messages.success(request, _("La conversación quedó sin asignar."))
            else:
                messages.success(
                    request,
                    _("Conversación asignada a %(name)s.")
                    % {"name": form.fields["agent"].label_from_instance(agent)},
                )
            return redirect(_detail_url(conversation))
    return _render_detail(request, conversation, assign_form=form)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def conversation_labels(request: HttpRequest, customer_pk: int) -> HttpResponse:
    conversation = selectors.conversation_for(request.user, customer_pk)
    form = forms.LabelsForm(request.POST)
    if form.is_valid():
        services.set_labels(conversation, form.cleaned_data["labels"], request.user)
        messages.success(request, _("Etiquetas guardadas."))
        return redirect(_detail_url(conversation))
    return _render_detail(request, conversation, labels_form=form)
