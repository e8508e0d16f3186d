"""Many rows written fast: PostgreSQL's COPY, or one executemany a batch elsewhere.

For the tables filled by the hundred thousand (an import's ledger entries and
allocations, the credit funnel's facts): no model objects are made and no ids come back,
so the rows must be complete as given, in the order of `fields`. Values are plain Python
(int, str, Decimal, date, timezone-aware datetime, None); where there is no COPY, each
column's value goes through the database's own adapter for its field type, as the ORM
would store it (datetimes in UTC, decimals to their places).
"""

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum
from itertools import islice
from typing import Any

from django.db import connection, models
from django.db.models import Field, Model
from django.db.models.expressions import RawSQL

from lib.rows import int_array

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
    # A constraint that fails raises Django's IntegrityError, as the ORM's writes do (COPY
    # goes past the cursor's own wrapper).
    with connection.wrap_database_errors, connection.cursor() as cursor:
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


def create_rows(model: type[Model], rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert `rows` (dicts of every column by attname, without "id") and return their ids,
    in order.

    On PostgreSQL the ids are taken from the table's sequence first and the rows go in
    by COPY: for a batch of a thousand messages this is several times faster than
    bulk_create, which binds and adapts every value in Python. Elsewhere, bulk_create.
    A column left out takes no default here: every NOT NULL column must be given.
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        created = model._default_manager.bulk_create([model(**row) for row in rows])
        return [obj.pk for obj in created]
    meta = model._meta
    ids = reserve_ids(model, len(rows))
    names = list(rows[0])
    # get_field knows attnames too ("customer_id"). Only the columns COPY cannot take as
    # given (JSON, a file, a choice's member, a type of another library) are adapted.
    adapters = {name: adapt for name in names if (adapt := _copy_adapter(meta.get_field(name)))}
    insert_rows(
        model,
        ["id", *names],
        (
            [pk, *(adapters[name](row[name]) if name in adapters else row[name] for name in names)]
            for pk, row in zip(ids, rows, strict=True)
        ),
    )
    return ids


def create_objects(objects: Sequence[Model]) -> None:
    """Insert unsaved objects of one model and give them their ids: what bulk_create does,
    by COPY on PostgreSQL (elsewhere, bulk_create).

    bulk_create binds and adapts every value of every field in Python: the book import's
    1,900,000 installments and payments spent more time there than PostgreSQL did writing
    them. Here each value goes as the object holds it (a choice as its value, a file as
    its name, JSON as its text), after the fields' `pre_save` (auto_now dates) and with
    the foreign keys of related objects saved meanwhile (an installment's loan).
    """
    if not objects:
        return
    model = type(objects[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objects)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    plain = [(field, _copy_adapter(field) or _same) for field in fields]
    alias = connection.alias
    ids = reserve_ids(model, len(objects))

    def rows() -> Iterable[list]:
        for obj, pk in zip(objects, ids, strict=True):
            obj._prepare_related_fields_for_save(operation_name="create_objects")
            obj.pk = pk
            obj._state.adding, obj._state.db = False, alias
            yield [pk, *(adapt(field.pre_save(obj, True)) for field, adapt in plain)]

    insert_rows(model, ["id", *(field.attname for field in fields)], rows())


# Django's fields whose values psycopg writes as the object holds them (a choice's member
# aside); any other field (a phone number, a third party's type) goes through its own
# get_prep_value.
_AS_HELD = {
    models.BigIntegerField,
    models.BooleanField,
    models.CharField,
    models.DateField,
    models.DateTimeField,
    models.DecimalField,
    models.EmailField,
    models.ForeignKey,
    models.IntegerField,
    models.OneToOneField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.SlugField,
    models.SmallIntegerField,
    models.TextField,
    models.URLField,
}


def _copy_adapter(field: Field) -> Callable[[Any], Any] | None:
    """Return what a value of `field` goes through before COPY, or None if nothing."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: None if value is None else json.dumps(value, cls=encoder)
    if isinstance(field, models.FileField):
        return lambda value: (value.name or "") if value is not None else ""
    if type(field) not in _AS_HELD:
        return field.get_prep_value
    if field.choices:  # a TextChoices or IntegerChoices member: its plain value
        return lambda value: value.value if isinstance(value, Enum) else value
    return None


def _same(value: Any) -> Any:
    return value


def reserve_ids(model: type[Model], count: int) -> list[int]:
    """Take `count` ids from the model's id sequence (PostgreSQL), in increasing order."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def pages_by_pk(queryset: models.QuerySet, size: int) -> Iterator[list[Any]]:
    """Yield the queryset's rows in pages of `size`, in order of primary key, each page read
    after the last one's key (no OFFSET; rows added or deleted meanwhile skip nothing): the
    memory holds one page, however many rows there are."""
    queryset = queryset.order_by("pk")
    page = list(queryset[:size])
    while page:
        yield page
        page = list(queryset.filter(pk__gt=page[-1].pk)[:size])


def ids_in(ids: Sequence[int]) -> Any:
    """The right side of a `__in` filter over many ids, short on PostgreSQL.

    `pk__in=[…1,000 ids…]` writes a placeholder per id: a query too long for psycopg's
    statement cache, split again in Python each time (8 ms for 1,000 ids, several times a
    flow's batch). On PostgreSQL the ids go as one array instead:
    `id IN (SELECT unnest(%s::bigint[]))`. Elsewhere, the list itself.
    """
    ids = list(ids)
    if connection.vendor != "postgresql":
        return ids
    return RawSQL("SELECT unnest(%s::bigint[])", [ids])


def add_links(
    through: type[Model], source: str, ids: Sequence[int], target: str, target_id: int
) -> None:
    """Link each of `ids` to `target_id` in a many-to-many table (`through`, with its
    fields `source` and `target` by name), the links already there left as they are.

    On PostgreSQL one `INSERT … SELECT unnest(array) … ON CONFLICT DO NOTHING`: 100,000
    links in 0.8 s, where bulk_create(ignore_conflicts=True), with a model object and a
    placeholder pair each, took 2.1 s. Elsewhere, that bulk_create.
    """
    if not ids:
        return
    if connection.vendor != "postgresql":
        through._default_manager.bulk_create(
            [through(**{f"{source}_id": pk, f"{target}_id": target_id}) for pk in ids],
            ignore_conflicts=True,
        )
        return
    meta = through._meta
    quote = connection.ops.quote_name
    left, right = (quote(meta.get_field(name).column) for name in (source, target))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({left}, {right}) "
            "SELECT unnest(%s::bigint[]), %s ON CONFLICT DO NOTHING",
            [int_array(ids), target_id],
        )


def add_rows_ignoring(
    model: type[Model], same: dict[str, Any], pairs: dict[str, Sequence[int]]
) -> None:
    """Insert one row per position of the integer columns `pairs` (field name → values, all
    of one length), each with the values of `same` (field name → one value), leaving out
    the rows a unique constraint already holds.

    On PostgreSQL one `INSERT … SELECT … FROM unnest(a, b) ON CONFLICT DO NOTHING` (see
    `add_links`: bulk_create made a model object and placeholders per row); elsewhere
    bulk_create(ignore_conflicts=True).
    """
    lengths = {len(values) for values in pairs.values()}
    if not pairs or lengths == {0}:
        return
    if len(lengths) != 1:
        raise ValueError("Every column of `pairs` needs as many values.")
    if connection.vendor != "postgresql":
        names = list(pairs)
        model._default_manager.bulk_create(
            [
                model(**same, **dict(zip(names, row, strict=True)))
                for row in zip(*pairs.values(), strict=True)
            ],
            ignore_conflicts=True,
        )
        return
    meta = model._meta
    quote = connection.ops.quote_name
    fixed = list(same)
    varying = list(pairs)
    columns = ", ".join(quote(meta.get_field(name).column) for name in fixed + varying)
    aliases = ", ".join(f"c{k}" for k in range(len(varying)))
    arrays = ", ".join("%s::bigint[]" for _name in varying)
    placeholders = ", ".join(["%s"] * len(fixed) + [f"u.c{k}" for k in range(len(varying))])
    values = [meta.get_field(name).get_db_prep_save(same[name], connection) for name in fixed]
    with connection.cursor() as cursor:
        cursor.execute(
            # Names from the model's meta, quoted; every value is a parameter.
            f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT {placeholders} "  # noqa: S608
            f"FROM unnest({arrays}) AS u({aliases}) ON CONFLICT DO NOTHING",
            [*values, *(int_array(pairs[name]) for name in varying)],
        )
