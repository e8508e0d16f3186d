"""The one way list screens answer: a filtered, sorted, paginated table, live under HTMX."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_filters import FilterSet
from django_htmx.http import push_url
from django_tables2 import RequestConfig, Table

LIST_PAGE_SIZE = 25


def render_list(
    request: HttpRequest,
    *,
    filterset: FilterSet,
    table_class: type[Table],
    page_template: str,
    results_template: str,
    per_page: int = LIST_PAGE_SIZE,
    extra_context: dict | None = None,
) -> HttpResponse:
    """Render the page, or only its results for an HTMX request, keeping the URL shareable."""
    table = table_class(filterset.qs)
    RequestConfig(request, paginate={"per_page": per_page}).configure(table)
    context = {"filter": filterset, "table": table, **(extra_context or {})}
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, results_template, context)
        return push_url(response, request.get_full_path())
    return render(request, page_template, context)
