"""Measure the catalog import against the bare parse of the same .xlsx file.

    make bench                      # SQLite under var/bench.sqlite3
    BENCH_DATABASE_URL=postgres://… make bench

Writes a 100,000-row catalog (--rows) to a temporary .xlsx with openpyxl (write-only),
then times (a) python-calamine reading every row of it, and (b) the whole import
(`callcenter.catalog.imports.import_catalog`: the same read, every row validated, the
products and their opening stock movements written), and prints the ratio (target: the
import at most TARGET_RATIO times the parse). Then (c) a second file with other prices and
stock for the same products is imported (every product updated, with its movement).
Last, an import of the first file on a clean slate runs under tracemalloc for the peak of
Python memory; tracing slows Python down, so that run is not timed. ru_maxrss is the
process's peak (the bare parse and the import), taken before tracing adds its own.

The benchmark's products have SKUs starting with SKU_PREFIX; each run deletes them
before it starts and when it ends, so the other benchmarks never see them.
"""

import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from callcenter.catalog import imports as catalog_imports
from callcenter.models import CatalogProduct, StockMovement
from lib import spreadsheets

TARGET_RATIO = 4
SKU_PREFIX = "BENCH-IMP-"
HEADER = ["sku", "nombre", "precio", "stock", "moneda", "descripcion", "activo"]


class Command(BaseCommand):
    help = "Mide la importación del catálogo (100.000 filas) frente a solo leer el .xlsx."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=100_000, help="Filas del archivo.")

    def handle(self, *args, rows: int, **options) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-catalog-") as folder:
            first, second = Path(folder) / "catalogo.xlsx", Path(folder) / "catalogo-2.xlsx"
            started = time.perf_counter()
            write_workbook(first, rows)
            written_in = time.perf_counter() - started
            self.stdout.write(
                f"\nImportación del catálogo — base de datos: {connection.vendor}; "
                f"{rows:,} filas, {first.stat().st_size / 1_000_000:.1f} MB "
                f"(escrito con openpyxl en {written_in:.2f} s)"
            )

            parse_seconds, parsed = time_parse(first)
            self.stdout.write(
                f"  solo leer (python-calamine):  {parse_seconds:7.2f} s  ({parsed:,} filas)"
            )

            delete_bench_products()
            seconds, result = time_import(first)
            ratio = seconds / parse_seconds
            self.stdout.write(
                f"  importar (productos nuevos):  {seconds:7.2f} s  "
                f"({result.created:,} creados, {len(result.errors):,} errores; "
                f"{rows / seconds:,.0f} filas/s)"
            )
            self.stdout.write(
                f"  importar / leer:              {ratio:7.2f}×  "
                f"(objetivo: ≤ {TARGET_RATIO}×)  {'OK' if ratio <= TARGET_RATIO else 'LENTO'}"
            )
            rss_after_import = max_rss_bytes()

            # The same products again, with other prices and stock: every one updated.
            write_workbook(second, rows, revision=1)
            seconds, result = time_import(second)
            self.stdout.write(
                f"  reimportar con cambios:       {seconds:7.2f} s  "
                f"({result.updated:,} actualizados, {result.unchanged:,} sin cambios; "
                f"{seconds / parse_seconds:.2f}× leer)"
            )

            delete_bench_products()
            peak = traced_import_peak(first)
            delete_bench_products()
        self.stdout.write(
            f"  memoria: pico de Python al importar (tracemalloc) {peak / 1_000_000:,.1f} MB; "
            f"proceso (ru_maxrss) {rss_after_import / 1_000_000:,.1f} MB tras importar"
        )


def write_workbook(path: Path, rows: int, revision: int = 0) -> None:
    """Write a catalog like a real one: accents, decimals, every optional column.

    Another `revision` changes every product's price and stock.
    """
    # Imported here: openpyxl is for writing files, and only this command writes one.
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Catálogo")
    sheet.append(HEADER)
    for n in range(rows):
        sheet.append(
            [
                f"{SKU_PREFIX}{n:07d}",
                f"Audífonos inalámbricos modelo {n}",
                round(10 + revision + (n % 10_000) / 100, 2),
                (n + revision) % 50,
                "USD" if n % 10 == 0 else "PEN",
                f"Descripción del producto {n}, con garantía de un año",
                "no" if n % 20 == 0 else "sí",
            ]
        )
    workbook.save(path)


def time_parse(path: Path) -> tuple[float, int]:
    """Return the seconds python-calamine takes to read every row, and how many it read."""
    from python_calamine import CalamineWorkbook

    started = time.perf_counter()
    workbook = CalamineWorkbook.from_path(str(path))
    grid = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    workbook.close()
    return time.perf_counter() - started, len(grid)


def time_import(path: Path) -> tuple[float, catalog_imports.ImportResult]:
    started = time.perf_counter()
    result = run_import(path)
    return time.perf_counter() - started, result


def traced_import_peak(path: Path) -> int:
    """Return the peak of Python memory (bytes) during an import of the file."""
    tracemalloc.start()
    try:
        run_import(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run_import(path: Path) -> catalog_imports.ImportResult:
    """Import the file as the Celery task does: every row read first, then the import."""
    with path.open("rb") as handle:
        rows = list(spreadsheets.read_rows(handle, path.name))
    return catalog_imports.import_catalog(
        rows_source=rows, actor=None, skip_invalid=False, file_name=path.name
    )


@transaction.atomic
def delete_bench_products() -> None:
    StockMovement.objects.filter(product__sku__startswith=SKU_PREFIX).delete()
    CatalogProduct.objects.filter(sku__startswith=SKU_PREFIX).delete()


def max_rss_bytes() -> int:
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024
