"""Customers imported from files: columns, checks, all-or-nothing, re-import, undo, conflicts."""

import csv
import io
import re
import threading
import time
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from crm import services as crm_services
from crm.imports import services
from crm.imports.customers import CustomerImporter
from crm.models import Customer, ImportBatch, ImportMapping, ImportRecord, Interaction
from lib import spreadsheets
from tests.factories import BranchFactory, CustomerFactory, LoanProductFactory, UserFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
HEADER = ["Tipo", "Documento", "Nombres", "Apellidos", "Celular", "Correo", "Sucursal"]


def xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_text(rows, delimiter=",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue()


def upload(content: bytes, name: str, actor) -> ImportBatch:
    return services.upload(kind="customers", file=SimpleUploadedFile(name, content), actor=actor)


def run(content: bytes, actor, name="clientes.xlsx", *, skip_invalid=False, mapping=None):
    batch = upload(content, name, actor)
    services.queue_import(
        batch=batch,
        mapping=batch.mapping if mapping is None else mapping,
        skip_invalid=skip_invalid,
        actor=actor,
    )
    # What the queued task does (tests/crm/test_imports.py's screen test runs the task).
    services.run_import(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def good_rows():
    branch = BranchFactory(name="Lima Centro")
    return [
        HEADER,
        ["DNI", "41234567", "Marta", "Ccori Vela", "987654321", "marta@correo.pe", branch.name],
        ["CE", "001234567", "Jean", "Dupont", "", "", ""],
    ]


def test_the_columns_are_guessed_from_the_header_and_the_choice_is_offered_next_time(supervisor):
    batch = upload(xlsx(good_rows()), "clientes.xlsx", supervisor)

    assert batch.mapping == {
        "document_type": 0,
        "document_number": 1,
        "first_name": 2,
        "last_name": 3,
        "phone": 4,
        "email": 5,
        "branch": 6,
    }
    # A layout nobody could guess: the user maps it once...
    odd = [["col A", "col B", "col C"], ["41234567", "Marta", "Ccori"]]
    first = upload(xlsx(odd), "raro.xlsx", supervisor)
    assert first.mapping == {}
    mapping = {"document_number": 0, "first_name": 1, "last_name": 2}
    services.queue_import(batch=first, mapping=mapping, skip_invalid=False, actor=supervisor)
    assert ImportMapping.objects.filter(kind="customers").count() == 1

    # ...and the next file with the same columns gets that choice.
    again = upload(xlsx(odd), "raro-2.xlsx", supervisor)
    assert again.mapping == mapping


def test_a_mapping_needs_the_required_fields_once_each(supervisor):
    batch = upload(xlsx(good_rows()), "clientes.xlsx", supervisor)

    with pytest.raises(ValidationError, match="Asigne una columna a: Número de documento"):
        services.queue_import(
            batch=batch, mapping={"first_name": 2}, skip_invalid=False, actor=supervisor
        )
    with pytest.raises(ValidationError, match="está asignada a Nombres y a Apellidos"):
        services.queue_import(
            batch=batch,
            mapping={"document_number": 1, "first_name": 2, "last_name": 2},
            skip_invalid=False,
            actor=supervisor,
        )


def test_the_preview_shows_rows_as_stored_and_what_is_wrong(supervisor):
    rows = [*good_rows(), ["DNI", "123", "", "X", "12", "no-es-correo", "Marte"]]
    batch = upload(xlsx(rows), "clientes.xlsx", supervisor)

    shown = services.preview(batch, batch.mapping)

    assert shown[0].values["phone"] == "+51987654321"
    assert shown[0].values["document_type"] == "DNI"
    assert shown[1].values["document_type"] == "Carné de extranjería"
    assert shown[2].line == 4 and shown[2].values == {}
    assert shown[2].messages == [
        "El DNI debe tener exactamente 8 dígitos.",
        "Faltan los nombres.",
        "El celular «12» no es un número válido.",
        "El correo «no-es-correo» no es válido.",
        "La sucursal «Marte» no está registrada.",
    ]


@pytest.mark.parametrize("name", ["clientes.xlsx", "clientes.csv"])
def test_the_preview_reads_the_rows_kept_at_upload_not_the_file(supervisor, monkeypatch, name):
    rows = [*good_rows(), ["DNI", "123", "", "X", "12", "no-es-correo", "Marte"]] * 4
    content = xlsx(rows) if name.endswith(".xlsx") else csv_text(rows).encode()
    batch = upload(content, name, supervisor)
    from_file = services.preview(ImportBatch(**{**_fields_of(batch), "head": {}}), batch.mapping)

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(services.spreadsheets, "read_rows", no_reading)
    batch.refresh_from_db()
    shown = services.preview(batch, batch.mapping)

    assert len(shown) == services.PREVIEW_ROWS
    assert shown == from_file
    # Queued, the batch no longer keeps a copy of those rows (the file has them).
    services.queue_import(batch=batch, mapping=batch.mapping, skip_invalid=True, actor=supervisor)
    batch.refresh_from_db()
    assert batch.head == {}


def _fields_of(batch: ImportBatch) -> dict:
    return {f.attname: getattr(batch, f.attname) for f in ImportBatch._meta.concrete_fields}


@pytest.mark.parametrize("name", ["clientes.xlsx", "clientes.csv"])
def test_a_batch_without_rows_kept_at_upload_is_previewed_from_its_file(
    supervisor, monkeypatch, name
):
    def content(rows):
        return xlsx(rows) if name.endswith(".xlsx") else csv_text(rows).encode()

    def uploaded_before_rows_were_kept(rows):
        batch = upload(content(rows), name, supervisor)
        ImportBatch.objects.filter(pk=batch.pk).update(head={})
        batch.refresh_from_db()
        return batch

    monkeypatch.setattr(services, "PREVIEW_ROWS", 2)
    read = []
    read_rows = services.spreadsheets.read_rows

    def counted(*args, **kwargs):
        for row in read_rows(*args, **kwargs):
            read.append(row[0])
            yield row

    monkeypatch.setattr(services.spreadsheets, "read_rows", counted)
    person = ["DNI", "41234567", "Ana", "Ruiz", "", "", ""]
    blank = [""] * len(HEADER)
    many = uploaded_before_rows_were_kept([HEADER, *[person] * 50])
    # Its header on line 7, blank lines between the rows.
    low = uploaded_before_rows_were_kept([blank] * 6 + [HEADER, blank, blank, person, person])

    assert [r.line for r in services.preview(many, many.mapping)] == [2, 3]
    assert read == [1, 2, 3]

    read.clear()
    assert [r.line for r in services.preview(low, low.mapping)] == [10, 11]
    assert read == list(range(1, 12))


def test_names_and_places_too_long_for_their_fields_are_named_in_the_message(supervisor):
    header = [*HEADER, "Dirección", "Ciudad"]
    long = "x" * 121
    rows = [
        header,
        ["DNI", "41234567", long, long, "", "", "", "d" * 256, long],
        ["DNI", "41234568", "Ana", "Ruiz", "999", "", "", "", ""],
    ]
    batch = upload(xlsx(rows), "clientes.xlsx", supervisor)

    shown = services.preview(batch, batch.mapping)

    assert shown[0].messages == [
        "Los nombres tienen más de 120 caracteres.",
        "Los apellidos tienen más de 120 caracteres.",
        "La dirección tiene más de 255 caracteres.",
        "La ciudad tiene más de 120 caracteres.",
    ]
    assert shown[1].messages == ["El celular «999» no es un número válido."]


def test_a_branch_is_found_by_its_name_whatever_its_case_and_accents_even_a_new_one(
    supervisor,
):
    def branch_read(cell: str) -> str:
        row = ["DNI", "41234567", "Ana", "Ruiz", "", "", cell]
        batch = upload(xlsx([HEADER, row]), "clientes.xlsx", supervisor)
        return services.preview(batch, batch.mapping)[0].values["branch"]

    BranchFactory(name="Lima Centro")
    assert branch_read("LIMA CENTRO") == "Lima Centro"

    BranchFactory(name="Ancón")  # after the branches were read once
    assert branch_read("ancon") == "Ancón"


def test_a_good_file_creates_customers_with_a_timeline_entry(supervisor):
    batch = run(xlsx(good_rows()), supervisor)

    assert (batch.status, batch.is_applied) == (ImportBatch.Status.DONE, True)
    assert (batch.row_count, batch.created_count, batch.error_row_count) == (2, 2, 0)
    marta = Customer.objects.get(document_number="41234567")
    assert (marta.first_name, marta.last_name, str(marta.phone)) == (
        "Marta",
        "Ccori Vela",
        "+51987654321",
    )
    assert marta.branch.name == "Lima Centro"
    assert "marta ccori vela" in marta.search_text
    entry = Interaction.objects.get(customer=marta)
    assert f"importación #{batch.pk}" in entry.summary
    assert entry.actor == supervisor


def test_a_customer_of_the_file_registered_meanwhile_fails_the_import_whole(
    supervisor, monkeypatch
):
    from crm.imports import customers as importer
    from lib import bulk

    copy = bulk.create_objects

    def registered_meanwhile(objects):
        if objects and isinstance(objects[0], Customer):
            CustomerFactory(document_number="41234567")  # what another session committed
        copy(objects)

    monkeypatch.setattr(importer.bulk, "create_objects", registered_meanwhile)

    batch = run(xlsx(good_rows()), supervisor)

    assert batch.status == ImportBatch.Status.FAILED
    assert "cambiaron mientras se importaba" in batch.failure
    assert not Customer.objects.filter(document_number="001234567").exists()
    assert not ImportRecord.objects.filter(batch=batch).exists()


def test_a_file_with_a_bad_row_writes_nothing_and_returns_every_bad_row_as_xlsx(supervisor):
    rows = [
        *good_rows(),
        ["XX", "", "Ana", "", "", "", ""],
        ["DNI", "41234567", "Marta", "Otra", "", "", ""],  # the same document again
    ]
    batch = run(xlsx(rows), supervisor)

    assert (batch.status, batch.is_applied) == (ImportBatch.Status.DONE, False)
    assert Customer.objects.count() == 0
    assert batch.error_preview == [
        [
            4,
            "Tipo de documento «XX» desconocido: use DNI, CE, RUC o Pasaporte. "
            "Falta el número de documento.",
        ],
        [5, "Fila repetida en el archivo (ya aparece en la línea 2)."],
    ]
    with batch.errors_file.open("rb") as handle:
        sheet = CalamineWorkbook.from_filelike(handle).get_sheet_by_index(0).to_python()
    assert sheet[0] == [*HEADER, "Línea original", "Errores"]
    assert sheet[1][:3] == ["XX", "", "Ana"]
    assert sheet[1][-2:] == [4, batch.error_preview[0][1]]
    assert len(sheet) == 3


def test_skipping_bad_rows_imports_the_good_ones(supervisor):
    rows = [*good_rows(), ["DNI", "99", "Ana", "", "", "", ""]]

    batch = run(xlsx(rows), supervisor, skip_invalid=True)

    assert (batch.is_applied, batch.created_count, batch.skipped_count) == (True, 2, 1)
    assert Customer.objects.count() == 2


def test_importing_the_same_file_again_changes_nothing(supervisor):
    content = xlsx(good_rows())
    run(content, supervisor)
    entries = Interaction.objects.count()

    again = run(content, supervisor)

    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 2)
    assert Interaction.objects.count() == entries
    assert Customer.objects.count() == 2


def test_spanish_excel_csv_in_windows_1252_with_semicolons(supervisor):
    rows = [["Documento", "Nombres", "Apellidos", "Ciudad"], ["41234567", "José", "Peña", "Cusco"]]
    content = csv_text(rows, delimiter=";").encode("cp1252")

    batch = run(content, supervisor, name="clientes.csv")

    assert batch.created_count == 1
    assert Customer.objects.get().last_name == "Peña"


def test_utf8_csv_with_bom_and_excel_97(supervisor):
    content = csv_text([["documento", "nombres"], ["45678912", "Ñuñoa"]]).encode("utf-8-sig")
    assert run(content, supervisor, name="c.csv").created_count == 1

    batch = run((FIXTURES / "clientes.xls").read_bytes(), supervisor, name="clientes.xls")

    assert batch.created_count == 2
    assert Customer.objects.filter(document_type="ce", document_number="001234567").exists()


@pytest.mark.parametrize(
    "header",
    ["Nº Documento", "N° Doc.", "Nro. de documento:", "NÚMERO DE DOCUMENTO", "# Documento"],
)
def test_a_number_column_is_recognized_however_its_header_abbreviates_it(supervisor, header):
    content = csv_text([[header, "Nombres"], ["45678912", "Rosa"]]).encode("utf-8-sig")

    batch = upload(content, "c.csv", supervisor)

    assert batch.mapping == {"document_number": 0, "first_name": 1}


def test_a_document_in_full_width_or_arabic_indic_digits_is_stored_and_matched_in_ascii(
    supervisor,
):
    CustomerFactory(document_type="dni", document_number="45871236", first_name="José")
    rows = [["Documento", "Nombres"], ["４５８７１２３６", "José"], ["٤٥٨٧١٢٣٧", "Ana"]]

    batch = run(csv_text(rows).encode("utf-8-sig"), supervisor, name="c.csv")

    assert (batch.created_count, batch.unchanged_count) == (1, 1)
    assert sorted(Customer.objects.values_list("document_number", flat=True)) == [
        "45871236",
        "45871237",
    ]


def test_an_unreadable_or_empty_file_is_refused_at_upload(supervisor):
    with pytest.raises(ValidationError, match="No se pudo leer el archivo"):
        upload(b"PK\x03\x04 nope", "clientes.xlsx", supervisor)
    with pytest.raises(ValidationError, match="está vacío"):
        upload(b"", "clientes.csv", supervisor)
    # An empty workbook, sent through the API: it was called damaged.
    with pytest.raises(ValidationError, match="El archivo enviado está vacío"):
        upload(b"", "clientes.xlsx", supervisor)
    with pytest.raises(ValidationError, match="Formato no admitido"):
        upload(b"a,b", "clientes.txt", supervisor)
    far = openpyxl.Workbook()
    far.active.append(HEADER)
    far.active["XFD1048576"] = "x"  # 5 KB; read as a grid, 17 billion cells
    content = io.BytesIO()
    far.save(content)
    with pytest.raises(ValidationError, match="sin exceder la memoria permitida"):
        upload(content.getvalue(), "clientes.xlsx", supervisor)
    assert not ImportBatch.objects.exists()


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (csv_text([HEADER]).encode(), "clientes.csv"),
        (csv_text([HEADER, [""] * len(HEADER), []]).encode(), "clientes.csv"),
        (xlsx([HEADER]), "clientes.xlsx"),
    ],
    ids=["csv", "csv-with-blank-rows", "xlsx"],
)
def test_a_file_with_only_its_header_is_refused_at_upload(supervisor, content, name):
    with pytest.raises(ValidationError, match="no tiene filas que importar, solo el encabezado"):
        upload(content, name, supervisor)

    assert not ImportBatch.objects.exists()


