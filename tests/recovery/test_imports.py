"""Written-off campaigns from files (`recovery.imports`, through crm.imports): every rule with
its message, all or nothing or the good rows only, unknown customers refused or registered,
.xlsx, .xls and Spanish Excel's .csv, the tag and the timeline, undo, the template, and two
uploads at once for one customer.

The clock stays on TODAY (15 June 2026), as for every recovery test.
"""

import csv
import io
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from python_calamine import CalamineWorkbook

from collections_app.strategies.segments import CASTIGADA_TAG
from credits.models import Loan
from crm.imports import services
from crm.models import Customer, ImportBatch, Interaction, Tag
from recovery import imports as recovery_imports
from recovery import services as recovery_services
from recovery.models import Campaign
from tests.factories import CustomerFactory, InteractionFactory, LoanFactory, UserFactory
from tests.recovery.conftest import TODAY, make_campaign

FIXTURES = Path(__file__).parent / "fixtures"
KIND = "recovery_campaigns"
HEADER = [
    "Tipo de documento",
    "Número de documento",
    "ID de campaña",
    "Monto de deuda castigada",
    "Tipo de descuento",
    "Valor del descuento",
    "Fecha de finalización",
    "Código de pago asociado",
]
ROSA, JOSE, NEW = "45678912", "41234567", "47777777"


def xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows, *, delimiter=";", encoding="cp1252") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode(encoding)


def row(number=ROSA, **cells) -> list:
    """A good row for the customer with this DNI; cells override it by field name."""
    values = {
        "document_type": "DNI",
        "document_number": number,
        "code": "CAST-07",
        "debt_amount": Decimal("1000"),
        "discount_type": "Porcentaje",
        "discount_value": Decimal("40"),
        "ends_on": date(2026, 7, 31),
        "payment_code": "",
        **cells,
    }
    return list(values.values())


def upload(content: bytes, actor, name="campanas.xlsx") -> ImportBatch:
    return services.upload(kind=KIND, file=SimpleUploadedFile(name, content), actor=actor)


def queued(content: bytes, actor, name="campanas.xlsx", *, skip_invalid=False, options=None):
    batch = upload(content, actor, name)
    return services.queue_import(
        batch=batch,
        mapping=batch.mapping,
        skip_invalid=skip_invalid,
        actor=actor,
        options=options,
    )


def run(content: bytes, actor, name="campanas.xlsx", **kwargs) -> ImportBatch:
    batch = queued(content, actor, name, **kwargs)
    services.run_import(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def tags_of(customer) -> list[str]:
    return list(customer.tags.values_list("name", flat=True))


@pytest.fixture
def importer(db):
    return UserFactory(username="importadora")


@pytest.fixture
def rosa(db):
    return CustomerFactory(document_number=ROSA, first_name="Rosa", last_name="Huamán")


@pytest.fixture
def jose(db):
    return CustomerFactory(document_number=JOSE, first_name="José", last_name="Peña")


# --- A good file ---------------------------------------------------------------------------


def test_a_good_file_makes_each_campaign_with_its_figures_tag_and_timeline_entry(
    importer, rosa, jose
):
    rows = [
        HEADER,
        row(ROSA),
        row(JOSE, discount_type="Monto", discount_value=Decimal("250.50"), ends_on=None),
    ]

    batch = run(xlsx(rows), importer)

    assert (batch.status, batch.is_applied) == (ImportBatch.Status.DONE, True)
    assert (batch.row_count, batch.created_count, batch.error_row_count) == (2, 2, 0)
    first = Campaign.objects.get(customer=rosa)
    assert (first.code, first.debt_amount, first.discount_type, first.discount_value) == (
        "CAST-07",
        Decimal("1000.00"),
        "percent",
        Decimal("40.00"),
    )
    assert (first.discount_amount, first.amount, first.balance) == (
        Decimal("400.00"),
        Decimal("600.00"),
        Decimal("600.00"),
    )
    assert (first.ends_on, first.payment_code, first.currency) == (date(2026, 7, 31), "", "PEN")
    assert (first.status, first.import_batch, first.created_by) == (
        Campaign.Status.ACTIVE,
        batch,
        importer,
    )
    second = Campaign.objects.get(customer=jose)
    assert (second.discount_amount, second.amount, second.ends_on) == (
        Decimal("250.50"),
        Decimal("749.50"),
        None,
    )
    assert tags_of(rosa) == tags_of(jose) == [CASTIGADA_TAG]
    entry = Interaction.objects.get(customer=rosa)
    assert entry.payload == {"recovery_campaign": first.pk}
    assert entry.actor == importer
    rosa.refresh_from_db()
    assert rosa.last_interaction_at is None  # a campaign written is not contact with her


def test_the_import_writes_what_the_screen_writes(importer, rosa, jose):
    run(xlsx([HEADER, row(ROSA, code="CAST-A")]), importer)

    make_campaign(
        jose,
        code="CAST-A",
        debt_amount=Decimal("1000"),
        discount_value=Decimal("40"),
        ends_on=date(2026, 7, 31),
    )

    imported = Interaction.objects.get(customer=rosa)
    typed = Interaction.objects.get(customer=jose)
    assert imported.summary == typed.summary
    assert imported.summary.startswith("Campaña de cartera castigada CAST-A: deuda PEN 1")
    assert (imported.kind, imported.direction) == (typed.kind, typed.direction)


def test_a_payment_code_names_the_customers_loan_and_its_currency(importer, rosa, make_active_loan):
    loan = make_active_loan(customer=rosa)
    Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.WRITTEN_OFF)
    # Near what the loan owes (11,347.15): a debt far from it is refused.
    cells = {"debt_amount": Decimal("11000"), "payment_code": loan.payment_code}

    batch = run(xlsx([HEADER, row(ROSA, **cells)]), importer)

    assert batch.created_count == 1
    campaign = Campaign.objects.get()
    assert (campaign.payment_code, campaign.currency) == (loan.payment_code, loan.currency)


