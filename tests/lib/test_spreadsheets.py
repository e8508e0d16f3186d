"""Cell readers: amounts in every spelling a spreadsheet gives, whole numbers, yes or no;
and workbooks too big to read, refused before they are read."""

import io
import json
import os
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from lib import spreadsheets

BIG = Decimal("9999999999.99")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1234.50", Decimal("1234.50")),
        ("1234,50", Decimal("1234.50")),
        ("1,234.50", Decimal("1234.50")),
        ("1.234,50", Decimal("1234.50")),
        ("1 234,5", Decimal("1234.50")),
        (19.9, Decimal("19.90")),
        (12, Decimal("12.00")),
        (Decimal("3.1"), Decimal("3.10")),
    ],
)
def test_it_reads_an_amount_in_each_spelling(cell, expected):
    assert spreadsheets.read_amount(cell, label="el monto", maximum=BIG) == expected


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("", "Falta el monto."),
        ("1.234", "es ambiguo"),
        ("-5", "El monto no puede ser negativo."),
        ("10.9999", "El monto tiene más de 2 decimales."),
        ("diez", "no es un número válido"),
        (True, "El monto no es un número."),
        ("1e9999", "no es un número válido"),
        ("10000000000", "El monto es demasiado alto."),
    ],
)
def test_it_refuses_an_amount_saying_why(cell, message):
    with pytest.raises(ValueError, match=message):
        spreadsheets.read_amount(cell, label="el monto", maximum=BIG)


def test_it_reads_whole_numbers_and_refuses_fractions_and_huge_ones():
    assert spreadsheets.read_whole_number("12", label="el stock", maximum=100) == 12
    assert spreadsheets.read_whole_number(12.0, label="el stock", maximum=100) == 12
    with pytest.raises(ValueError, match="debe ser un número entero"):
        spreadsheets.read_whole_number(2.5, label="el stock", maximum=100)
    with pytest.raises(ValueError, match="demasiado alto"):
        spreadsheets.read_whole_number("101", label="el stock", maximum=100)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Sí", True),
        ("si", True),
        ("1", True),
        ("TRUE", True),
        ("no", False),
        (0.0, False),
        ("", None),
    ],
)
def test_it_reads_yes_or_no(cell, expected):
    assert spreadsheets.read_yes_no(cell, label="activo") is expected


def test_it_refuses_a_word_that_is_neither_yes_nor_no():
    with pytest.raises(ValueError, match="no es un valor de activo"):
        spreadsheets.read_yes_no("quizá", label="activo")


def _xlsx_with(cells: dict[str, str]) -> io.BytesIO:
    book = openpyxl.Workbook()
    for ref, value in cells.items():
        book.active[ref] = value
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


def test_a_tiny_file_with_a_cell_at_the_last_column_and_row_is_refused_not_a_crash():
    # Read as a grid from A1, it asked for 17 billion cells: Rust aborted the process.
    far = _xlsx_with({"A1": "Documento", "A2": "45678912", "XFD1048576": "x"})

    with pytest.raises(ValidationError, match="sin exceder la memoria permitida"):
        list(spreadsheets.read_rows(far, "clientes.xlsx"))
    with pytest.raises(ValidationError, match="sin exceder la memoria permitida"):
        spreadsheets.sheet_names(far, "clientes.xlsx")


