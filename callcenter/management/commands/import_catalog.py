"""Import the call center's catalog from a spreadsheet, as admin's «Importar catálogo» does.

Runs here and now (admin queues it for a Celery worker instead) and prints its progress.
Exit code 1 when the file has bad rows and nothing was written (or it cannot be read).
"""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from callcenter.catalog import imports as catalog_imports

# Seconds between two progress lines of the same phase.
PROGRESS_EVERY_SECONDS = 2


class Command(BaseCommand):
    help = "Crea o actualiza productos del catálogo por SKU desde un .xlsx, .xls, .ods o .csv."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="archivo .xlsx, .xls, .ods o .csv")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="importar las filas buenas aunque otras tengan errores",
        )

    def handle(self, *args, file: Path, skip_invalid: bool, verbosity: int, **options) -> None:
        if not file.is_file():
            raise CommandError(f"No existe el archivo {file}.")
        progress = self.progress_printer() if verbosity >= 1 else None
        with file.open("rb") as handle:
            try:
                # Every row read first: the progress then has a total to count against.
                rows = list(catalog_imports.read_rows(handle, file.name))
                result = catalog_imports.import_catalog(
                    rows_source=rows,
                    actor=None,
                    skip_invalid=skip_invalid,
                    file_name=file.name,
                    progress=progress,
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc

        for error in result.errors:
            self.stderr.write(f"línea {error.line} [{error.sku or '—'}]: {error.message}")
        self.stdout.write(
            f"Creados: {result.created} · actualizados: {result.updated} · "
            f"sin cambios: {result.unchanged} · filas con errores: {result.error_rows}"
        )
        if not result.applied:
            raise CommandError(
                "No se importó nada: corrija las filas con errores o use --skip-invalid."
            )
        if result.errors and not result.written:
            raise CommandError("No se importó nada: ninguna fila válida traía cambios.")
        self.stdout.write(self.style.SUCCESS("Catálogo importado."))

    def progress_printer(self) -> catalog_imports.ProgressCallback:
        """Return a progress callback that prints a line per phase and then every few seconds."""

        def show(phase: str, done: int, total: int | None) -> None:
            if phase == catalog_imports.VALIDATING:
                self.stdout.write(f"Revisando filas: línea {done} de {total}")
            else:
                self.stdout.write(f"Guardando productos: {done} de {total}")

        return catalog_imports.throttled(show, PROGRESS_EVERY_SECONDS)
