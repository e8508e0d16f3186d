"""Catalog files built in memory for the tests, and the stock ledger's invariant."""

import csv
import io
from collections.abc import Sequence
from typing import Any

import openpyxl
from django.db.models import Sum

from callcenter.catalog import imports as catalog_imports
from callcenter.models import CatalogProduct

HEADER = ["sku", "nombre", "precio", "stock"]


def xlsx_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_bytes(rows: Sequence[Sequence[Any]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    # What Excel writes for «CSV UTF-8»: a BOM first.
    return out.getvalue().encode("utf-8-sig")


def import_file(
    content: bytes, name: str = "catalogo.csv", *, skip_invalid: bool = False, actor=None
) -> catalog_imports.ImportResult:
    return catalog_imports.import_catalog(
        rows_source=catalog_imports.read_rows(io.BytesIO(content), name),
        actor=actor,
        skip_invalid=skip_invalid,
        file_name=name,
    )


def ledger_mismatches() -> list[tuple[str, int, int]]:
    """Return (sku, stock, sum of movements) for every product whose stock ≠ its ledger."""
    products = CatalogProduct.objects.annotate(moved=Sum("movements__delta")).order_by("sku")
    return [(p.sku, p.stock, p.moved or 0) for p in products if p.stock != (p.moved or 0)]
