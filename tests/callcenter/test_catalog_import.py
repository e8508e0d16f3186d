import gc
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from callcenter.catalog import imports as catalog_imports
from callcenter.catalog import services as catalog_services
from callcenter.models import CatalogProduct, StockMovement
from lib import spreadsheets
from tests.callcenter.files import HEADER, csv_bytes, import_file, ledger_mismatches, xlsx_bytes
from tests.factories import CatalogProductFactory

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = pytest.mark.django_db


def test_it_creates_products_from_an_xlsx_file():
    content = xlsx_bytes(
        [
            ["SKU", "Nombre", "Precio", "Stock", "Moneda", "Descripción", "Activo"],
            ["AUD-1", "Audífonos Bluetooth", 89.9, 12, "pen", "Inalámbricos", "sí"],
            [1002, "Parlante", 150, 0, "USD", None, "no"],
        ]
    )

    result = import_file(content, "catalogo.xlsx")

    assert (result.created, result.updated, result.errors) == (2, 0, [])
    headphones = CatalogProduct.objects.get(sku="AUD-1")
    assert headphones.price == Decimal("89.90")
    assert (headphones.stock, headphones.currency, headphones.is_active) == (12, "PEN", True)
    assert headphones.description == "Inalámbricos"
    assert headphones.search_text == "audifonos bluetooth aud-1"
    speaker = CatalogProduct.objects.get(sku="1002")
    assert (speaker.price, speaker.currency, speaker.is_active) == (Decimal("150"), "USD", False)
    movement = StockMovement.objects.get()
    assert (movement.product, movement.delta, movement.reason) == (
        headphones,
        12,
        StockMovement.Reason.IMPORT,
    )
    assert movement.note == "Importación de catálogo: catalogo.xlsx"


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_it_creates_products_from_a_csv_file_with_either_delimiter(delimiter):
    content = csv_bytes(
        [
            ["sku", "name", "price", "stock", "currency"],
            ["CSV-1", "Licuadora, 3 velocidades", "120,50", "5", ""],
            ["CSV-2", "Tostadora", "80.00", "0", "USD"],
        ],
        delimiter=delimiter,
    )

    result = import_file(content)

    assert (result.created, result.errors) == (2, [])
    blender = CatalogProduct.objects.get(sku="CSV-1")
    assert (blender.name, blender.price, blender.stock) == (
        "Licuadora, 3 velocidades",
        Decimal("120.50"),
        5,
    )
    assert blender.currency == "PEN"
    assert CatalogProduct.objects.get(sku="CSV-2").currency == "USD"


def test_it_updates_products_by_sku_and_the_file_stock_becomes_the_stock():
    product = CatalogProductFactory(sku="UPD-1", name="Viejo nombre", price=Decimal("10"))
    catalog_services.adjust_stock(product=product, delta=10, note="Conteo", actor=None)
    content = csv_bytes([HEADER, ["UPD-1", "Nuevo nombre", "12.50", "4"]])

    result = import_file(content)

    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    product.refresh_from_db()
    assert (product.name, product.price, product.stock) == ("Nuevo nombre", Decimal("12.50"), 4)
    assert product.search_text == "nuevo nombre upd-1"
    movement = product.movements.filter(reason=StockMovement.Reason.IMPORT).get()
    assert movement.delta == -6
    assert ledger_mismatches() == []


def test_it_counts_rows_that_change_nothing_as_unchanged():
    product = CatalogProductFactory(sku="SAME-1", name="Igual", price=Decimal("5.00"))
    content = csv_bytes([HEADER, ["SAME-1", "Igual", "5", "0"]])

    result = import_file(content)

    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
    assert not product.movements.exists()


