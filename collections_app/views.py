"""The collections agents' screens: payments to verify, promises, payment links, call-back
requests, and a customer's collections page where an agent registers each event.

Every change goes through `collections_app.services`; every record through its access
helper in `selectors`. The destructive actions (approve, reject, withdraw a promise, a link
or an agreement, annul a payment) first answer a confirmation page, and act only on its POST.
"""

import mimetypes
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from csp.decorators import csp_replace
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from collections_app import forms, receivables, screens, selectors, services, tables
from collections_app.models import (
    CallbackRequest,
    MessageTemplate,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    ReportedPayment,
)
from collections_app.receivables import Debt
from collections_app.signals import Event
from collections_app.strategies import events as event_settings
from collections_app.strategies import templating
from crm import display
from crm import messages as customer_messages
from crm.models import Customer
from lib import files, lists, people

PAGE_SIZE = lists.LIST_PAGE_SIZE
# A receipt of these types opens in the browser; anything else downloads.
INLINE_TYPES = {"application/pdf", "image/jpeg", "image/png"}
IMAGE_TYPES = {"image/jpeg", "image/png"}
# The menu's badge counts the payments to verify up to this many ("99+" above).
BADGE_CAP = 99

VIEW_REPORTED = ("collections_app.view_reportedpayment", "crm.view_customer")
VIEW_PROMISES = ("collections_app.view_paymentpromise", "crm.view_customer")
VIEW_LINKS = ("collections_app.view_paymentlink", "crm.view_customer")
VIEW_CALLBACKS = ("collections_app.view_callbackrequest", "crm.view_customer")
# The names of the lists' CSV/XLSX files: pagos-a-verificar-<day>.csv, compromisos-<day>.xlsx
REPORTED_EXPORT = "pagos-a-verificar"
PROMISE_EXPORT = "compromisos"


def _list(
    request: HttpRequest,
    *,
    form: forms.ListFilterForm,
    rows: QuerySet,
    name: str,
    read_more: Callable[[list], None] | None = None,
    **context: Any,
) -> HttpResponse:
    """Render a work list, `name`'s page or (HTMX) its results, 25 rows a page;
    `read_more` adds to the page's rows what the list shows besides their own fields."""
    page = lists.CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    if read_more is not None:
        page.object_list = list(page.object_list)
        read_more(page.object_list)
    return lists.render_page_or_fragment(
        request,
        page_template=f"collections_app/{name}_list.html",
        fragment_template=f"collections_app/partials/{name}_results.html",
        context={"form": form, "page": page, **context},
    )


def _next_or(request: HttpRequest, fallback: str) -> str:
    """Return the POST's `next` (else the query's) when it is a path of this site, else
    `fallback`.

    Only a path from the root: `redirect` would take anything else without a slash or a
    dot ("²", "lista") for the name of a view and fail on it.
    """
    target = request.POST.get("next") or request.GET.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


_confirm = screens.confirm


def _amount(currency: str, amount: Decimal) -> str:
    """An amount as the screens write it: "S/ 1,234.50"."""
    return display.money_text(amount, currency)


def _debt(kind: str, receivable_id: int) -> Debt | None:
    """Return a receivable's debt today, or None when its kind or the receivable is gone."""
    try:
        return receivables.kind(kind).debt(receivable_id, timezone.localdate())
    except ValidationError:
        return None


def _to_receivable(kind: str, code: str) -> str:
    """Name a receivable after "to": "al crédito L1234", "a la deuda C-9"."""
    if kind == receivables.LOAN:
        return _("al crédito %(code)s") % {"code": code}
    return _("a la deuda %(code)s") % {"code": code}


def _review_notice(report: ReportedPayment, event: str) -> tuple[str, bool]:
    """Say how the debtor will hear of the review, as services._tell_debtor sends it: the
    template the events settings name for `event`, else the built-in e-mail. Also say
    whether that message carries the rejection's reason."""
    setting = event_settings.active_setting(report.portfolio, event)
    if setting is None:
        sentence = _(
            "Se avisará al cliente por correo, si tiene correo y no pidió no ser contactado."
        )
        return sentence, True
    template = setting.template
    if template.channel == MessageTemplate.Channel.EMAIL:
        sentence = _(
            "Se avisará al cliente por correo con la plantilla «%(name)s», si tiene correo y "
            "no pidió no ser contactado."
        )
    else:
        sentence = _(
            "Se avisará al cliente por %(channel)s con la plantilla «%(name)s», si tiene "
            "celular y no pidió no ser contactado."
        )
    sentence %= {"channel": template.get_channel_display(), "name": template.name}
    says = [*templating.placeholders(template.subject), *templating.placeholders(template.body)]
    return sentence, "motivo" in says


# --- Payments to verify ------------------------------------------------------------------


