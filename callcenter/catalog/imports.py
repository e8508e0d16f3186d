"""The catalog imported from .xlsx/.csv files: every row validated, then written in bulk.

A file with bad rows writes nothing unless the user chose to skip them; the bad rows come
back with their line numbers and reasons (`errors_csv`). Stock changes write a
`StockMovement`, as everywhere."""

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.catalog import services
from callcenter.models import CatalogProduct, StockMovement
from lib import people, search, spreadsheets
from lib.spreadsheets import Row

# Rows per query and per bulk write: well under SQLite's 999 parameters per statement, and
# small enough that a 50,000-row file never builds one huge statement.
BATCH_SIZE = 500


# What an import rewrites on an existing product, besides adding to its stock.
IMPORT_FIELDS = (
    "name",
    "description",
    "price",
    "currency",
    "is_active",
    "search_text",
    "updated_at",
)


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


SKU_MAX_LENGTH = CatalogProduct._meta.get_field("sku").max_length


NAME_MAX_LENGTH = CatalogProduct._meta.get_field("name").max_length


# price is DecimalField(max_digits=12, decimal_places=2).
MAX_PRICE = Decimal("9999999999.99")


MAX_STOCK = 2_147_483_647  # the largest value an IntegerField holds on every database


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
) -> ImportResult:
    """Create or update products by SKU from a file's rows; the file's stock is the new stock.

    `rows_source` yields (line number, cell values), the header first (see
    `lib.spreadsheets.read_rows`). Every row is validated before anything is written: with a
    bad row nothing is written, unless `skip_invalid`, which writes the good ones. A file
    that cannot be used at all (empty, a required column missing) raises ValidationError.
    """
    result = ImportResult()
    source = iter(rows_source)
    try:
        rows = _parsed_rows(source, result.errors)
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
    try:
        with transaction.atomic():
            existing = _update_existing(
                rows, actor=people.signed_in(actor), note=note, result=result
            )
            new_rows = [r for r in rows if r.sku not in existing]
            _create_new(new_rows, actor=people.signed_in(actor), note=note, result=result)
    except IntegrityError as exc:  # a SKU of the file created meanwhile by someone else
        raise ValidationError(
            _("El catálogo cambió mientras se importaba el archivo; vuelva a importarlo.")
        ) from exc
    result.applied = True
    return result


def _parsed_rows(rows: Iterator[Row], errors: list[RowError]) -> list[_CatalogRow]:
    """Validate each row as it is read; return the good ones, append the bad ones to errors."""
    columns = _columns(rows)
    first_line_of: dict[str, int] = {}
    valid: list[_CatalogRow] = []
    for line, values in rows:
        if all(spreadsheets.is_blank(v) for v in values):
            continue
        cells = {name: values[i] if i < len(values) else None for name, i in columns.items()}
        row, messages = _parsed_row(cells)
        sku = spreadsheets.cell_text(cells["sku"])
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


def _parsed_row(cells: Mapping[str, Any]) -> tuple[_CatalogRow | None, list[str]]:
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
        price = spreadsheets.read_amount(cells["price"], label=_("el precio"), maximum=MAX_PRICE)
    except ValueError as exc:
        messages.append(str(exc))
    try:
        stock = spreadsheets.read_whole_number(
            cells["stock"], label=_("el stock"), maximum=MAX_STOCK
        )
    except ValueError as exc:
        messages.append(str(exc))
    try:
        currency = _currency(cells.get("currency"))
    except ValueError as exc:
        messages.append(str(exc))
    try:
        is_active = spreadsheets.read_yes_no(cells.get("is_active"), label=_("activo"))
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
) -> set[str]:
    """Update the products the file already has, locking them in pk order; return their SKUs."""
    pk_of: dict[str, int] = {}
    for chunk in _batched(rows, BATCH_SIZE):
        pk_of.update(
            CatalogProduct.objects.filter(sku__in=[r.sku for r in chunk]).values_list("sku", "pk")
        )
    row_of = {pk_of[r.sku]: r for r in rows if r.sku in pk_of}
    # Always the same lock order (pk), so an import and a sale locking several products
    # cannot wait for each other in a circle.
    for chunk in _batched(sorted(row_of), BATCH_SIZE):
        now = timezone.now()
        products = list(
            CatalogProduct.objects.select_for_update().filter(pk__in=chunk).order_by("pk")
        )
        if len(products) != len(chunk) or any(p.sku != row_of[p.pk].sku for p in products):
            raise ValidationError(
                _("El catálogo cambió mientras se importaba el archivo; vuelva a importarlo.")
            )
        changed: list[tuple[CatalogProduct, int]] = []
        movements: list[StockMovement] = []
        for product in products:
            row = row_of[product.pk]
            # The delta comes from the locked row, so a sale a moment ago is not lost:
            # the ledger gets exactly the difference between what was and the file.
            delta = row.stock - product.stock
            if not _apply(product, row) and not delta:
                result.unchanged += 1
                continue
            product.updated_at = now
            changed.append((product, delta))
            if delta:
                movements.append(
                    StockMovement(
                        product_id=product.pk,
                        delta=delta,
                        reason=StockMovement.Reason.IMPORT,
                        note=note,
                        actor=actor,
                        created_at=now,
                    )
                )
        _save_imported(changed)
        StockMovement.objects.bulk_create(movements, batch_size=BATCH_SIZE)
        result.updated += len(changed)
    return set(pk_of)