def test_a_sheet_above_the_cells_allowed_is_refused_with_its_size(monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_CELLS", 1000)
    wide = _xlsx_with({"A1": "Documento", "Z100": "x"})

    with pytest.raises(ValidationError, match="100 filas por 26 columnas"):
        list(spreadsheets.read_rows(wide, "clientes.xlsx"))


def test_a_sheet_within_the_cells_allowed_is_read_from_where_the_file_was():
    book = _xlsx_with({"A1": "Documento", "A2": "45678912"})

    assert list(spreadsheets.read_rows(book, "clientes.xlsx")) == [
        (1, ["Documento"]),
        (2, ["45678912"]),
    ]


def _book(rows: list[list]) -> io.BytesIO:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


def test_the_head_is_read_by_the_probe_as_read_rows_reads_the_file():
    # Blank and space-only rows above the header and between rows; a number, dates, times,
    # a duration and a long text in them.
    rows = [
        [],
        ["   "],
        [None, "Documento", 2026.0, "Fecha"],
        ["45678912", 1.5, datetime(2026, 3, 4, 5, 6, 7), date(2026, 1, 2)],
        [],
        ["x" * 5000, True, time(10, 30), timedelta(days=2, seconds=5)],
        ["otra"],
    ]
    book = _book(rows)
    read = list(spreadsheets.read_rows(book, "clientes.xlsx"))
    book.seek(0)

    head = spreadsheets.read_head(book, "clientes.xlsx", rows=2)

    assert book.tell() == 0  # left where it was, for whoever reads it next
    assert [line for line, _values in head.rows] == [3, 4, 6]
    assert not head.ended
    assert head.rows[:2] == [read[2], read[3]]
    assert head.rows[2][1][0] == "x" * spreadsheets.HEAD_TEXT  # cut, still too long a name
    assert head.rows[2][1][1:] == read[5][1][1:]
    assert spreadsheets.Head.decoded(json.loads(json.dumps(head.encoded()))) == head
    book.seek(0)
    assert spreadsheets.read_head(book, "clientes.xlsx", rows=9).ended


def test_the_head_is_looked_for_past_the_first_rows(monkeypatch):
    monkeypatch.setattr(spreadsheets, "HEAD_ROWS", 2)
    book = _xlsx_with({"A1": " ", "A6": "Documento", "A9": "1"})

    head = spreadsheets.read_head(book, "clientes.xlsx", rows=5)

    assert head == spreadsheets.Head(rows=[(6, ["Documento"]), (9, ["1"])], ended=True)


def test_the_head_stops_short_past_its_cells(monkeypatch):
    monkeypatch.setattr(spreadsheets, "HEAD_CELLS", 5)
    book = _book([["a", "b", "c"], ["1", "2", "3"], ["4", "5", "6"]])

    head = spreadsheets.read_head(book, "clientes.xlsx", rows=5)

    assert head == spreadsheets.Head(rows=[(1, ["a", "b", "c"])], ended=False)


def test_the_head_is_refused_as_reading_the_file_would_be(monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_CELLS", 1000)
    far = _xlsx_with({"A1": "Documento", "XFD1048576": "x"})
    wide = _xlsx_with({"A1": "Documento", "Z100": "x"})

    with pytest.raises(ValidationError, match="sin exceder la memoria permitida"):
        spreadsheets.read_head(far, "clientes.xlsx", rows=1)
    with pytest.raises(ValidationError, match="100 filas por 26 columnas"):
        spreadsheets.read_head(wide, "clientes.xlsx", rows=1)
    with pytest.raises(ValidationError, match="No se pudo leer el archivo"):
        spreadsheets.read_head(io.BytesIO(b"PK\x03\x04 not a zip"), "clientes.xlsx", rows=1)


def test_a_sheet_or_csv_without_text_has_an_empty_head():
    empty = spreadsheets.Head(rows=[], ended=True)
    assert spreadsheets.read_head(_xlsx_with({"A3": "  "}), "vacio.xlsx", rows=1) == empty
    assert spreadsheets.read_head(io.BytesIO(b";;\n ; \n"), "vacio.csv", rows=1) == empty


def test_the_head_of_a_windows_csv_is_read_as_its_rows_are():
    text = " ; \nNúmero;Señor\n1;2\n".encode("cp1252")

    head = spreadsheets.read_head(io.BytesIO(text), "a.csv", rows=1, windows_csv=True)

    assert head.ended
    assert (
        head.rows == list(spreadsheets.read_rows(io.BytesIO(text), "a.csv", windows_csv=True))[1:]
    )


def test_a_head_the_probe_cannot_take_is_read_by_the_process_that_asks(monkeypatch):
    # A cell the child fails to convert: the parent reads the sheet itself and says what
    # is wrong, instead of taking the child's silence for a memory limit.
    parent = os.getpid()
    head_of = spreadsheets._head_of

    def failing_in_the_child(rows, count):
        if os.getpid() != parent:
            raise ValueError("a cell the child cannot convert")
        return head_of(rows, count)

    monkeypatch.setattr(spreadsheets, "_head_of", failing_in_the_child)
    book = _book([["Documento"], ["45678912"]])

    head = spreadsheets.read_head(book, "clientes.xlsx", rows=1)

    assert head == spreadsheets.Head(rows=[(1, ["Documento"]), (2, ["45678912"])], ended=True)


@pytest.mark.parametrize(
    ("cell", "shown"), [("0001-01-01", "01/01/0001"), ("31/12/9999", "31/12/9999")]
)
def test_a_date_out_of_bounds_is_named_with_its_four_digit_year(cell, shown):
    with pytest.raises(ValueError) as refused:
        spreadsheets.read_date(
            cell, label="fecha fin", earliest=date(2000, 1, 1), latest=date(2036, 12, 31)
        )

    assert str(refused.value) == (
        f"Fecha fin ({shown}) debe estar entre el 01/01/2000 y el 31/12/2036."
    )


def test_a_csv_cell_over_the_readers_limit_is_explained_in_spanish():
    """An unclosed quote runs a cell to the end of the file: the reader's message was English."""
    data = b'nombre,precio\n"abierta,1\n' + b"x" * 200_000 + b"\n"

    with pytest.raises(ValidationError) as refused:
        list(spreadsheets.read_rows(io.BytesIO(data), "datos.csv"))

    assert refused.value.messages == [
        "Una celda cerca de la línea 2 pasa de 131,072 caracteres: revise que sus comillas "
        "estén cerradas."
    ]


def test_clean_cells_makes_filemaker_breaks_line_breaks_and_names_other_control_characters():
    cells = {"first_name": "Ana\x00", "address": "Jr. Puno 1\x0bLima", "phone": 987654321}

    problems = spreadsheets.clean_cells(cells, {"first_name": "Nombres"}.__getitem__)

    assert problems == [
        "«Nombres» tiene un carácter de control (invisible) que no se puede guardar: "
        "bórrelo de la celda."
    ]
    assert cells == {"first_name": "Ana\x00", "address": "Jr. Puno 1\nLima", "phone": 987654321}


def test_a_cell_with_del_is_a_control_character_too_as_the_customers_forms_say():
    # The forms refused U+007F (crm.validators) while an import stored it.
    cells = {"first_name": "Ana\x7f"}

    assert spreadsheets.clean_cells(cells, {"first_name": "Nombres"}.__getitem__)


def test_the_one_definition_covers_every_character_an_xlsx_cell_cannot_hold():
    assert all(
        spreadsheets.CONTROL_CHARACTERS.search(chr(code))
        for code in range(0x20)
        if ILLEGAL_CHARACTERS_RE.search(chr(code))
    )
    assert [c for c in "\t\n\r" if spreadsheets.CONTROL_CHARACTERS.search(c)] == []


def test_a_file_reads_filemaker_breaks_as_text_and_other_controls_as_not_text():
    assert not spreadsheets.file_control_character("Jr. Puno 1\x0bLima\x0cCercado\t")
    assert spreadsheets.file_control_character("PK\x03\x04")
    assert spreadsheets.file_control_character("\x0bA\x7f")


def test_xlsx_text_leaves_out_control_characters_and_cuts_what_a_cell_cannot_hold():
    assert spreadsheets.xlsx_text("A\x01na\x0bB") == "Ana\nB"
    assert len(spreadsheets.xlsx_text("x" * 40_000)) == spreadsheets.XLSX_CELL_CHARACTERS


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("-12,5", "-12,5"),
        ("AUD-1", "AUD-1"),
    ],
)
def test_csv_text_never_lets_a_cell_start_a_formula(text, written):
    assert spreadsheets.csv_text(text) == written


def test_append_row_keeps_text_as_text_and_never_scans_the_sheet(monkeypatch):
    book = openpyxl.Workbook()
    sheet = book.active
    spreadsheets.append_row(sheet, ["Título"])
    scans = []
    for name in ("max_row", "max_column"):
        prop = getattr(type(sheet), name)
        monkeypatch.setattr(
            type(sheet), name, property(lambda s, p=prop, n=name: scans.append(n) or p.fget(s))
        )

    rows = [
        spreadsheets.append_row(sheet, [n, f'=HYPERLINK("x{n}")', "Rosa\x01"]) for n in range(50)
    ]

    # Each scan reads every cell: 8,000 lines of a liquidation took 26 s, quadratically.
    assert scans == []
    assert rows == list(range(2, 52))
    assert sheet.cell(row=51, column=1).value == 49
    assert sheet.cell(row=51, column=2).data_type == "s"  # a text, never a formula
    assert sheet.cell(row=51, column=3).value == "Rosa"
