"""The settings history page («Historial de configuración»)."""

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm.config_history import forms, selectors

PAGE_SIZE = 25
# The query string's filters, kept on the pager's links.
FILTERS = ("tipo", "persona", "desde", "hasta", "q")


@require_GET
@permission_required(selectors.PERMISSION, raise_exception=True)
def config_history(request: HttpRequest) -> HttpResponse:
    """Who changed which setting (message policy, strategies, products, portals…), when,
    and from what to what; newest first."""
    form = forms.HistoryFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else {}
    page = Paginator(selectors.history(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    labels = selectors.kind_labels()
    query = QueryDict(mutable=True)
    query.update({name: request.GET[name] for name in FILTERS if request.GET.get(name)})
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
            "query": query.urlencode(),
            "is_filtered": any(filters.values()),
        },
    )
