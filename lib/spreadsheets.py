"""Spreadsheets in: readers for uploaded .xlsx, .xls, .ods (python-calamine, which is fast and
reads all three) and .csv (the standard library, comma or semicolon), and readers of one
cell's value. Files out are written with openpyxl where they are made."""

import codecs
import csv
import faulthandler
import io
import itertools
import json
import math
import os
import re
import resource
import signal
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from openpyxl.cell import WriteOnlyCell

# One row of a file: its line number (1 = the first line) and its cell values.
Row = tuple[int, Sequence[Any]]

# What calamine reads: Excel 2007+ (.xlsx), Excel 97-2003 (.xls), OpenDocument (.ods).
WORKBOOK_EXTENSIONS = (".xlsx", ".xls", ".ods")
ALLOWED_EXTENSIONS = (*WORKBOOK_EXTENSIONS, ".csv")


def read_rows(
    file: IO[bytes],
    name: str,
    *,
    windows_csv: bool = False,
    sheet: str | None = None,
    size_checked: bool = False,
) -> Iterator[Row]:
    """Yield the rows of an uploaded spreadsheet (.xlsx, .xls, .ods) or .csv, header included.

    Refuse any other extension. A file that cannot be read raises ValidationError, also
    halfway through (a .csv that stops being UTF-8 on line 30,000). Of a workbook, the sheet
    named `sheet` is read, or the first one; empty cells are "". With `windows_csv`, a .csv
    that is not UTF-8 is read as Windows-1252, as Excel saves «CSV (delimitado por comas)»
    in Spanish; the file is then read whole first (uploads are size-limited). A workbook's
    sheet is measured first (`MAX_CELLS`), unless `size_checked` says that this sheet of
    this file was (a stored upload read again).
    """
    extension = check_extension(name)
    if extension in WORKBOOK_EXTENSIONS:
        if not size_checked:
            _check_size(file, sheet)
        return _workbook_rows(file, sheet)
    if windows_csv:
        return _csv_rows(file, encoding=_utf8_or_windows(file))
    return _csv_rows(file)


# How much of a .csv is checked at a time for its encoding.
ENCODING_CHUNK = 1024 * 1024


def _utf8_or_windows(file: IO[bytes]) -> str:
    """Return the encoding a .csv is read with: UTF-8 if it all is, else Windows-1252.

    Checked a chunk at a time, then the file is rewound: a 50 MB upload is never held
    whole (nor decoded whole) in memory.
    """
    start = file.tell()
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        file.seek(start)
        try:
            while chunk := file.read(ENCODING_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        finally:
            file.seek(start)
        return encoding
    raise ValidationError(
        _(
            "El archivo .csv no está en UTF-8 ni en Windows-1252. En Excel, guárdelo "
            "como «CSV UTF-8 (delimitado por comas)»."
        ),
        code="encoding",
    )


# An upload above this size is refused before it is stored (about 300,000 rows of .csv).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def check_size(size: int | None) -> None:
    """Refuse an upload of more than MAX_UPLOAD_BYTES (`size` in bytes; None: unknown)."""
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("El archivo pesa más de %(mb)s MB: divídalo en partes.")
            % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)},
            code="too_big",
        )


def check_extension(name: str) -> str:
    """Return the file name's extension (".xlsx") if `read_rows` reads it; refuse any other.

    A form checks an upload with it before the file is stored, to be read later.
    """
    extension = PurePath(name).suffix.lower()
    if extension not in ALLOWED_EXTENSIONS:
        raise ValidationError(
            _("Formato no admitido (%(ext)s): suba un archivo .xlsx, .xls, .ods o .csv.")
            % {"ext": extension or _("sin extensión")},
            code="bad_extension",
        )
    return extension


def sheet_names(file: IO[bytes], name: str, *, size_checked: bool = False) -> list[str]:
    """Return the names of a workbook's sheets ([] for a .csv); refuse an unreadable file,
    or one whose first sheet is too big (unless `size_checked`, as in `read_rows`)."""
    if check_extension(name) not in WORKBOOK_EXTENSIONS:
        return []
    if not size_checked:
        _check_size(file, None)
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(file)
        try:
            return list(workbook.sheet_names)
        finally:
            workbook.close()
    except (CalamineError, OSError, ValueError) as exc:
        raise _unreadable() from exc