@pytest.mark.parametrize(
    "content",
    [
        zlib.compress(b"Documento,Nombres\n41234567,Marta\n" * 50),
        "Documento,Nombres\n41234567,Marta\n".encode("utf-16"),
        # Bytes of every value Windows-1252 decodes: read as text, they are 11 rows.
        bytes(b for b in range(256) if b not in b"\x81\x8d\x8f\x90\x9d") * 8,
    ],
    ids=["compressed", "utf-16", "every-byte"],
)
def test_binary_content_named_csv_is_refused_at_upload(supervisor, content):
    with pytest.raises(ValidationError, match=r"no es un \.csv de texto"):
        upload(content, "clientes.csv", supervisor)

    assert not ImportBatch.objects.exists()


def test_a_line_break_written_as_a_vertical_tab_is_text(supervisor):
    # FileMaker writes a line break inside a cell so.
    content = csv_text([HEADER, ["DNI", "41234567", "Marta", "Ccori\x0bVela", "", "", ""]])

    batch = upload(content.encode(), "clientes.csv", supervisor)

    assert batch.header == HEADER


def test_an_existing_customer_gets_contact_changes_and_a_name_conflict_to_decide(supervisor):
    rosa = CustomerFactory(document_number="41234567", first_name="Rosa", last_name="Ccori")
    rows = [["Documento", "Nombres", "Apellidos", "Ciudad"], ["41234567", "Rosa", "Ccory", "Puno"]]

    batch = run(xlsx(rows), supervisor)

    rosa.refresh_from_db()
    assert (rosa.city, rosa.last_name) == ("Puno", "Ccori")  # the identity stays
    assert (batch.updated_count, batch.conflict_count) == (1, 1)
    updated = Interaction.objects.get(customer=rosa, summary__startswith="Datos actualizados")
    assert updated.payload == {"ciudad": "— → Puno"}
    pending = ImportRecord.objects.get(conflict_status=ImportRecord.Conflict.PENDING)
    assert pending.conflict == {"last_name": ["Ccori", "Ccory"]}
    # The same file again does not ask the same question twice.
    assert run(xlsx(rows), supervisor).conflict_count == 0
    # Nor does the same name in capitals or without accents.
    shouted = [["Documento", "Nombres", "Apellidos"], ["41234567", "ROSA", "CCORI"]]
    assert run(xlsx(shouted), supervisor).conflict_count == 0

    services.decide_conflict(record=pending, accept=True, actor=supervisor)

    rosa.refresh_from_db()
    assert rosa.last_name == "Ccory"
    entry = Interaction.objects.filter(customer=rosa).order_by("-pk").first()
    assert entry.payload["apellidos"] == "Ccori → Ccory"


