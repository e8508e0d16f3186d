"""A list's search runs once: its matches' ids, or the search as a subquery past a few."""

import pytest

from crm.models import Customer
from lib import search
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers():
    return [
        CustomerFactory(first_name="Rosa", last_name="Huamán"),
        CustomerFactory(first_name="Rosa", last_name="Quispe"),
        CustomerFactory(first_name="Luis", last_name="Huamán"),
    ]


def _narrowed(text: str):
    matches = Customer.objects.filter(search.matches_all(text))
    return search.narrowed(Customer.objects.order_by("pk"), matches)


def test_a_few_matches_are_read_by_id_with_the_same_result_as_the_search(customers):
    found = _narrowed("rosa")

    assert list(found) == [customers[0], customers[1]]
    assert found.count() == 2
    assert "LIKE" not in str(found.query)  # the search ran once, before


def test_more_matches_than_a_few_filter_by_the_search(customers, monkeypatch):
    monkeypatch.setattr(search, "FEW_MATCHES", 1)

    found = _narrowed("huaman")

    assert list(found) == [customers[0], customers[2]]
    assert "LIKE" in str(found.query)


def test_no_match_is_an_empty_list(customers):
    found = _narrowed("zzz")

    assert list(found) == []
    assert found.count() == 0


def test_the_list_filters_still_apply_after_the_search(customers):
    found = _narrowed("rosa").filter(last_name="Quispe")

    assert list(found) == [customers[1]]