def test_the_columns_are_taken_from_the_header_and_the_preview_shows_the_figures(importer, rosa):
    batch = upload(xlsx([HEADER, row(ROSA)]), importer)

    assert batch.mapping == {
        "document_type": 0,
        "document_number": 1,
        "code": 2,
        "debt_amount": 3,
        "discount_type": 4,
        "discount_value": 5,
        "ends_on": 6,
        "payment_code": 7,
    }
    (shown,) = services.preview(batch, batch.mapping)
    assert shown.messages == []
    assert (shown.values["amount"], shown.values["discount_value"]) == ("600.00", "40.00 %")


def test_a_file_longer_than_a_write_batch_keeps_each_row_with_its_customer(importer):
    count = recovery_imports.CHUNK + 7
    Customer.objects.bulk_create(
        Customer(document_number=f"{50_000_000 + n}", first_name=f"Cliente {n}")
        for n in range(count)
    )
    rows = [
        row(f"{50_000_000 + n}", debt_amount=Decimal(1000 + n), ends_on=None) for n in range(count)
    ]

    batch = run(xlsx([HEADER, *rows]), importer)

    assert batch.created_count == count
    last = Campaign.objects.get(customer__document_number=f"{50_000_000 + count - 1}")
    assert last.debt_amount == Decimal(1000 + count - 1)
    assert Customer.objects.filter(tags__name=CASTIGADA_TAG).count() == count
    assert Interaction.objects.filter(summary__startswith="Campaña de cartera").count() == count


