"""The investor screens: investors, their figures, and their liquidation statements."""

from collections.abc import Iterable
from itertools import groupby

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import engines
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from credits.investors import exports, filters, forms, panel, selectors, services, tables
from credits.models import Investor, Liquidation
from crm import display
from lib import amounts, lists
from lib.confirmation import CONFIRM_FIELD, is_confirmed

DISTRIBUTIONS_PAGE_SIZE = 20
PARTICIPATIONS_PAGE_SIZE = 20
# A liquidation's lines on screen; its print version shows every one (the statement sent).
STATEMENT_LINES_PAGE_SIZE = 50
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- Investors --------------------------------------------------------------------------


@require_GET
@permission_required("credits.view_investor", raise_exception=True)
def investor_list(request: HttpRequest) -> HttpResponse:
    return lists.render_list(
        request,
        filterset=filters.InvestorFilter(
            request.GET,
            queryset=selectors.investor_list(request.user, sort=request.GET.get("sort", "")),
        ),
        table_class=tables.InvestorTable,
        page_template="credits/investor_list.html",
        export_name="inversionistas",
        results_template="credits/partials/investor_results.html",
    )


@permission_required("credits.add_investor", raise_exception=True)
def investor_create(request: HttpRequest) -> HttpResponse:
    form = forms.InvestorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            investor = services.create_investor(actor=request.user, data=form.service_data())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Inversionista %(name)s registrado.") % {"name": investor.name}
            )
            return redirect(investor)
    return render(request, "credits/investor_form.html", {"form": form, "investor": None})