def test_a_rejected_name_stays_and_the_timeline_says_so(supervisor):
    rosa = CustomerFactory(document_number="41234567", first_name="Rosa", last_name="Ccori")
    run(xlsx([["Documento", "Nombres"], ["41234567", "Rosalía"]]), supervisor)
    record = ImportRecord.objects.get()

    services.decide_conflict(record=record, accept=False, actor=supervisor)

    rosa.refresh_from_db()
    assert rosa.first_name == "Rosa"
    entry = Interaction.objects.filter(customer=rosa).order_by("-pk").first()
    assert entry.payload == {"Nombres": "Rosa → Rosalía (rechazado)"}
    with pytest.raises(ValidationError, match="ya se decidió"):
        services.decide_conflict(record=record, accept=True, actor=supervisor)


def test_undo_removes_what_was_created_and_restores_what_was_updated(supervisor):
    rosa = CustomerFactory(document_number="45678912", first_name="Rosa", city="Lima")
    rows = [*good_rows(), ["DNI", "45678912", "Rosa", "", "", "", ""]]
    rows[0] = [*HEADER[:6], "Ciudad"]
    rows[3][6] = "Arequipa"
    rows[1][6] = rows[2][6] = ""
    batch = run(xlsx(rows), supervisor)
    assert (batch.created_count, batch.updated_count) == (2, 1)

    services.undo_import(batch=batch, actor=supervisor)

    rosa.refresh_from_db()
    assert rosa.city == "Lima"
    assert list(Customer.objects.all()) == [rosa]
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.UNDONE
    entry = Interaction.objects.filter(customer=rosa).order_by("-pk").first()
    assert entry.payload == {"ciudad": "Arequipa → Lima"}


