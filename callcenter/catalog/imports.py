"""The catalog imported from .xlsx/.csv files: every row validated, then written in bulk.

A file with bad rows writes nothing unless the user chose to skip them; the bad rows come
back with their line numbers and reasons (`errors_csv`). Stock changes write a
`StockMovement`, as everywhere.

`import_catalog` does the work (the `import_catalog` command calls it directly). From
admin, `start_catalog_import` stores the upload and queues a `CatalogImport`, which the
Celery task runs with `run_catalog_import`; its progress goes to the cache as it goes
(`save_progress`), its outcome to the `CatalogImport`."""

import csv
import gc
import io
import logging
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.catalog import services
from callcenter.models import CatalogImport, CatalogProduct, StockMovement
from lib import people, queue, search, spreadsheets
from lib import progress as lib_progress
from lib.spreadsheets import Row

# Rows per query and per bulk write: well under SQLite's 999 parameters per statement, and
# small enough that a 50,000-row file never builds one huge statement.
BATCH_SIZE = 500


# What an import compares and rewrites on an existing product, in this order; besides, it
# adds to its stock and sets search_text and updated_at.
IMPORT_FIELDS = ("name", "description", "price", "currency", "is_active")


# Header names accepted in a file, normalized (lower case, no accents) → field.
COLUMNS = {
    "sku": "sku",
    "nombre": "name",
    "name": "name",
    "precio": "price",
    "price": "price",
    "stock": "stock",
    "moneda": "currency",
    "currency": "currency",
    "descripcion": "description",
    "description": "description",
    "activo": "is_active",
    "active": "is_active",
}


REQUIRED_COLUMNS = {"sku": "sku", "name": "nombre", "price": "precio", "stock": "stock"}
# Every column by its Spanish header, as messages name it.
COLUMN_NAMES = {
    **REQUIRED_COLUMNS,
    "currency": "moneda",
    "description": "descripcion",
    "is_active": "activo",
}


SKU_MAX_LENGTH = CatalogProduct._meta.get_field("sku").max_length


NAME_MAX_LENGTH = CatalogProduct._meta.get_field("name").max_length


# price is DecimalField(max_digits=12, decimal_places=2).
MAX_PRICE = Decimal("9999999999.99")


MAX_STOCK = services.MAX_STOCK


logger = logging.getLogger(__name__)

# The phases an import reports progress for: `import_catalog` reports the last two; a
# queued import reads its file before (READING).
READING = "reading"
VALIDATING = "validating"
WRITING = "writing"

# progress(phase, done, total): lines of the file read so far (total None when the file's
# length is not known beforehand), then valid rows written so far.
ProgressCallback = Callable[[str, int, int | None], None]


T = TypeVar("T")


@dataclass(frozen=True)
class RowError:
    """A bad row of an import file: where it is and what is wrong, in Spanish."""

    line: int
    sku: str
    message: str


@dataclass
class ImportResult:
    """What an import did, and every bad row it found."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Bad rows left out because the user chose to skip them.
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    # False when bad rows stopped the import: then nothing was written.
    applied: bool = False

    @property
    def error_rows(self) -> int:
        return len({error.line for error in self.errors})

    @property
    def written(self) -> int:
        return self.created + self.updated

    @property
    def processed(self) -> int:
        """Valid rows handled so far: created, updated or found unchanged."""
        return self.created + self.updated + self.unchanged


@dataclass(slots=True)
class _CatalogRow:
    """One valid row; None in an optional field leaves the product's value as it is."""

    sku: str
    name: str
    price: Decimal
    stock: int
    currency: str | None
    description: str | None
    is_active: bool | None


