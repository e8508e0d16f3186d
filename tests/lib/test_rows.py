"""A few rows' columns read by key with one plain statement (lib.rows)."""

import pytest

from crm import selectors
from crm.models import Customer
from lib import rows
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_the_columns_of_the_rows_whose_key_is_asked_for_and_no_others(django_assert_num_queries):
    vip, late = TagFactory(name="VIP"), TagFactory(name="Moroso")
    ana, luis, other = CustomerFactory(), CustomerFactory(), CustomerFactory()
    ana.tags.add(vip, late)
    luis.tags.add(late)
    other.tags.add(vip)

    with django_assert_num_queries(1):
        found = rows.columns_where_in(
            Customer.tags.through, ("customer", "tag"), "customer", [ana.pk, luis.pk]
        )

    assert sorted(found) == sorted([(ana.pk, vip.pk), (ana.pk, late.pk), (luis.pk, late.pk)])


def test_no_keys_asks_the_database_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert (
            rows.columns_where_in(Customer.tags.through, ("customer", "tag"), "customer", []) == []
        )


def test_int_array_writes_postgresql_array_literal_of_integers():
    assert rows.int_array([3, 1, 20]) == "{3,1,20}"
    assert rows.int_array([]) == "{}"
    with pytest.raises(ValueError):
        rows.int_array(["1); DROP TABLE x; --"])


def test_a_page_of_customers_gets_each_one_its_tags_by_name():
    vip, late = TagFactory(name="VIP"), TagFactory(name="Moroso")
    ana, luis = CustomerFactory(), CustomerFactory()
    ana.tags.add(vip, late)

    tags = selectors.tags_of([ana.pk, luis.pk])

    assert [tag.name for tag in tags[ana.pk]] == ["Moroso", "VIP"]
    assert tags[luis.pk] == []
