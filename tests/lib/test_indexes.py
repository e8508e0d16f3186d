"""An index whose NULLs are placed is written on SQLite without the placement."""

from django.db import connection
from django.db.models import F

from crm.models import Customer
from lib.indexes import NullsOrderedIndex


def test_the_placement_is_written_on_postgresql_and_left_out_on_sqlite():
    index = NullsOrderedIndex(
        F("last_interaction_at").desc(nulls_last=True), F("id").asc(nulls_last=True), name="x_idx"
    )
    sql = str(index.create_sql(Customer, connection.schema_editor(collect_sql=True)))

    if connection.vendor == "postgresql":
        assert '("last_interaction_at" DESC NULLS LAST, "id" ASC NULLS LAST)' in sql
    else:
        assert '("last_interaction_at" DESC, "id" ASC)' in sql