def _unreadable() -> ValidationError:
    return ValidationError(
        _(
            "No se pudo leer el archivo como hoja de cálculo: ¿está dañado, protegido con "
            "contraseña o es de otro formato?"
        ),
        code="unreadable",
    )


# A sheet is read whole, as a grid from A1 to its last cell. A 5 KB .xlsx with one cell at
# XFD1048576 asked calamine for 17 billion cells (512 GB): Rust's allocator then aborts the
# process, no exception, so a web worker died at the upload. A workbook is therefore opened
# first in a child process whose memory is capped (PROBE_MEMORY_BYTES over the parent's),
# which reports the sheet's size or dies; only a sheet of at most MAX_CELLS is read here.
# 10,000,000 cells: 1,000,000 rows of 10 columns, far above what an upload of 50 MB holds.
# The probe reads the file a second time (0.5 s for 100,000 rows of 8 columns).
MAX_CELLS = 10_000_000
PROBE_MEMORY_BYTES = 2 * 1024**3
PROBE_SECONDS = 120


@dataclass(frozen=True)
class Head:
    """A file's first rows with text, as `read_rows` gives them (strings cut at HEAD_TEXT
    characters): where an upload's header and preview are read from.

    `rows` is the first row with text (the header) and up to the number asked for after
    it; `ended` says the file has no more rows with text than these.
    """

    rows: list[Row]
    ended: bool

    def encoded(self) -> dict[str, Any]:
        """Return it as JSON can hold it (dates and times tagged), for `decoded`."""
        return {
            "rows": [[line, [_encoded(v) for v in values]] for line, values in self.rows],
            "ended": self.ended,
        }

    @classmethod
    def decoded(cls, data: dict[str, Any]) -> "Head":
        return cls(
            rows=[(line, [_decoded(v) for v in values]) for line, values in data["rows"]],
            ended=data["ended"],
        )


def read_head(
    file: IO[bytes],
    name: str,
    *,
    rows: int,
    windows_csv: bool = False,
    sheet: str | None = None,
) -> Head:
    """Return the first row with any text and up to `rows` rows with text after it.

    The file is read (and refused) as `read_rows` reads it, but a workbook's sheet is
    measured and these rows taken in the one child process that opens it: the process that
    asks never holds the whole grid (a 100,000-row upload is read once, not twice, in the
    web request). The rows stop short (`ended` false) past HEAD_CELLS cells. The file is
    left where it was.
    """
    start = file.tell()
    try:
        if check_extension(name) in WORKBOOK_EXTENSIONS:
            found = _check_size(file, sheet, head=rows)
            # None: the child could not read it (the reader says why), or the sheet is empty.
            return found if found is not None else _head_of(_workbook_rows(file, sheet), rows)
        encoding = _utf8_or_windows(file) if windows_csv else "utf-8-sig"
        read = _csv_rows(file, encoding=encoding)
        try:
            return _head_of(read, rows)
        finally:
            read.close()
    finally:
        file.seek(start)


# How many rows after a sheet's first cell are looked at for its head, before the whole
# sheet is; how much of each text is kept (no field takes 1,000 characters, so a longer
# one is refused the same) and how many cells at most (the header's always, whole: a bound
# on what the child sends, which a file of a few hundred columns never reaches).
HEAD_ROWS = 1_000
HEAD_TEXT = 1_000
HEAD_CELLS = 10_000


def _head_of(rows: Iterator[Row], count: int) -> Head:
    taken: list[Row] = []
    cells = 0
    for line, values in rows:
        if all(is_blank(v) for v in values):
            continue
        if taken and (len(taken) > count or cells + len(values) > HEAD_CELLS):
            return Head(rows=taken, ended=False)
        taken.append((line, [v[:HEAD_TEXT] if isinstance(v, str) else v for v in values]))
        cells += len(values)
    return Head(rows=taken, ended=True)


