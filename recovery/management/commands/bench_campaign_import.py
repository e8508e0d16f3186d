"""Measure importing written-off campaigns against parsing their file and bulk-copying its rows.

    make bench                      # SQLite under var/bench.sqlite3
    BENCH_DATABASE_URL=postgres://… make bench
    python manage.py bench_campaign_import --rows 100000

Registers the campaigns' customers first (in bulk, documents from DOC_BASE up: not
measured), then writes a .xlsx of one campaign per customer, as a lender's export would
have it. Then, in the same run:

(a) the baseline: the file parsed with python-calamine (as the import reads it) and its
    rows bulk-copied into a scratch table (PostgreSQL's COPY; executemany on SQLite);
(b) the import as a user runs it, through `crm.imports.services` (upload, columns, the
    Celery task's run: every row validated, the campaigns written with their tags,
    timeline entries and import records), in a child process, so its peak memory
    (ru_maxrss) is its own.

Prints each time, the ratio (target: at most TARGET_RATIO× the baseline) and the peak
memory (target: under TARGET_MB). The benchmark's customers have documents from DOC_BASE
up and the last name BENCH_LAST_NAME; each run deletes them, their campaigns and its
import batches first and last.
"""

import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

from django.core.files import File
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from credits.management.commands.bench_book_import import bench_user, is_pg, run_in_child
from crm.imports import services
from crm.models import Customer, ImportBatch, ImportRecord, Interaction
from lib import bulk
from recovery.imports import CampaignImporter
from recovery.models import Campaign

TARGET_RATIO = 4
TARGET_MB = 250
DOC_BASE = 70_000_000
BENCH_LAST_NAME = "Benchmark Campañas"
CODE = "CBI-2026"


class Command(BaseCommand):
    help = "Mide la importación de campañas de cartera castigada frente a leer y copiar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=100_000, help="Campañas (y clientes).")

    def handle(self, *args, rows: int, **options) -> None:
        user = bench_user()
        clean()
        started = time.perf_counter()
        make_customers(rows)
        if is_pg():
            # As autovacuum would have by the time they are imported: without statistics of
            # the 100,000 new rows, the planner takes the customer table for empty.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE crm_customer")
        with TemporaryDirectory(prefix="bench-campaigns-") as folder:
            path = write_file(Path(folder), rows)
            self.stdout.write(
                f"\nImportación de campañas de cartera castigada — base de datos: "
                f"{connection.vendor}; {rows:,} filas (clientes y archivo listos en "
                f"{time.perf_counter() - started:.1f} s)"
            )
            # The import first: the child it runs in would otherwise start with the pages
            # the baseline's grid left to this process.
            result = run_in_child(lambda: import_file(path, user))
            baseline = time_baseline(path)
            self.stdout.write(
                f"  leer y copiar (calamine + {'COPY' if is_pg() else 'executemany'}): "
                f"{baseline:7.1f} s"
            )
            if "error" in result:
                self.stdout.write(self.style.ERROR(f"  la importación falló: {result['error']}"))
                clean()
                return
            ratio = result["seconds"] / baseline
            peak_mb = result["peak"] / 1_000_000
            self.stdout.write(
                f"  validar e importar:           {result['seconds']:7.1f} s  "
                f"({result['created']:,} campañas creadas, {result['errors']:,} filas con "
                f"errores)"
            )
            self.stdout.write(
                f"  importar / leer y copiar:     {ratio:7.2f}×  (objetivo: ≤ {TARGET_RATIO}×)  "
                f"{'OK' if ratio <= TARGET_RATIO else 'LENTO'}"
            )
            self.stdout.write(
                f"  memoria del proceso que importa (ru_maxrss): {peak_mb:,.0f} MB  "
                f"(objetivo: < {TARGET_MB} MB)  {'OK' if peak_mb < TARGET_MB else 'ALTO'}"
            )
        clean()


def make_customers(count: int) -> None:
    """Register the file's customers in bulk, as an earlier customers' import would have."""
    now = timezone.now()
    fields = (
        "document_type",
        "document_number",
        "first_name",
        "last_name",
        "phone",
        "phone_secondary",
        "email",
        "address",
        "city",
        "has_opted_out",
        "search_text",
        "created_at",
        "updated_at",
    )
    with transaction.atomic():
        bulk.insert_rows(
            Customer,
            fields,
            (
                (
                    Customer.DocumentType.DNI,
                    f"{DOC_BASE + n:08d}",
                    f"Cliente {n}",
                    BENCH_LAST_NAME,
                    "",
                    "",
                    "",
                    "",
                    "",
                    False,
                    f"cliente {n} benchmark campanas {DOC_BASE + n:08d}",
                    now,
                    now,
                )
                for n in range(count)
            ),
        )


