"""Measure importing a lender's book against parsing its files and bulk-copying their rows.

    make bench                      # SQLite under var/bench.sqlite3
    BENCH_DATABASE_URL=postgres://… make bench
    python manage.py bench_book_import --loans 100000

Writes a book like a source system's export: customers (.xlsx), loans (.xlsx, with the
balance each one has left), their installments (.csv, 12 a loan: 1,200,000 for 100,000
loans) and their payment history (.csv, each installment due before today paid on its
day). Then, in the same run:

(a) the baseline: every file parsed (python-calamine for the workbooks, the standard csv
    reader for the .csv files, as the import reads them) and its rows bulk-copied into
    scratch tables (PostgreSQL's COPY; executemany on SQLite);
(b) the import as a user runs it: the customers file, then the loans file with its two
    tables, through `crm.imports.services` (upload, columns, the Celery task's run),
    in a child process, so its peak memory (ru_maxrss) is its own.

Prints each time, the ratio (target: at most TARGET_RATIO× the baseline) and the peak
memory (target: under TARGET_MB). The import writes more rows than the files have (the
ledger: what each installment owes, each payment and its allocations); the ratio counts
that in. The book's customers have documents from DOC_BASE up and its loans codes
starting CODE_PREFIX; each run deletes them first and last.
"""

import csv
import os
import resource
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, connections, transaction
from django.utils import timezone

from credits import schedule
from credits.models import (
    Installment,
    LedgerEntry,
    Loan,
    LoanProduct,
    Payment,
    PaymentAllocation,
)
from crm.imports import services
from crm.models import Customer, ImportBatch, ImportRecord, Interaction

TARGET_RATIO = 4
TARGET_MB = 500
DOC_BASE = 60_000_000
CODE_PREFIX = "BKI-"
PRODUCT = "Crédito de consumo (benchmark de importación)"
TERM = 12


