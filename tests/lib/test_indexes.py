"""An index whose NULLs are placed is written on SQLite only where SQLite places them."""

import pytest
from django.db.models import F

from lib.indexes import NullsOrderedIndex


def test_a_placement_sqlite_cannot_index_is_refused_when_declared():
    with pytest.raises(ValueError, match="SQLite cannot index"):
        NullsOrderedIndex(F("x").desc(nulls_first=True), name="x_idx")
    with pytest.raises(ValueError, match="SQLite cannot index"):
        NullsOrderedIndex(F("x").asc(nulls_last=True), name="x_idx")


def test_the_placements_sqlite_shares_are_accepted():
    index = NullsOrderedIndex(
        F("x").desc(nulls_last=True), F("y").asc(nulls_first=True), name="x_idx"
    )

    assert index.name == "x_idx"