def write_file(folder: Path, count: int) -> Path:
    """Write the campaigns' .xlsx: the template's columns, one row per customer."""
    import openpyxl

    importer = CampaignImporter()
    today = timezone.localdate()
    path = folder / "campanas.xlsx"
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Campañas")
    names = (
        "document_type",
        "document_number",
        "code",
        "debt_amount",
        "discount_type",
        "discount_value",
        "ends_on",
        "payment_code",
    )
    sheet.append([str(importer.field(name).label) for name in names])
    for n in range(count):
        debt = Decimal(1000 + (n % 500) * 37) + Decimal(n % 100) / 100
        percent = n % 2 == 0
        sheet.append(
            [
                "DNI",
                f"{DOC_BASE + n:08d}",
                CODE,
                debt,
                "Porcentaje" if percent else "Monto",
                Decimal(10 + n % 60) if percent else Decimal(100 + n % 400),
                today + timedelta(days=30 + n % 90) if n % 3 else None,
                "",
            ]
        )
    book.save(path)
    return path


def time_baseline(path: Path) -> float:
    """Parse the file as the import reads it and bulk-copy its rows into a scratch table."""
    from python_calamine import CalamineWorkbook

    started = time.perf_counter()
    workbook = CalamineWorkbook.from_path(str(path))
    grid = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    workbook.close()
    header, rows = grid[0], grid[1:]
    with transaction.atomic(), connection.cursor() as cursor:
        table = "bench_copy_campaigns"
        columns = ", ".join(f"c{k} text" for k in range(len(header)))
        cursor.execute(f"CREATE TEMP TABLE {table} ({columns})")
        if is_pg():
            with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([None if v == "" else str(v) for v in row])
        else:
            marks = ", ".join("%s" for _ in header)
            # The table's name is this function's own; the values go as parameters.
            insert = f"INSERT INTO {table} VALUES ({marks})"  # noqa: S608
            cursor.executemany(insert, [[str(v) for v in r] for r in rows])
        cursor.execute(f"DROP TABLE {table}")
    return time.perf_counter() - started


def import_file(path: Path, user) -> dict:
    """Upload, map and run the import as the screens and the task do; return time and counts."""
    started = time.perf_counter()
    with path.open("rb") as handle:
        batch = services.upload(
            kind=CampaignImporter.kind, file=File(handle, name=path.name), actor=user
        )
    services.queue_import(batch=batch, mapping=batch.mapping, skip_invalid=False, actor=user)
    services.run_import(batch_id=batch.pk)
    batch.refresh_from_db()
    seconds = time.perf_counter() - started
    if batch.status != ImportBatch.Status.DONE or not batch.is_applied:
        return {"error": batch.failure or str(batch.error_preview[:3])}
    return {
        "seconds": seconds,
        "created": batch.created_count,
        "errors": batch.error_row_count,
    }


def clean() -> None:
    """Delete the benchmark's campaigns, customers (and what they wrote) and import batches.

    Plain DELETEs (`_raw_delete`): the ORM's delete would first read every row to cascade.
    Nothing else refers to these rows; a constraint that says otherwise stops the run.
    """
    customers = Customer.objects.filter(last_name=BENCH_LAST_NAME).values("pk")
    batches = ImportBatch.objects.filter(
        created_by__username="bench_importer", kind=CampaignImporter.kind
    )
    with transaction.atomic():
        for queryset in (
            Campaign.objects.filter(customer__in=customers),
            Interaction.objects.filter(customer__in=customers),
            Customer.tags.through.objects.filter(customer__in=customers),
            ImportRecord.objects.filter(batch__in=batches),
            Customer.objects.filter(pk__in=customers),
        ):
            queryset._raw_delete(queryset.db)
        for batch in batches:
            for name in filter(None, [batch.file.name, batch.errors_file.name]):
                batch.file.storage.delete(name)
        batches.delete()