def test_blank_optional_cells_leave_the_products_values_as_they_are():
    product = CatalogProductFactory(
        sku="KEEP-1", currency="USD", description="Texto", is_active=False
    )
    content = csv_bytes(
        [
            [*HEADER, "moneda", "descripcion", "activo"],
            ["KEEP-1", product.name, "49.90", "0", "", "", ""],
        ]
    )

    import_file(content)

    product.refresh_from_db()
    assert (product.currency, product.description, product.is_active) == ("USD", "Texto", False)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("1234.50", Decimal("1234.50")),
        ("1234,5", Decimal("1234.50")),
        ("1.234,50", Decimal("1234.50")),
        ("1,234.50", Decimal("1234.50")),
        ("12.345.678,90", Decimal("12345678.90")),
        (" 7 ", Decimal("7.00")),
        ("0,125", None),
        ("1.234", None),
        ("1,234", None),
        ("1.234.567", None),
        ("S/ 10", None),
    ],
)
def test_prices_take_either_decimal_separator_and_refuse_ambiguous_thousands(written, expected):
    content = csv_bytes([HEADER, ["P-1", "Producto", written, "1"]], delimiter=";")

    result = import_file(content)

    if expected is None:
        assert [(e.line, e.sku) for e in result.errors] == [(2, "P-1")]
        assert not CatalogProduct.objects.exists()
    else:
        assert result.errors == []
        assert CatalogProduct.objects.get().price == expected


def test_a_numeric_excel_price_is_read_exactly():
    content = xlsx_bytes([HEADER, ["X-1", "Producto", 19.9, 3.0]])

    import_file(content, "c.xlsx")

    product = CatalogProduct.objects.get()
    assert (product.price, product.stock) == (Decimal("19.90"), 3)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["", "Sin SKU", "10", "1"], "Falta el SKU."),
        (["S" * 61, "SKU largo", "10", "1"], "El SKU tiene más de 60 caracteres."),
        (["BAD-1", "", "10", "1"], "Falta el nombre."),
        (["BAD-1", "Producto", "", "1"], "Falta el precio."),
        (["BAD-1", "Producto", "diez", "1"], "no es un número válido"),
        (["BAD-1", "Producto", "-5", "1"], "El precio no puede ser negativo."),
        (["BAD-1", "Producto", "10.999", "1"], "ambiguo"),
        (["BAD-1", "Producto", "10.9999", "1"], "El precio tiene más de 2 decimales."),
        (["BAD-1", "Producto", "10", ""], "Falta el stock."),
        (["BAD-1", "Producto", "10", "2.5"], "debe ser un número entero"),
        (["BAD-1", "Producto", "10", "-1"], "El stock no puede ser negativo."),
        (["BAD-1", "Producto", "10", "1", "SOLES"], "código de 3 letras"),
        (["BAD-1", "Producto", "10", "1", "PEN", "quizá"], "no es un valor de activo"),
        (
            ["GOOD-1", "Repetido", "10", "1"],
            "SKU repetido en el archivo (ya aparece en la línea 2)",
        ),
    ],
)
def test_a_bad_row_writes_nothing_and_is_listed_with_its_line(row, message):
    content = csv_bytes(
        [
            [*HEADER, "moneda", "activo"],
            ["GOOD-1", "Bueno", "10", "1"],
            [],  # blank lines are skipped, yet counted: the bad row is on line 4
            row,
        ]
    )

    result = import_file(content)

    assert not result.applied
    assert [e.line for e in result.errors] == [4]
    assert message in result.errors[0].message
    assert not CatalogProduct.objects.exists()
    assert not StockMovement.objects.exists()


def test_every_problem_of_a_row_is_listed():
    content = csv_bytes([HEADER, ["", "", "x", "y"]])

    result = import_file(content)

    assert [e.line for e in result.errors] == [2, 2, 2, 2]


def test_skip_invalid_writes_the_good_rows_and_lists_the_bad_ones():
    content = xlsx_bytes(
        [
            HEADER,
            ["OK-1", "Bueno", 10, 1],
            ["BAD-1", "Malo", -1, 1],
            ["OK-2", "Bueno también", 20, 2],
        ]
    )

    result = import_file(content, "c.xlsx", skip_invalid=True)

    assert result.applied
    assert (result.created, result.skipped) == (2, 1)
    assert [(e.line, e.sku) for e in result.errors] == [(3, "BAD-1")]
    assert set(CatalogProduct.objects.values_list("sku", flat=True)) == {"OK-1", "OK-2"}
    assert ledger_mismatches() == []