# --- Each rule, with its message -----------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (
            {"document_number": "123"},
            "Número de documento «123»: el DNI debe tener exactamente 8 dígitos.",
        ),
        (
            {"document_type": "Licencia"},
            "Tipo de documento «Licencia» desconocido: use DNI, CE, RUC o Pasaporte.",
        ),
        ({"document_number": ""}, "Falta el número de documento."),
        ({"code": ""}, "Falta el ID de campaña."),
        (
            {"code": "C" * 31},
            f"El ID de campaña tiene más de 30 caracteres («{'C' * 31}»).",
        ),
        ({"debt_amount": ""}, "Falta el monto de deuda castigada."),
        (
            {"debt_amount": Decimal("-100")},
            "El monto de deuda castigada no puede ser negativo («-100»).",
        ),
        (
            {"debt_amount": Decimal("0")},
            "El monto de deuda castigada debe ser mayor que cero («0.00»).",
        ),
        (
            {"debt_amount": Decimal("100000000")},
            "El monto de deuda castigada no puede pasar de 99,999,999.99 («100000000.00»).",
        ),
        (
            {"debt_amount": "mil"},
            "El monto de deuda castigada «mil» no es un número válido "
            "(ejemplos: 1234.50, 1234,50).",
        ),
        (
            {"discount_type": "Regalo"},
            "Tipo de descuento «Regalo» desconocido: use Porcentaje (o %, P) o Monto (o $, M).",
        ),
        ({"discount_type": ""}, "Falta el tipo de descuento."),
        ({"discount_value": ""}, "Falta el valor del descuento."),
        (
            {"discount_value": Decimal("-5")},
            "El valor del descuento no puede ser negativo («-5»).",
        ),
        (
            {"discount_value": Decimal("100")},
            "El descuento debe ser menor que el 100 % («100.00 %»).",
        ),
        (
            {"discount_type": "Monto", "discount_value": Decimal("1000")},
            "El descuento (1,000.00) debe ser menor que la deuda (1,000.00).",
        ),
        (
            {"discount_type": "Monto", "discount_value": "40%"},
            "El valor del descuento «40%» es un porcentaje, pero el tipo de descuento es «Monto».",
        ),
        ({"ends_on": date(2026, 6, 14)}, "La fecha de finalización (14/06/2026) ya pasó."),
        (
            {"ends_on": "pronto"},
            "La fecha de finalización «pronto» no es una fecha (ejemplo: 31/12/2025).",
        ),
        (
            {"payment_code": "NO-EXISTE"},
            "No existe un crédito con el código de pago NO-EXISTE.",
        ),
        (
            {"document_number": NEW},
            "No hay un cliente con DNI 47777777: regístrelo, o marque «Crear los clientes que "
            "no estén registrados», y vuelva a subir el archivo.",
        ),
    ],
)
def test_a_bad_row_is_refused_with_what_is_wrong_naming_the_value(importer, rosa, cells, message):
    batch = run(xlsx([HEADER, row(ROSA, **cells)]), importer)

    assert batch.error_preview == [[2, message]]
    assert not Campaign.objects.exists()


def test_a_paid_loan_is_refused_as_the_screen_refuses_it(importer, rosa):
    paid = LoanFactory(customer=rosa, status=Loan.Status.PAID)

    batch = run(xlsx([HEADER, row(ROSA, payment_code=paid.payment_code)]), importer)

    assert batch.error_preview == [
        [2, recovery_services.loan_status_problem(paid.payment_code, Loan.Status.PAID)]
    ]
    assert "estado: Pagado" in batch.error_preview[0][1]
    assert not Campaign.objects.exists()


def test_a_loan_of_another_customer_is_refused(importer, rosa):
    other = LoanFactory()

    batch = run(xlsx([HEADER, row(ROSA, payment_code=other.payment_code)]), importer)

    assert batch.error_preview == [[2, f"El crédito {other.payment_code} no es de este cliente."]]


def test_a_customer_with_an_active_campaign_gets_no_second_one(importer, rosa):
    make_campaign(rosa, code="CAST-2026-06")

    batch = run(xlsx([HEADER, row(ROSA, code="CAST-07")]), importer)

    assert batch.error_preview == [[2, "El cliente ya tiene una campaña activa (CAST-2026-06)."]]
    assert Campaign.objects.filter(customer=rosa).count() == 1


def test_a_customer_gets_each_campaign_once(importer, rosa):
    finished = make_campaign(rosa, code="CAST-07")
    recovery_services.finish_campaign(campaign=finished, actor=None)

    batch = run(xlsx([HEADER, row(ROSA, code="CAST-07")]), importer)

    assert batch.error_preview == [[2, "El cliente ya tuvo la campaña CAST-07."]]


def test_one_file_gives_a_customer_one_campaign_and_a_row_once(importer, rosa, jose):
    rows = [
        HEADER,
        row(ROSA, code="CAST-07"),
        row(ROSA, code="CAST-08"),
        row(JOSE),
        row(JOSE),
    ]

    batch = run(xlsx(rows), importer)

    assert batch.error_preview == [
        [
            3,
            "Otra fila del archivo ya da al cliente DNI 45678912 la campaña CAST-07: un cliente "
            "solo puede tener una campaña activa.",
        ],
        [5, "Fila repetida en el archivo (ya aparece en la línea 4)."],
    ]


