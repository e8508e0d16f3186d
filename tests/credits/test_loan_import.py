"""Loans imported from files: schedules (ours or theirs), payment histories applied in date
order and reconciled to the cent, all-or-nothing, re-import, undo, every check."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from collections_app.strategies import segments
from credits import selectors
from credits.models import Installment, LedgerEntry, Loan, Payment, PaymentAllocation
from crm.imports import services
from crm.models import Customer, ImportBatch, Interaction
from tests.credits.conftest import TODAY, at, pay
from tests.factories import BranchFactory, CustomerFactory, LoanProductFactory, UserFactory

pytestmark = pytest.mark.django_db

LOANS = [
    "Tipo doc",
    "Documento",
    "Código de pago",
    "Producto",
    "Fecha desembolso",
    "Capital",
    "Tasa",
    "Plazo",
    "Frecuencia",
    "Saldo",
]
INSTALLMENTS = ["Código de pago", "Cuota", "Vencimiento", "Capital", "Interés"]
PAYMENTS = ["Código de pago", "Fecha", "Monto", "Referencia"]


@pytest.fixture(autouse=True)
def today():
    with at(TODAY):
        yield


@pytest.fixture
def book(db):
    product = LoanProductFactory(name="Vehicular", annual_rate=Decimal("24.00"))
    marta = CustomerFactory(document_number="41234567")
    jean = CustomerFactory(document_number="42345678")
    return product, marta, jean


def csv_bytes(rows, delimiter=",", encoding="utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode(encoding)


def upload(files: dict[str, tuple[str, bytes]], actor) -> ImportBatch:
    name, content = files["main"]
    parts = {
        part: SimpleUploadedFile(*files[part])
        for part in ("installments", "payments")
        if part in files
    }
    return services.upload(
        kind="loans", file=SimpleUploadedFile(name, content), actor=actor, parts=parts
    )


def run(files, actor, *, skip_invalid=False) -> ImportBatch:
    batch = upload(files, actor)
    services.queue_import(
        batch=batch, mapping=batch.mapping, skip_invalid=skip_invalid, actor=actor
    )
    services.run_import(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def loan_row(code="PX-0001", document="41234567", principal="1200.00", term=12, balance=""):
    return [
        "DNI",
        document,
        code,
        "Vehicular",
        "15/01/2026",
        principal,
        "24",
        term,
        "mensual",
        balance,
    ]


def pending(loan: Loan) -> Decimal:
    return selectors.loan_balance(loan).total_due


def test_loans_with_their_payment_history_equal_the_same_payments_applied_by_the_services(
    book, supervisor
):
    # The same loan twice: once imported with its history, once disbursed and paid here.
    files = {
        "main": ("creditos.csv", csv_bytes([LOANS, loan_row()])),
        "payments": (
            "pagos.csv",
            csv_bytes(
                [
                    PAYMENTS,
                    ["PX-0001", "20/03/2026", "150.00", "OP-2"],
                    ["PX-0001", "14/02/2026", "113.47", "OP-1"],
                    ["PX-0001", "10/05/2026", "80.00", ""],
                ]
            ),
        ),
    }
    batch = run(files, supervisor)

    assert batch.status == ImportBatch.Status.DONE and batch.is_applied, batch.error_preview
    loan = Loan.objects.get(payment_code="PX-0001")
    assert loan.status == Loan.Status.ACTIVE
    assert loan.schedule_source == Loan.ScheduleSource.ENGINE
    assert [(p.received_on, p.reference) for p in loan.payments.order_by("id")] == [
        (date(2026, 2, 14), "importado: OP-1"),
        (date(2026, 3, 20), "importado: OP-2"),
        (date(2026, 5, 10), "importado"),
    ]

    from datetime import datetime, time

    from django.utils import timezone

    from credits.services import loans as loan_services
    from tests.factories import LoanFactory

    twin = LoanFactory(
        customer=loan.customer,
        product=loan.product,
        principal=Decimal("1200.00"),
        term=12,
        annual_rate=Decimal("24"),
        start_date=date(2026, 1, 15),
        first_due_date=loan.first_due_date,
        status=Loan.Status.READY_TO_DISBURSE,
    )
    loan_services.disburse(
        loan=twin,
        actor=None,
        disbursed_at=timezone.make_aware(datetime.combine(date(2026, 1, 15), time(12))),
    )
    for day, amount in (
        (date(2026, 2, 14), "113.47"),
        (date(2026, 3, 20), "150.00"),
        (date(2026, 5, 10), "80.00"),
    ):
        pay(twin, amount, day)

    def state(of: Loan):
        return [
            (
                i.number,
                i.due_date,
                i.principal_due,
                i.interest_due,
                i.principal_paid,
                i.interest_paid,
                i.paid_on,
            )
            for i in of.installments.order_by("number")
        ]

    assert state(loan) == state(twin)
    assert pending(loan) == pending(twin)
    # The ledger recomputes the balance: owed minus paid over every entry.
    totals = LedgerEntry.objects.filter(loan=loan).aggregate(owed=Sum("owed"), paid=Sum("paid"))
    assert totals["owed"] - totals["paid"] == pending(loan)
    assert Interaction.objects.filter(
        customer=loan.customer, summary__startswith="Crédito PX-0001 importado"
    ).exists()


def test_the_file_balance_must_match_to_the_cent_or_nothing_is_written(book, supervisor):
    rows = [LOANS, loan_row(balance=""), loan_row(code="PX-0002", document="42345678")]
    payments = [PAYMENTS, ["PX-0001", "14/02/2026", "113.47", ""]]
    # Find the right balance, then report one cent off on the second loan.
    probe = run(
        {"main": ("a.csv", csv_bytes(rows[:2])), "payments": ("p.csv", csv_bytes(payments))},
        supervisor,
    )
    right = pending(Loan.objects.get(payment_code="PX-0001"))
    services.undo_import(batch=probe, actor=supervisor)

    rows[1][-1] = f"{right}"
    rows[2][-1] = "1345.01"
    batch = run(
        {"main": ("b.csv", csv_bytes(rows)), "payments": ("p.csv", csv_bytes(payments))}, supervisor
    )

    assert not batch.is_applied
    assert not Loan.objects.filter(payment_code__in=["PX-0001", "PX-0002"]).exists()
    assert batch.error_row_count == 1
    line, message = batch.error_preview[0]
    ours = pending_for_new(book)
    assert line == 3
    assert "1.345,01" in message or "1,345.01" in message or "1345.01" in message
    assert "No cuadra" in message and ours in message
    # The row the writing refused goes to the errors file with the cells the file had.
    with batch.errors_file.open("rb") as handle:
        sheet = list(openpyxl.load_workbook(handle, read_only=True).active.values)
    assert len(sheet) == 2
    assert sheet[1][: len(rows[2])] == tuple(str(value) for value in rows[2])
    assert sheet[1][-2:] == (3, message)

    skipped = run(
        {"main": ("b.csv", csv_bytes(rows)), "payments": ("p.csv", csv_bytes(payments))},
        supervisor,
        skip_invalid=True,
    )
    assert skipped.is_applied and skipped.created_count == 1 and skipped.skipped_count == 1
    assert pending(Loan.objects.get(payment_code="PX-0001")) == right


def pending_for_new(book) -> str:
    """The balance of a 1,200 loan at 24 % in 12 months with nothing paid, as messages show it."""
    from credits.services import loans as loan_services
    from lib import money

    product = book[0]
    loan = Loan(
        principal=Decimal("1200.00"),
        annual_rate=Decimal("24"),
        term=12,
        method=product.method,
        frequency=product.frequency,
        fee_type=product.fee_type,
        fee_value=product.fee_value,
        first_due_date=date(2026, 2, 15),
    )
    return money.format_money(
        sum((r.total for r in loan_services.schedule_for(loan).rows), Decimal(0))
    )


def test_the_source_schedule_is_kept_and_marked_when_it_differs(client, book, supervisor):
    installments = [INSTALLMENTS] + [
        ["PX-0001", n, f"05/{n + 1:02d}/2026", "400.00", "10.00"] for n in (1, 2, 3)
    ]
    rows = [
        LOANS,
        ["DNI", "41234567", "PX-0001", "Vehicular", "15/01/2026", "1200", "24", 3, "", "820,00"],
    ]
    payments = [PAYMENTS, ["PX-0001", "05/02/2026", "410", ""]]
    batch = run(
        {
            "main": ("c.csv", csv_bytes(rows)),
            "installments": ("cuotas.csv", csv_bytes(installments)),
            "payments": ("pagos.csv", csv_bytes(payments)),
        },
        supervisor,
    )

    assert batch.is_applied, batch.error_preview
    loan = Loan.objects.get(payment_code="PX-0001")
    assert loan.schedule_source == Loan.ScheduleSource.IMPORTED
    assert [(i.due_date, i.principal_due, i.interest_due) for i in loan.installments.all()] == [
        (date(2026, 2, 5), Decimal("400.00"), Decimal("10.00")),
        (date(2026, 3, 5), Decimal("400.00"), Decimal("10.00")),
        (date(2026, 4, 5), Decimal("400.00"), Decimal("10.00")),
    ]
    assert pending(loan) == Decimal("820.00")
    client.force_login(supervisor)
    page = client.get(loan.get_absolute_url()).content.decode()
    assert "Cronograma importado" in page and "PX-0001" in page


def test_a_workbook_brings_its_installments_and_payments_as_sheets(book, supervisor):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Créditos"
    workbook.active.append(LOANS)
    workbook.active.append(
        ["DNI", "41234567", "PX-0001", "Vehicular", "15/01/2026", 300, 0, 3, "mensual", 0]
    )
    sheet = workbook.create_sheet("Cuotas")
    sheet.append(INSTALLMENTS)
    for n in (1, 2, 3):
        sheet.append(["PX-0001", n, date(2026, 1 + n, 15), 100, 0])
    sheet = workbook.create_sheet("Pagos")
    sheet.append(PAYMENTS)
    sheet.append(["PX-0001", date(2026, 2, 15), 200, "A"])
    sheet.append(["PX-0001", date(2026, 3, 1), 100, "B"])
    out = io.BytesIO()
    workbook.save(out)

    batch = run({"main": ("libro.xlsx", out.getvalue())}, supervisor)

    assert batch.parts.keys() == {"installments", "payments"}
    assert batch.is_applied, batch.error_preview
    loan = Loan.objects.get(payment_code="PX-0001")
    # Paid ahead and in full: the loan is paid, on the day of its last payment.
    assert loan.status == Loan.Status.PAID
    # Their schedule is the one our engine makes for these terms: nothing to mark.
    assert loan.schedule_source == Loan.ScheduleSource.ENGINE
    assert pending(loan) == 0


def test_spanish_excel_csv_with_semicolons_decimal_commas_and_windows_1252(book, supervisor):
    rows = [
        ["Documento", "Código de pago", "Producto", "Fecha de desembolso", "Capital", "Plazo"],
        ["41234567", "PÑ-1", "Vehicular", "15/01/2026", "1.200,00", "12"],
    ]
    batch = run({"main": ("creditos.csv", csv_bytes(rows, ";", "cp1252"))}, supervisor)

    # "Ñ" is no character of a payment code.
    assert not batch.is_applied
    assert "código de pago «PÑ-1» no es válido" in batch.error_preview[0][1]

    rows[1][1] = "PN-1"
    batch = run({"main": ("creditos.csv", csv_bytes(rows, ";", "cp1252"))}, supervisor)
    assert batch.is_applied, batch.error_preview
    assert Loan.objects.get(payment_code="PN-1").principal == Decimal("1200.00")


def test_every_row_is_checked_with_its_line_and_reason(book, supervisor):
    rows = [
        LOANS,
        loan_row(code="A-1", document="49999999"),
        ["DNI", "41234567", "A-2", "Hipotecario", "15/01/2026", "1200", "24", 12, "", ""],
        ["DNI", "41234567", "A-3", "Vehicular", "31/02/2026", "-5", "5000", 0, "diario", ""],
        loan_row(code="A-4"),
        loan_row(code="A-4"),
        loan_row(code="A-5"),
    ]
    payments = [PAYMENTS, ["A-5", "01/01/2026", "10", ""], ["A-5", "02/02/2026", "0", ""]]
    batch = run(
        {"main": ("e.csv", csv_bytes(rows)), "payments": ("p.csv", csv_bytes(payments))},
        supervisor,
    )

    errors = dict(batch.error_preview)
    assert not batch.is_applied and not Loan.objects.exists()
    assert "No hay un cliente con DNI 49999999" in errors[2]
    assert "El producto «Hipotecario» no está registrado." in errors[3]
    assert "no es una fecha" in errors[4]
    assert "no puede ser negativo" in errors[4]
    assert "mayor que el máximo" in errors[4]
    assert "al menos una cuota" in errors[4]
    assert "Frecuencia «diario» desconocida" in errors[4]
    assert "Fila repetida en el archivo (ya aparece en la línea 5)" in errors[6]
    assert "Pagos, línea 3: El monto debe ser mayor que cero." in errors[7]


def test_payments_or_installments_of_a_code_not_in_the_file_fail_the_whole_import(book, supervisor):
    batch = run(
        {
            "main": ("f.csv", csv_bytes([LOANS, loan_row()])),
            "payments": ("p.csv", csv_bytes([PAYMENTS, ["OTRO-9", "01/03/2026", "10", ""]])),
        },
        supervisor,
    )

    assert batch.status == ImportBatch.Status.FAILED
    assert "«OTRO-9» tiene cuotas o pagos, pero no está en el archivo de créditos" in batch.failure
    assert not Loan.objects.exists()


def test_installments_that_do_not_add_up_are_refused(book, supervisor):
    installments = [
        INSTALLMENTS,
        ["PX-0001", 1, "15/02/2026", "500", "10"],
        ["PX-0001", 3, "15/03/2026", "500", "10"],
    ]
    rows = [
        LOANS,
        ["DNI", "41234567", "PX-0001", "Vehicular", "15/01/2026", "1200", "24", 2, "", ""],
    ]
    batch = run(
        {"main": ("g.csv", csv_bytes(rows)), "installments": ("c.csv", csv_bytes(installments))},
        supervisor,
    )
    assert "numerarse de 1 en adelante" in batch.error_preview[0][1]

    installments[2][1] = 2
    batch = run(
        {"main": ("g.csv", csv_bytes(rows)), "installments": ("c.csv", csv_bytes(installments))},
        supervisor,
    )
    assert "El capital de las cuotas suma" in batch.error_preview[0][1]


def test_importing_the_same_files_again_changes_nothing(book, supervisor):
    files = {
        "main": (
            "h.csv",
            csv_bytes([LOANS, loan_row(), loan_row(code="PX-0002", document="42345678")]),
        ),
        "payments": ("p.csv", csv_bytes([PAYMENTS, ["PX-0001", "14/02/2026", "113.47", ""]])),
    }
    first = run(files, supervisor)
    counts = (
        Loan.objects.count(),
        Installment.objects.count(),
        Payment.objects.count(),
        LedgerEntry.objects.count(),
    )

    again = run(files, supervisor)

    assert first.created_count == 2
    assert again.is_applied and again.created_count == 0 and again.unchanged_count == 2
    assert counts == (
        Loan.objects.count(),
        Installment.objects.count(),
        Payment.objects.count(),
        LedgerEntry.objects.count(),
    )


def test_an_imported_book_is_not_contact_so_its_debtors_enter_the_no_contact_segments(
    book, supervisor
):
    """The book imported on the first day must not empty "sin contacto en N días"."""
    _product, marta, jean = book
    called = timezone.now() - timedelta(days=40)
    Customer.objects.filter(pk=marta.pk).update(last_interaction_at=called)
    files = {
        "main": (
            "c.csv",
            csv_bytes([LOANS, loan_row(), loan_row(code="PX-0002", document="42345678")]),
        ),
        "payments": ("p.csv", csv_bytes([PAYMENTS, ["PX-0001", "14/02/2026", "113.47", ""]])),
    }

    assert run(files, supervisor).created_count == 2

    marta.refresh_from_db()
    jean.refresh_from_db()
    assert (marta.last_interaction_at, jean.last_interaction_at) == (called, None)
    assert Interaction.objects.filter(customer=jean).exists()  # on the timeline all the same
    not_contacted = segments.customers(segments.Rules(no_contact_days=30), TODAY)
    assert set(not_contacted) == {marta, jean}


def test_a_code_already_used_with_other_data_is_an_error(book, supervisor):
    run({"main": ("i.csv", csv_bytes([LOANS, loan_row()]))}, supervisor)

    batch = run({"main": ("j.csv", csv_bytes([LOANS, loan_row(principal="1300")]))}, supervisor)

    assert "ya es de otro crédito, con otros datos" in batch.error_preview[0][1]


def test_undo_removes_the_loans_until_something_happens_to_one_of_them(book, supervisor):
    files = {
        "main": (
            "k.csv",
            csv_bytes([LOANS, loan_row(), loan_row(code="PX-0002", document="42345678")]),
        ),
        "payments": ("p.csv", csv_bytes([PAYMENTS, ["PX-0001", "14/02/2026", "113.47", ""]])),
    }
    batch = run(files, supervisor)
    assert services.undo_blockers(batch) == []
    services.undo_import(batch=batch, actor=supervisor)
    assert not Loan.objects.exists() and not Payment.objects.exists()
    assert not PaymentAllocation.objects.exists() and not LedgerEntry.objects.exists()

    again = run(files, supervisor)
    pay(Loan.objects.get(payment_code="PX-0002"), "10.00", TODAY)

    blockers = services.undo_blockers(again)
    assert blockers == ["Línea 3: el crédito PX-0002 tuvo movimientos después de la importación."]


def test_upload_both_tables_map_and_import_on_the_screens(
    client, book, supervisor, django_capture_on_commit_callbacks
):
    client.force_login(supervisor)
    response = client.post(
        reverse("crm:import_new"),
        {
            "kind": "loans",
            "file": SimpleUploadedFile("creditos.csv", csv_bytes([LOANS, loan_row()])),
            "part_loans_payments": SimpleUploadedFile(
                "pagos.csv", csv_bytes([PAYMENTS, ["PX-0001", "14/02/2026", "113.47", ""]])
            ),
        },
    )
    batch = ImportBatch.objects.get()
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(reverse("crm:import_columns", args=[batch.pk]))
    assert "Pagos" in page.content.decode() and "pagos.csv" in page.content.decode()
    form = {f"col_{k}": v for k, v in batch.mapping.items()}
    form.update({f"payments__{k}": v for k, v in batch.parts["payments"]["mapping"].items()})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("crm:import_columns", args=[batch.pk]), {**form, "import": "1"}
        )
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE and batch.created_count == 1, batch.failure
    assert Loan.objects.get(payment_code="PX-0001").payments.count() == 1


# An imported loan takes its customer's advisor and branch only while that advisor is active
# with the role and that branch is active (as `credits.services.loans.create_loan` does).
def test_an_imported_loan_takes_no_advisor_or_branch_that_left(book, supervisor, asesor):
    _product, marta, jean = book
    luis = UserFactory(username="lrojas", role="Asesor", is_active=False)
    trujillo = BranchFactory(name="Trujillo", code="tru", is_active=False)
    marta.advisor, marta.branch = luis, trujillo
    marta.save()
    jean.advisor = asesor
    jean.save()
    files = {
        "main": (
            "creditos.csv",
            csv_bytes([LOANS, loan_row(), loan_row(code="PX-0002", document="42345678")]),
        )
    }

    run(files, supervisor)

    gone = Loan.objects.get(payment_code="PX-0001")
    kept = Loan.objects.get(payment_code="PX-0002")
    assert (gone.advisor, gone.branch) == (None, None)
    assert (kept.advisor, kept.branch) == (asesor, jean.branch)