@require_GET
@permission_required(VIEW_REPORTED, raise_exception=True)
def reported_list(request: HttpRequest) -> HttpResponse:
    """The payments debtors say they made: the pending ones first, the oldest first.

    `?export=csv|xlsx` answers every filtered row as a file instead (lib.lists).
    """
    form = forms.ReportedFilterForm(request.GET)
    filters = form.filters()
    rows = (
        selectors.reported_list(**filters)
        if filters is not None
        else ReportedPayment.objects.none()
    )
    if file_format := lists.export_format(request):
        return lists.export_table(
            request,
            tables.ReportedExportTable(selectors.with_payment_annulment(rows)),
            filename=REPORTED_EXPORT,
            file_format=file_format,
        )
    return _list(
        request,
        form=form,
        rows=rows,
        name="reported",
        read_more=selectors.attach_payment_annulments,
        export_name=REPORTED_EXPORT,
    )


@require_GET
@permission_required(VIEW_REPORTED, raise_exception=True)
def reported_badge(request: HttpRequest) -> HttpResponse:
    """The menu's count of payments to verify (loaded after the page, one short query)."""
    count = selectors.pending_report_count(BADGE_CAP)
    return render(
        request,
        "collections_app/partials/reported_badge.html",
        {"count": count, "capped": count > BADGE_CAP, "cap": BADGE_CAP},
    )


@require_GET
@permission_required(VIEW_REPORTED, raise_exception=True)
def reported_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = selectors.reported_for(request.user, pk)
    return _render_report(request, report)


def _render_report(
    request: HttpRequest,
    report: ReportedPayment,
    *,
    approve_form: forms.ApproveForm | None = None,
    reject_form: forms.ReasonForm | None = None,
    reopen_form: forms.ReopenForm | None = None,
) -> HttpResponse:
    debt = _debt(report.receivable_kind, report.receivable_id)
    selectors.attach_payment_annulments([report])
    content_type = mimetypes.guess_type(report.receipt.name or "")[0] or ""
    approve_form = approve_form or forms.ApproveForm()
    may_change = request.user.has_perm("collections_app.change_reportedpayment")
    may_review = may_change and report.status == ReportedPayment.Status.PENDING
    return render(
        request,
        "collections_app/reported_detail.html",
        {
            "report": report,
            "debt": debt,
            # The checkbox shows when the amount is above what settles the debt today, or
            # when an approval was just refused (settling on the payment's day may differ).
            "offer_overpayment": (debt is not None and report.amount > debt.total)
            or bool(approve_form.errors),
            "receipt_is_image": content_type in IMAGE_TYPES,
            "receipt_is_pdf": content_type == "application/pdf",
            "approve_form": approve_form,
            "reject_form": reject_form or forms.ReasonForm(),
            "may_review": may_review,
            "reject_notice": _reject_notice(report) if may_review else "",
            # Undo a rejection made by mistake (services.reopen_reported_payment).
            "may_reopen": may_change and report.status == ReportedPayment.Status.REJECTED,
            "reopen_form": reopen_form or forms.ReopenForm(),
        },
    )


def _reject_notice(report: ReportedPayment) -> str:
    if selectors.report_was_reopened(report):
        return _("No se avisará al cliente: este pago ya se rechazó una vez antes de reabrirse.")
    sentence, says_reason = _review_notice(report, Event.REJECTED)
    if says_reason:
        return sentence
    return f"{sentence} {_('Esa plantilla no incluye el motivo: el cliente no lo verá.')}"


@require_GET
@permission_required(VIEW_REPORTED, raise_exception=True)
@xframe_options_sameorigin
@csp_replace({"frame-ancestors": ["'self'"]})
def reported_receipt(request: HttpRequest, pk: int) -> HttpResponse:
    """A payment to verify's receipt, for whoever may see it (selectors.reported_for); the
    detail page shows it in place, hence framing by this site only."""
    report = selectors.reported_for(request.user, pk)
    if not report.receipt:
        raise Http404
    content_type = mimetypes.guess_type(report.receipt.name)[0] or "application/octet-stream"
    try:
        return files.serve(
            report.receipt,
            as_attachment=content_type not in INLINE_TYPES,
            content_type=content_type,
        )
    except FileNotFoundError as exc:
        raise Http404 from exc