def test_figures_the_file_brings_must_be_the_computed_ones(importer, rosa):
    rows = [[*HEADER, "Monto de la campaña", "Saldo"], [*row(ROSA), Decimal("650"), Decimal("600")]]

    batch = run(xlsx(rows), importer)

    assert batch.error_preview == [
        [
            2,
            "El monto de la campaña del archivo (650.00) no es el que resulta de la deuda y el "
            "descuento (600.00).",
        ]
    ]


# --- All or nothing, or the good rows only -------------------------------------------------


def test_a_file_with_a_bad_row_writes_nothing_and_gives_every_bad_row_as_xlsx(importer, rosa, jose):
    rows = [HEADER, row(ROSA), row(JOSE, debt_amount="-1"), row("123")]

    batch = run(xlsx(rows), importer)

    assert (batch.status, batch.is_applied, batch.error_row_count) == (
        ImportBatch.Status.DONE,
        False,
        2,
    )
    assert not Campaign.objects.exists()
    assert tags_of(rosa) == []
    with batch.errors_file.open("rb") as handle:
        sheet = CalamineWorkbook.from_filelike(handle).get_sheet_by_index(0).to_python()
    assert sheet[0] == [*HEADER, "Línea original", "Errores"]
    assert [line[-2:] for line in sheet[1:]] == [
        [3, "El monto de deuda castigada no puede ser negativo («-1»)."],
        [4, "Número de documento «123»: el DNI debe tener exactamente 8 dígitos."],
    ]


def test_skipping_bad_rows_imports_the_good_ones(importer, rosa, jose):
    rows = [HEADER, row(ROSA), row(JOSE, discount_value=Decimal("120"))]

    batch = run(xlsx(rows), importer, skip_invalid=True)

    assert (batch.is_applied, batch.created_count, batch.skipped_count) == (True, 1, 1)
    assert list(Campaign.objects.values_list("customer", flat=True)) == [rosa.pk]
    assert (tags_of(rosa), tags_of(jose)) == ([CASTIGADA_TAG], [])


# --- Customers not registered --------------------------------------------------------------


def test_unknown_customers_are_refused_unless_the_user_chose_to_register_them(importer, rosa):
    rows = [
        [*HEADER, "Nombres", "Apellidos", "Celular", "Correo"],
        [*row(NEW), "Lucía", "Quispe Mamani", "987654321", "lucia@correo.pe"],
    ]

    refused = run(xlsx(rows), importer)
    assert refused.options == {"create_customers": False}
    assert not Customer.objects.filter(document_number=NEW).exists()

    batch = run(xlsx(rows), importer, options={"create_customers": True})

    assert (batch.is_applied, batch.created_count) == (True, 1)
    lucia = Customer.objects.get(document_number=NEW)
    assert (lucia.first_name, lucia.last_name, str(lucia.phone), lucia.email) == (
        "Lucía",
        "Quispe Mamani",
        "+51987654321",
        "lucia@correo.pe",
    )
    assert "lucia quispe mamani" in lucia.search_text
    assert tags_of(lucia) == [CASTIGADA_TAG]
    summaries = list(
        Interaction.objects.filter(customer=lucia).order_by("pk").values_list("summary", flat=True)
    )
    assert summaries[0] == f"Cliente registrado por la importación #{batch.pk} (campanas.xlsx)"
    assert summaries[1].startswith("Campaña de cartera castigada CAST-07")


def test_a_customer_to_register_needs_names_and_valid_contact_data(importer):
    rows = [
        [*HEADER, "Nombres", "Celular"],
        [*row(NEW), "", ""],
        [*row("48888888"), "Ana", "12"],
    ]

    batch = run(xlsx(rows), importer, options={"create_customers": True})

    assert batch.error_preview == [
        [
            2,
            "No hay un cliente con DNI 47777777 y la fila no trae sus nombres para registrarlo.",
        ],
        [3, "El celular «12» no es un número válido."],
    ]


