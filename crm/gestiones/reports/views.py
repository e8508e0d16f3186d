"""The gestiones dashboards: one page of five sections, its HTMX fragment and its Excel."""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.gestiones.models import Outcome, SummaryBuild
from crm.gestiones.reports import exports, forms, selectors, services
from lib import lists

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# static/js/charts.js colors (Bootstrap theme names) for each outcome.
OUTCOME_COLORS = {
    Outcome.OPEN: "primary",
    Outcome.SUCCESS: "success",
    Outcome.REJECTED: "danger",
    Outcome.CLOSED: "secondary",
}


@dataclass(frozen=True)
class Section:
    """A dashboard section: its fragment, and the context that fragment needs."""

    key: str
    template: str
    build: Callable[[selectors.ReportFilters, SummaryBuild | None], dict]


@require_GET
@permission_required("gestiones.view_gestion_reports", raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    """Show the gestiones dashboards for the filters in the query string.

    Each section then loads on its own (`dashboard_section`), so the page appears at once
    and no request adds up the five reports; `?completo=1` renders them all in the page
    (what the page offers without JavaScript).
    """
    form = forms.DashboardFilterForm(request.GET)
    context = {"form": form, **results_context(form, build="completo" in request.GET)}
    return lists.render_page_or_fragment(
        request,
        page_template="gestiones/dashboard.html",
        fragment_template="gestiones/partials/dashboard_results.html",
        context=context,
        url="replace",
    )


@require_GET
@permission_required("gestiones.view_gestion_reports", raise_exception=True)
def dashboard_xlsx(request: HttpRequest) -> HttpResponse:
    """Download every dashboard report, one sheet each, for the same filters."""
    form = forms.DashboardFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(
            " ".join(form.error_list()), content_type="text/plain; charset=utf-8"
        )
    workbook = exports.dashboard_workbook(form.filters(), selectors.summary_build())
    response = HttpResponse(workbook, content_type=XLSX_TYPE)
    today = timezone.localdate()
    response["Content-Disposition"] = f'attachment; filename="gestiones-{today:%Y-%m-%d}.xlsx"'
    return response


@require_GET
@permission_required("gestiones.view_gestion_reports", raise_exception=True)
def dashboard_section(request: HttpRequest, key: str) -> HttpResponse:
    """Render one dashboard section for the filters in the query string."""
    section = next((s for s in SECTIONS if s.key == key), None)
    if section is None:
        raise Http404
    form = forms.DashboardFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "gestiones/partials/dashboard_results.html", results_context(form))
    summary = selectors.summary_build()
    return render(request, section.template, section.build(form.filters(), summary))


def results_context(form: forms.DashboardFilterForm, *, build: bool = True) -> dict:
    """Return the results fragment's context: how fresh the figures are, and the sections'
    (or their placeholders when `build` is off); or the filter errors."""
    if not form.is_valid():
        return {"errors": form.error_list()}
    summary = selectors.summary_build()
    context: dict = {
        "query": form.query_string(),
        "sections": SECTIONS,
        "built": build,
        "summary": summary,
        "is_stale": summary is not None and services.is_stale(summary),
        "refresh_minutes": services.REFRESH_MINUTES,
    }
    if build:
        filters = form.filters()
        for section in SECTIONS:
            context.update(section.build(filters, summary))
    return context


# --- Sections ---------------------------------------------------------------------------


def states_section(filters: selectors.ReportFilters, summary: SummaryBuild | None) -> dict:
    report = selectors.gestiones_by_state(filters, summary)
    labels = [f"{row.gestion_type} · {row.state}" for row in report.rows]
    # One dataset per outcome, stacked: each bar gets its outcome's color and the legend.
    datasets = [
        {
            "label": str(outcome.label),
            "data": [row.count if row.outcome == outcome else None for row in report.rows],
            "color": OUTCOME_COLORS[outcome],
        }
        for outcome in Outcome
        if any(row.outcome == outcome for row in report.rows)
    ]
    chart = {
        "type": "bar",
        "labels": labels,
        "datasets": datasets,
        "options": {"stacked": True, "yLabel": _("Gestiones")},
    }
    return {"states": report, "states_chart": chart}


def rejections_section(filters: selectors.ReportFilters, summary: SummaryBuild | None) -> dict:
    pivot = selectors.rejections_by_reason(filters, summary)
    chart = {
        "type": "bar",
        "labels": [row.reason for row in pivot.rows],
        "datasets": [
            {"label": column, "data": [row.cells[k] for row in pivot.rows]}
            for k, column in enumerate(pivot.columns)
        ],
        "options": {"stacked": True, "yLabel": _("Rechazos"), "xLabel": _("Motivo")},
    }
    return {"rejections": pivot, "rejections_chart": chart}


def amounts_section(filters: selectors.ReportFilters, summary: SummaryBuild | None) -> dict:
    amounts = selectors.requested_vs_approved(filters, summary)
    by_type, by_month = amounts.by_type, amounts.by_month
    # Soles and dollars on one axis would mislead: one chart per currency.
    charts = []
    for k, currency in enumerate(by_month.currencies):
        charts.append(
            {
                "id": f"amounts-chart-{currency.lower()}",
                "currency": currency,
                "spec": {
                    "type": "bar",
                    "labels": [row.label for row in by_month.rows],
                    "datasets": [
                        {
                            "label": _("Solicitado"),
                            "data": [row.amounts[k].requested for row in by_month.rows],
                            "color": "primary",
                        },
                        {
                            "label": _("Aprobado"),
                            "data": [row.amounts[k].approved for row in by_month.rows],
                            "color": "success",
                        },
                    ],
                    "options": {"money": True, "currency": currency, "xLabel": _("Mes")},
                },
            }
        )
    return {"amounts_by_type": by_type, "amounts_by_month": by_month, "amounts_charts": charts}


def teams_section(filters: selectors.ReportFilters, summary: SummaryBuild | None) -> dict:
    teams = selectors.branches_and_agents(filters, summary)
    branches = teams.by_branch
    outcomes = [
        (_("Exitosas"), "success", "success"),
        (_("Rechazadas"), "rejected", "danger"),
        (_("Cerradas"), "closed", "secondary"),
        (_("En curso"), "open", "primary"),
    ]
    chart = {
        "type": "bar",
        "labels": [row.label for row in branches.rows],
        "datasets": [
            {"label": label, "data": [getattr(row, field) for row in branches.rows], "color": color}
            for label, field, color in outcomes
        ],
        "options": {"stacked": True, "yLabel": _("Gestiones")},
    }
    return {"branches": branches, "agents": teams.by_agent, "branches_chart": chart}


def channels_section(filters: selectors.ReportFilters, summary: SummaryBuild | None) -> dict:
    channels = selectors.by_channel(filters, summary)
    chart = {
        "type": "bar",
        "labels": [row.label for row in channels.rows],
        "datasets": [
            {
                "label": _("Efectividad (%)"),
                "data": [row.effectiveness for row in channels.rows],
                "color": "success",
            }
        ],
        "options": {"yLabel": "%"},
    }
    return {"channels": channels, "channels_chart": chart}


SECTIONS = (
    Section("states", "gestiones/partials/dashboard_states.html", states_section),
    Section("rejections", "gestiones/partials/dashboard_rejections.html", rejections_section),
    Section("amounts", "gestiones/partials/dashboard_amounts.html", amounts_section),
    Section("teams", "gestiones/partials/dashboard_teams.html", teams_section),
    Section("channels", "gestiones/partials/dashboard_channels.html", channels_section),
)