def _save_imported(changed: Sequence[tuple[CatalogProduct, int]]) -> None:
    """Write the imported fields and add each delta to the stock, in one executemany.

    Not `bulk_update`: it builds a CASE per row and field, which for 50,000 rows costs
    about a minute of Python (measured on SQLite), past a web request's timeout; one
    prepared UPDATE run per row takes about a second. The stock is added to (stock +
    delta), never overwritten, like every other stock change.
    """
    if not changed:
        return
    meta = CatalogProduct._meta
    connection = connections[CatalogProduct.objects.db]
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in IMPORT_FIELDS]
    stock = quote(meta.get_field("stock").column)
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    # Only identifiers from the model's metadata are formatted in; values are parameters.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {assignments}, {stock} = {stock} + %s "  # noqa: S608
        f"WHERE {quote(meta.pk.column)} = %s"
    )
    params = [
        [f.get_db_prep_save(getattr(product, f.attname), connection) for f in fields]
        + [delta, product.pk]
        for product, delta in changed
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _apply(product: CatalogProduct, row: _CatalogRow) -> bool:
    """Copy the row's data onto the product; say whether anything changed."""
    new = {"name": row.name, "price": row.price}
    if row.currency is not None:
        new["currency"] = row.currency
    if row.description is not None:
        new["description"] = row.description
    if row.is_active is not None:
        new["is_active"] = row.is_active
    changed = False
    for name, value in new.items():
        if getattr(product, name) != value:
            setattr(product, name, value)
            changed = True
    product.search_text = product.build_search_text()
    return changed


def _create_new(
    rows: Sequence[_CatalogRow],
    *,
    actor: AbstractBaseUser | None,
    note: str,
    result: ImportResult,
) -> None:
    """Create products the catalog does not have yet, each with its opening movement."""
    for chunk in _batched(rows, BATCH_SIZE):
        now = timezone.now()
        products = []
        for row in chunk:
            product = CatalogProduct(
                sku=row.sku,
                name=row.name,
                price=row.price,
                currency=row.currency or services.default_currency(),
                description=row.description or "",
                is_active=True if row.is_active is None else row.is_active,
                stock=row.stock,
                created_at=now,
            )
            product.search_text = product.build_search_text()
            products.append(product)
        # PostgreSQL and SQLite ≥ 3.35 give the new pks back, which the movements need.
        CatalogProduct.objects.bulk_create(products, batch_size=BATCH_SIZE)
        StockMovement.objects.bulk_create(
            [
                StockMovement(
                    product_id=p.pk,
                    delta=p.stock,
                    reason=StockMovement.Reason.IMPORT,
                    note=note,
                    actor=actor,
                    created_at=now,
                )
                for p in products
                if p.stock
            ],
            batch_size=BATCH_SIZE,
        )
        result.created += len(products)


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


def errors_csv(errors: Iterable[Any]) -> bytes:
    """Return the bad rows as a .csv (UTF-8 with BOM, so Excel shows the accents)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("línea"), _("sku"), _("error")])
    for error in errors:
        writer.writerow([error.line, error.sku, error.message])
    return out.getvalue().encode("utf-8-sig")