class Command(BaseCommand):
    help = "Mide la importación de clientes y créditos con cuotas y pagos frente a leer y copiar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loans", type=int, default=100_000, help="Créditos (y clientes).")

    def handle(self, *args, loans: int, **options) -> None:
        product = bench_product()
        user = bench_user()
        clean()
        with tempfile.TemporaryDirectory(prefix="bench-book-") as folder:
            paths, counts, written = write_book(Path(folder), loans, product)
            self.stdout.write(
                f"\nImportación de cartera — base de datos: {connection.vendor}; "
                f"{counts['customers']:,} clientes, {counts['loans']:,} créditos, "
                f"{counts['installments']:,} cuotas, {counts['payments']:,} pagos "
                f"(archivos escritos en {written:.1f} s)"
            )
            baseline = time_baseline(paths)
            self.stdout.write(
                f"  leer y copiar (calamine/csv + {'COPY' if is_pg() else 'executemany'}): "
                f"{baseline:7.1f} s"
            )
            result = run_in_child(lambda: import_book(paths, user))
            if "error" in result:
                self.stdout.write(self.style.ERROR(f"  la importación falló: {result['error']}"))
                clean()
                return
            total = result["customers"] + result["loans"]
            ratio = total / baseline
            peak_mb = result["peak"] / 1_000_000
            self.stdout.write(
                f"  importar clientes:            {result['customers']:7.1f} s  "
                f"({result['created_customers']:,} creados)"
            )
            self.stdout.write(
                f"  importar créditos:            {result['loans']:7.1f} s  "
                f"({result['created_loans']:,} creados, {result['errors']:,} filas con errores)"
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


def is_pg() -> bool:
    return connection.vendor == "postgresql"


def bench_product() -> LoanProduct:
    product, _created = LoanProduct.objects.get_or_create(
        name=PRODUCT,
        defaults={
            "annual_rate": Decimal("30.00"),
            "method": schedule.Method.FRENCH,
            "frequency": schedule.Frequency.MONTHLY,
            "min_term": 1,
            "max_term": 60,
        },
    )
    return product


def bench_user():
    user, _created = get_user_model().objects.get_or_create(
        username="bench_importer", defaults={"is_staff": True}
    )
    return user


def write_book(folder: Path, loans: int, product: LoanProduct):
    """Write the four files; return their paths, their row counts and the seconds taken."""
    import openpyxl

    started = time.perf_counter()
    today = timezone.localdate()
    paths = {
        "customers": folder / "clientes.xlsx",
        "loans": folder / "creditos.xlsx",
        "installments": folder / "cuotas.csv",
        "payments": folder / "pagos.csv",
    }
    counts = {"customers": loans, "loans": loans, "installments": 0, "payments": 0}
    customers = openpyxl.Workbook(write_only=True)
    sheet = customers.create_sheet("Clientes")
    sheet.append(["Tipo", "Documento", "Nombres", "Apellidos", "Celular", "Correo"])
    for n in range(loans):
        sheet.append(
            [
                "DNI",
                f"{DOC_BASE + n:08d}",
                f"Cliente {n}",
                "Benchmark Importación",
                f"9{10_000_000 + n:08d}",
                f"cliente{n}@example.com",
            ]
        )
    customers.save(paths["customers"])

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Créditos")
    sheet.append(
        [
            "Documento",
            "Código de pago",
            "Producto",
            "Fecha de desembolso",
            "Capital",
            "Tasa",
            "Plazo",
            "Frecuencia",
            "Saldo",
        ]
    )
    with (
        paths["installments"].open("w", newline="", encoding="utf-8") as cuotas,
        paths["payments"].open("w", newline="", encoding="utf-8") as pagos,
    ):
        cuotas_out, pagos_out = csv.writer(cuotas), csv.writer(pagos)
        cuotas_out.writerow(["Código de pago", "Cuota", "Vencimiento", "Capital", "Interés"])
        pagos_out.writerow(["Código de pago", "Fecha", "Monto", "Referencia"])
        for n in range(loans):
            start = today - timedelta(days=30 + (n * 7) % 700)
            principal = Decimal(1000 + (n % 200) * 100)
            plan = schedule.build_schedule(
                principal=principal,
                annual_rate=product.annual_rate,
                term=TERM,
                method=product.method,
                frequency=product.frequency,
                first_due_date=schedule.first_due_date_after(start, product.frequency),
                start_date=start,
            )
            code = f"{CODE_PREFIX}{n:07d}"
            balance = Decimal(0)
            for row in plan.rows:
                cuotas_out.writerow(
                    [
                        code,
                        row.number,
                        row.due_date.strftime("%d/%m/%Y"),
                        row.principal,
                        row.interest,
                    ]
                )
                counts["installments"] += 1
                # Every third loan stops paying a few months in: it is late.
                stopped = n % 3 == 0 and row.number > 3
                if row.due_date < today and not stopped:
                    pagos_out.writerow(
                        [code, row.due_date.strftime("%d/%m/%Y"), row.total, f"OP{n}-{row.number}"]
                    )
                    counts["payments"] += 1
                else:
                    balance += row.total
            sheet.append(
                [
                    f"{DOC_BASE + n:08d}",
                    code,
                    PRODUCT,
                    start,
                    principal,
                    product.annual_rate,
                    TERM,
                    "mensual",
                    balance,
                ]
            )
    book.save(paths["loans"])
    return paths, counts, time.perf_counter() - started


def time_baseline(paths: dict[str, Path]) -> float:
    """Parse every file as the import reads it and bulk-copy its rows into scratch tables."""
    from python_calamine import CalamineWorkbook

    started = time.perf_counter()
    tables = []
    for name in ("customers", "loans"):
        workbook = CalamineWorkbook.from_path(str(paths[name]))
        grid = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
        workbook.close()
        tables.append((name, grid[0], grid[1:]))
    for name in ("installments", "payments"):
        with paths[name].open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
        tables.append((name, rows[0], rows[1:]))
    with transaction.atomic(), connection.cursor() as cursor:
        for name, header, rows in tables:
            table = f"bench_copy_{name}"
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


def import_book(paths: dict[str, Path], user) -> dict:
    """Import the customers, then the loans with their tables; return times and counts."""

    def run(kind: str, main: Path, parts: dict[str, Path]) -> tuple[float, ImportBatch]:
        started = time.perf_counter()
        # Files on disk, as Django keeps an upload above 2.5 MB (a temporary file).
        with ExitStack() as stack:
            opened = {
                name: File(stack.enter_context(path.open("rb")), name=path.name)
                for name, path in {"": main, **parts}.items()
            }
            batch = services.upload(
                kind=kind,
                file=opened.pop(""),
                actor=user,
                parts=opened,
            )
        services.queue_import(batch=batch, mapping=batch.mapping, skip_invalid=False, actor=user)
        services.run_import(batch_id=batch.pk)
        batch.refresh_from_db()
        return time.perf_counter() - started, batch

    customer_seconds, customers = run("customers", paths["customers"], {})
    if customers.status != ImportBatch.Status.DONE or not customers.is_applied:
        return {"error": customers.failure or str(customers.error_preview[:3])}
    loan_seconds, loans = run(
        "loans",
        paths["loans"],
        {"installments": paths["installments"], "payments": paths["payments"]},
    )
    if loans.status != ImportBatch.Status.DONE or not loans.is_applied:
        return {"error": loans.failure or str(loans.error_preview[:3])}
    return {
        "customers": customer_seconds,
        "loans": loan_seconds,
        "created_customers": customers.created_count,
        "created_loans": loans.created_count,
        "errors": loans.error_row_count,
    }


def run_in_child(work) -> dict:
    """Run `work` in a forked process; return its result with its peak memory (bytes)."""
    import json

    connections.close_all()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own database connection, its own memory
        os.close(read_end)
        # As the worker runs in production: with DEBUG on, Django would keep the text of
        # the last 9,000 queries, megabytes each for bulk inserts.
        settings.DEBUG = False
        try:
            result = work()
        except Exception as exc:  # reported by the parent, not lost in a dead child
            result = {"error": repr(exc)}
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result["peak"] = peak if sys.platform == "darwin" else peak * 1024
        with os.fdopen(write_end, "w") as out:
            json.dump(result, out)
        connections.close_all()
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as incoming:
        data = incoming.read()
    os.waitpid(pid, 0)
    return json.loads(data) if data else {"error": "el proceso hijo terminó sin resultado"}


def clean() -> None:
    """Delete the benchmark's loans (and all they wrote), customers and import batches.

    Plain DELETEs (`_raw_delete`): the ORM's delete would first read every one of the
    millions of rows to cascade, which takes longer than the import. Nothing else refers
    to these rows; a constraint that says otherwise stops the run.
    """
    loans = Loan.objects.filter(payment_code__startswith=CODE_PREFIX).values("pk")
    customers = Customer.objects.filter(last_name="Benchmark Importación").values("pk")
    batches = ImportBatch.objects.filter(created_by__username="bench_importer")
    with transaction.atomic():
        for queryset in (
            LedgerEntry.objects.filter(loan__in=loans),
            PaymentAllocation.objects.filter(payment__loan__in=loans),
            Installment.objects.filter(loan__in=loans),
            Payment.objects.filter(loan__in=loans),
            Loan.objects.filter(pk__in=loans),
            Interaction.objects.filter(customer__in=customers),
            ImportRecord.objects.filter(batch__in=batches),
            Customer.objects.filter(pk__in=customers),
        ):
            queryset._raw_delete(queryset.db)
        for batch in batches:
            names = [batch.file.name, batch.errors_file.name]
            names += [info["file"] for info in batch.parts.values() if info.get("file")]
            for name in filter(None, names):
                batch.file.storage.delete(name)
        batches.delete()
