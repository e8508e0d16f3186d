"""A list's search runs once, in the list's order: a few matches are counted and paged by
id; past a few, or read outside a list, the search is a condition of the query."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credits.models import Loan
from crm.filters import CustomerFilter
from crm.models import Branch, Customer
from lib import lists, search
from tests.factories import CustomerFactory, LoanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers():
    return [
        CustomerFactory(first_name="Rosa", last_name="Huamán"),
        CustomerFactory(first_name="Rosa", last_name="Quispe"),
        CustomerFactory(first_name="Luis", last_name="Huamán"),
        CustomerFactory(first_name="Rosa", last_name="Apaza"),
    ]


def _narrowed(text: str, queryset=None):
    queryset = Customer.objects.order_by("pk") if queryset is None else queryset
    return search.narrowed(queryset, search.matches_all(text))


def _page(queryset, number=1, per_page=25):
    paginator = lists.CappedPaginator(queryset, per_page)
    return paginator, paginator.page(number)


def test_read_outside_a_list_the_search_is_a_condition_of_the_query(customers):
    found = _narrowed("rosa")

    assert list(found) == [customers[0], customers[1], customers[3]]
    assert found.count() == 3


def test_a_few_matches_are_found_once_in_the_lists_order_and_the_page_reads_its_rows(
    customers,
):
    found = _narrowed("rosa").order_by("last_name", "first_name", "id")

    with CaptureQueriesContext(connection) as queries:
        paginator, page = _page(found, number=2, per_page=2)
        rows = list(page.object_list)

    assert paginator.count == 3
    assert rows == [customers[1]]  # Apaza, Huamán | Quispe
    assert len(queries) == 2  # the search, sorted; the page's one row by id
    assert "LIKE" in queries[0]["sql"]
    assert "LIKE" not in queries[1]["sql"]


def test_the_matches_follow_a_descending_order_and_keep_the_others(customers):
    found = _narrowed("rosa").order_by("-last_name")

    assert search.matches(found) == [customers[1].pk, customers[0].pk, customers[3].pk]
    assert list(_page(found)[1].object_list) == [customers[1], customers[0], customers[3]]


def test_the_matches_are_found_again_when_the_order_changes(customers):
    found = _narrowed("rosa")

    assert search.matches(found.order_by("last_name")) == [
        customers[3].pk,
        customers[0].pk,
        customers[1].pk,
    ]
    assert search.matches(found.order_by("-id")) == [
        customers[3].pk,
        customers[1].pk,
        customers[0].pk,
    ]


def test_the_matches_put_the_nulls_where_the_order_says_on_every_database(customers):
    rosa_h, rosa_q, _luis, rosa_a = customers
    Customer.objects.filter(pk=rosa_q.pk).update(last_interaction_at=None)
    Customer.objects.filter(pk=rosa_h.pk).update(last_interaction_at=timezone.now())
    Customer.objects.filter(pk=rosa_a.pk).update(
        last_interaction_at=timezone.now() - timedelta(days=1)
    )
    latest = F("last_interaction_at")
    found = _narrowed("rosa")

    down = found.order_by(latest.desc(nulls_last=True))
    up = found.order_by(latest.asc(nulls_first=True))

    assert search.matches(down) == [rosa_h.pk, rosa_a.pk, rosa_q.pk]
    assert search.matches(up) == [rosa_q.pk, rosa_a.pk, rosa_h.pk]
    assert list(_page(down)[1].object_list) == [rosa_h, rosa_a, rosa_q]


def test_an_order_through_a_relation_sorts_by_the_related_column(customers):
    loans = [LoanFactory(customer=customer) for customer in customers]
    found = search.narrowed(
        Loan.objects.all(), search.matches_all("rosa", field="customer__search_text")
    ).order_by("customer__last_name", "id")

    assert search.matches(found) == [loans[3].pk, loans[0].pk, loans[1].pk]


def test_an_order_the_probe_cannot_write_reads_the_subquery(customers):
    # Ordering by a relation orders by that model's own ordering: left to Django.
    found = _narrowed("rosa").order_by("branch", "id")

    assert search.matches(found) is None
    paginator, page = _page(found)
    assert paginator.count == 3
    assert len(list(page.object_list)) == 3


def test_a_filter_added_after_the_search_reads_the_subquery(customers):
    found = _narrowed("rosa").filter(last_name="Quispe")

    assert search.matches(found) is None
    assert list(found) == [customers[1]]
    assert lists.CappedPaginator(found, 25).count == 1


def test_the_probe_sees_the_filters_applied_before_the_search(customers):
    found = _narrowed("rosa", Customer.objects.filter(last_name="Quispe"))

    assert list(found) == [customers[1]]
    assert search.matches(found) == [customers[1].pk]


def test_more_matches_than_a_few_page_the_subquery(customers, monkeypatch):
    monkeypatch.setattr(search, "FEW_MATCHES", 1)

    found = _narrowed("huaman")

    assert search.matches(found) is None
    paginator, page = _page(found)
    assert paginator.count == 2
    assert list(page.object_list) == [customers[0], customers[2]]


def test_no_match_is_an_empty_page_without_reading_rows(customers):
    found = _narrowed("zzz")

    with CaptureQueriesContext(connection) as queries:
        paginator, page = _page(found)
        assert list(page.object_list) == []

    assert paginator.count == 0
    assert len(queries) == 1  # the search alone


def test_a_filterset_applies_its_search_after_the_other_filters(customers):
    lima = Branch.objects.create(name="Lima Norte")
    customers[1].branch = lima
    customers[1].save(update_fields=["branch"])

    filterset = CustomerFilter({"q": "rosa", "branch": lima.pk}, queryset=Customer.objects.all())

    assert list(filterset.qs) == [customers[1]]
    # The search's probe saw the branch: its matches are the list's rows.
    assert search.matches(filterset.qs.order_by("id")) == [customers[1].pk]