def test_an_import_and_its_undo_are_not_contact_with_the_customer(supervisor):
    """The list's "última interacción" and the segments' "sin contacto" stay as they were."""
    called = timezone.now() - timedelta(days=40)
    rosa = CustomerFactory(document_number="45678912", first_name="Rosa", city="Lima")
    Customer.objects.filter(pk=rosa.pk).update(last_interaction_at=called)
    rows = [["Documento", "Nombres", "Ciudad"], ["45678912", "Rosa", "Arequipa"]]
    rows.append(["41234567", "Marta", "Cusco"])

    batch = run(xlsx(rows), supervisor)

    assert (batch.created_count, batch.updated_count) == (1, 1)
    rosa.refresh_from_db()
    assert (rosa.city, rosa.last_interaction_at) == ("Arequipa", called)
    assert Customer.objects.get(document_number="41234567").last_interaction_at is None
    services.undo_import(batch=batch, actor=supervisor)
    rosa.refresh_from_db()
    assert (rosa.city, rosa.last_interaction_at) == ("Lima", called)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics")
def test_a_large_import_and_its_undo_refresh_the_statistics_of_the_tables_they_wrote(
    supervisor, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "ANALYZE_FROM_ROWS", 2)
    rows = good_rows()
    with CaptureQueriesContext(connection) as queries:
        batch = run(xlsx(rows), supervisor)
    analyzed = [q["sql"] for q in queries if q["sql"].startswith("ANALYZE")]
    assert analyzed == ['ANALYZE "crm_customer", "crm_importrecord", "crm_interaction"']

    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.undo_import(batch=batch, actor=supervisor)
    assert [q["sql"] for q in queries if q["sql"].startswith("ANALYZE")] == analyzed

    monkeypatch.setattr(services, "ANALYZE_FROM_ROWS", 3)
    with CaptureQueriesContext(connection) as queries:
        run(xlsx(rows), supervisor)  # two rows
    assert not [q for q in queries if q["sql"].startswith("ANALYZE")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics")
def test_statistics_that_cannot_be_refreshed_leave_the_import_done(supervisor, monkeypatch):
    gone = SimpleNamespace(_meta=SimpleNamespace(db_table="no_such_table"))
    monkeypatch.setattr(services, "ANALYZE_FROM_ROWS", 1)
    monkeypatch.setattr(CustomerImporter, "written", (Customer, gone))

    batch = run(xlsx(good_rows()), supervisor)

    assert (batch.status, batch.is_applied, batch.created_count) == (
        ImportBatch.Status.DONE,
        True,
        2,
    )
    assert Customer.objects.count() == 2


def test_undo_is_refused_once_a_record_changed_after_the_import(supervisor):
    batch = run(xlsx(good_rows()), supervisor)
    marta = Customer.objects.get(document_number="41234567")
    marta.city = "Tacna"
    marta.save()

    assert services.undo_blockers(batch) == [
        f"Línea 2: {marta.full_name} cambió después de la importación."
    ]
    with pytest.raises(ValidationError):
        services.undo_import(batch=batch, actor=supervisor)
    assert Customer.objects.count() == 2


def test_undo_lists_the_first_reasons_and_counts_the_rest_across_its_chunks(
    supervisor, monkeypatch
):
    from crm.imports import customers as customer_imports

    rows = [HEADER] + [["DNI", f"4123{n:04d}", "Ana", f"Prueba {n}", "", "", ""] for n in range(7)]
    batch = run(xlsx(rows), supervisor)
    for customer in Customer.objects.filter(document_number__in=["41230001", "41230004"]):
        customer.city = "Tacna"
        customer.save()
    crm_services.record_interaction(
        customer=Customer.objects.get(document_number="41230006"),
        kind=Interaction.Kind.NOTE,
        summary="Llamó",
        actor=None,
    )
    monkeypatch.setattr(customer_imports, "BATCH_SIZE", 2)  # records read two at a time
    monkeypatch.setattr(customer_imports, "BLOCKERS_LISTED", 2)

    assert services.undo_blockers(batch) == [
        "Línea 3: Ana Prueba 1 cambió después de la importación.",
        "Línea 6: Ana Prueba 4 cambió después de la importación.",
        "y 1 más.",
    ]


def test_a_large_import_is_checked_when_undone_not_on_every_view_of_its_page(
    client, supervisor, monkeypatch
):
    from crm.imports import views as import_views

    batch = run(xlsx(good_rows()), supervisor)
    marta = Customer.objects.get(document_number="41234567")
    marta.city = "Tacna"
    marta.save()
    monkeypatch.setattr(import_views, "UNDO_CHECKED_ON_PAGE", 1)
    client.force_login(supervisor)

    with CaptureQueriesContext(connection) as page_queries:
        page = client.get(reverse("crm:import_detail", args=[batch.pk]))
    undone = client.post(
        reverse("crm:import_undo", args=[batch.pk]), {"confirm": "yes"}, follow=True
    )

    # The page read every record and customer of a 100,000-row import on each view (8 s).
    assert not any("crm_importrecord" in q["sql"] and "action" in q["sql"] for q in page_queries)
    assert "eso se comprueba al deshacer" in page.content.decode()
    assert f"Línea 2: {marta.full_name} cambió después de la importación." in (
        undone.content.decode()
    )
    assert Customer.objects.count() == 2  # nothing undone


# --- Screens -------------------------------------------------------------------------------


def test_only_who_may_import_sees_the_imports(client, asesor):
    client.force_login(asesor)

    assert client.get(reverse("crm:import_list")).status_code == 403
    assert client.get(reverse("crm:import_new")).status_code == 403


def test_upload_map_preview_import_and_see_the_result(
    client, supervisor, django_capture_on_commit_callbacks
):
    client.force_login(supervisor)
    content = xlsx(good_rows())

    response = client.post(
        reverse("crm:import_new"),
        {"kind": "customers", "file": SimpleUploadedFile("clientes.xlsx", content)},
    )
    batch = ImportBatch.objects.get()
    assert response.url == reverse("crm:import_columns", args=[batch.pk])

    page = client.get(response.url)
    assert "Marta" in page.content.decode() and "+51987654321" in page.content.decode()

    columns = {f"col_{name}": str(index) for name, index in batch.mapping.items()}
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(response.url, {**columns, "import": "1"})
    done = client.get(queued.url)

    text = " ".join(done.content.decode().split())
    assert "en cola: se procesa en segundo plano" in text
    assert "Terminada" in text and 'id="import-counts"' in text
    assert Customer.objects.count() == 2
    history = client.get(reverse("crm:import_list")).content.decode()
    assert "clientes.xlsx" in history


def test_a_file_whose_columns_are_not_recognized_previews_no_rows_without_counting_zero(
    client, supervisor
):
    client.force_login(supervisor)
    content = xlsx([["columna a", "columna b"], ["x", "y"]])
    client.post(
        reverse("crm:import_new"),
        {"kind": "customers", "file": SimpleUploadedFile("otro.xlsx", content)},
    )
    batch = ImportBatch.objects.get()

    page = client.get(reverse("crm:import_columns", args=[batch.pk])).content.decode()

    assert "Asigne las columnas para ver las filas." in page
    assert "Las primeras 0 filas" not in page


def test_the_bad_rows_file_is_served_only_to_who_may_import(client, supervisor, asesor):
    batch = run(xlsx([*good_rows(), ["DNI", "1", "X", "", "", "", ""]]), supervisor)
    url = reverse("crm:import_errors", args=[batch.pk])
    client.force_login(asesor)
    assert client.get(url).status_code == 403

    client.force_login(supervisor)
    response = client.get(url)

    assert response.status_code == 200
    assert "importacion-" in response["Content-Disposition"]


def test_an_upload_never_queued_can_be_discarded_file_and_all(
    supervisor, django_capture_on_commit_callbacks
):
    batch = upload(xlsx(good_rows()), "clientes.xlsx", supervisor)
    name, storage = batch.file.name, batch.file.storage
    assert storage.exists(name)

    with django_capture_on_commit_callbacks(execute=True):
        services.discard_upload(batch=batch)

    assert not ImportBatch.objects.filter(pk=batch.pk).exists()
    assert not storage.exists(name)


def test_uploads_left_without_columns_are_discarded_after_the_days_set(
    supervisor, settings, django_capture_on_commit_callbacks
):
    from crm import tasks

    settings.IMPORT_ABANDONED_DAYS = 7
    content = xlsx(good_rows())
    old, recent, queued = (upload(content, "c.xlsx", supervisor) for _ in range(3))
    services.queue_import(
        batch=queued, mapping=queued.mapping, skip_invalid=False, actor=supervisor
    )
    eight_days_ago = timezone.now() - timedelta(days=8)
    ImportBatch.objects.filter(pk__in=[old.pk, queued.pk]).update(created_at=eight_days_ago)
    ImportBatch.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(days=6))
    name, storage = old.file.name, old.file.storage

    with django_capture_on_commit_callbacks(execute=True):
        discarded = tasks.discard_abandoned_uploads()

    assert discarded == 1
    assert set(ImportBatch.objects.values_list("pk", flat=True)) == {recent.pk, queued.pk}
    assert not storage.exists(name)