@require_POST
@permission_required("collections_app.change_reportedpayment", raise_exception=True)
def reported_approve(request: HttpRequest, pk: int) -> HttpResponse:
    report = selectors.reported_for(request.user, pk)
    form = forms.ApproveForm(request.POST)
    form.is_valid()  # a checkbox: always valid
    accept_overpayment = form.cleaned_data["accept_overpayment"]
    if report.status != ReportedPayment.Status.PENDING:
        # Reviewed meanwhile (another tab, another agent): nothing to confirm.
        form.add_error(None, _("Este pago ya fue revisado."))
        return _render_report(request, report, approve_form=form)
    if not forms.is_confirmed(request.POST):
        where = _to_receivable(report.receivable_kind, report.receivable_code)
        lines = [
            _("Se aplicará el pago de %(amount)s del %(day)s %(where)s, de %(name)s.")
            % {
                "amount": _amount(report.currency, report.amount),
                "day": report.paid_on.strftime("%d/%m/%Y"),
                "where": where,
                "name": report.customer.full_name,
            },
            _review_notice(report, Event.VERIFIED)[0],
        ]
        if accept_overpayment:
            lines.insert(
                1, _("Lo que exceda la deuda quedará como saldo a favor (pago en exceso).")
            )
        return _confirm(
            request,
            title=_("¿Verificar y aplicar este pago?"),
            lines=lines,
            button=_("Sí, verificar y aplicar"),
            cancel_url=reverse("collections_app:reported_detail", args=[report.pk]),
            is_danger=False,
        )
    try:
        review = services.approve_reported_payment(
            report=report, actor=request.user, accept_overpayment=accept_overpayment
        )
    except ValidationError as exc:
        form.add_service_error(exc)
        report.refresh_from_db()
        return _render_report(request, report, approve_form=form)
    message = _("Pago verificado y aplicado %(where)s.") % {
        "where": _to_receivable(report.receivable_kind, report.receivable_code)
    }
    messages.success(request, f"{message} {_approval_notice(review.notice)}")
    return redirect("collections_app:reported_list")


def _approval_notice(notice: customer_messages.Sending | None) -> str:
    if notice is None:
        return _("No se avisó al cliente: este pago ya se había rechazado antes de reabrirse.")
    if notice.is_queued:
        return _("Aviso al cliente en cola (%(channel)s).") % {"channel": _notice_channel(notice)}
    if notice.is_opted_out:
        return _("No se avisó al cliente: pidió no ser contactado.")
    return _("No se avisó al cliente: no tiene %(address)s.") % {"address": _notice_address(notice)}


def _notice_channel(notice: customer_messages.Sending) -> str:
    """The channel as a sentence says it: "correo", but "SMS" and "WhatsApp" as written."""
    message = notice.message
    if message is None or message.channel == customer_messages.EMAIL:
        return _("correo")
    return message.get_channel_display()


def _notice_address(notice: customer_messages.Sending) -> str:
    entry = notice.interaction
    if entry is not None and "celular" in entry.summary:
        return _("celular")
    return _("correo")


@require_POST
@permission_required("collections_app.change_reportedpayment", raise_exception=True)
def reported_reject(request: HttpRequest, pk: int) -> HttpResponse:
    report = selectors.reported_for(request.user, pk)
    form = forms.ReasonForm(request.POST)
    if report.status != ReportedPayment.Status.PENDING:
        form.is_valid()
        form.add_error(None, _("Este pago ya fue revisado."))
        return _render_report(request, report, reject_form=form)
    if not form.is_valid():
        return _render_report(request, report, reject_form=form)
    reason = form.cleaned_data["reason"]
    if not forms.is_confirmed(request.POST):
        return _confirm(
            request,
            title=_("¿Rechazar este pago?"),
            lines=[
                _("El pago de %(amount)s del %(day)s que informó %(name)s no se aplicará.")
                % {
                    "amount": _amount(report.currency, report.amount),
                    "day": report.paid_on.strftime("%d/%m/%Y"),
                    "name": report.customer.full_name,
                },
                _("Motivo: «%(reason)s».") % {"reason": reason},
                _reject_notice(report),
            ],
            button=_("Sí, rechazar"),
            cancel_url=reverse("collections_app:reported_detail", args=[report.pk]),
        )
    try:
        review = services.reject_reported_payment(report=report, actor=request.user, reason=reason)
    except ValidationError as exc:
        form.add_service_error(exc)
        report.refresh_from_db()
        return _render_report(request, report, reject_form=form)
    messages.success(request, _("Pago rechazado.") + " " + _approval_notice(review.notice))
    return redirect("collections_app:reported_list")