def test_an_existing_customer_keeps_their_data(importer, rosa):
    rows = [[*HEADER, "Nombres", "Apellidos"], [*row(ROSA), "Rosalía", "Otra"]]

    run(xlsx(rows), importer, options={"create_customers": True})

    rosa.refresh_from_db()
    assert (rosa.first_name, rosa.last_name) == ("Rosa", "Huamán")


# --- Formats -------------------------------------------------------------------------------


def test_spanish_excel_csv_with_semicolons_decimal_commas_and_windows_1252(importer, rosa, jose):
    rows = [
        [
            "Tipo de documento",
            "Número de documento",
            "ID de campaña",
            "Deuda castigada",
            "Tipo de descuento",
            "Valor del descuento",
            "Fecha de finalización",
        ],
        ["DNI", ROSA, "CAST-Ñ", "1.234,50", "%", "12,5", "31/07/2026"],
        ["dni", JOSE, "CAST-Ñ", "980,10", "monto", "80,10", ""],
    ]

    batch = run(csv_bytes(rows), importer, name="campañas.csv")

    assert batch.created_count == 2
    first = Campaign.objects.get(customer=rosa)
    assert (first.code, first.debt_amount, first.discount_value, first.amount) == (
        "CAST-Ñ",
        Decimal("1234.50"),
        Decimal("12.50"),
        Decimal("1080.19"),
    )
    assert Campaign.objects.get(customer=jose).amount == Decimal("900.00")


def test_utf8_csv_with_bom(importer, rosa):
    rows = [HEADER, ["DNI", ROSA, "CAST-Ü", "1000,00", "Porcentaje", "40", ""]]

    batch = run(csv_bytes(rows, encoding="utf-8-sig"), importer, name="campanas.csv")

    assert batch.created_count == 1
    assert Campaign.objects.get().code == "CAST-Ü"


def test_excel_97_xls(importer, rosa):
    CustomerFactory(document_type=Customer.DocumentType.CE, document_number="001234567")

    batch = run((FIXTURES / "campanas.xls").read_bytes(), importer, name="campanas.xls")

    assert batch.created_count == 2
    campaign = Campaign.objects.get(customer=rosa)
    assert (campaign.debt_amount, campaign.amount, campaign.ends_on) == (
        Decimal("1500.50"),
        Decimal("1200.40"),
        date(2026, 12, 31),
    )
    assert Campaign.objects.get(customer__document_type="ce").amount == Decimal("700.00")


@pytest.mark.parametrize("spelling", ["P", "%", "porcentaje", "PORCENTÁJE", "Porcentaje."])
def test_a_percentage_may_be_spelled_several_ways(importer, rosa, spelling):
    batch = run(xlsx([HEADER, row(ROSA, discount_type=spelling)]), importer)

    assert Campaign.objects.get(import_batch=batch).discount_type == "percent"


@pytest.mark.parametrize("spelling", ["M", "$", "monto", "MONTO"])
def test_an_amount_may_be_spelled_several_ways(importer, rosa, spelling):
    batch = run(xlsx([HEADER, row(ROSA, discount_type=spelling)]), importer)

    assert Campaign.objects.get(import_batch=batch).discount_type == "amount"


@pytest.mark.parametrize(
    "spelling",
    [
        ROSA.translate(str.maketrans("0123456789", "０１２３４５６７８９")),  # full-width
        ROSA.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),  # Arabic-Indic
        f"{ROSA[:2]}.{ROSA[2:5]}.{ROSA[5:]}",
    ],
)
def test_a_document_typed_with_other_digits_finds_its_customer(importer, rosa, spelling):
    # Every other path reads these digits as ASCII; the import refused them as not 8 digits.
    batch = run(xlsx([HEADER, row(spelling)]), importer)

    assert batch.error_row_count == 0, batch.error_preview
    assert Campaign.objects.get(import_batch=batch).customer == rosa


# --- Undo ----------------------------------------------------------------------------------