def test_the_columns_page_says_from_when_the_upload_is_discarded(client, supervisor, settings):
    settings.IMPORT_ABANDONED_DAYS = 7
    batch = upload(xlsx(good_rows()), "clientes.xlsx", supervisor)
    ImportBatch.objects.filter(pk=batch.pk).update(
        created_at=timezone.make_aware(datetime(2026, 3, 1, 10, 0))
    )
    client.force_login(supervisor)

    page = client.get(reverse("crm:import_columns", args=[batch.pk]))

    assert "se descarta con su archivo a partir del 08/03/2026" in page.content.decode()


def test_a_queued_upload_is_not_discarded(supervisor):
    batch = upload(xlsx(good_rows()), "clientes.xlsx", supervisor)
    services.queue_import(batch=batch, mapping=batch.mapping, skip_invalid=False, actor=supervisor)

    with pytest.raises(ValidationError, match="ya se puso en cola"):
        services.discard_upload(batch=batch)
    assert ImportBatch.objects.filter(pk=batch.pk).exists()


def test_the_upload_page_says_why_a_file_with_only_its_header_is_refused(client, supervisor):
    client.force_login(supervisor)

    response = client.post(
        reverse("crm:import_new"),
        {"kind": "customers", "file": SimpleUploadedFile("c.csv", csv_text([HEADER]).encode())},
    )

    assert response.status_code == 200
    assert "no tiene filas que importar, solo el encabezado" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_cancel_on_the_columns_page_discards_the_upload_and_its_file(
    client, supervisor, django_capture_on_commit_callbacks
):
    batch = upload(xlsx(good_rows()), "clientes.xlsx", supervisor)
    name, storage = batch.file.name, batch.file.storage
    client.force_login(supervisor)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("crm:import_columns", args=[batch.pk]), {"discard": "1"}, follow=True
        )

    assert response.redirect_chain[-1][0] == reverse("crm:import_list")
    text = " ".join(response.content.decode().split())
    assert f"Importación #{batch.pk} cancelada: se borró el archivo «clientes.xlsx»" in text
    assert not ImportBatch.objects.exists()
    assert not storage.exists(name)