def test_the_errors_report_is_a_csv_with_every_bad_row():
    content = csv_bytes([HEADER, ["A", "", "1", "1"], ["B", "Bien", "1", "-2"]])
    result = import_file(content)

    report = catalog_imports.errors_csv(result.errors).decode("utf-8-sig").splitlines()

    assert report == [
        "línea,sku,error",
        "2,A,Falta el nombre.",
        "3,B,El stock no puede ser negativo.",
    ]


def test_it_refuses_a_file_without_the_required_columns():
    content = csv_bytes([["sku", "nombre", "stock"], ["A", "B", "1"]])

    with pytest.raises(ValidationError, match=r"Faltan columnas obligatorias.*precio"):
        import_file(content)


def test_it_refuses_an_empty_file():
    with pytest.raises(ValidationError, match="vacío"):
        import_file(b"")


@pytest.mark.parametrize("name", ["catalogo.pdf", "catalogo"])
def test_it_refuses_other_formats_naming_the_ones_it_reads(name):
    with pytest.raises(ValidationError, match=r"suba un archivo \.xlsx, \.xls, \.ods o \.csv"):
        import_file(b"whatever", name)


@pytest.mark.parametrize("name", ["catalogo.xlsx", "catalogo.xls", "catalogo.ods"])
def test_it_refuses_a_corrupt_workbook_saying_it_cannot_read_it(name):
    with pytest.raises(ValidationError, match="No se pudo leer el archivo"):
        import_file(b"PK\x03\x04 not really a workbook", name)


@pytest.mark.parametrize("name", ["catalogo.xls", "catalogo.ods"])
def test_it_imports_excel_97_and_opendocument_files(name):
    # Saved by LibreOffice Calc from an .xlsx: ODS-1 149.90 x5 PEN, ODS-2 "59,50" x3.
    content = (FIXTURES / name).read_bytes()

    result = import_file(content, name)

    assert (result.created, result.errors) == (2, [])
    products = {p.sku: (p.price, p.stock) for p in CatalogProduct.objects.all()}
    assert products == {"ODS-1": (Decimal("149.90"), 5), "ODS-2": (Decimal("59.50"), 3)}


def test_it_reads_a_csv_a_spanish_excel_saved_in_windows_1252():
    content = "sku;nombre;precio;stock\nA;Café;1;1\n".encode("cp1252")

    result = import_file(content)

    assert result.created == 1
    assert CatalogProduct.objects.get(sku="A").name == "Café"


def test_imports_keep_the_stock_ledger_in_step_across_many_rows():
    # More rows than one batch, a mix of products to update and to create.
    for n in range(0, 1200, 2):
        product = CatalogProductFactory(sku=f"M-{n:04d}")
        catalog_services.adjust_stock(product=product, delta=n % 7 + 1, note="Conteo", actor=None)
    rows = [[f"M-{n:04d}", f"Producto {n}", "10.00", str(n % 5)] for n in range(1200)]

    result = import_file(csv_bytes([HEADER, *rows]))

    assert (result.created, result.updated, result.errors) == (600, 600, [])
    assert CatalogProduct.objects.get(sku="M-0004").stock == 4
    assert ledger_mismatches() == []


def test_the_garbage_collector_runs_again_after_an_import_even_a_refused_one():
    import_file(csv_bytes([HEADER, ["GC-1", "Producto", "10", "3"]]))
    enabled_after_import = gc.isenabled()

    with pytest.raises(ValidationError):
        import_file(csv_bytes([["sku"], ["GC-2"]]))

    assert enabled_after_import and gc.isenabled()


def test_the_command_imports_and_prints_the_summary(tmp_path, capsys):
    path = tmp_path / "catalogo.csv"
    path.write_bytes(csv_bytes([HEADER, ["CMD-1", "Producto", "10", "3"]]))

    call_command("import_catalog", str(path))

    assert "Creados: 1" in capsys.readouterr().out
    assert CatalogProduct.objects.get().stock == 3


def test_the_command_prints_its_progress(tmp_path, capsys):
    path = tmp_path / "catalogo.csv"
    rows = [[f"CMD-{n}", "Producto", "10", "3"] for n in range(1200)]
    path.write_bytes(csv_bytes([HEADER, *rows]))

    call_command("import_catalog", str(path))

    out = capsys.readouterr().out
    assert "Revisando filas: línea 1201 de 1201" in out
    assert "Guardando productos: 1200 de 1200" in out
    assert out.index("Guardando productos") < out.index("Creados: 1200")


