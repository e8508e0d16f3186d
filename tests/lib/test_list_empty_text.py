"""An empty list says «Aún no hay …» unless it was searched or filtered (lib.lists)."""

import django_filters
import django_tables2 as tables
import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from crm.models import Customer
from lib import lists


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="first_name", lookup_expr="icontains")
    created = django_filters.DateFromToRangeFilter(field_name="created_at")
    has_email = django_filters.BooleanFilter(
        field_name="email", lookup_expr="gt", widget=django_filters.widgets.forms.CheckboxInput
    )

    class Meta:
        model = Customer
        fields = ["q", "created", "has_email"]


class CustomerTable(tables.Table):
    class Meta:
        model = Customer
        fields = ("first_name",)
        empty_text = "No hay clientes que coincidan con la búsqueda."


def render(query: dict, **kwargs) -> str:
    request = RequestFactory().get("/clientes/", query, headers={"HX-Request": "true"})
    request.user = AnonymousUser()
    request.htmx = HtmxDetails(request)
    response = lists.render_list(
        request,
        filterset=CustomerFilter(request.GET, queryset=Customer.objects.all()),
        table_class=CustomerTable,
        page_template="crm/customer_list.html",
        results_template="partials/list_results.html",
        extra_context={"wrapper": "results", "count_text": ""},
        **kwargs,
    )
    return response.content.decode()


@pytest.mark.parametrize(
    "query",
    [{}, {"sort": "first_name"}, {"page": "1"}, {"q": ""}, {"created_after": ""}],
    ids=["nothing", "sorted", "paged", "empty search", "empty range"],
)
def test_a_list_neither_searched_nor_filtered_says_there_are_none_yet(db, query):
    html = render(query)

    assert "Aún no hay clientes." in html
    assert "coincidan" not in html


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"q": "Rosa"}, "No hay clientes que coincidan con la búsqueda."),
        (
            {"created_after": "2026-01-01"},
            "No hay clientes que coincidan con la búsqueda o los filtros.",
        ),
        ({"has_email": "on"}, "No hay clientes que coincidan con la búsqueda o los filtros."),
    ],
    ids=["search", "one side of a range", "a ticked box"],
)
def test_a_searched_or_filtered_list_says_nothing_matches(db, query, said):
    html = render(query)

    assert said in html
    assert "Aún no hay" not in html


def test_the_view_may_offer_the_first_one(db):
    html = render({}, create_link=("/clientes/nuevo/", "Registrar el primero"))

    assert (
        'Aún no hay clientes. <a href="/clientes/nuevo/" hx-boost="false">Registrar el primero</a>'
        in html
    )
