"""The agents' screens of written-off campaigns (*Cartera castigada*, under Cobranzas): the
list with its totals, a campaign's page with its payments and portal activity, a new
campaign, finishing one, annulling a payment, a payment's receipt and the portal's funnel.

Payments, promises, payments to verify and links of a campaign are registered on the
customer's collections page (collections_app), where the campaign is one more debt. Every
change goes through a service; the destructive ones first answer a confirmation page.
"""

import mimetypes
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from collections_app import screens
from collections_app import services as collection_services
from collections_app.models import Origin
from credits.models import Payment
from crm import display
from lib import files, lists
from recovery import forms, selectors, services, tables
from recovery.models import Campaign, CampaignPayment, Visit, discount_percent
from recovery.portal import selectors as portal_selectors
from recovery.receivables import CAMPAIGN

PAGE_SIZE = lists.LIST_PAGE_SIZE
# The campaign list's CSV/XLSX file: cartera-castigada-<day>.csv
EXPORT_NAME = "cartera-castigada"
# A receipt of these types opens in the browser; anything else downloads.
INLINE_TYPES = {"application/pdf", "image/jpeg", "image/png"}

VIEW = (selectors.VIEW_CAMPAIGN, selectors.VIEW_CUSTOMER)
ADD = ("recovery.add_campaign", *VIEW)
CHANGE = ("recovery.change_campaign", *VIEW)
VIEW_PAYMENTS = (selectors.VIEW_PAYMENT, *VIEW)
# Annulling a campaign's payment takes the right that annuls a loan's on the customer's
# collections page: one right for "undo money received", whatever it paid.
ANNUL = ("credits.annul_payment", *VIEW_PAYMENTS)
FUNNEL = (selectors.VIEW_VISIT, *VIEW)
# Where a campaign payment's money came from (CampaignPayment.source takes the ledger's
# words: transfer, deposit, cash, mercadopago, clear, other), as the page says it.
SOURCES = dict(Payment.Source.choices)


def _amount(currency: str, amount: Decimal) -> str:
    """Write money as the screens do (S/ 1,234.50), in confirmations and messages too."""
    return display.money_text(amount, currency)


def _detail_url(campaign: Campaign) -> str:
    return reverse("recovery:campaign_detail", args=[campaign.pk])


# --- The list ----------------------------------------------------------------------------


@require_GET
@permission_required(VIEW, raise_exception=True)
def campaign_list(request: HttpRequest) -> HttpResponse:
    """The campaigns, newest first, with the filtered set's totals; 25 rows a page.

    `?export=csv|xlsx` answers every filtered row as a file instead (lib.lists).
    """
    services.finish_ended()  # a campaign past its end date is shown finished, not active
    form = forms.CampaignFilterForm(request.GET)
    filters = form.filters()
    rows = selectors.campaign_list(**filters) if filters is not None else Campaign.objects.none()
    if file_format := lists.export_format(request):
        return lists.export_table(
            request,
            tables.CampaignExportTable(rows),
            filename=EXPORT_NAME,
            file_format=file_format,
        )
    totals = selectors.campaign_totals(rows) if filters is not None else []
    page = lists.CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return lists.render_page_or_fragment(
        request,
        page_template="recovery/campaign_list.html",
        fragment_template="recovery/partials/campaign_results.html",
        context={
            "form": form,
            "page": page,
            "totals": totals,
            "export_name": EXPORT_NAME,
        },
    )


# --- One campaign ------------------------------------------------------------------------


@require_GET
@permission_required(VIEW, raise_exception=True)
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_for(request.user, pk)
    return _render_detail(request, campaign)


