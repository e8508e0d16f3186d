"""The one way a screen answers both a browser and HTMX: the whole page, or only its fragment.

`render_page_or_fragment` makes the choice for any screen whose results HTMX swaps in
place (a list, a report, a calculator); `render_list` adds the filtered, sorted,
paginated table of the list screens.
"""

from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_filters import FilterSet
from django_htmx.http import push_url, replace_url
from django_tables2 import RequestConfig, Table

LIST_PAGE_SIZE = 25
# A numbers column: its heading aligned right, like its cells.
RIGHT = {"th": {"class": "text-end"}}


def render_page_or_fragment(
    request: HttpRequest,
    *,
    page_template: str,
    fragment_template: str,
    context: dict,
    url: Literal["push", "replace"] = "push",
) -> HttpResponse:
    """Render the page, or only its fragment for an HTMX request, keeping the URL shareable.

    `url="replace"` updates the address without a history entry per change (reports and
    forms that refresh as the user types). The answer varies on HX-Request, so a cache
    never serves the fragment for the page or the page for the fragment.
    """
    # A history restore (back button with the page gone from htmx's cache) wants the page.
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, fragment_template, context)
        change_url = push_url if url == "push" else replace_url
        response = change_url(response, request.get_full_path())
    else:
        response = render(request, page_template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


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
    """Render a filtered, sorted, paginated table: the page, or its results for HTMX."""
    table = table_class(filterset.qs)
    # A list pages by its own size: django-tables2 would also take ?per_page= from the
    # query string, where -1 breaks the paginator and 10**9 loads every row.
    table.per_page_field = "_per_page_not_from_the_query"
    RequestConfig(request, paginate={"per_page": per_page}).configure(table)
    context = {"filter": filterset, "table": table, **(extra_context or {})}
    return render_page_or_fragment(
        request, page_template=page_template, fragment_template=results_template, context=context
    )
