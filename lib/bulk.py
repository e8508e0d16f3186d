"""Many rows written fast: PostgreSQL's COPY, or one executemany elsewhere.

For the tables an import fills by the million (ledger entries, allocations): no model
objects are made and no ids come back, so the rows must be complete as given, in the
order of `fields`. Values go as the database driver adapts them (Decimal, date,
timezone-aware datetime, str, int, None).
"""

from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from django.db import connection
from django.db.models import Model

# Rows per executemany where there is no COPY.
EXECUTEMANY_ROWS = 2000


def insert_rows(model: type[Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert `rows` (one value per field, in order) into the model's table; return how many."""
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    names = ", ".join(quote(meta.get_field(name).column) for name in fields)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # psycopg's own cursor, under Django's wrapper
            with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        marks = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - names quoted
        iterator = iter(rows)
        while batch := list(islice(iterator, EXECUTEMANY_ROWS)):
            cursor.executemany(sql, batch)
            count += len(batch)
    return count