def test_undo_removes_the_campaigns_their_tag_and_the_customers_it_registered(importer, rosa):
    rows = [[*HEADER, "Nombres"], [*row(ROSA), ""], [*row(NEW), "Lucía"]]
    batch = run(xlsx(rows), importer, options={"create_customers": True})
    assert batch.created_count == 2

    services.undo_import(batch=batch, actor=importer)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.UNDONE
    assert not Campaign.objects.exists()
    assert not Customer.objects.filter(document_number=NEW).exists()
    assert tags_of(rosa) == []
    entry = Interaction.objects.filter(customer=rosa).order_by("-pk").first()
    assert entry.summary == f"Se deshizo la importación #{batch.pk}: campaña CAST-07 eliminada"


def test_undo_is_refused_once_a_customer_it_registered_has_other_activity(importer):
    rows = [[*HEADER, "Nombres"], [*row(NEW), "Lucía"]]
    batch = run(xlsx(rows), importer, options={"create_customers": True})
    InteractionFactory(customer=Customer.objects.get(document_number=NEW))

    assert services.undo_blockers(batch) == [
        "Línea 2: el cliente que registró la importación tiene actividad después de ella."
    ]


def test_undo_is_refused_once_a_campaign_was_paid(importer, rosa):
    batch = run(xlsx([HEADER, row(ROSA)]), importer)
    campaign = Campaign.objects.get()
    recovery_services.apply_payment(
        campaign_id=campaign.pk,
        amount=Decimal("100"),
        received_on=TODAY,
        source="cash",
        actor=None,
    )

    assert services.undo_blockers(batch) == ["La campaña CAST-07 de DNI 45678912 tiene pagos."]
    with pytest.raises(ValidationError):
        services.undo_import(batch=batch, actor=importer)
    assert Campaign.objects.count() == 1


def test_undo_is_refused_once_a_campaign_is_no_longer_active(importer, rosa):
    batch = run(xlsx([HEADER, row(ROSA)]), importer)
    recovery_services.finish_campaign(campaign=Campaign.objects.get(), actor=None)

    assert services.undo_blockers(batch) == [
        "La campaña CAST-07 de DNI 45678912 ya no está activa (finalizada)."
    ]


# --- Screens -------------------------------------------------------------------------------


def test_the_template_is_served_to_who_may_make_campaigns(client, supervisor, asesor):
    url = reverse("recovery:import_template")
    assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(asesor)
    assert client.get(url).status_code == 403

    client.force_login(supervisor)
    response = client.get(url)

    assert response.status_code == 200
    assert "plantilla" in response["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Campañas", "Instrucciones"]
    rows = list(book["Campañas"].values)
    assert rows[0][:8] == tuple(HEADER)
    assert rows[0][8:] == ("Moneda", "Nombres", "Apellidos", "Celular", "Correo electrónico")
    assert len(rows) == 3
    notes = [line[0] for line in book["Instrucciones"].values]
    assert notes[0] == "Columna" and "Valor del descuento" in notes


def test_the_template_uploaded_back_maps_every_column(client, supervisor):
    client.force_login(supervisor)
    content = client.get(reverse("recovery:import_template")).content

    batch = upload(content, supervisor)

    assert set(batch.mapping) == {
        "document_type",
        "document_number",
        "code",
        "debt_amount",
        "discount_type",
        "discount_value",
        "ends_on",
        "payment_code",
        "currency",
        "first_name",
        "last_name",
        "phone",
        "email",
    }


def test_the_upload_page_offers_the_template_and_the_columns_page_the_option(
    client, supervisor, rosa, django_capture_on_commit_callbacks
):
    client.force_login(supervisor)
    page = client.get(reverse("crm:import_new")).content.decode()
    assert reverse("recovery:import_template") in page
    response = client.post(
        reverse("crm:import_new"),
        {"kind": KIND, "file": SimpleUploadedFile("c.xlsx", xlsx([HEADER, row(ROSA)]))},
    )
    batch = ImportBatch.objects.get()
    columns = client.get(response.url).content.decode()
    assert "Crear los clientes que no estén registrados" in columns

    fields = {f"col_{name}": str(index) for name, index in batch.mapping.items()}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(response.url, {**fields, "opt_create_customers": "on", "import": "1"})

    batch.refresh_from_db()
    assert batch.options == {"create_customers": True}
    assert (batch.status, batch.created_count) == (ImportBatch.Status.DONE, 1)
    detail = " ".join(client.get(batch.get_absolute_url()).content.decode().split())
    assert 'Crear los clientes que no estén registrados</dt><dd class="col-sm-9">sí' in detail