def _encoded(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, time):
        return {"time": value.isoformat()}
    if isinstance(value, timedelta):
        return {"timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def _decoded(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((kind, text),) = value.items()
    if kind == "timedelta":
        return timedelta(*text)
    return {
        "datetime": datetime.fromisoformat,
        "date": date.fromisoformat,
        "time": time.fromisoformat,
        "float": float,
    }[kind](text)


def _check_size(file: IO[bytes], sheet: str | None, *, head: int | None = None) -> Head | None:
    """Refuse a workbook whose sheet (`sheet`, or the first) spans more than MAX_CELLS, or
    that cannot be opened within the probe's memory and time. With `head` (a number of
    rows), return the sheet's head as the probe found it (None if it could not read it, or
    the sheet is empty)."""
    probe = _probe(file, sheet, head=head)
    if probe is None:
        raise ValidationError(
            _(
                "No se pudo abrir el archivo sin exceder la memoria permitida: ¿está dañado o "
                "tiene celdas muy lejos de los datos? Guárdelo de nuevo solo con sus datos."
            ),
            code="too_big",
        )
    height, width = probe["size"]
    if height * width > MAX_CELLS:
        raise ValidationError(
            _(
                "La hoja ocupa %(rows)s filas por %(columns)s columnas (%(cells)s celdas; el "
                "máximo es %(max)s): borre las filas y columnas vacías después de sus datos, "
                "o divida el archivo."
            )
            % {
                "rows": f"{height:,}",
                "columns": f"{width:,}",
                "cells": f"{height * width:,}",
                "max": f"{MAX_CELLS:,}",
            },
            code="too_big",
        )
    found = probe.get("head")
    return Head.decoded(found) if found else None


def _probe(file: IO[bytes], sheet: str | None, *, head: int | None = None) -> dict | None:
    """Return what a child process found of the sheet: {"size": [height, width]} and, with
    `head`, "head": its `Head` of that many rows, encoded; None if the child died
    (memory, time). Size (0, 0) for a file calamine refuses: the reader then says why.
    Where processes cannot fork, the sheet is not probed."""
    if not hasattr(os, "fork"):
        return {"size": [0, 0]}
    # Imported before the fork: the child then only runs it.
    import python_calamine  # noqa: F401

    start = file.tell()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, answer, exit without running the parent's cleanups
        code = 1
        try:
            os.close(read_end)
            # A sheet too big makes Rust print its backtrace as it aborts, and Python's
            # fault handler (on under pytest) its own report: neither goes to the log.
            faulthandler.disable()
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
            signal.alarm(PROBE_SECONDS)
            _cap_memory()
            answer = _sheet_probe(file, sheet, head=head)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(json.dumps(answer).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            text = pipe.read().decode()
    finally:
        os.waitpid(pid, 0)
        file.seek(start)
    return json.loads(text) if text else None


def _sheet_probe(file: IO[bytes], sheet: str | None, *, head: int | None) -> dict:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(file)
        found = (
            workbook.get_sheet_by_index(0) if sheet is None else workbook.get_sheet_by_name(sheet)
        )
    except (CalamineError, OSError, ValueError, IndexError, KeyError):
        return {"size": [0, 0]}  # unreadable: the reader in the parent says so
    # The grid runs from A1 to the last cell, whose 0-based row and column these are.
    height, width = found.total_height + 1, found.total_width + 1
    answer: dict[str, Any] = {"size": [height, width]}
    if head is not None and height * width <= MAX_CELLS and found.start is not None:
        try:
            # The grid from A1, as `_workbook_rows` reads it: first only its first rows.
            for nrows in (found.start[0] + HEAD_ROWS, None):
                grid = found.to_python(skip_empty_area=False, nrows=nrows)
                taken = _head_of(enumerate(grid, start=1), head)
                if not taken.ended or nrows is None or len(grid) < nrows:
                    break
            answer["head"] = taken.encoded()
        except (CalamineError, OverflowError, ValueError):
            pass  # no head: the parent reads the sheet itself and says what is wrong
    return answer


def _cap_memory() -> None:
    """Cap this process's address space at what it has plus PROBE_MEMORY_BYTES (Linux).

    Where its size is unknown (no /proc) or the cap refused, there is none: an allocation
    far too big still aborts the child only, not the process that asked.
    """
    try:
        with open("/proc/self/statm") as statm:
            now = int(statm.read().split()[0]) * resource.getpagesize()
        cap = now + PROBE_MEMORY_BYTES
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (OSError, ValueError, IndexError):
        pass


def _workbook_rows(file: IO[bytes], sheet: str | None = None) -> Iterator[Row]:
    # Imported lazily: only imports need it.
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(file)
        try:
            found = (
                workbook.get_sheet_by_index(0)
                if sheet is None
                else workbook.get_sheet_by_name(sheet)
            )
            # The whole grid from A1, so a row's position is the number the user sees.
            grid = found.to_python(skip_empty_area=False)
        finally:
            workbook.close()
    except (CalamineError, OSError, ValueError, IndexError, KeyError) as exc:
        raise _unreadable() from exc
    return enumerate(grid, start=1)


def _csv_rows(file: IO[bytes], encoding: str = "utf-8-sig") -> Iterator[Row]:
    # utf-8-sig drops the BOM Excel writes with «CSV UTF-8»; newline="" lets csv see
    # line breaks inside quoted cells.
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
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
            raise ValidationError(_csv_error(exc, line), code="unreadable") from exc
    finally:
        # The uploaded file belongs to the caller: let go of it without closing it.
        if not text.closed:
            text.detach()


def _csv_error(exc: csv.Error, line: int) -> str:
    """Say in Spanish what Python's csv reader refused (its messages are English)."""
    said = str(exc)
    if said.startswith("field larger than field limit"):
        return _(
            "Una celda cerca de la línea %(line)s pasa de %(limit)s caracteres: revise que "
            "sus comillas estén cerradas."
        ) % {"line": line, "limit": f"{csv.field_size_limit():,}"}
    if "NUL" in said:
        return _("La línea %(line)s tiene un carácter nulo: el archivo no es un .csv de texto.") % {
            "line": line
        }
    return _("No se pudo leer el archivo .csv cerca de la línea %(line)s (%(error)s).") % {
        "line": line,
        "error": said,
    }


# --- Cells ------------------------------------------------------------------------------
# Readers of one cell's value, as .xlsx (numbers, booleans, text) or .csv (text) give it.
# Each returns the value or raises ValueError with a message for the user; `label` names
# the column with its article ("el precio"), so messages read "Falta el precio.".

TRUE_WORDS = {"si", "sí", "s", "1", "true", "verdadero", "yes", "y", "x"}
FALSE_WORDS = {"no", "n", "0", "false", "falso"}

# Amounts in text cells: "1234.50", "1234,50", "1,234.50" or "1.234,50" (no spaces).
# - One separator followed by one or two digits is the decimal separator.
# - With both separators, the last one is the decimal separator and the other one must
#   group thousands by three.
# - One separator followed by exactly three digits ("1.234", "1,234") is refused as
#   ambiguous: a thousands separator in one country, a decimal one in another.
_PLAIN_AMOUNT_RE = re.compile(r"\d+(?:[.,]\d{1,2})?")
_DOT_THOUSANDS_AMOUNT_RE = re.compile(r"\d{1,3}(?:\.\d{3})+,\d{1,2}")
_COMMA_THOUSANDS_AMOUNT_RE = re.compile(r"\d{1,3}(?:,\d{3})+\.\d{1,2}")
_AMBIGUOUS_AMOUNT_RE = re.compile(r"[1-9]\d{0,2}[.,]\d{3}")
_MANY_DECIMALS_AMOUNT_RE = re.compile(r"\d+[.,]\d{3,}")
_INTEGER_RE = re.compile(r"-?\d+")
_CENT = Decimal("0.01")


# Control characters, the project's one definition of them: nobody types them, and no
# .xlsx may hold most of them (openpyxl refuses to write one, Excel calls such a file
# damaged), so a value stored with one broke every export it appeared in; DEL is invisible
# too. The customers' forms and the API refuse them (`crm.validators`), the imports refuse
# a cell holding one, and the exports leave them out. Tab and line breaks are text;
# FileMaker writes a line break inside a cell as a vertical tab (or a form feed), which a
# file's cell reads as the line break it is (`file_control_character`).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CELL_BREAKS = str.maketrans({"\x0b": "\n", "\x0c": "\n"})


def file_control_character(value: str) -> bool:
    """Whether a text read from a file holds a control character, FileMaker's line breaks
    read as line breaks."""
    return bool(CONTROL_CHARACTERS.search(value)) and bool(
        CONTROL_CHARACTERS.search(value.translate(_CELL_BREAKS))
    )


def clean_cells(cells: dict[str, Any], label_of: Callable[[str], str]) -> list[str]:
    """Turn the line breaks FileMaker writes in the cells' texts into line breaks (in
    place); return what is wrong with a cell that holds any other control character, for
    the user, its column named by `label_of` (field name → "Nombres": called only then)."""
    problems = []
    for name, value in cells.items():
        if not isinstance(value, str) or not CONTROL_CHARACTERS.search(value):
            continue
        value = cells[name] = value.translate(_CELL_BREAKS)
        if CONTROL_CHARACTERS.search(value):
            problems.append(
                _(
                    "«%(column)s» tiene un carácter de control (invisible) que no se puede "
                    "guardar: bórrelo de la celda."
                )
                % {"column": label_of(name)}
            )
    return problems


# The most characters Excel keeps in a cell (a longer one makes it call the file damaged).
XLSX_CELL_CHARACTERS = 32_767


def xlsx_text(value: str) -> str:
    """Return a text as an .xlsx cell can hold it: its control characters left out (a
    FileMaker line break kept as one), cut at XLSX_CELL_CHARACTERS."""
    return CONTROL_CHARACTERS.sub("", value.translate(_CELL_BREAKS))[:XLSX_CELL_CHARACTERS]


def append_row(sheet: Any, values: Sequence) -> int:
    """Append a row to a (normal) sheet and return its number. Text stays text: a name
    typed as "=HYPERLINK(…)" is not written as a formula, and control characters (which
    openpyxl refuses, failing the whole download) are left out (`xlsx_text`)."""
    cells = [xlsx_text(v) if isinstance(v, str) else v for v in values]
    sheet.append(cells)
    # The row append just wrote. Not `max_row` (nor `sheet[row]`): each reads every cell of
    # the sheet, so a liquidation's 8,000 lines took 26 s, each row costing more than the last.
    row = sheet._current_row
    for column, value in enumerate(cells, start=1):
        if isinstance(value, str) and value.startswith("="):
            sheet.cell(row=row, column=column).data_type = "s"
    return row


def xlsx_text_cell(sheet: Any, text: str) -> WriteOnlyCell:
    """A text for a write-only sheet: always a text ("=…" would be a formula), as much of it
    as a cell holds, without the control characters openpyxl refuses (`xlsx_text`)."""
    cell = WriteOnlyCell(sheet, value=xlsx_text(text))
    cell.data_type = "s"
    return cell


# What a spreadsheet program runs as a formula when a .csv cell starts with it (OWASP's
# "CSV injection"); a cell that is a plain number ("-12,5") is left as it is.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER_RE = re.compile(r"[+-]?[\d\s().,]+")


def csv_text(value: str) -> str:
    """Return a text for a .csv cell that Excel shows as text, never runs as a formula:
    one that starts like a formula gets a leading apostrophe."""
    if value.startswith(FORMULA_START) and not _PLAIN_NUMBER_RE.fullmatch(value):
        return "'" + value
    return value


def is_blank(value: Any) -> bool:
    """Return whether a cell holds nothing (empty, or only spaces)."""
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: Any) -> str:
    """Return a cell as stripped text; a whole number typed in Excel loses its '.0'."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_amount(value: Any, *, label: str, maximum: Decimal) -> Decimal:
    """Return a required amount of money, never negative, with at most two decimals."""
    if is_blank(value):
        raise ValueError(_("Falta %(label)s.") % {"label": label})
    if isinstance(value, bool):
        raise ValueError(capfirst(_("%(label)s no es un número.") % {"label": label}))
    if isinstance(value, int | Decimal):
        amount = Decimal(value)
    elif isinstance(value, float):
        # A numeric Excel cell; repr() is its shortest exact spelling (19.9, not 19.89999…).
        amount = Decimal(repr(value))
    else:
        text = cell_text(value).replace(" ", "").replace("\u00a0", "")
        amount = _amount_from_text(text, label=label)
    if not amount.is_finite():
        raise ValueError(capfirst(_("%(label)s no es un número.") % {"label": label}))
    if amount < 0:
        raise ValueError(capfirst(_("%(label)s no puede ser negativo.") % {"label": label}))
    if amount > maximum:
        raise ValueError(capfirst(_("%(label)s es demasiado alto.") % {"label": label}))
    if amount != amount.quantize(_CENT):
        raise ValueError(capfirst(_("%(label)s tiene más de 2 decimales.") % {"label": label}))
    return amount.quantize(_CENT)


def read_whole_number(value: Any, *, label: str, maximum: int) -> int:
    """Return a required whole number, never negative ("12", 12 or 12.0, not 12.5)."""
    if is_blank(value):
        raise ValueError(_("Falta %(label)s.") % {"label": label})
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value) if value.is_integer() else None
    elif isinstance(value, Decimal):
        number = int(value) if value.is_finite() and value == value.to_integral_value() else None
    elif _INTEGER_RE.fullmatch(cell_text(value)):
        number = int(cell_text(value))
    if number is None:
        raise ValueError(
            capfirst(
                _("%(label)s «%(value)s» debe ser un número entero.")
                % {"label": label, "value": cell_text(value)}
            )
        )
    if number < 0:
        raise ValueError(capfirst(_("%(label)s no puede ser negativo.") % {"label": label}))
    if number > maximum:
        raise ValueError(capfirst(_("%(label)s es demasiado alto.") % {"label": label}))
    return number


# Dates in text cells: 31/12/2025, 31-12-2025, 31.12.2025 (day first, as written in Latin
# America) or 2025-12-31 (ISO); two-digit years are refused as ambiguous.
_DAY_FIRST_DATE_RE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?")
# Rates in text cells: "32", "32,5", "32.5", "32.5 %" (a percentage, up to 4 decimals).
_RATE_RE = re.compile(r"\d{1,6}(?:[.,]\d{1,4})?")


def read_date(value: Any, *, label: str, earliest: date, latest: date) -> date:
    """Return a required date between `earliest` and `latest` (a date cell or day-first text)."""
    if is_blank(value):
        raise ValueError(_("Falta %(label)s.") % {"label": label})
    day: date | None = None
    if isinstance(value, datetime):
        day = value.date() if value.time() == time() else None
    elif isinstance(value, date):
        day = value
    elif isinstance(value, str):
        text = cell_text(value)
        try:
            if match := _DAY_FIRST_DATE_RE.fullmatch(text):
                d, m, y = (int(g) for g in match.groups())
                day = date(y, m, d)
            elif match := _ISO_DATE_RE.fullmatch(text):
                y, m, d = (int(g) for g in match.groups())
                day = date(y, m, d)
        except ValueError:
            day = None
    if day is None:
        raise ValueError(
            capfirst(
                _("%(label)s «%(value)s» no es una fecha (ejemplo: 31/12/2025).")
                % {"label": label, "value": cell_text(value)[:40]}
            )
        )
    if not earliest <= day <= latest:
        raise ValueError(
            capfirst(
                _("%(label)s (%(day)s) debe estar entre el %(from)s y el %(to)s.")
                % {
                    "label": label,
                    # Four digits for the year whatever it is: strftime writes year 1 as "1".
                    "day": f"{day.day:02d}/{day.month:02d}/{day.year:04d}",
                    "from": earliest.strftime("%d/%m/%Y"),
                    "to": latest.strftime("%d/%m/%Y"),
                }
            )
        )
    return day


def read_rate(value: Any, *, label: str, maximum: Decimal) -> Decimal:
    """Return a required percentage (32.5 is 32.5 %), never negative, up to 4 decimals; a
    number cell between 0 and 1 is refused as ambiguous (0.24 % or Excel's «24%»?)."""
    if is_blank(value):
        raise ValueError(_("Falta %(label)s.") % {"label": label})
    rate: Decimal | None = None
    if isinstance(value, bool):
        rate = None
    elif isinstance(value, int | Decimal):
        rate = Decimal(value)
    elif isinstance(value, float):
        rate = Decimal(repr(value))
    else:
        text = cell_text(value).replace(" ", "").replace("\u00a0", "").removesuffix("%")
        if _RATE_RE.fullmatch(text):
            rate = Decimal(text.replace(",", "."))
    if rate is None or not rate.is_finite():
        raise ValueError(
            capfirst(
                _("%(label)s «%(value)s» no es un porcentaje (ejemplos: 32, 32,5).")
                % {"label": label, "value": cell_text(value)[:40]}
            )
        )
    if rate < 0:
        raise ValueError(capfirst(_("%(label)s no puede ser negativa.") % {"label": label}))
    if not isinstance(value, str) and 0 < rate < 1:
        # Excel keeps a cell shown as «24%» as 0.24: a number cell below 1 may be either.
        raise ValueError(
            capfirst(
                _(
                    "%(label)s: ¿%(value)s %% o %(percent)s %%? Escriba %(percent)s para una tasa "
                    "de %(percent)s %%."
                )
                % {"label": label, "value": _comma(rate), "percent": _comma(rate * 100)}
            )
        )
    if rate > maximum:
        raise ValueError(
            capfirst(
                _("%(label)s (%(value)s %%) es mayor que el máximo de %(max)s %%.")
                % {"label": label, "value": rate, "max": maximum}
            )
        )
    if rate != rate.quantize(Decimal("0.0001")):
        raise ValueError(capfirst(_("%(label)s tiene más de 4 decimales.") % {"label": label}))
    return rate.quantize(Decimal("0.0001"))


def _comma(number: Decimal) -> str:
    """Return a number as written in Spanish, without trailing zeros: 0,24, 24, 24,5."""
    return format(number.normalize(), "f").replace(".", ",")


def read_yes_no(value: Any, *, label: str) -> bool | None:
    """Return True or False for sí/no, 1/0, true/false (any case, any accent); None if blank."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    word = unicodedata.normalize("NFKD", cell_text(value)).encode("ascii", "ignore").decode()
    word = word.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(
        _("«%(value)s» no es un valor de %(label)s: use sí o no (o 1/0, true/false).")
        % {"value": cell_text(value), "label": label}
    )


def _amount_from_text(text: str, *, label: str) -> Decimal:
    if text.startswith("-"):
        raise ValueError(capfirst(_("%(label)s no puede ser negativo.") % {"label": label}))
    if _PLAIN_AMOUNT_RE.fullmatch(text):
        return Decimal(text.replace(",", "."))
    if _DOT_THOUSANDS_AMOUNT_RE.fullmatch(text):
        return Decimal(text.replace(".", "").replace(",", "."))
    if _COMMA_THOUSANDS_AMOUNT_RE.fullmatch(text):
        return Decimal(text.replace(",", ""))
    if _AMBIGUOUS_AMOUNT_RE.fullmatch(text):
        raise ValueError(
            capfirst(
                _(
                    "%(label)s «%(value)s» es ambiguo: ¿separador de miles o decimales? "
                    "Escríbalo sin separador de miles (1234 o 1234,50)."
                )
                % {"label": label, "value": text}
            )
        )
    if _MANY_DECIMALS_AMOUNT_RE.fullmatch(text):
        raise ValueError(capfirst(_("%(label)s tiene más de 2 decimales.") % {"label": label}))
    raise ValueError(
        capfirst(
            _("%(label)s «%(value)s» no es un número válido (ejemplos: 1234.50, 1234,50).")
            % {"label": label, "value": text}
        )
    )