def import_catalog(
    *,
    rows_source: Iterable[Row],
    actor: AbstractBaseUser | None,
    skip_invalid: bool,
    file_name: str = "",
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Create or update products by SKU from a file's rows; the file's stock is the new stock.

    `rows_source` yields (line number, cell values), the header first (see
    `lib.spreadsheets.read_rows`). Every row is validated before anything is written: with a
    bad row nothing is written, unless `skip_invalid`, which writes the good ones. A file
    that cannot be used at all (empty, a required column missing) raises ValidationError.
    `progress` is called every BATCH_SIZE rows of each phase (VALIDATING, WRITING) and at
    the end of each; a `rows_source` with a length (a list) gives the validating total.
    """
    with _cyclic_gc_paused():
        return _import_catalog(
            rows_source=rows_source,
            actor=actor,
            skip_invalid=skip_invalid,
            file_name=file_name,
            report=progress or _no_progress,
        )


def _import_catalog(
    *,
    rows_source: Iterable[Row],
    actor: AbstractBaseUser | None,
    skip_invalid: bool,
    file_name: str,
    report: ProgressCallback,
) -> ImportResult:
    total_lines = len(rows_source) if isinstance(rows_source, Sized) else None
    result = ImportResult()
    source = iter(rows_source)
    try:
        rows = _parsed_rows(source, result.errors, report=report, total_lines=total_lines)
    finally:
        # A reader stopped early (a bad header) lets go of its file now, not at some GC.
        close = getattr(source, "close", None)
        if close is not None:
            close()
    if result.errors and not skip_invalid:
        return result
    result.skipped = result.error_rows
    note = _("Importación de catálogo")
    if file_name:
        note = f"{note}: {file_name}"[:255]

    def wrote() -> None:
        report(WRITING, result.processed, len(rows))

    wrote()
    try:
        with transaction.atomic():
            existing = _update_existing(
                rows, actor=people.signed_in(actor), note=note, result=result, wrote=wrote
            )
            new_rows = [r for r in rows if r.sku not in existing]
            _create_new(
                new_rows, actor=people.signed_in(actor), note=note, result=result, wrote=wrote
            )
    except IntegrityError as exc:  # a SKU of the file created meanwhile by someone else
        raise ValidationError(
            _("El catálogo cambió mientras se importaba el archivo; vuelva a importarlo.")
        ) from exc
    result.applied = True
    return result


def _no_progress(phase: str, done: int, total: int | None) -> None:
    pass


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector (reference counting still frees everything at once).

    An import makes hundreds of thousands of small objects that form no cycles, on top of
    the file's cells; collections that scan them all, again and again as they pile up,
    were 15% of a 100,000-row import (measured). Cycles made meanwhile wait for the end.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parsed_rows(
    rows: Iterator[Row],
    errors: list[RowError],
    *,
    report: ProgressCallback,
    total_lines: int | None,
) -> list[_CatalogRow]:
    """Validate each row as it is read; return the good ones, append the bad ones to errors."""
    columns = _columns(rows)
    # The columns' names for the cell readers' messages ("Falta el precio."), translated once
    # per file: three gettext calls per row were a fifth of a 100,000-row import.
    labels = {"price": _("el precio"), "stock": _("el stock"), "is_active": _("activo")}
    # A row as long as the header takes its cells in one C call; a shorter one (a .csv line
    # that ends early) has None in the missing ones.
    names = tuple(columns)
    pick = operator.itemgetter(*columns.values())
    width = max(columns.values()) + 1
    first_line_of: dict[str, int] = {}
    valid: list[_CatalogRow] = []
    line = 0
    for seen, (line, values) in enumerate(rows, start=1):
        if seen % BATCH_SIZE == 0:
            report(VALIDATING, line, total_lines)
        if all(spreadsheets.is_blank(v) for v in values):
            continue
        if len(values) >= width:
            cells = dict(zip(names, pick(values), strict=True))
        else:
            cells = {name: values[i] if i < len(values) else None for name, i in columns.items()}
        problems = spreadsheets.clean_cells(cells, COLUMN_NAMES.__getitem__)
        row, messages = _parsed_row(cells, labels)
        if problems:
            # Stored, it would break every .xlsx export it appears in.
            row, messages = None, [*messages, *problems]
        sku = row.sku if row is not None else spreadsheets.cell_text(cells["sku"])
        if sku:
            if sku in first_line_of:
                messages.append(
                    _("SKU repetido en el archivo (ya aparece en la línea %(line)s).")
                    % {"line": first_line_of[sku]}
                )
            else:
                first_line_of[sku] = line
        if messages:
            errors.extend(RowError(line=line, sku=sku, message=m) for m in messages)
        elif row is not None:
            valid.append(row)
    report(VALIDATING, total_lines or line, total_lines)
    return valid


def _columns(rows: Iterator[Row]) -> dict[str, int]:
    """Read the header (the first non-empty row) and return field → column index."""
    for line, values in rows:
        if all(spreadsheets.is_blank(v) for v in values):
            continue
        columns: dict[str, int] = {}
        for index, value in enumerate(values):
            name = COLUMNS.get(search.normalize(spreadsheets.cell_text(value)))
            if name is None:
                continue  # other columns are ignored
            if name in columns:
                raise ValidationError(
                    _("La columna «%(column)s» está repetida en el encabezado (línea %(line)s).")
                    % {"column": spreadsheets.cell_text(value), "line": line}
                )
            columns[name] = index
        missing = [label for name, label in REQUIRED_COLUMNS.items() if name not in columns]
        if missing:
            raise ValidationError(
                _(
                    "Faltan columnas obligatorias en el encabezado (línea %(line)s): "
                    "%(missing)s. Las columnas son sku, nombre, precio y stock; y, si quiere, "
                    "moneda, descripcion y activo."
                )
                % {"line": line, "missing": ", ".join(missing)}
            )
        return columns
    raise ValidationError(_("El archivo está vacío (de un .xlsx se lee la primera hoja)."))


def _parsed_row(
    cells: Mapping[str, Any], labels: Mapping[str, str]
) -> tuple[_CatalogRow | None, list[str]]:
    """Return the row ready to write, or None and what is wrong with it."""
    messages: list[str] = []

    sku = spreadsheets.cell_text(cells["sku"])
    if not sku:
        messages.append(_("Falta el SKU."))
    elif len(sku) > SKU_MAX_LENGTH:
        messages.append(_("El SKU tiene más de %(max)s caracteres.") % {"max": SKU_MAX_LENGTH})

    name = spreadsheets.cell_text(cells["name"])
    if not name:
        messages.append(_("Falta el nombre."))
    elif len(name) > NAME_MAX_LENGTH:
        messages.append(_("El nombre tiene más de %(max)s caracteres.") % {"max": NAME_MAX_LENGTH})

    price = stock = currency = is_active = None
    try:
        price = spreadsheets.read_amount(cells["price"], label=labels["price"], maximum=MAX_PRICE)
    except ValueError as exc:
        messages.append(str(exc))
    try:
        stock = spreadsheets.read_whole_number(
            cells["stock"], label=labels["stock"], maximum=MAX_STOCK
        )
    except ValueError as exc:
        messages.append(str(exc))
    try:
        currency = _currency(cells.get("currency"))
    except ValueError as exc:
        messages.append(str(exc))
    try:
        is_active = spreadsheets.read_yes_no(cells.get("is_active"), label=labels["is_active"])
    except ValueError as exc:
        messages.append(str(exc))
    description = spreadsheets.cell_text(cells.get("description")) or None

    if messages:
        return None, messages
    assert price is not None and stock is not None
    row = _CatalogRow(
        sku=sku,
        name=name,
        price=price,
        stock=stock,
        currency=currency,
        description=description,
        is_active=is_active,
    )
    return row, messages


def _currency(value: Any) -> str | None:
    text = spreadsheets.cell_text(value)
    if not text:
        return None
    if not services.CURRENCY_RE.fullmatch(text):
        raise ValueError(
            _("La moneda «%(value)s» debe ser un código de 3 letras (PEN, USD).") % {"value": text}
        )
    return text.upper()


def _update_existing(
    rows: Sequence[_CatalogRow],
    *,
    actor: AbstractBaseUser | None,
    note: str,
    result: ImportResult,
    wrote: Callable[[], None],
) -> set[str]:
    """Update the products the file already has, locking them in pk order; return their SKUs."""
    pk_of = _pks_by_sku([r.sku for r in rows])
    row_of = {pk_of[r.sku]: r for r in rows if r.sku in pk_of}
    # Always the same lock order (pk), so an import and a sale locking several products
    # cannot wait for each other in a circle.
    for chunk in _batched(sorted(row_of), BATCH_SIZE):
        now = timezone.now()
        # Plain values, not model instances: building 100,000 of them was a third of a
        # re-import of an unchanged catalog.
        current = list(
            CatalogProduct.objects.select_for_update()
            .filter(pk__in=chunk)
            .order_by("pk")
            .values_list("pk", "sku", "stock", *IMPORT_FIELDS)
        )
        if len(current) != len(chunk) or any(sku != row_of[pk].sku for pk, sku, *_ in current):
            raise ValidationError(
                _("El catálogo cambió mientras se importaba el archivo; vuelva a importarlo.")
            )
        changed: list[_Change] = []
        for pk, sku, stock, *values in current:
            row = row_of[pk]
            # The delta comes from the locked row, so a sale a moment ago is not lost:
            # the ledger gets exactly the difference between what was and the file.
            delta = row.stock - stock
            imported = _imported_values(row, *values)
            if imported == tuple(values) and not delta:
                result.unchanged += 1
                continue
            search_text = CatalogProduct.search_text_for(name=row.name, sku=sku)
            changed.append(_Change(pk=pk, values=imported, search_text=search_text, delta=delta))
        _save_imported(changed, now=now)
        _insert_movements(
            [(change.pk, change.delta) for change in changed if change.delta],
            actor=actor,
            note=note,
            now=now,
        )
        result.updated += len(changed)
        wrote()
    return set(pk_of)


def _imported_values(
    row: _CatalogRow, name: str, description: str, price: Decimal, currency: str, is_active: bool
) -> tuple[Any, ...]:
    """Return a product's IMPORT_FIELDS once the row is applied to the current ones.

    A blank optional cell (currency, description, active) keeps the product's value.
    """
    return (
        row.name,
        description if row.description is None else row.description,
        row.price,
        currency if row.currency is None else row.currency,
        is_active if row.is_active is None else row.is_active,
    )


@dataclass(slots=True)
class _Change:
    """What an import writes on one existing product."""

    pk: int
    values: tuple[Any, ...]  # IMPORT_FIELDS, in their order
    search_text: str
    delta: int


def _save_imported(changed: Sequence[_Change], *, now: datetime) -> None:
    """Write the imported fields and add each delta to the stock, in one executemany.

    Not `bulk_update`: it builds a CASE per row and field, which for 50,000 rows costs
    about a minute of Python (measured on SQLite), past a web request's timeout; one
    prepared UPDATE run per row takes about a second. The stock is added to (stock +
    delta), never overwritten, like every other stock change. Values go to the driver as
    they are (see `_insert`).
    """
    if not changed:
        return
    meta = CatalogProduct._meta
    connection = _connection(CatalogProduct)
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in IMPORT_FIELDS]
    search_text, updated_at = meta.get_field("search_text"), meta.get_field("updated_at")
    stock = quote(meta.get_field("stock").column)
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in [*fields, search_text, updated_at])
    # Only identifiers from the model's metadata are formatted in; values are parameters.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {assignments}, {stock} = {stock} + %s "  # noqa: S608
        f"WHERE {quote(meta.pk.column)} = %s"
    )
    now_value = updated_at.get_db_prep_save(now, connection)
    params = [
        [*change.values, change.search_text, now_value, change.delta, change.pk]
        for change in changed
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


# What `_create_new` writes of a new product, in this order: every column but the pk.
NEW_PRODUCT_FIELDS = (
    "sku",
    "name",
    "description",
    "price",
    "currency",
    "stock",
    "is_active",
    "search_text",
    "created_at",
    "updated_at",
)


def _create_new(
    rows: Sequence[_CatalogRow],
    *,
    actor: AbstractBaseUser | None,
    note: str,
    result: ImportResult,
    wrote: Callable[[], None],
) -> None:
    """Create products the catalog does not have yet, each with its opening movement."""
    if not rows:
        return
    connection = _connection(CatalogProduct)
    meta = CatalogProduct._meta
    default_currency = services.default_currency()
    for chunk in _batched(rows, BATCH_SIZE):
        now = timezone.now()
        now_value = meta.get_field("created_at").get_db_prep_save(now, connection)
        _insert(
            CatalogProduct,
            NEW_PRODUCT_FIELDS,
            [
                (
                    row.sku,
                    row.name,
                    row.description or "",
                    row.price,
                    row.currency or default_currency,
                    row.stock,
                    True if row.is_active is None else row.is_active,
                    CatalogProduct.search_text_for(name=row.name, sku=row.sku),
                    now_value,
                    now_value,
                )
                for row in chunk
            ],
        )
        _insert_opening_movements([row.sku for row in chunk], actor=actor, note=note, now=now)
        result.created += len(chunk)
        wrote()


def _pks_by_sku(skus: Sequence[str]) -> dict[str, int]:
    """Return the pk of each of these SKUs the catalog has."""
    wanted = set(skus)
    if CatalogProduct.objects.count() <= 2 * len(wanted):
        # A catalog not much bigger than the file is read whole in one query: cheaper than
        # a query per BATCH_SIZE SKUs (200 of them for 100,000 rows).
        everything = CatalogProduct.objects.values_list("sku", "pk").iterator(chunk_size=5000)
        return {sku: pk for sku, pk in everything if sku in wanted}
    pk_of: dict[str, int] = {}
    for chunk in _batched(skus, BATCH_SIZE):
        pk_of.update(CatalogProduct.objects.filter(sku__in=chunk).values_list("sku", "pk"))
    return pk_of


def _insert_opening_movements(
    skus: Sequence[str], *, actor: AbstractBaseUser | None, note: str, now: datetime
) -> None:
    """Write the opening movement (its whole stock) of each product just created with these SKUs.

    One INSERT … SELECT: the database finds the new pks itself, where executemany would
    need a query to fetch them first (it gives no RETURNING rows on every driver).
    """
    connection = _connection(StockMovement)
    quote = connection.ops.quote_name
    product = CatalogProduct._meta
    movement = StockMovement._meta
    columns = ", ".join(
        quote(movement.get_field(name).column)
        for name in ("product", "delta", "reason", "note", "actor", "created_at")
    )
    pk, sku, stock = (quote(product.get_field(name).column) for name in ("id", "sku", "stock"))
    marks = ", ".join(["%s"] * len(skus))
    # Only identifiers from the models' metadata are formatted in; values are parameters.
    sql = (
        f"INSERT INTO {quote(movement.db_table)} ({columns}) "  # noqa: S608
        f"SELECT {pk}, {stock}, %s, %s, %s, %s FROM {quote(product.db_table)} "
        f"WHERE {sku} IN ({marks}) AND {stock} <> 0"
    )
    created_at = movement.get_field("created_at").get_db_prep_save(now, connection)
    fixed = [StockMovement.Reason.IMPORT.value, note, actor.pk if actor else None, created_at]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*fixed, *skus])


def _insert_movements(
    deltas: Sequence[tuple[int, int]],
    *,
    actor: AbstractBaseUser | None,
    note: str,
    now: datetime,
) -> None:
    """Write one import movement per (product pk, delta)."""
    connection = _connection(StockMovement)
    created_at = StockMovement._meta.get_field("created_at").get_db_prep_save(now, connection)
    fixed = (StockMovement.Reason.IMPORT.value, note, actor.pk if actor else None, created_at)
    _insert(
        StockMovement,
        ("product", "delta", "reason", "note", "actor", "created_at"),
        [(pk, delta, *fixed) for pk, delta in deltas],
    )


def _insert(
    model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert `rows` (values of `field_names`, ready for the database) in one executemany.

    Not `bulk_create`: its compiler prepares every value of every row one by one, which
    was 25 of the 30 seconds a 100,000-row import took on SQLite (profiled). Here str, int,
    bool, Decimal and None values go to the driver as they are, as Django's own fields hand
    them to every built-in backend; a datetime is prepared by its field, once per batch.
    """
    if not rows:
        return
    meta = model._meta
    connection = _connection(model)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in field_names)
    marks = ", ".join(["%s"] * len(field_names))
    # Only identifiers from the model's metadata are formatted in; values are parameters.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _connection(model: type[models.Model]) -> BaseDatabaseWrapper:
    return connections[router.db_for_write(model)]


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """itertools.batched, which arrives with Python 3.12."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_rows(handle, name: str):
    """Read a catalog file's rows; a .csv in UTF-8 or, as a Spanish Excel saves it, in
    Windows-1252 (the other imports read both; this one refused the second)."""
    return spreadsheets.read_rows(handle, name, windows_csv=True)


def errors_csv(errors: Iterable[Any]) -> bytes:
    """Return the bad rows as a .csv (UTF-8 with BOM, so Excel shows the accents)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("línea"), _("sku"), _("error")])
    for error in errors:
        # The SKU as the file had it: text, never a formula Excel would run.
        writer.writerow([error.line, spreadsheets.csv_text(error.sku), error.message])
    return out.getvalue().encode("utf-8-sig")