# --- Two uploads at once -------------------------------------------------------------------


def test_two_uploads_started_together_give_a_customer_one_campaign(transactional_db):
    """Two uploads for the same customer released at once, on any database: however their
    runs interleave (validated after the other wrote, or refused by the constraint), one
    is applied and the other writes nothing."""
    user = UserFactory(username="importadora")
    rosa = CustomerFactory(document_number=ROSA)
    Tag.objects.get_or_create(name=CASTIGADA_TAG)
    batches = [upload(xlsx([HEADER, row(ROSA, code=code)]), user) for code in ("A", "B")]
    start, errors = threading.Barrier(2), []

    def start_import(batch):
        try:
            start.wait(timeout=30)
            services.queue_import(
                batch=batch, mapping=batch.mapping, skip_invalid=False, actor=user
            )
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(repr(exc))
        finally:
            connection.close()

    runners = [threading.Thread(target=start_import, args=(b,)) for b in batches]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=120)

    assert errors == []
    applied = ImportBatch.objects.filter(pk__in=[b.pk for b in batches], is_applied=True)
    assert applied.count() == 1
    assert Campaign.objects.filter(customer=rosa).count() == 1
    assert tags_of(rosa) == [CASTIGADA_TAG]


# The constraint's own path: both runs must have validated before either writes, which
# only PostgreSQL lets a test arrange (a table lock, and pg_stat_activity to see both
# waiting); SQLite runs one write transaction at a time, so the test above covers it there.
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite runs one write transaction at a time"
)
def test_two_uploads_at_once_leave_a_customer_one_active_campaign(transactional_db):
    """Both runs validate while neither has written (a lock on the campaigns' table holds
    their writes), so both see no active campaign; the database's constraint decides."""
    user = UserFactory(username="importadora")
    rosa = CustomerFactory(document_number=ROSA)
    Tag.objects.get_or_create(name=CASTIGADA_TAG)
    batches = [upload(xlsx([HEADER, row(ROSA, code=code)]), user) for code in ("A", "B")]
    locked, release = threading.Event(), threading.Event()
    errors = []

    def hold_the_table():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("LOCK TABLE recovery_campaign IN SHARE ROW EXCLUSIVE MODE")
                locked.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    def start_import(batch):
        # As the columns page does: the run starts once the queueing commits (here, with
        # Celery eager, in this thread).
        try:
            services.queue_import(
                batch=batch, mapping=batch.mapping, skip_invalid=False, actor=user
            )
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(repr(exc))
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_table)
    holder.start()
    assert locked.wait(timeout=30)
    runners = [threading.Thread(target=start_import, args=(b,)) for b in batches]
    for runner in runners:
        runner.start()
    waiting = 0
    for _poll in range(600):  # both runs waiting on a lock: they validated and try to write
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            (waiting,) = cursor.fetchone()
        if waiting >= 2:
            break
        time.sleep(0.05)
    release.set()
    for thread in [holder, *runners]:
        thread.join(timeout=60)

    assert (errors, waiting) == ([], 2)
    outcomes = sorted(
        (b.status, b.is_applied, b.failure)
        for b in ImportBatch.objects.filter(pk__in=[b.pk for b in batches])
    )
    assert outcomes == [
        (ImportBatch.Status.DONE, True, ""),
        (
            ImportBatch.Status.FAILED,
            False,
            "Los datos cambiaron mientras se importaba el archivo; vuelva a subirlo.",
        ),
    ]
    assert Campaign.objects.filter(customer=rosa, status=Campaign.Status.ACTIVE).count() == 1
    assert tags_of(rosa) == [CASTIGADA_TAG]


# --- The benchmark -------------------------------------------------------------------------


def test_the_benchmark_runs_small_and_leaves_nothing_behind(transactional_db):
    out = io.StringIO()

    call_command("bench_campaign_import", rows=40, stdout=out)

    text = out.getvalue()
    assert "40 campañas creadas, 0 filas con errores" in text
    assert "importar / leer y copiar" in text and "ru_maxrss" in text
    assert not Campaign.objects.exists()
    assert not Customer.objects.exists()
    assert not ImportBatch.objects.exists()
