"""A registry takes one item per name, the same item again, and refuses another."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from lib.registry import Registry


def first():
    """One item."""


def second():
    """Another item."""


def test_it_returns_what_was_registered_and_none_for_an_unknown_name():
    registry = Registry("A handler for")

    registry.register("a", first)

    assert registry.get("a") is first
    assert registry.get("b") is None
    assert registry.names() == ["a"]


def test_it_takes_the_same_item_twice_and_refuses_another_under_the_same_name():
    registry = Registry("A handler for")
    registry.register("a", first)

    registry.register("a", first)
    with pytest.raises(ImproperlyConfigured, match="A handler for 'a' is already registered"):
        registry.register("a", second)


def test_it_forgets_a_name():
    registry = Registry("A handler for")
    registry.register("a", first)

    registry.unregister("a")

    assert registry.get("a") is None