# --- Imports run in the background ------------------------------------------------------

# How many bad rows an import's page lists; the .csv has them all.
ERROR_PREVIEW_ROWS = 20

# A running import's progress stays in the cache this long after its last save.
PROGRESS_CACHE_SECONDS = 24 * 60 * 60

# A running import saves its progress at most this often: the page polls every second or
# two, and a cache write per batch of rows would be hundreds for a big file.
PROGRESS_EVERY_SECONDS = 0.5


@transaction.atomic
def start_catalog_import(
    *, upload: UploadedFile, actor: AbstractBaseUser, skip_invalid: bool
) -> CatalogImport:
    """Store an uploaded catalog file (private storage) and queue its import; return it."""
    name = upload.name or "catalogo"
    catalog_import = CatalogImport(
        file_name=name[-255:], skip_invalid=skip_invalid, created_by=people.signed_in(actor)
    )
    catalog_import.file.save(name, upload, save=False)
    catalog_import.save()
    queue.enqueue("callcenter.run_catalog_import", import_id=catalog_import.pk)
    return catalog_import


def run_catalog_import(*, import_id: int) -> CatalogImport | None:
    """Import a queued import's file and record the outcome; None if it was not queued.

    The import is claimed first (queued → running, committed at once), so a duplicate or
    late delivery of its task does nothing. The products and the import's final state
    commit together: if the worker dies halfway, nothing was written and the import stays
    "running" with its last progress in the cache, which its page shows, until
    `resume_abandoned` sends it again (lib.progress: 15 minutes without progress). A file
    that cannot be used (ValidationError) fails the import with the reason; any other
    exception fails it with a general message, and is raised again for the worker's log.
    """
    if not lib_progress.claim(
        CatalogImport.objects.all(),
        import_id,
        queued=CatalogImport.Status.QUEUED,
        running=CatalogImport.Status.RUNNING,
        key=CatalogImport(pk=import_id).progress_cache_key,
    ):
        return None
    catalog_import = CatalogImport.objects.select_related("created_by").get(pk=import_id)
    save_progress(catalog_import, phase=READING, done=0, total=None)
    try:
        with catalog_import.file.open("rb") as handle:
            # Every row read first: the progress then has a total to count against.
            rows = list(read_rows(handle, catalog_import.file_name))
        # The import's writes and its final state commit together. (On SQLite this holds
        # the database's write lock while the rows are checked too: a few seconds.)
        with transaction.atomic():
            result = import_catalog(
                rows_source=rows,
                actor=catalog_import.created_by,
                skip_invalid=catalog_import.skip_invalid,
                file_name=catalog_import.file_name,
                progress=_progress_saver(catalog_import),
            )
            _record_result(catalog_import, result)
    except ValidationError as exc:
        _record_failure(catalog_import, " ".join(exc.messages))
    except Exception as exc:
        logger.exception("Catalog import %s failed", import_id)
        _record_failure(
            catalog_import,
            _(
                "Error inesperado al importar (%(error)s). Vuelva a intentarlo y, si se "
                "repite, avise a soporte."
            )
            % {"error": type(exc).__name__},
        )
        raise
    finally:
        lib_progress.forget(catalog_import.progress_cache_key)
    return catalog_import