@require_POST
@permission_required("collections_app.change_reportedpayment", raise_exception=True)
def reported_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    """Put a payment rejected by mistake back in the queue, after a page that asks again."""
    report = selectors.reported_for(request.user, pk)
    form = forms.ReopenForm(request.POST)
    form.is_valid()  # nothing to fill in
    if refusal := services.reopen_refusal(report):
        # Reopened meanwhile (a second click, another agent), verified, or the same payment
        # reported again since: nothing to confirm.
        form.add_error(None, refusal)
        return _render_report(request, report, reopen_form=form)
    if not forms.is_confirmed(request.POST):
        lines = [
            _(
                "El pago de %(amount)s del %(day)s que informó %(name)s vuelve a la cola de "
                "pagos por verificar."
            )
            % {
                "amount": _amount(report.currency, report.amount),
                "day": report.paid_on.strftime("%d/%m/%Y"),
                "name": report.customer.full_name,
            },
            _("Se deja sin efecto su rechazo del %(when)s por %(who)s. Motivo: «%(reason)s».")
            % {
                "when": timezone.localtime(report.reviewed_at).strftime("%d/%m/%Y %H:%M")
                if report.reviewed_at
                else "—",
                "who": people.display_name(report.reviewed_by) or _("el sistema"),
                "reason": report.reject_reason or "—",
            },
            _(
                "No se avisará al cliente de la reapertura. Si luego se verifica, se le avisará "
                "como siempre; si se rechaza de nuevo, no se le avisará otra vez."
            ),
        ]
        return _confirm(
            request,
            title=_("¿Reabrir este pago?"),
            lines=lines,
            button=_("Sí, reabrir"),
            cancel_url=reverse("collections_app:reported_detail", args=[report.pk]),
            is_danger=False,
        )
    try:
        services.reopen_reported_payment(report=report, actor=request.user)
    except ValidationError as exc:
        form.add_service_error(exc)
        report.refresh_from_db()
        return _render_report(request, report, reopen_form=form)
    messages.success(
        request,
        _("Pago reabierto: volvió a la cola de pagos por verificar. No se avisó al cliente."),
    )
    return redirect("collections_app:reported_detail", report.pk)


# --- Promises ----------------------------------------------------------------------------


@require_GET
@permission_required(VIEW_PROMISES, raise_exception=True)
def promise_list(request: HttpRequest) -> HttpResponse:
    """The promises to pay, by tab: due today, broken, in course, all.

    `?export=csv|xlsx` answers every row of the tab and filters as a file instead (lib.lists).
    """
    form = forms.PromiseFilterForm(request.GET)
    filters = form.filters()
    if filters is None:
        rows, view = PaymentPromise.objects.none(), ""
    else:
        view = filters.pop("view")
        rows = selectors.promise_list(view=view, **filters)
    if file_format := lists.export_format(request):
        return lists.export_table(
            request,
            tables.PromiseExportTable(rows),
            filename=PROMISE_EXPORT,
            file_format=file_format,
        )
    counts = selectors.promise_counts(**filters) if filters is not None else {}
    tabs = [(value, label, counts.get(value or "todos", 0)) for value, label in form.TABS]
    return _list(
        request,
        form=form,
        rows=rows,
        name="promise",
        tabs=tabs,
        view=view,
        export_name=PROMISE_EXPORT,
        today=timezone.localdate(),
    )