def _render_detail(
    request: HttpRequest,
    campaign: Campaign,
    *,
    finish_form: forms.FinishForm | None = None,
    annul_form: forms.AnnulForm | None = None,
    annul_payment_id: int | None = None,
) -> HttpResponse:
    """Render a campaign's page; a refused form comes back with its errors (status 200)."""
    if campaign.is_active and campaign.has_ended(timezone.localdate()):
        services.finish_ended()
        campaign.refresh_from_db()
    user = request.user
    may = {
        "finish": user.has_perm("recovery.change_campaign") and campaign.is_active,
        "payments": user.has_perm(selectors.VIEW_PAYMENT),
        "annul": all(user.has_perm(p) for p in ANNUL),
        "visits": user.has_perm(selectors.VIEW_VISIT),
        "collections": user.has_perm("collections_app.view_reportedpayment"),
        "customer": user.has_perm("crm.view_customer"),
    }
    payments = selectors.campaign_payments(campaign) if may["payments"] else []
    for payment in payments:
        payment.source_label = SOURCES.get(payment.source, payment.source)
    context = {
        "campaign": campaign,
        "customer": campaign.customer,
        "may": may,
        "payments": payments,
        "activity": selectors.campaign_activity(campaign) if may["visits"] else None,
        "finish_form": finish_form or forms.FinishForm(),
        "annul_form": annul_form,
        "annul_payment_id": annul_payment_id,
        "applied": CampaignPayment.Status.APPLIED,
        "steps": Visit.Step,
    }
    return render(request, "recovery/campaign_detail.html", context)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def campaign_finish(request: HttpRequest, pk: int) -> HttpResponse:
    """Finish an active campaign now, after a confirmation page: the offer ends with it."""
    campaign = selectors.campaign_for(request.user, pk)
    form = forms.FinishForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, campaign, finish_form=form)
    reason = form.cleaned_data["reason"]
    if not forms.is_confirmed(request.POST):
        lines = [
            _("Campaña %(code)s de %(name)s: saldo %(balance)s.")
            % {
                "code": campaign.code,
                "name": campaign.customer.full_name,
                "balance": _amount(campaign.currency, campaign.balance),
            },
            _(
                "El cliente ya no verá la oferta en el portal y se le quitará la etiqueta "
                "«Cartera castigada»."
            ),
            *_open_offer_lines(services.open_offers(campaign)),
            _("Finalizar la campaña no se puede deshacer."),
        ]
        if reason:
            lines.append(_("Motivo: «%(reason)s».") % {"reason": reason})
        return screens.confirm(
            request,
            title=_("¿Finalizar esta campaña?"),
            lines=lines,
            button=_("Sí, finalizar la campaña"),
            cancel_url=_detail_url(campaign),
        )
    try:
        services.finish_campaign(campaign=campaign, actor=request.user, reason=reason)
    except ValidationError as exc:
        form.add_service_error(exc)
        campaign.refresh_from_db()
        return _render_detail(request, campaign, finish_form=form)
    messages.success(request, _("Campaña %(code)s finalizada.") % {"code": campaign.code})
    return redirect(_detail_url(campaign))


def _open_offer_lines(offers: services.OpenOffers) -> list[str]:
    """Say what finishing the campaign withdraws, one line each, and what becomes of money
    still paid through a withdrawn link."""
    if not offers:
        return [_("La campaña no tiene links de pago, compromisos ni convenios abiertos.")]
    lines = [
        _(
            "Se anulará lo que sigue abierto en la campaña, y el cliente ya no podrá pagar la "
            "oferta con ello:"
        )
    ]
    for link in offers.links:
        values = {
            "ref": link.reference,
            "amount": _amount(link.currency, link.amount),
            "provider": link.provider_name,
            "expires": timezone.localtime(link.expires_at).strftime("%d/%m/%Y %H:%M"),
        }
        if link.status == link.Status.CREATING:
            lines.append(
                _("Link de pago %(ref)s de %(amount)s (%(provider)s), que se está creando.")
                % values
            )
        else:
            lines.append(
                _("Link de pago %(ref)s de %(amount)s (%(provider)s), vence el %(expires)s.")
                % values
            )
    for promise in offers.promises:
        lines.append(
            _("Compromiso de pago de %(amount)s para el %(day)s.")
            % {
                "amount": _amount(promise.currency, promise.amount),
                "day": promise.promised_on.strftime("%d/%m/%Y"),
            }
        )
    for agreement in offers.agreements:
        lines.append(
            _("Convenio de pago #%(id)s, que espera un pie de %(down)s.")
            % {"id": agreement.pk, "down": _amount(agreement.currency, agreement.down_payment)}
        )
    if offers.links:
        lines.append(
            _(
                "Un link ya enviado sigue abierto en la pasarela hasta que vence: si el cliente "
                "aún paga con él, el pago se registra sin aplicarse a la campaña, que sigue "
                "finalizada, y se avisa por correo al equipo de cobranzas para devolverlo o "
                "aplicarlo a mano."
            )
        )
    return lines


@require_POST
@permission_required(ANNUL, raise_exception=True)
def payment_annul(request: HttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    """Annul one of the campaign's payments, with a reason, after a confirmation page.

    Through the collections life cycle, so the annulment's event (*Anulación de pago
    cartera castigada*) goes out; the loan is never touched.
    """
    campaign = selectors.campaign_for(request.user, pk)
    payment = selectors.payment_for(request.user, campaign, payment_pk)
    form = forms.AnnulForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, campaign, annul_form=form, annul_payment_id=payment.pk)
    reason = form.cleaned_data["reason"]
    if not forms.is_confirmed(request.POST):
        return screens.confirm(
            request,
            title=_("¿Anular este pago?"),
            lines=[
                _("Pago #%(id)s de %(amount)s del %(day)s a la campaña %(code)s de %(name)s.")
                % {
                    "id": payment.pk,
                    "amount": _amount(campaign.currency, payment.amount),
                    "day": payment.received_on.strftime("%d/%m/%Y"),
                    "code": campaign.code,
                    "name": campaign.customer.full_name,
                },
                _("El saldo de la campaña vuelve a deberlo; el crédito no cambia."),
                _("Motivo: «%(reason)s».") % {"reason": reason},
            ],
            button=_("Sí, anular el pago"),
            cancel_url=_detail_url(campaign),
        )
    try:
        collection_services.annul_payment(
            customer=campaign.customer,
            receivable_kind=CAMPAIGN,
            payment_id=payment.pk,
            actor=request.user,
            reason=reason,
            origin=Origin.AGENT,
        )
    except ValidationError as exc:
        form.add_service_error(exc)
        campaign.refresh_from_db()
        return _render_detail(request, campaign, annul_form=form, annul_payment_id=payment.pk)
    messages.success(
        request,
        _("Pago #%(id)s de %(amount)s anulado: la campaña %(code)s vuelve a deberlo.")
        % {
            "id": payment.pk,
            "amount": _amount(campaign.currency, payment.amount),
            "code": campaign.code,
        },
    )
    return redirect(_detail_url(campaign))