def resume_abandoned() -> int:
    """Send again the imports queued or running without progress for 15 minutes (their
    task was lost, or their worker died); return how many. Beat runs it every 5 minutes.
    One interrupted lib.progress.MAX_SENDS times fails, saying so."""
    return lib_progress.send_again(
        CatalogImport.objects.all(),
        queued=CatalogImport.Status.QUEUED,
        running=CatalogImport.Status.RUNNING,
        failed=CatalogImport.Status.FAILED,
        failure=_(
            "La importación se interrumpió %(times)s veces; divida el archivo y vuelva a subirlo."
        )
        % {"times": lib_progress.MAX_SENDS},
        key_of=lambda pk: CatalogImport(pk=pk).progress_cache_key,
        task="callcenter.run_catalog_import",
        argument="import_id",
    )


def save_progress(
    catalog_import: CatalogImport, *, phase: str, done: int, total: int | None
) -> None:
    """Keep where a running import is (read by `callcenter.catalog.selectors`); a failing
    cache does not fail the import."""
    lib_progress.save(
        catalog_import.progress_cache_key,
        {"phase": phase, "done": done, "total": total},
        PROGRESS_CACHE_SECONDS,
    )


def throttled(callback: ProgressCallback, every_seconds: float) -> ProgressCallback:
    """Return `callback` passed on at the start of each phase, at its end (done == total)
    and otherwise at most once every `every_seconds`."""
    last_phase, last_at = "", 0.0

    def report(phase: str, done: int, total: int | None) -> None:
        nonlocal last_phase, last_at
        now = time.monotonic()
        if phase == last_phase and done != total and now - last_at < every_seconds:
            return
        last_phase, last_at = phase, now
        callback(phase, done, total)

    return report