def test_a_progress_callback_hears_both_phases_up_to_their_totals():
    heard = []
    rows = [[f"P-{n}", "Producto", "10", "3"] for n in range(1200)]
    content = csv_bytes([HEADER, *rows])

    catalog_imports.import_catalog(
        rows_source=list(spreadsheets.read_rows(io.BytesIO(content), "c.csv")),
        actor=None,
        skip_invalid=False,
        progress=lambda phase, done, total: heard.append((phase, done, total)),
    )

    validating = [(d, t) for p, d, t in heard if p == catalog_imports.VALIDATING]
    writing = [(d, t) for p, d, t in heard if p == catalog_imports.WRITING]
    assert validating == [(501, 1201), (1001, 1201), (1201, 1201)]  # line numbers
    assert writing == [(0, 1200), (500, 1200), (1000, 1200), (1200, 1200)]


def test_the_command_fails_and_writes_nothing_when_a_row_is_bad(tmp_path, capsys):
    path = tmp_path / "catalogo.csv"
    path.write_bytes(csv_bytes([HEADER, ["CMD-1", "Producto", "10", "3"], ["CMD-2", "", "1", "1"]]))

    with pytest.raises(CommandError) as raised:
        call_command("import_catalog", str(path))

    assert raised.value.returncode == 1
    assert "línea 3 [CMD-2]: Falta el nombre." in capsys.readouterr().err
    assert not CatalogProduct.objects.exists()


def test_the_command_skips_bad_rows_when_told(tmp_path):
    path = tmp_path / "catalogo.csv"
    path.write_bytes(csv_bytes([HEADER, ["CMD-1", "Producto", "10", "3"], ["CMD-2", "", "1", "1"]]))

    call_command("import_catalog", str(path), "--skip-invalid")

    assert list(CatalogProduct.objects.values_list("sku", flat=True)) == ["CMD-1"]


def test_progress_is_passed_on_per_phase_at_the_end_and_otherwise_every_few_seconds(
    monkeypatch,
):
    clock = iter([0.0, 0.1, 0.2, 5.0, 5.1, 5.2])
    monkeypatch.setattr(catalog_imports.time, "monotonic", lambda: next(clock))
    seen = []
    report = catalog_imports.throttled(lambda *args: seen.append(args), 2)

    report("validating", 1, 10)  # a new phase
    report("validating", 2, 10)  # too soon
    report("validating", 10, 10)  # its end
    report("validating", 3, 10)  # seconds later
    report("saving", 1, 10)  # a new phase
    report("saving", 2, 10)  # too soon

    assert seen == [
        ("validating", 1, 10),
        ("validating", 10, 10),
        ("validating", 3, 10),
        ("saving", 1, 10),
    ]


def test_the_errors_report_writes_a_sku_that_looks_like_a_formula_as_text():
    rows = [[sku, "", "1", "1"] for sku in ['=HYPERLINK("http://x")', "+cmd", "@SUM(A1)", "-2+3"]]
    result = import_file(csv_bytes([HEADER, *rows]))

    report = catalog_imports.errors_csv(result.errors).decode("utf-8-sig").splitlines()

    assert report[1:] == [
        '2,"\'=HYPERLINK(""http://x"")",Falta el nombre.',
        "3,'+cmd,Falta el nombre.",
        "4,'@SUM(A1),Falta el nombre.",
        "5,'-2+3,Falta el nombre.",
    ]


def test_a_cell_with_a_control_character_is_a_bad_row_and_a_filemaker_break_is_text():
    content = csv_bytes(
        [
            [*HEADER, "descripcion"],
            ["A", "Licua\x01dora", "1", "1", ""],
            ["B", "Tostadora", "1", "1", "Dos\x0branuras"],
        ]
    )

    result = import_file(content, skip_invalid=True)

    assert [(e.line, e.message) for e in result.errors] == [
        (
            2,
            "«nombre» tiene un carácter de control (invisible) que no se puede guardar: "
            "bórrelo de la celda.",
        )
    ]
    assert CatalogProduct.objects.get().description == "Dos\nranuras"