def test_the_columns_page_cancels_with_a_confirmed_post(client, supervisor):
    batch = upload(xlsx(good_rows()), "clientes.xlsx", supervisor)
    client.force_login(supervisor)

    page = client.get(reverse("crm:import_columns", args=[batch.pk])).content.decode()

    assert 'form="import-discard"' in page
    assert '<form method="post" id="import-discard" data-confirm="¿Cancelar' in page
    assert f'href="{reverse("crm:import_list")}">Cancelar' not in page


def test_cancel_leaves_a_batch_already_queued_as_it_is(client, supervisor):
    batch = upload(xlsx(good_rows()), "clientes.xlsx", supervisor)
    services.queue_import(batch=batch, mapping=batch.mapping, skip_invalid=False, actor=supervisor)
    client.force_login(supervisor)

    response = client.post(
        reverse("crm:import_columns", args=[batch.pk]), {"discard": "1"}, follow=True
    )

    assert "Esta importación ya se puso en cola." in response.content.decode()
    assert ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.QUEUED).exists()


def test_only_who_may_import_cancels_an_upload(client, supervisor, asesor):
    batch = upload(xlsx(good_rows()), "clientes.xlsx", supervisor)
    client.force_login(asesor)

    response = client.post(reverse("crm:import_columns", args=[batch.pk]), {"discard": "1"})

    assert response.status_code == 403
    assert ImportBatch.objects.filter(pk=batch.pk).exists()


def test_a_discarded_upload_takes_its_additional_tables_files_with_it(
    supervisor, django_capture_on_commit_callbacks
):
    batch = services.upload(
        kind="loans",
        file=SimpleUploadedFile("creditos.csv", csv_text([["Documento"], ["41234567"]]).encode()),
        actor=supervisor,
        parts={"installments": SimpleUploadedFile("cuotas.csv", b"Cuota\n1\n")},
    )
    storage = batch.file.storage
    part = batch.parts["installments"]["file"]
    assert storage.exists(part)

    with django_capture_on_commit_callbacks(execute=True):
        services.discard_upload(batch=batch)

    assert not storage.exists(part)