def _progress_saver(catalog_import: CatalogImport) -> ProgressCallback:
    """Return a progress callback that saves at most every PROGRESS_EVERY_SECONDS."""
    return throttled(
        lambda phase, done, total: save_progress(
            catalog_import, phase=phase, done=done, total=total
        ),
        PROGRESS_EVERY_SECONDS,
    )


def _record_result(catalog_import: CatalogImport, result: ImportResult) -> None:
    catalog_import.status = CatalogImport.Status.DONE
    catalog_import.finished_at = timezone.now()
    catalog_import.is_applied = result.applied
    catalog_import.created_count = result.created
    catalog_import.updated_count = result.updated
    catalog_import.unchanged_count = result.unchanged
    catalog_import.skipped_count = result.skipped
    catalog_import.error_row_count = result.error_rows
    catalog_import.error_count = len(result.errors)
    catalog_import.error_preview = [
        [error.line, error.sku, error.message] for error in result.errors[:ERROR_PREVIEW_ROWS]
    ]
    if result.errors:
        catalog_import.errors_file.save(
            "errores.csv", ContentFile(errors_csv(result.errors)), save=False
        )
    catalog_import.save()


def _record_failure(catalog_import: CatalogImport, message: str) -> None:
    # An update, not save(): the instance may carry a result its transaction rolled back.
    CatalogImport.objects.filter(pk=catalog_import.pk).update(
        status=CatalogImport.Status.FAILED, failure=message, finished_at=timezone.now()
    )
    catalog_import.refresh_from_db()