@require_GET
@permission_required(VIEW_PAYMENTS, raise_exception=True)
def payment_receipt(request: HttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    """A campaign payment's receipt, for whoever may see the campaign's payments."""
    campaign = selectors.campaign_for(request.user, pk)
    payment = selectors.payment_for(request.user, campaign, payment_pk)
    if not payment.receipt:
        raise Http404
    content_type = mimetypes.guess_type(payment.receipt.name)[0] or "application/octet-stream"
    try:
        return files.serve(
            payment.receipt,
            as_attachment=content_type not in INLINE_TYPES,
            content_type=content_type,
        )
    except FileNotFoundError as exc:
        raise Http404 from exc


# --- A new campaign ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required(ADD, raise_exception=True)
def campaign_create(request: HttpRequest) -> HttpResponse:
    """A campaign for an existing customer; the service checks what the file and the API
    check, and its refusals show on their fields."""
    form = forms.CampaignForm(request.POST or None, initial=request.GET.dict() or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.create_campaign(actor=request.user, **form.service_kwargs())
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                _("Campaña %(code)s creada para %(name)s: paga %(amount)s.")
                % {
                    "code": campaign.code,
                    "name": campaign.customer.full_name,
                    "amount": _amount(campaign.currency, campaign.amount),
                },
            )
            return redirect(_detail_url(campaign))
    return render(
        request,
        "recovery/campaign_form.html",
        {"form": form, "preview": _preview(form.data if form.is_bound else {})},
    )


@require_GET
@permission_required(ADD, raise_exception=True)
def campaign_preview(request: HttpRequest) -> HttpResponse:
    """The discount and campaign amount the form's figures come to (HTMX, as the agent types)."""
    return render(
        request, "recovery/partials/campaign_preview.html", {"preview": _preview(request.GET)}
    )


def _preview(data) -> dict | None:
    form = forms.PreviewForm(data)
    if not form.is_valid():
        return None
    debt = form.cleaned_data["debt_amount"]
    value = form.cleaned_data["discount_value"]
    if debt is None or value is None:
        return None
    figures, problems = services.campaign_figures(
        debt_amount=debt,
        discount_type=form.cleaned_data["discount_type"] or Campaign.DiscountType.PERCENT,
        discount_value=value,
    )
    if figures is None:
        return {"problems": problems}
    data = form.cleaned_data
    discount_type = data["discount_type"] or Campaign.DiscountType.PERCENT
    return {
        "debt": debt,
        "discount": figures.discount_amount,
        "amount": figures.amount,
        # As the campaign will say it: the percentage typed (30 %, not the 29.99 % its
        # amount, rounded to the cent, gives back); an amount's share rounded down.
        "percent": (
            value
            if discount_type == Campaign.DiscountType.PERCENT
            else discount_percent(figures.discount_amount, debt)
        ),
        "currency": selectors.new_campaign_currency(
            payment_code=(data["payment_code"] or "").strip(),
            document_type=data["document_type"],
            document_number=data["document_number"],
            chosen=data["currency"],
        ),
    }


# --- The portal's funnel -----------------------------------------------------------------


@require_GET
@permission_required(FUNNEL, raise_exception=True)
def funnel(request: HttpRequest) -> HttpResponse:
    """How far the portal's visits got, step by step, for a campaign id and a date range."""
    form = forms.FunnelFilterForm(request.GET)
    filters = form.filters()
    rows = portal_selectors.funnel(**filters) if filters is not None else []
    report = _funnel_report(rows)
    chart = {
        "type": "bar",
        "labels": [row["label"] for row in report],
        "datasets": [
            {
                "label": _("Visitas"),
                "data": [row["count"] for row in report],
                "color": "primary",
            }
        ],
        "options": {"yLabel": _("Visitas")},
    }
    return render(
        request,
        "recovery/funnel.html",
        {
            "form": form,
            "report": report,
            "chart": chart,
            "codes": selectors.campaign_codes(),
        },
    )


def _funnel_report(rows: list[tuple[str, int]]) -> list[dict]:
    """Each step with its share of the visits (the first step) and of the step before;
    the last row (declined) as a share of the visits only."""
    report = []
    first = rows[0][1] if rows else 0
    previous = None
    for index, (label, count) in enumerate(rows):
        is_declined = index == len(rows) - 1 and len(rows) > 1
        report.append(
            {
                "label": label,
                "count": count,
                "of_visits": _percent(count, first),
                "of_previous": None
                if is_declined or previous is None
                else _percent(count, previous),
                "is_declined": is_declined,
            }
        )
        previous = count
    return report


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"))
