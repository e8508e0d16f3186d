"""Spreadsheets in and out: streaming readers for uploaded .xlsx and .csv files, and the
styles and helpers every .xlsx we write shares (openpyxl)."""

import csv
import io
import itertools
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import PurePath
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# One row of a file: its line number (1 = the first line) and its cell values.
Row = tuple[int, Sequence[Any]]

ALLOWED_EXTENSIONS = (".xlsx", ".csv")


def read_rows(file: IO[bytes], name: str) -> Iterator[Row]:
    """Yield the rows of an uploaded .xlsx or .csv file, header included, one at a time.

    Refuse any other extension. A file that cannot be read raises ValidationError, also
    halfway through (a .csv that stops being UTF-8 on line 30,000).
    """
    extension = PurePath(name).suffix.lower()
    if extension == ".xlsx":
        return _xlsx_rows(file)
    if extension == ".csv":
        return _csv_rows(file)
    raise ValidationError(
        _(
            "Formato no admitido (%(ext)s): suba un archivo .xlsx o .csv. Los .xls de Excel "
            "97-2003 no se admiten; ábralo en Excel y guárdelo como .xlsx."
        )
        % {"ext": extension or _("sin extensión")},
        code="bad_extension",
    )


def _xlsx_rows(file: IO[bytes]) -> Iterator[Row]:
    # Imported lazily: only uploads and the command need openpyxl.
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ValidationError(
            _("No se pudo leer el archivo como .xlsx: ¿está dañado o es de otro formato?"),
            code="unreadable",
        ) from exc
    return _xlsx_sheet_rows(workbook)


def _xlsx_sheet_rows(workbook: Any) -> Iterator[Row]:
    try:
        sheet = workbook.worksheets[0]
        # Some programs write a wrong <dimension>; read what the sheet really holds.
        sheet.reset_dimensions()
        # Read-only sheets yield every row from row 1, empty ones included, so the
        # position is the row number the user sees in Excel.
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        workbook.close()


def _csv_rows(file: IO[bytes]) -> Iterator[Row]:
    # utf-8-sig drops the BOM Excel writes with «CSV UTF-8»; newline="" lets csv see
    # line breaks inside quoted cells.
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    line = 1
    try:
        try:
            # The header decides the delimiter: Excel writes ";" where the decimal
            # separator is "," (much of Latin America and Spain), "," elsewhere.
            header = text.readline()
            delimiter = ";" if header.count(";") > header.count(",") else ","
            reader = csv.reader(itertools.chain([header], text), delimiter=delimiter)
            for values in reader:
                yield line, values
                line = reader.line_num + 1
        except UnicodeDecodeError as exc:
            raise ValidationError(
                _(
                    "El archivo .csv no está en UTF-8 (cerca de la línea %(line)s). En Excel, "
                    "guárdelo como «CSV UTF-8 (delimitado por comas)»."
                )
                % {"line": line},
                code="encoding",
            ) from exc
        except csv.Error as exc:
            raise ValidationError(
                _("No se pudo leer el archivo .csv: %(error)s") % {"error": exc},
                code="unreadable",
            ) from exc
    finally:
        # The uploaded file belongs to the caller: let go of it without closing it.
        if not text.closed:
            text.detach()