def test_undo_says_one_record_in_the_singular(client, supervisor):
    rows = [HEADER, ["DNI", "41234567", "Marta", "Ccori Vela", "", "", ""]]
    batch = run(xlsx(rows), supervisor)
    assert (batch.created_count, batch.updated_count) == (1, 0)
    client.force_login(supervisor)

    # The undo's confirmation page says what it removes and restores.
    page = " ".join(
        client.get(reverse("crm:import_undo", args=[batch.pk])).content.decode().split()
    )
    undone = client.post(
        reverse("crm:import_undo", args=[batch.pk]), {"confirm": "yes"}, follow=True
    )

    assert (
        f"¿Deshacer la importación #{batch.pk}?" in page
        and "Se eliminará 1 registro creado y se restaurarán 0 registros actualizados." in page
    )
    assert (
        f"Importación #{batch.pk} deshecha: se eliminó 1 registro creado y se restauraron 0 "
        "registros actualizados." in " ".join(undone.content.decode().split())
    )


def test_undo_says_several_records_in_the_plural(client, supervisor):
    CustomerFactory(document_type="dni", document_number="41234567", first_name="Marta")
    batch = run(xlsx(good_rows()), supervisor)
    assert (batch.created_count, batch.updated_count) == (1, 1)
    client.force_login(supervisor)

    page = client.get(reverse("crm:import_undo", args=[batch.pk])).content.decode()

    assert "Se eliminará 1 registro creado y se restaurará 1 registro actualizado." in page


@pytest.mark.parametrize(
    ("total", "said"), [(1, "Guardando: 0 de 1 fila."), (2, "Guardando: 1 de 2 filas.")]
)
def test_the_progress_says_fila_for_one_row(total, said):
    batch = SimpleNamespace(
        pk=1, is_finished=False, status="running", is_applied=False, get_status_display="En curso"
    )
    progress = SimpleNamespace(
        phase="writing", done=total - 1, total=total, percent=50, is_stalled=False
    )

    html = render_to_string(
        "crm/imports/partials/import_status.html", {"batch": batch, "progress": progress}
    )

    assert said in " ".join(html.split())


def test_a_cell_with_a_control_character_is_a_bad_row_listed_in_the_errors_file(supervisor):
    # After the first rows, which the upload checks are text (an .xlsx cannot hold these).
    first = [["DNI", f"4100000{n}", "Ana", "", "", "", ""] for n in range(services.PREVIEW_ROWS)]
    rows = [
        HEADER,
        *first,
        ["DNI", "41234567", "Mar\x01ta", "Ccori", "", "", ""],
        ["DNI", "42345678", "Jean", "Dupont\x00", "", "", ""],
    ]

    batch = run(csv_text(rows).encode(), supervisor, name="clientes.csv")

    assert (batch.status, batch.is_applied) == (ImportBatch.Status.DONE, False)
    assert batch.error_preview == [
        [
            12,
            "«Nombres» tiene un carácter de control (invisible) que no se puede guardar: "
            "bórrelo de la celda.",
        ],
        [
            13,
            "«Apellidos» tiene un carácter de control (invisible) que no se puede guardar: "
            "bórrelo de la celda.",
        ],
    ]
    with batch.errors_file.open("rb") as handle:
        sheet = CalamineWorkbook.from_filelike(handle).get_sheet_by_index(0).to_python()
    assert [row[2:4] for row in sheet[1:]] == [["Marta", "Ccori"], ["Jean", "Dupont"]]


def test_a_line_break_written_as_a_vertical_tab_is_stored_as_a_line_break(supervisor):
    rows = [
        ["Documento", "Nombres", "Dirección"],
        ["41234567", "Marta", "Jr. Puno 120\x0bCercado"],
    ]

    batch = run(csv_text(rows).encode(), supervisor, name="clientes.csv")

    assert batch.is_applied, batch.error_preview
    assert Customer.objects.get().address == "Jr. Puno 120\nCercado"


def test_the_errors_file_writes_every_text_as_text_and_cuts_what_a_cell_cannot_hold():
    header = ["=1+1", "Nombres"]
    bad = {2: ["Faltan los nombres."]}
    originals = {2: ['=HYPERLINK("http://x")', "x" * 40_000]}

    content = services.errors_xlsx(header, bad, originals)

    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert [cell.data_type for cell in sheet[1][:1] + sheet[2][:2]] == ["s", "s", "s"]
    assert sheet["A1"].value == "=1+1"
    assert sheet["A2"].value == '=HYPERLINK("http://x")'
    assert len(sheet["B2"].value) == 32_767


def test_a_control_character_in_an_additional_table_fails_the_run_saying_where(supervisor):
    LoanProductFactory(name="Vehicular")
    CustomerFactory(document_number="41234567")
    loans = [
        ["Documento", "Código de pago", "Producto", "Fecha desembolso", "Capital", "Plazo"],
        ["41234567", "PX-1", "Vehicular", "15/01/2026", "1200.00", "12"],
    ]
    payments = [
        ["Código de pago", "Fecha", "Monto", "Referencia"],
        ["PX-1", "14/02/2026", "1", "O\x01P"],
    ]
    batch = services.upload(
        kind="loans",
        file=SimpleUploadedFile("creditos.csv", csv_text(loans).encode()),
        actor=supervisor,
        parts={"payments": SimpleUploadedFile("pagos.csv", csv_text(payments).encode())},
    )
    services.queue_import(batch=batch, mapping=batch.mapping, skip_invalid=False, actor=supervisor)

    services.run_import(batch_id=batch.pk)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.FAILED
    assert batch.failure == (
        "«pagos.csv», línea 2: «Referencia» tiene un carácter de control (invisible) que no "
        "se puede guardar: bórrelo de la celda."
    )


