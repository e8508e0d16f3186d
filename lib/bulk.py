"""Many rows written fast: PostgreSQL's COPY, or one executemany a batch elsewhere.

For the tables filled by the hundred thousand (an import's ledger entries and
allocations, the credit funnel's facts): no model objects are made and no ids come back,
so the rows must be complete as given, in the order of `fields`. Values are plain Python
(int, str, Decimal, date, timezone-aware datetime, None); where there is no COPY, each
column's value goes through the database's own adapter for its field type, as the ORM
would store it (datetimes in UTC, decimals to their places).
"""

from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any

from django.db import connection
from django.db.models import Field, Model

# Rows per executemany where there is no COPY, and per COPY.
EXECUTEMANY_ROWS = 2000
COPY_ROWS = 20_000


def insert_rows(model: type[Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert `rows` (one value per field, by name or attname) into the model's table.

    Return how many rows were written.
    """
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    table = quote(meta.db_table)
    names = ", ".join(quote(field.column) for field in columns)
    count = 0
    with connection.cursor() as cursor:
        iterator = iter(rows)
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # psycopg's own cursor, under Django's wrapper
            # A batch is read before its COPY starts: the rows may come from a query on
            # this same connection (QuerySet.iterator), which cannot fetch during a COPY.
            while batch := list(islice(iterator, COPY_ROWS)):
                with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
                count += len(batch)
            return count
        adapters = [(k, adapt) for k, field in enumerate(columns) if (adapt := _adapter(field))]
        marks = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - names quoted
        while batch := [list(row) for row in islice(iterator, EXECUTEMANY_ROWS)]:
            for row in batch:
                for k, adapt in adapters:
                    row[k] = adapt(row[k])
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _adapter(field: Field) -> Callable[[Any], Any] | None:
    """Return how the database wants this field's values, or None if as they are."""
    ops = connection.ops
    kind = field.get_internal_type()
    if kind == "DateTimeField":
        return ops.adapt_datetimefield_value
    if kind == "DateField":
        return ops.adapt_datefield_value
    if kind == "DecimalField":
        return lambda value: ops.adapt_decimalfield_value(
            value, field.max_digits, field.decimal_places
        )
    return None
