"""A few rows' columns read by key with one plain statement: no queryset, no model objects.

For the small reads a page makes after its main query (the tags of its 25 customers): the
ORM's query building, lookup and iteration cost ~0.3 ms more than the statement itself
(measured on the bench), a few percent of a list page.
"""

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model


def int_array(values: Iterable[int]) -> str:
    """Return PostgreSQL's literal of an array of integers ("{1,2,3}"): one parameter,
    where a placeholder per value costs psycopg ~1 µs each to adapt and parse."""
    return "{" + ",".join(str(int(value)) for value in values) + "}"


def columns_where_in(
    model: type[Model], columns: Sequence[str], key: str, keys: Sequence[int]
) -> list[tuple]:
    """Return `columns` (field names) of the rows of `model` whose integer field `key` is
    one of `keys`, as tuples in no particular order."""
    if not keys:
        return []
    meta = model._meta
    quote = connection.ops.quote_name
    names = ", ".join(quote(meta.get_field(name).column) for name in columns)
    column = quote(meta.get_field(key).column)
    if connection.vendor == "postgresql":
        where, params = f"{column} = ANY(%s::bigint[])", [int_array(keys)]
    else:
        where, params = f"{column} IN ({', '.join(['%s'] * len(keys))})", [int(k) for k in keys]
    sql = f"SELECT {names} FROM {quote(meta.db_table)} WHERE {where}"  # noqa: S608 - quoted
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