def test_the_counts_agree_with_their_number(client, supervisor):
    rows = [HEADER, ["DNI", "41234567", "Marta", "Ccori Vela", "", "", ""], ["DNI", "1", "X"]]
    batch = run(xlsx(rows), supervisor, skip_invalid=True)
    client.force_login(supervisor)

    html = client.get(reverse("crm:import_detail", args=[batch.pk])).content.decode()

    tiles = re.findall(r'<div class="h4 mb-0[^"]*">(\d+)</div><div class="[^"]*">([^<]+)<', html)
    assert [" ".join(tile) for tile in tiles] == [
        "2 filas",
        "1 creado",
        "0 actualizados",
        "0 sin cambios",
        "0 filas con otros datos de identidad o contacto, a decidir",
        "1 fila omitida",
    ]


def test_a_file_over_the_size_limit_is_refused_at_upload(supervisor, monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_UPLOAD_BYTES", 1024 * 1024)
    content = csv_text([HEADER]) + "DNI,41234567,Ana,,,,\n" * 60_000

    with pytest.raises(ValidationError, match="El archivo pesa más de 1 MB"):
        upload(content.encode(), "clientes.csv", supervisor)

    assert not ImportBatch.objects.exists()


def test_the_same_file_is_said_imported_before_only_when_it_was(client, supervisor):
    # One file's bytes: a workbook written again a second later differs in its timestamp.
    content = xlsx([*good_rows(), ["DNI", "123", "Ana", "", "", "", ""]])
    refused = run(content, supervisor)
    again = run(content, supervisor, skip_invalid=True)
    third = run(content, supervisor, skip_invalid=True)
    client.force_login(supervisor)

    pages = [
        " ".join(client.get(reverse("crm:import_detail", args=[b.pk])).content.decode().split())
        for b in (again, third)
    ]

    assert not refused.is_applied
    assert "Este mismo archivo ya se importó" not in pages[0]
    assert (
        f'ya se importó en la <a href="{again.get_absolute_url()}">importación #{again.pk}'
        in pages[1]
    )


def test_a_conflict_is_decided_only_by_one_of_its_two_buttons(client, supervisor):
    CustomerFactory(document_number="41234567", first_name="Rosa", last_name="Ccori")
    batch = run(xlsx([["Documento", "Nombres"], ["41234567", "Rosalía"]]), supervisor)
    record = batch.records.get(conflict_status=ImportRecord.Conflict.PENDING)
    client.force_login(supervisor)

    response = client.post(reverse("crm:import_decide", args=[batch.pk, record.pk]))

    assert response.status_code == 400
    record.refresh_from_db()
    assert record.conflict_status == ImportRecord.Conflict.PENDING


def test_undo_says_on_the_timeline_that_names_left_to_decide_are_dropped(supervisor):
    rosa = CustomerFactory(document_number="45678912", first_name="Rosa", last_name="Ccori")
    rows = [["Documento", "Nombres"], ["45678912", "Rosalía"], ["41234567", "Marta"]]
    batch = run(xlsx(rows), supervisor)
    assert (batch.created_count, batch.conflict_count) == (1, 1)

    services.undo_import(batch=batch, actor=supervisor)

    entry = Interaction.objects.filter(customer=rosa).order_by("-pk").first()
    assert entry.summary == (
        f"Se deshizo la importación #{batch.pk}: los datos que traía (nombres) ya no quedan "
        "por decidir"
    )
    assert entry.payload == {"Nombres": "Rosa → Rosalía (descartado)"}
    assert batch.records.get(object_id=rosa.pk).conflict_status == ImportRecord.Conflict.REJECTED


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite runs one write transaction at a time"
)
def test_a_note_sent_while_its_customer_import_is_undone_waits_and_finds_it_gone(
    roles, monkeypatch
):
    """The undo checks its customers for activity and removes them; a note written on one
    of them in between was removed unseen with it, or failed the undo's commit (a 500)."""
    supervisor = UserFactory(username="importadora", role="Supervisor")
    batch = run(xlsx(good_rows()), supervisor)
    marta = Customer.objects.get(document_number="41234567")
    checked, note_started = threading.Event(), threading.Event()
    real_blockers = CustomerImporter.undo_blockers

    def blockers_then_a_note(self, batch):
        found = real_blockers(self, batch)
        checked.set()
        note_started.wait(timeout=10)
        time.sleep(0.5)  # the note's request, meanwhile, is in the database
        return found

    monkeypatch.setattr(CustomerImporter, "undo_blockers", blockers_then_a_note)
    outcome = {}

    def undo():
        try:
            services.undo_import(batch=batch, actor=supervisor)
            outcome["undo"] = "done"
        except ValidationError as refused:
            outcome["undo"] = refused.messages
        finally:
            connection.close()

    def note():
        checked.wait(timeout=10)
        note_started.set()
        try:
            crm_services.add_note(
                customer=marta,
                kind=Interaction.Kind.NOTE,
                summary="Nota durante el deshacer",
                direction=Interaction.Direction.INTERNAL,
                actor=supervisor,
            )
            outcome["note"] = "saved"
        except Customer.DoesNotExist:
            outcome["note"] = "gone"
        finally:
            connection.close()

    threads = [threading.Thread(target=undo), threading.Thread(target=note)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert outcome == {"undo": "done", "note": "gone"}
    assert not Customer.objects.filter(document_number="41234567").exists()
    assert not Interaction.objects.filter(summary="Nota durante el deshacer").exists()