@permission_required("collections_app.change_paymentpromise", raise_exception=True)
def promise_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw a promise in course, with a reason (a page of its own without JavaScript)."""
    promise = selectors.promise_for(request.user, pk)
    form = forms.ReasonForm(request.POST or None)
    # One no longer in course, or an agreement's installment: the page says so, with no
    # confirmation to ask first.
    if request.method == "POST" and promise.is_cancellable and form.is_valid():
        back = _next_or(request, reverse("collections_app:promise_list"))
        if not forms.is_confirmed(request.POST):
            return _confirm(
                request,
                title=_("¿Anular este compromiso de pago?"),
                lines=[
                    _("%(name)s: %(amount)s al %(day)s, %(code)s.")
                    % {
                        "name": promise.customer.full_name,
                        "amount": _amount(promise.currency, promise.amount),
                        "day": promise.promised_on.strftime("%d/%m/%Y"),
                        "code": promise.receivable_code,
                    },
                    _("Motivo: «%(reason)s».") % {"reason": form.cleaned_data["reason"]},
                ],
                button=_("Sí, anular el compromiso"),
                cancel_url=back,
            )
        try:
            services.cancel_promise(
                promise=promise, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("Compromiso de pago del %(day)s anulado.")
                % {"day": promise.promised_on.strftime("%d/%m/%Y")},
            )
            return redirect(back)
    return render(
        request,
        "collections_app/promise_cancel.html",
        {
            "promise": promise,
            "form": form,
            "next": request.POST.get("next") or request.GET.get("next", ""),
        },
    )


# --- Payment links -----------------------------------------------------------------------


@require_GET
@permission_required(VIEW_LINKS, raise_exception=True)
def link_list(request: HttpRequest) -> HttpResponse:
    form = forms.LinkFilterForm(request.GET)
    filters = form.filters()
    rows = selectors.link_list(**filters) if filters is not None else PaymentLink.objects.none()
    return _list(request, form=form, rows=rows, name="link", now=timezone.now())


@permission_required("collections_app.add_paymentlink", raise_exception=True)
def link_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw an unpaid link, with a reason (one sent with a wrong amount stayed payable
    until it expired). A page of its own, without JavaScript; asked again before acting."""
    link = selectors.link_for(request.user, pk)
    form = forms.ReasonForm(request.POST or None)
    cancellable = link.is_withdrawable
    back = _next_or(request, reverse("collections_app:link_list"))
    # The down payment of an agreement waiting for it: the agreement goes with the link.
    waiting = _waiting_agreement(link)
    if request.method == "POST" and cancellable and form.is_valid():
        if not forms.is_confirmed(request.POST):
            lines = [
                _("%(name)s: %(amount)s, %(code)s, %(reference)s (%(provider)s).")
                % {
                    "name": link.customer.full_name,
                    "amount": _amount(link.currency, link.amount),
                    "code": link.receivable_code,
                    "reference": link.reference,
                    "provider": link.provider_name,
                },
                _(
                    "Deja de ofrecerse al cliente y no se puede reactivar. La pasarela "
                    "mantiene abierto su pago hasta el vencimiento: si el cliente aún "
                    "paga por él, el pago se registra."
                ),
            ]
            if waiting is not None:
                lines.append(_agreement_goes_with(waiting))
            lines.append(_("Motivo: «%(reason)s».") % {"reason": form.cleaned_data["reason"]})
            return _confirm(
                request,
                title=_("¿Anular este link de pago?"),
                lines=lines,
                button=_("Sí, anular el link"),
                cancel_url=back,
            )
        try:
            link = services.cancel_payment_link(
                link=link, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            message = _("Link de pago %(reference)s anulado.") % {"reference": link.reference}
            # The agreement as the service left it (services._withdraw_waiting_agreement).
            withdrawn = link.agreement
            if waiting is not None and withdrawn.status == PaymentAgreement.Status.CANCELLED:
                message += " " + _(
                    "También se anuló el convenio #%(id)s, que esperaba este pie: %(code)s "
                    "puede tomar otro convenio."
                ) % {"id": withdrawn.pk, "code": withdrawn.receivable_code}
            messages.success(request, message)
            return redirect(back)
    return render(
        request,
        "collections_app/link_cancel.html",
        {
            "link": link,
            "form": form,
            "cancellable": cancellable,
            "waiting": waiting,
            "back": back,
            "next": request.POST.get("next") or request.GET.get("next", ""),
        },
    )


def _waiting_agreement(link: PaymentLink) -> PaymentAgreement | None:
    """Return the agreement whose down payment `link` asks for, while it waits for it."""
    agreement = link.agreement
    if agreement is None or agreement.status != PaymentAgreement.Status.PENDING:
        return None
    return agreement


def _agreement_goes_with(agreement: PaymentAgreement) -> str:
    return _(
        "Es el pie del convenio #%(id)s (%(code)s), que espera este pago: el convenio se anula "
        "también y la deuda podrá tomar otro convenio."
    ) % {"id": agreement.pk, "code": agreement.receivable_code}


# --- Agreements --------------------------------------------------------------------------


@permission_required(
    # As for withdrawing a promise: an agreement's installments become promises.
    "collections_app.change_paymentpromise",
    raise_exception=True,
)
def agreement_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw an agreement still waiting for its down payment (taken by mistake), with a
    reason, and its down-payment link. A page of its own, without JavaScript; asked again
    before acting."""
    agreement = selectors.agreement_for(request.user, pk)
    form = forms.ReasonForm(request.POST or None)
    cancellable = agreement.status == PaymentAgreement.Status.PENDING
    back = _next_or(request, _customer_page(agreement.customer))
    if request.method == "POST" and cancellable and form.is_valid():
        # What goes with it (cancel_agreement withdraws them all, under their locks): a
        # link paid meanwhile would have activated the agreement, which is then refused.
        links = selectors.withdrawable_links(agreement)
        refs = ", ".join(link.reference for link in links)
        if not forms.is_confirmed(request.POST):
            return _confirm(
                request,
                title=_("¿Anular este convenio de pago?"),
                lines=[
                    ngettext(
                        "%(name)s: convenio #%(id)s en %(n)s cuota para %(code)s, pie "
                        "%(down)s, total %(total)s.",
                        "%(name)s: convenio #%(id)s en %(n)s cuotas para %(code)s, pie "
                        "%(down)s, total %(total)s.",
                        agreement.installments,
                    )
                    % {
                        "name": agreement.customer.full_name,
                        "id": agreement.pk,
                        "n": agreement.installments,
                        "code": agreement.receivable_code,
                        "down": _amount(agreement.currency, agreement.down_payment),
                        "total": _amount(agreement.currency, agreement.total),
                    },
                    _(
                        "Su link de pago del pie (%(refs)s) se anula también y deja de "
                        "ofrecerse al cliente. La pasarela mantiene abierto su pago hasta el "
                        "vencimiento: si el cliente aún paga por él, el pago se registra, sin "
                        "activar el convenio."
                    )
                    % {"refs": refs}
                    if links
                    else _("Su link de pago del pie ya no está abierto."),
                    _("La deuda podrá tomar otro convenio."),
                    _("Motivo: «%(reason)s».") % {"reason": form.cleaned_data["reason"]},
                ],
                button=_("Sí, anular el convenio"),
                cancel_url=back,
            )
        try:
            services.cancel_agreement(
                agreement=agreement, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            said = {"id": agreement.pk, "code": agreement.receivable_code, "refs": refs}
            if links:
                message = _(
                    "Convenio #%(id)s de %(code)s anulado, con su link de pago del pie "
                    "%(refs)s: la deuda puede tomar otro convenio."
                )
            else:
                message = _(
                    "Convenio #%(id)s de %(code)s anulado: la deuda puede tomar otro convenio."
                )
            messages.success(request, message % said)
            return redirect(back)
    return render(
        request,
        "collections_app/agreement_cancel.html",
        {
            "agreement": agreement,
            "form": form,
            "cancellable": cancellable,
            "back": back,
            "next": request.POST.get("next") or request.GET.get("next", ""),
        },
    )


# --- Call-back requests ------------------------------------------------------------------


@require_GET
@permission_required(VIEW_CALLBACKS, raise_exception=True)
def callback_list(request: HttpRequest) -> HttpResponse:
    """Who asked to be called: the open requests first, the earliest asked first."""
    form = forms.CallbackFilterForm(request.GET)
    filters = form.filters()
    rows = (
        selectors.callback_list(**filters)
        if filters is not None
        else CallbackRequest.objects.none()
    )
    return _list(request, form=form, rows=rows, name="callback")


@permission_required("collections_app.change_callbackrequest", raise_exception=True)
def callback_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a call-back request as called or discarded, saying what happened."""
    callback = selectors.callback_for(request.user, pk)
    form = forms.CallbackCloseForm(request.POST or None)
    # One closed already: the page says so (a second close would say it twice).
    is_open = callback.status == CallbackRequest.Status.OPEN
    if request.method == "POST" and is_open and form.is_valid():
        try:
            callback = services.close_callback(
                callback=callback, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("Pedido de llamada de %(name)s cerrado como «%(status)s».")
                % {"name": callback.customer.full_name, "status": callback.get_status_display()},
            )
            return redirect(_next_or(request, reverse("collections_app:callback_list")))
    return render(
        request,
        "collections_app/callback_close.html",
        {
            "callback": callback,
            "form": form,
            "next": request.POST.get("next") or request.GET.get("next", ""),
        },
    )


# --- A customer's collections page -------------------------------------------------------

FORM_PREFIXES = {
    "link": "link",
    "promise": "promise",
    "report": "report",
    "callback": "callback",
    "annul": "annul",
    "agreement": "agreement",
}


@require_GET
@permission_required(VIEW_REPORTED, raise_exception=True)
def customer_collections(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer = selectors.customer_for(request.user, customer_pk)
    return _render_customer(request, customer)


def _customer_page(customer: Customer) -> str:
    return reverse("collections_app:customer_collections", args=[customer.pk])


def _render_customer(
    request: HttpRequest,
    customer: Customer,
    *,
    debts: list[Debt] | None = None,
    bound: Form | None = None,
    failed: str = "",
) -> HttpResponse:
    """Render the customer's collections page; `bound` is the form just refused (`failed`
    names it), shown with its errors, the others empty."""
    user = request.user
    if debts is None:
        debts = receivables.open_debts(customer.pk, timezone.localdate())
    may = {
        "link": user.has_perm("collections_app.add_paymentlink"),
        "promise": user.has_perm("collections_app.add_paymentpromise"),
        "report": user.has_perm("collections_app.add_reportedpayment"),
        "callback": user.has_perm("collections_app.change_callbackrequest"),
        "annul": user.has_perm("credits.annul_payment"),
        "agreement": user.has_perm("collections_app.add_paymentagreement"),
    }
    sees = {
        "links": user.has_perm("collections_app.view_paymentlink"),
        "promises": user.has_perm("collections_app.view_paymentpromise"),
        "agreements": user.has_perm("collections_app.view_paymentagreement"),
        "callbacks": user.has_perm("collections_app.view_callbackrequest"),
    }
    options: list[tuple[Debt, list[services.AgreementOption]]] = []
    if may["agreement"] or sees["agreements"]:
        rules = selectors.active_agreement_rules()
        options = [
            (debt, found)
            for debt in debts
            if (found := services.agreement_options(debt, rules=rules))
        ]
    payments = selectors.annullable_payments(customer) if may["annul"] else []

    def form_for(name: str, form_class, **kwargs):
        if failed == name:
            return bound
        return form_class(prefix=FORM_PREFIXES[name], **kwargs)

    context = {
        "customer": customer,
        "debts": debts,
        "options": options,
        "may": may,
        "sees": sees,
        "failed": failed,
        "link_form": form_for("link", forms.LinkForm, debts=debts),
        "promise_form": form_for("promise", forms.PromiseForm, debts=debts),
        "report_form": form_for("report", forms.ReportForm, debts=debts),
        "callback_form": form_for(
            "callback",
            forms.CallbackRequestForm,
            initial={"phone": str(customer.phone or "")},
        ),
        "annul_form": form_for("annul", forms.AnnulForm, payments=payments),
        "agreement_form": form_for("agreement", forms.AgreementForm, debts=debts),
        "links": selectors.customer_links(customer) if sees["links"] else [],
        "reports": selectors.customer_reports(customer),
        "promises": selectors.customer_promises(customer) if sees["promises"] else [],
        "agreements": selectors.customer_agreements(customer) if sees["agreements"] else [],
        "callbacks": selectors.customer_callbacks(customer) if sees["callbacks"] else [],
        "credit_balances": selectors.credit_balances(customer.pk),
        "sees_loans": user.has_perm("credits.view_loan"),
        "page_url": _customer_page(customer),
        "now": timezone.now(),
        "today": timezone.localdate(),
    }
    return render(request, "collections_app/customer_collections.html", context)


def _customer_and_debts(request: HttpRequest, customer_pk: int) -> tuple[Customer, list[Debt]]:
    customer = selectors.customer_for(request.user, customer_pk)
    return customer, receivables.open_debts(customer.pk, timezone.localdate())


@require_POST
@permission_required(
    ("collections_app.add_paymentlink", "collections_app.view_reportedpayment"),
    raise_exception=True,
)
def customer_link_create(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer, debts = _customer_and_debts(request, customer_pk)
    form = forms.LinkForm(request.POST, prefix=FORM_PREFIXES["link"], debts=debts)
    if form.is_valid():
        try:
            link = services.create_payment_link(
                customer=customer,
                origin=Origin.AGENT,
                actor=request.user,
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("Link de pago creado: %(amount)s por %(provider)s, vence el %(expires)s.")
                % {
                    "amount": _amount(link.currency, link.amount),
                    "provider": dict(forms.GATEWAY_CHOICES).get(link.provider, link.provider),
                    "expires": timezone.localtime(link.expires_at).strftime("%d/%m/%Y %H:%M"),
                },
            )
            return redirect(_customer_page(customer))
    return _render_customer(request, customer, debts=debts, bound=form, failed="link")


@require_POST
@permission_required(
    ("collections_app.add_paymentpromise", "collections_app.view_reportedpayment"),
    raise_exception=True,
)
def customer_promise_create(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer, debts = _customer_and_debts(request, customer_pk)
    form = forms.PromiseForm(request.POST, prefix=FORM_PREFIXES["promise"], debts=debts)
    if form.is_valid():
        try:
            promise = services.promise_payment(
                customer=customer,
                origin=Origin.AGENT,
                actor=request.user,
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("Compromiso de pago de %(amount)s para el %(day)s registrado %(to)s.")
                % {
                    "amount": _amount(promise.currency, promise.amount),
                    "day": promise.promised_on.strftime("%d/%m/%Y"),
                    "to": _to_receivable(promise.receivable_kind, promise.receivable_code),
                },
            )
            return redirect(_customer_page(customer))
    return _render_customer(request, customer, debts=debts, bound=form, failed="promise")


@require_POST
@permission_required(
    ("collections_app.add_reportedpayment", "collections_app.view_reportedpayment"),
    raise_exception=True,
)
def customer_report_create(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer, debts = _customer_and_debts(request, customer_pk)
    form = forms.ReportForm(
        request.POST, request.FILES, prefix=FORM_PREFIXES["report"], debts=debts
    )
    if form.is_valid():
        asked_at = timezone.now()
        try:
            report = services.report_payment(
                customer=customer,
                origin=Origin.AGENT,
                actor=request.user,
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            values = {
                "amount": _amount(report.currency, report.amount),
                "to": _to_receivable(report.receivable_kind, report.receivable_code),
                "id": report.pk,
            }
            if report.created_at < asked_at:
                # The same form sent again: the service returned the one waiting.
                messages.info(
                    request,
                    _(
                        "Ese pago de %(amount)s ya se informó %(to)s hace un momento y queda "
                        "por verificar (#%(id)s): no se registró otro."
                    )
                    % values,
                )
            else:
                messages.success(
                    request,
                    _(
                        "Pago informado de %(amount)s registrado %(to)s: queda por verificar "
                        "(#%(id)s)."
                    )
                    % values,
                )
            return redirect(_customer_page(customer))
    return _render_customer(request, customer, debts=debts, bound=form, failed="report")


@require_POST
@permission_required(
    # The role table gives no add_callbackrequest: whoever works the call-back list
    # (change) may also put a customer on it.
    ("collections_app.change_callbackrequest", "collections_app.view_reportedpayment"),
    raise_exception=True,
)
def customer_callback_create(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer, debts = _customer_and_debts(request, customer_pk)
    form = forms.CallbackRequestForm(request.POST, prefix=FORM_PREFIXES["callback"])
    if form.is_valid():
        try:
            callback = services.request_callback(
                customer=customer,
                origin=Origin.AGENT,
                actor=request.user,
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            if callback.is_repeat:
                messages.info(
                    request,
                    _(
                        "Ya hay un pedido de llamada abierto al %(phone)s (#%(id)s): no se "
                        "registró otro."
                    )
                    % {"phone": callback.phone, "id": callback.pk},
                )
            else:
                messages.success(
                    request,
                    _("Pedido de llamada registrado al %(phone)s.") % {"phone": callback.phone},
                )
            return redirect(_customer_page(customer))
    return _render_customer(request, customer, debts=debts, bound=form, failed="callback")


@require_POST
@permission_required(
    ("credits.annul_payment", "collections_app.view_reportedpayment"), raise_exception=True
)
def customer_payment_annul(request: HttpRequest, customer_pk: int) -> HttpResponse:
    """Annul one of the customer's loan payments, after a confirmation page."""
    customer = selectors.customer_for(request.user, customer_pk)
    form = forms.AnnulForm(
        request.POST,
        prefix=FORM_PREFIXES["annul"],
        payments=selectors.annullable_payments(customer),
        customer=customer,
    )
    if form.is_valid():
        payment = form.chosen_payment()
        loan = payment.loan
        if not forms.is_confirmed(request.POST):
            return _confirm(
                request,
                title=_("¿Anular este pago?"),
                lines=[
                    _("Pago #%(id)s de %(amount)s del %(day)s, crédito %(code)s de %(name)s.")
                    % {
                        "id": payment.pk,
                        "amount": _amount(loan.currency, payment.amount),
                        "day": payment.received_on.strftime("%d/%m/%Y"),
                        "code": loan.payment_code,
                        "name": customer.full_name,
                    },
                    _("Las cuotas que pagó vuelven a quedar pendientes, al centavo."),
                    _("Motivo: «%(reason)s».") % {"reason": form.cleaned_data["reason"]},
                ],
                button=_("Sí, anular el pago"),
                cancel_url=_customer_page(customer),
            )
        try:
            services.annul_payment(
                customer=customer,
                receivable_kind=receivables.LOAN,
                payment_id=payment.pk,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                origin=Origin.AGENT,
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("Pago #%(id)s de %(amount)s anulado: el crédito %(code)s vuelve a deberlo.")
                % {
                    "id": payment.pk,
                    "amount": _amount(loan.currency, payment.amount),
                    "code": loan.payment_code,
                },
            )
            return redirect(_customer_page(customer))
    return _render_customer(request, customer, bound=form, failed="annul")


@require_POST
@permission_required(
    ("collections_app.add_paymentagreement", "collections_app.view_reportedpayment"),
    raise_exception=True,
)
def customer_agreement_create(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer, debts = _customer_and_debts(request, customer_pk)
    form = forms.AgreementForm(request.POST, prefix=FORM_PREFIXES["agreement"], debts=debts)
    if form.is_valid():
        try:
            agreement, link = services.create_agreement(
                customer=customer,
                origin=Origin.AGENT,
                actor=request.user,
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                ngettext(
                    "Convenio en %(n)s cuota registrado para %(code)s: el pie de %(amount)s "
                    "se paga con el link de %(provider)s, que vence el %(expires)s.",
                    "Convenio en %(n)s cuotas registrado para %(code)s: el pie de %(amount)s "
                    "se paga con el link de %(provider)s, que vence el %(expires)s.",
                    agreement.installments,
                )
                % {
                    "n": agreement.installments,
                    "code": agreement.receivable_code,
                    "amount": _amount(link.currency, link.amount),
                    "provider": dict(forms.GATEWAY_CHOICES).get(link.provider, link.provider),
                    "expires": timezone.localtime(link.expires_at).strftime("%d/%m/%Y %H:%M"),
                },
            )
            return redirect(_customer_page(customer))
    return _render_customer(request, customer, debts=debts, bound=form, failed="agreement")