@permission_required("credits.change_investor", raise_exception=True)
def investor_update(request: HttpRequest, pk: int) -> HttpResponse:
    investor = selectors.investor_for(request.user, pk)
    investor_name = investor.name  # the form writes what was typed onto the instance
    form = forms.InvestorForm(request.POST or None, instance=investor)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_investor(
                investor=investor, actor=request.user, data=form.service_data()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Datos del inversionista actualizados."))
            return redirect(investor)
    return render(
        request,
        "credits/investor_form.html",
        {"form": form, "investor": investor, "investor_name": investor_name},
    )


@require_GET
@permission_required("credits.view_investor", raise_exception=True)
@vary_on_headers("HX-Request")
def investor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show an investor: their data and figures, participations, distributions, liquidations."""
    investor = selectors.investor_for(request.user, pk)
    target = request.htmx.target if request.htmx else None
    if target == "investor-distributions":
        return render(
            request,
            "credits/partials/investor_distributions.html",
            {"investor": investor, "distributions": _distributions_page(request, investor)},
        )
    counts = selectors.participation_counts(investor)
    participations = _participations_page(request, investor, counts["total"])
    if target == "investor-participations":
        return render(
            request,
            "credits/partials/investor_participations.html",
            {"investor": investor, "participations": participations},
        )
    context = {
        "investor": investor,
        "participations": participations,
        # Made before another currency was refused: left out of its totals and liquidations.
        "foreign_participations": selectors.foreign_participations(investor)
        if counts["foreign"]
        else [],
        "distributions": _distributions_page(request, investor),
        "liquidations": selectors.investor_liquidations(investor),
        **_investor_figures(investor, investor.currency),
    }
    return render(request, "credits/investor_detail.html", context)


def _distributions_page(request: HttpRequest, investor: Investor) -> Page:
    """Return the asked-for page of the investor's distributions (`?page=`), newest first."""
    return Paginator(selectors.investor_distributions(investor), DISTRIBUTIONS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )


def _participations_page(request: HttpRequest, investor: Investor, total: int) -> Page:
    """Return the asked-for page of the investor's participations (`?participations_page=`),
    newest first, each with its share outstanding: a large investor funds thousands."""
    paginator = Paginator(selectors.investor_participations(investor), PARTICIPATIONS_PAGE_SIZE)
    # Counted already, with those in another currency (selectors.participation_counts).
    paginator.count = total
    page = paginator.get_page(request.GET.get("participations_page"))
    page.object_list = selectors.with_outstanding_share(page.object_list)
    return page


@require_GET
@permission_required("credits.view_investor", raise_exception=True)
def investor_dashboard(request: HttpRequest) -> HttpResponse:
    """Show what investors have deployed, earned and at risk: all of them, or one.

    Every investor's figures are the ones beat keeps (`panel`), with the time they were
    computed; `?recalcular=1` computes them again first."""
    form = forms.InvestorFiguresForm(request.GET or None)
    investor, currency = form.chosen_investor(), form.currency_for()
    if investor is None:
        kept = panel.everyone(currency, fresh=request.GET.get("recalcular") == "1")
        figures = kept.value
        context = _figures_context(None, currency, figures.summary, figures.months, figures.ranking)
        context["computed_at"] = kept.computed_at
        context["refresh_minutes"] = panel.REFRESH_SECONDS // 60
    else:
        context = _investor_figures(investor, currency)
    return lists.render_page_or_fragment(
        request,
        page_template="credits/investor_dashboard.html",
        fragment_template="credits/partials/investor_figures.html",
        context={"form": form, **context},
    )


def _investor_figures(investor: Investor, currency: str) -> dict:
    """Return the figures fragment's context for one investor, read now."""
    today = timezone.localdate()
    return _figures_context(
        investor,
        currency,
        selectors.investor_summary(investor, today, currency=currency),
        selectors.earnings_by_month(investor, today, currency=currency),
        None,
    )


def _figures_context(
    investor: Investor | None,
    currency: str,
    summary: selectors.InvestorSummary,
    months: list[dict],
    ranking: list[dict] | None,
) -> dict:
    """Return the figures fragment's context: one investor's or everyone's, in one currency."""
    return {
        "figures_investor": investor,
        "currency": currency,
        "summary": summary,
        "exposure_chart": _exposure_chart(summary, currency),
        "earnings_chart": _earnings_chart(months, currency),
        "ranking_chart": None if ranking is None else _ranking_chart(ranking, currency),
    }


def _exposure_chart(summary: selectors.InvestorSummary, currency: str) -> dict:
    """Return static/js/charts.js data: the outstanding share per delinquency bucket."""
    return {
        "type": "doughnut",
        "labels": [b["label"] for b in summary.buckets],
        "datasets": [
            {"label": _("Saldo de capital"), "data": [b["outstanding"] for b in summary.buckets]}
        ],
        "options": {"money": True, "currency": currency},
    }


def _earnings_chart(months: list[dict], currency: str) -> dict:
    """Return static/js/charts.js data: the net interest distributed per month."""
    return {
        "type": "bar",
        "labels": [formats.date_format(m["month"], "M Y") for m in months],
        "datasets": [
            {
                "label": _("Interés neto"),
                "data": [m["earned"] for m in months],
                "color": "success",
            }
        ],
        "options": {"money": True, "currency": currency},
    }


def _ranking_chart(rows: list[dict], currency: str) -> dict:
    """Return static/js/charts.js data: capital deployed and outstanding per investor."""
    return {
        "type": "bar",
        "labels": [row["name"] for row in rows],
        "datasets": [
            {"label": _("Capital colocado"), "data": [row["deployed"] for row in rows]},
            {"label": _("Saldo de capital"), "data": [row["outstanding"] for row in rows]},
        ],
        "options": {"money": True, "currency": currency},
    }


# --- Liquidations -----------------------------------------------------------------------


@require_GET
@permission_required("credits.view_liquidation", raise_exception=True)
def liquidation_list(request: HttpRequest) -> HttpResponse:
    return lists.render_list(
        request,
        filterset=filters.LiquidationFilter(
            request.GET, queryset=selectors.liquidation_list(request.user)
        ),
        table_class=tables.LiquidationTable,
        page_template="credits/liquidation_list.html",
        export_name="liquidaciones",
        results_template="credits/partials/liquidation_results.html",
    )


@permission_required("credits.add_liquidation", raise_exception=True)
def liquidation_create(request: HttpRequest) -> HttpResponse:
    """Settle an investor's period (last month unless chosen otherwise)."""
    form = forms.LiquidationForm(
        request.POST or None, initial={"investor": request.GET.get("investor")}
    )
    if request.method == "POST" and form.is_valid():
        try:
            liquidation = services.create_liquidation(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Liquidación de %(name)s creada por %(net)s.")
                % {
                    "name": liquidation.investor.name,
                    "net": display.money_text(
                        liquidation.net_amount, liquidation.investor.currency
                    ),
                },
            )
            return redirect(liquidation)
    return render(request, "credits/liquidation_form.html", {"form": form})


@require_GET
@permission_required("credits.view_liquidation", raise_exception=True)
@vary_on_headers("HX-Request")
def liquidation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a liquidation's statement, its lines a page at a time; `?print=1` gives it
    bare and whole, to print or save as PDF."""
    liquidation = selectors.liquidation_for(request.user, pk)
    return _statement(request, liquidation, forms.LiquidationPayForm())


@require_GET
@permission_required("credits.view_liquidation", raise_exception=True)
def liquidation_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    """Download a liquidation's statement as an Excel workbook."""
    liquidation = selectors.liquidation_for(request.user, pk)
    content = exports.liquidation_workbook(liquidation, selectors.liquidation_lines(liquidation))
    filename = (
        f"liquidacion-{slugify(liquidation.investor.name)}-"
        f"{liquidation.period_start:%Y%m%d}-{liquidation.period_end:%Y%m%d}.xlsx"
    )
    response = HttpResponse(content, content_type=XLSX_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@require_http_methods(["GET", "POST"])
@permission_required("credits.change_liquidation", raise_exception=True)
def liquidation_pay(request: HttpRequest, pk: int) -> HttpResponse:
    """Record that a liquidation was paid out, with the transfer's reference, from its
    confirmation page: a GET shows it, and a POST without its confirm field shows it again,
    recording nothing. It cannot be undone."""
    liquidation = selectors.liquidation_for(request.user, pk)
    form = forms.LiquidationPayForm(request.POST or None)
    if not (form.is_valid() and is_confirmed(request.POST)):
        # Paid already, or a net that is not positive (made before such nets were
        # refused): there is no payout to confirm.
        refusal = services.payout_refusal(liquidation)
        if refusal:
            paid = liquidation.status == Liquidation.Status.PAID
            (messages.info if paid else messages.error)(request, refusal)
            return redirect(liquidation)
        return _confirm_payout(request, liquidation, form)
    try:
        services.mark_liquidation_paid(
            liquidation=liquidation,
            reference=form.cleaned_data["reference"],
            actor=request.user,
        )
    except ValidationError as exc:
        form.add_error(None, exc)
    else:
        messages.success(request, _("Liquidación registrada como pagada."))
        return redirect(liquidation)
    # Refused (paid meanwhile, in another tab): the statement says why, with 200.
    return _statement(request, liquidation, form)


def _confirm_payout(
    request: HttpRequest, liquidation: Liquidation, form: forms.LiquidationPayForm
) -> HttpResponse:
    """Show the net paid out and to whom, with the transfer reference's field."""
    investor = liquidation.investor

    def money(amount) -> str:
        return display.money_on_screen(amount, investor.currency)

    account = " · ".join(
        part
        for part in (
            investor.bank_name,
            investor.bank_account,
            _("CCI %(cci)s") % {"cci": investor.bank_cci} if investor.bank_cci else "",
        )
        if part
    )
    period = f"{liquidation.period_start:%d/%m/%Y} – {liquidation.period_end:%d/%m/%Y}"
    return render(
        request,
        "credits/confirm_action.html",
        {
            "title": _("¿Registrar el abono de %(net)s a %(name)s?")
            % {"net": money(liquidation.net_amount), "name": investor.name},
            "subtitle": _("Liquidación del %(period)s") % {"period": period},
            "breadcrumb": [
                (_("Liquidaciones"), reverse("credits:liquidation_list")),
                (investor.name, investor.get_absolute_url()),
                (period, liquidation.get_absolute_url()),
            ],
            "step": _("Registrar el abono"),
            "figures": [
                (_("Inversionista"), investor.name),
                (
                    _("Documento"),
                    f"{investor.get_document_type_display()} {investor.document_number}",
                ),
                (_("Cuenta"), account or _("sin cuenta registrada")),
                (_("Capital devuelto"), money(liquidation.principal)),
                (_("Interés bruto"), money(liquidation.interest)),
                (_("Comisión de la plataforma"), money(liquidation.platform_fee)),
                (_("Neto abonado"), money(liquidation.net_amount)),
            ],
            "lines": [
                _(
                    "La liquidación queda como pagada, con el n.º de operación que indique: "
                    "confírmelo solo después de haber transferido el neto."
                ),
            ],
            "warning": _(
                "No se puede deshacer: una liquidación pagada no vuelve a borrador ni se "
                "paga otra vez."
            ),
            "field": form["reference"],
            "non_field_errors": form.non_field_errors(),
            "hidden": [],
            "confirm_field": CONFIRM_FIELD,
            "action": request.path,
            "button": _("Sí, registrar el abono"),
            "button_class": "btn-success",
            "cancel_url": liquidation.get_absolute_url(),
        },
    )


def _statement(
    request: HttpRequest, liquidation: Liquidation, pay_form: forms.LiquidationPayForm
) -> HttpResponse:
    printing = request.GET.get("print") == "1"
    lines = selectors.liquidation_statement_lines(liquidation)
    page = None
    if not printing:
        # The totals are the liquidation's own fields: the screen needs only a page of lines.
        page = Paginator(lines, STATEMENT_LINES_PAGE_SIZE).get_page(request.GET.get("page"))
        lines = page.object_list
    context = {
        "liquidation": liquidation,
        "investor": liquidation.investor,
        "lines": page,
        "line_rows": _statement_rows(lines, liquidation, selectors.earlier_lines(liquidation)),
        "pay_form": pay_form,
    }
    if page is not None and request.htmx and request.htmx.target == "liquidation-lines":
        return render(request, "credits/partials/liquidation_lines.html", context)
    template = "credits/liquidation_print.html" if printing else "credits/liquidation_detail.html"
    return render(request, template, context)


def _statement_rows(
    lines: Iterable[tuple], liquidation: Liquidation, earlier: selectors.EarlierLines
) -> SafeString:
    """Write a statement's lines as table rows, by a Jinja2 macro (credits/statement_lines.jinja).

    The print version writes every line of the period, thousands in a year: as model
    instances through the Django template, 8,000 took 3.7 s and 72 MB; read as plain values
    and written by Jinja2 with lib.amounts' writer, a fraction of that.

    Lines dated before the period (a reversal of a payment already liquidated) come first
    (`selectors.liquidation_statement_lines`), under a heading of their own, «De periodos
    anteriores», and the period's under theirs."""
    module = (
        engines["jinja2"]
        .env.get_template("credits/statement_lines.jinja")
        .make_module(
            {
                # Translated once a page, not once a line.
                "reversal_text": _("Anulación del pago n.º %(id)s"),
                "payment_text": _("Pago n.º %(id)s del %(day)s"),
            }
        )
    )
    writer = amounts.writer()
    if not earlier.count:
        parts = [str(module.statement_rows(lines, writer))]
    else:
        parts = []
        groups = groupby(lines, key=lambda row: row.value_date < liquidation.period_start)
        for is_earlier, rows in groups:
            parts.append(
                render_to_string(
                    "credits/liquidation_detail.html#statement_group",
                    {"liquidation": liquidation, "earlier": earlier, "is_earlier": is_earlier},
                )
            )
            parts.append(str(module.statement_rows(list(rows), writer)))
    # Jinja2 escaped every value it wrote, the Django template the headings: the Django
    # template writes them as they are.
    return mark_safe("".join(parts))  # noqa: S308
