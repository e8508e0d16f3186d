"""A list's search runs once: its matches' ids, or the search as a subquery past a few."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.filters import CustomerFilter
from crm.models import Branch, Customer
from lib import lists, search
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers():
    return [
        CustomerFactory(first_name="Rosa", last_name="Huamán"),
        CustomerFactory(first_name="Rosa", last_name="Quispe"),
        CustomerFactory(first_name="Luis", last_name="Huamán"),
    ]


def _narrowed(text: str, queryset=None):
    queryset = Customer.objects.order_by("pk") if queryset is None else queryset
    return search.narrowed(queryset, search.matches_all(text))


def test_a_few_matches_are_read_by_id_with_the_same_result_as_the_search(customers):
    found = _narrowed("rosa")

    assert list(found) == [customers[0], customers[1]]
    assert found.count() == 2
    assert "LIKE" not in str(found.query)  # the search ran once, before


def test_the_count_of_a_few_matches_is_known_without_a_query(customers):
    found = _narrowed("rosa")
    paginator = lists.CappedPaginator(found.order_by("last_name"), 25)

    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == 2

    assert len(queries) == 0
    assert search.known_count(found[:1]) == 2  # slicing and ordering keep it


def test_a_filter_added_after_the_search_drops_the_known_count(customers):
    found = _narrowed("rosa").filter(last_name="Quispe")

    assert search.known_count(found) is None
    assert list(found) == [customers[1]]
    assert lists.CappedPaginator(found, 25).count == 1


def test_the_probe_sees_the_filters_applied_before_the_search(customers):
    found = _narrowed("rosa", Customer.objects.filter(last_name="Quispe"))

    assert list(found) == [customers[1]]
    assert search.known_count(found) == 1


def test_more_matches_than_a_few_filter_by_the_search(customers, monkeypatch):
    monkeypatch.setattr(search, "FEW_MATCHES", 1)

    found = _narrowed("huaman")

    assert list(found) == [customers[0], customers[2]]
    assert "LIKE" in str(found.query)
    assert search.known_count(found) is None


def test_no_match_is_an_empty_list(customers):
    found = _narrowed("zzz")

    assert list(found) == []
    assert found.count() == 0


def test_a_filterset_applies_its_search_after_the_other_filters(customers):
    lima = Branch.objects.create(name="Lima Norte")
    customers[1].branch = lima
    customers[1].save(update_fields=["branch"])

    filterset = CustomerFilter({"q": "rosa", "branch": lima.pk}, queryset=Customer.objects.all())

    assert list(filterset.qs) == [customers[1]]
    # The search's probe saw the branch: its count is the list's count.
    assert search.known_count(filterset.qs) == 1
