"""Import the call center's catalog from an .xlsx or .csv file, as admin's «Importar catálogo».

Exit code 1 when the file has bad rows and nothing was written (or it cannot be read).
"""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from callcenter.catalog import imports as catalog_imports
from lib import spreadsheets


class Command(BaseCommand):
    help = "Crea o actualiza productos del catálogo por SKU desde un archivo .xlsx o .csv."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="archivo .xlsx o .csv")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="importar las filas buenas aunque otras tengan errores",
        )

    def handle(self, *args, file: Path, skip_invalid: bool, **options) -> None:
        if not file.is_file():
            raise CommandError(f"No existe el archivo {file}.")
        with file.open("rb") as handle:
            try:
                result = catalog_imports.import_catalog(
                    rows_source=spreadsheets.read_rows(handle, file.name),
                    actor=None,
                    skip_invalid=skip_invalid,
                    file_name=file.name,
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
