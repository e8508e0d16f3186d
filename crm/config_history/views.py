"""The settings history page («Historial de configuración»)."""

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm.config_history import forms, selectors

PAGE_SIZE = 25


@require_GET
@permission_required(selectors.PERMISSION, raise_exception=True)
def config_history(request: HttpRequest) -> HttpResponse:
    """Who changed which setting (message policy, strategies, products, portals…), when,
    and from what to what; newest first."""
    form = forms.HistoryFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else {}
    page = Paginator(selectors.history(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    labels = selectors.kind_labels()
    return render(
        request,
        "crm/config_history.html",
        {
            "form": form,
            "page": page,
            "rows": [
                (
                    entry,
                    labels.get(entry.content_type_id, ""),
                    selectors.ACTIONS.get(entry.action_flag, ""),
                )
                for entry in page
            ],
            "is_filtered": any(filters.values()),
        },
    )
