"""The time metrics dashboard: the funnel, the times against the approval target, the time
in each state and the breaches, for the filters in the query string."""

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.gestiones.reports.timing import forms, selectors, services
from lib import lists

BREACHES_PAGE_SIZE = 25
BREACHES_ID = "times-breaches"


@require_GET
@permission_required("gestiones.view_gestion_reports", raise_exception=True)
def application_times(request: HttpRequest) -> HttpResponse:
    """Show the time metrics for the filters: the page, its results for HTMX, or only
    the breaches' page asked for by a paging link."""
    form = forms.TimesFilterForm(request.GET)
    htmx = request.htmx
    if htmx and htmx.target == BREACHES_ID and not htmx.history_restore_request:
        context = results_context(form, page=request.GET.get("page"), figures=False)
        if "breaches" in context:
            return render(request, "gestiones/partials/times_breaches.html", context)
    context = {"form": form, **results_context(form, page=request.GET.get("page"))}
    return lists.render_page_or_fragment(
        request,
        page_template="gestiones/application_times.html",
        fragment_template="gestiones/partials/times_results.html",
        context=context,
        url="replace",
    )


def results_context(form: forms.TimesFilterForm, *, page: str | None, figures: bool = True) -> dict:
    """Return the results' context: a page of breaches and (if `figures`) the figures,
    with how fresh they are; or the filter errors."""
    if not form.is_valid():
        return {"errors": form.error_list()}
    build = selectors.time_build()
    context: dict = {
        "build": build,
        "query": form.query_string(),
        "refresh_minutes": services.REFRESH_MINUTES,
    }
    if build is None:
        return context
    filters = form.filters()
    breaches = Paginator(selectors.breaches(filters, build), BREACHES_PAGE_SIZE).get_page(page)
    context |= {
        "breaches": breaches,
        "breach_rows": selectors.breach_rows(list(breaches), build.built_at),
    }
    if not figures:
        return context
    report = selectors.times_report(filters, build)
    return context | {
        "report": report,
        "funnel_chart": {
            "type": "bar",
            "labels": [stage.label for stage in report.funnel],
            "datasets": [
                {
                    "label": _("Cantidad"),
                    "data": [stage.count for stage in report.funnel],
                    "color": "primary",
                }
            ],
            "options": {"yLabel": _("Cantidad")},
        },
        "times_chart": {
            "type": "bar",
            "labels": [_("Solicitud"), _("Aprobación"), _("Firma"), _("Desembolso")],
            "datasets": [
                {
                    "label": _("Mediana (h)"),
                    "data": [m.median for m in report.total.measures],
                    "color": "success",
                },
                {
                    "label": _("Percentil 90 (h)"),
                    "data": [m.p90 for m in report.total.measures],
                    "color": "warning",
                },
            ],
            "options": {"yLabel": _("Horas desde el lead")},
        },
    }
