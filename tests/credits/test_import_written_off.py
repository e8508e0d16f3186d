"""Written-off loans (*castigados*) from the book import: the «Fecha de castigo» column, each
of its rules with its line, the loan stored as `loans.write_off` leaves one, named by a
recovery campaign afterwards, re-imports and undo.

The clock stays on TODAY (15 June 2026)."""

import csv
import io
from datetime import date, datetime, time
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from collections_app.models import PaymentPromise
from credits import selectors
from credits.models import Installment, LedgerEntry, Loan, Payment
from credits.services import loans as loan_services
from crm.imports import services
from crm.models import ImportBatch, Interaction
from recovery import services as recovery_services
from recovery.models import Campaign
from tests.credits.conftest import TODAY, at, pay
from tests.factories import CustomerFactory, LoanFactory, LoanProductFactory

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
    "Fecha_castigo",
]
PAYMENTS = ["Código de pago", "Fecha", "Monto", "Referencia"]
# Before the second installment falls due (15 March): no late interest on the twin.
PAID = [["PX-0001", "14/02/2026", "113.47", "OP-1"]]


@pytest.fixture(autouse=True)
def today():
    with at(TODAY):
        yield


@pytest.fixture
def book(db):
    product = LoanProductFactory(
        name="Vehicular", annual_rate=Decimal("24.00"), late_annual_rate=Decimal("12.00")
    )
    marta = CustomerFactory(document_number="41234567")
    jean = CustomerFactory(document_number="42345678")
    return product, marta, jean


def csv_bytes(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def loan_row(code="PX-0001", document="41234567", written_off="10/04/2026", start="15/01/2026"):
    return ["DNI", document, code, "Vehicular", start, "1200.00", "24", 12, "mensual", written_off]


def upload(rows, actor, payments=None) -> ImportBatch:
    parts = {}
    if payments:
        parts["payments"] = SimpleUploadedFile("pagos.csv", csv_bytes([PAYMENTS, *payments]))
    return services.upload(
        kind="loans",
        file=SimpleUploadedFile("creditos.csv", csv_bytes([LOANS, *rows])),
        actor=actor,
        parts=parts,
    )


def run(rows, actor, payments=None, *, skip_invalid=False) -> ImportBatch:
    batch = upload(rows, actor, payments)
    services.queue_import(
        batch=batch, mapping=batch.mapping, skip_invalid=skip_invalid, actor=actor
    )
    services.run_import(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def pending(loan: Loan) -> Decimal:
    return selectors.loan_balance(loan).total_due


def kinds(loan: Loan) -> list[str]:
    return list(LedgerEntry.objects.filter(loan=loan).order_by("id").values_list("kind", flat=True))


def counts() -> tuple[int, ...]:
    return (
        Loan.objects.count(),
        Installment.objects.count(),
        Payment.objects.count(),
        LedgerEntry.objects.count(),
        Interaction.objects.count(),
    )


def test_the_column_is_found_by_its_usual_names_and_shown_in_the_preview(book, supervisor):
    batch = upload([loan_row()], supervisor)

    (shown,) = services.preview(batch, batch.mapping)

    assert batch.mapping["written_off_on"] == LOANS.index("Fecha_castigo")
    assert shown.messages == []
    assert shown.values["written_off_on"] == "10/04/2026"


def test_the_columns_page_offers_the_field_and_shows_the_day(book, client, supervisor):
    batch = upload([loan_row()], supervisor)
    client.force_login(supervisor)

    response = client.get(reverse("crm:import_columns", args=[batch.pk]))

    assertContains(response, "Fecha de castigo")
    assertContains(response, "<td>10/04/2026</td>", html=False)


def test_an_imported_written_off_loan_equals_one_written_off_by_the_service(book, supervisor):
    batch = run([loan_row()], supervisor, PAID)

    assert batch.is_applied and batch.created_count == 1, batch.error_preview
    loan = Loan.objects.get(payment_code="PX-0001")
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
    pay(twin, "113.47", date(2026, 2, 14))
    loan_services.write_off(loan=twin, actor=supervisor, reason="Incobrable")
    twin.refresh_from_db()

    assert loan.status == twin.status == Loan.Status.WRITTEN_OFF
    assert kinds(loan) == kinds(twin)
    assert kinds(loan)[-2:] == [LedgerEntry.Kind.WRITE_OFF, LedgerEntry.Kind.STATUS]
    # It still owes its balance, and the ledger recomputes it.
    assert pending(loan) == pending(twin) > 0
    totals = LedgerEntry.objects.filter(loan=loan).aggregate(owed=Sum("owed"), paid=Sum("paid"))
    assert totals["owed"] - totals["paid"] == pending(loan)
    # On the day the source system wrote it off.
    assert timezone.localdate(loan.status_changed_at) == date(2026, 4, 10)
    write_off = LedgerEntry.objects.get(loan=loan, kind=LedgerEntry.Kind.WRITE_OFF)
    assert timezone.localdate(write_off.created_at) == date(2026, 4, 10)
    assert write_off.reason.startswith("Castigado el 10/04/2026 en el sistema de origen")
    assert loan.paid_at is None and loan.disbursed_at is not None


def test_the_timeline_says_it_was_imported_written_off_on_that_day(book, supervisor):
    run([loan_row()], supervisor, PAID)

    entry = Interaction.objects.get(summary__startswith="Crédito PX-0001 importado")
    assert "importado castigado" in entry.summary
    assert entry.summary.endswith("castigado el 10/04/2026")
    assert entry.payload["written_off_on"] == "2026-04-10"


def test_lateness_and_late_interest_run_as_for_an_active_loan(book, supervisor):
    batch = run(
        [loan_row(), loan_row(code="PX-0002", document="42345678", written_off="")],
        supervisor,
        [*PAID, ["PX-0002", "14/02/2026", "113.47", ""]],
    )

    assert batch.created_count == 2, batch.error_preview
    written_off = Loan.objects.get(payment_code="PX-0001")
    active = Loan.objects.get(payment_code="PX-0002")
    assert (written_off.status, active.status) == (Loan.Status.WRITTEN_OFF, Loan.Status.ACTIVE)
    assert (written_off.days_past_due, written_off.bucket) == (active.days_past_due, active.bucket)
    assert written_off.days_past_due > 0

    def late(loan):
        return [
            (i.number, i.late_accrued_through)
            for i in Installment.objects.filter(loan=loan).order_by("number")
        ]

    assert late(written_off) == late(active)
    assert pending(written_off) == pending(active)


def test_the_portfolio_counts_it_written_off_from_that_day_on(book, supervisor):
    run([loan_row()], supervisor, PAID)

    before = selectors.portfolio_summary(date(2026, 4, 9))
    after = selectors.portfolio_summary(date(2026, 4, 10))

    assert (before.written_off_loans, after.written_off_loans) == (0, 1)
    assert before.outstanding > 0 and after.outstanding == 0


@pytest.mark.parametrize(
    ("written_off", "message"),
    [
        ("pronto", "La fecha de castigo «pronto» no es una fecha (ejemplo: 31/12/2025)."),
        ("31/02/2026", "La fecha de castigo «31/02/2026» no es una fecha (ejemplo: 31/12/2025)."),
        ("14/01/2026", "La fecha de castigo (14/01/2026) es anterior al desembolso (15/01/2026)."),
        ("16/06/2026", "La fecha de castigo (16/06/2026) es posterior a hoy (15/06/2026)."),
    ],
)
def test_a_bad_write_off_day_is_refused_with_its_line(book, supervisor, written_off, message):
    rows = [
        loan_row(code="PX-0002", document="42345678", written_off=""),
        loan_row(written_off=written_off),
    ]

    batch = run(rows, supervisor)

    assert not batch.is_applied
    assert batch.error_preview == [[3, message]]
    assert not Loan.objects.exists()


def test_the_disbursement_day_and_today_are_write_off_days(book, supervisor):
    batch = run(
        [
            loan_row(written_off="15/01/2026"),
            loan_row(code="PX-0002", document="42345678", written_off="15/06/2026"),
        ],
        supervisor,
    )

    assert batch.created_count == 2, batch.error_preview
    assert set(Loan.objects.values_list("status", flat=True)) == {Loan.Status.WRITTEN_OFF}
    today = Loan.objects.get(payment_code="PX-0002")
    assert timezone.localdate(today.status_changed_at) == TODAY
    assert today.status_changed_at <= timezone.now()


def test_a_loan_its_payments_settle_is_not_written_off(book, supervisor):
    rows = [loan_row(code="PX-0002", document="42345678", written_off=""), loan_row()]
    payments = [["PX-0001", "14/02/2026", "1400.00", "OP-9"]]

    batch = run(rows, supervisor, payments)

    assert not batch.is_applied
    assert batch.error_preview == [
        [
            3,
            "Los pagos del archivo cancelan el crédito PX-0001, y un crédito pagado no se "
            "castiga: deje en blanco la fecha de castigo o revise los pagos.",
        ]
    ]
    assert not Loan.objects.exists()
    # The bad row goes to the errors file with the file's own cells, the day among them.
    with batch.errors_file.open("rb") as handle:
        sheet = list(openpyxl.load_workbook(handle, read_only=True).active.values)
    assert sheet[0][: len(LOANS)] == tuple(LOANS)
    assert sheet[1][LOANS.index("Fecha_castigo")] == "10/04/2026"
    assert sheet[1][-2] == 3


def test_a_recovery_campaign_may_name_it(book, supervisor):
    _product, marta, _jean = book
    run([loan_row()], supervisor, PAID)
    loan = Loan.objects.get(payment_code="PX-0001")
    owed = recovery_services.loans_owed([loan.pk])[loan.pk]

    found, problems = recovery_services.loan_for_code(marta.pk, "PX-0001")
    campaign = recovery_services.create_campaign(
        customer=marta,
        code="CAST-01",
        debt_amount=owed,
        discount_type=Campaign.DiscountType.PERCENT,
        discount_value=Decimal("40"),
        ends_on=date(2026, 7, 31),
        payment_code="PX-0001",
        actor=supervisor,
    )

    assert (found, problems) == (loan, [])
    assert campaign.payment_code == "PX-0001"


def test_importing_the_same_file_again_changes_nothing(book, supervisor):
    first = run([loan_row()], supervisor, PAID)
    before = counts()

    again = run([loan_row()], supervisor, PAID)

    assert first.created_count == 1
    assert Loan.objects.get().status == Loan.Status.WRITTEN_OFF
    assert again.is_applied and again.created_count == 0 and again.unchanged_count == 1
    assert counts() == before


def test_a_write_off_day_for_a_loan_imported_active_is_an_error(book, supervisor):
    run([loan_row(written_off="")], supervisor, PAID)
    before = counts()

    batch = run([loan_row()], supervisor, PAID)

    assert not batch.is_applied
    assert batch.error_preview == [
        [
            2,
            "El crédito PX-0001 ya está registrado y vigente; una importación no lo castiga. "
            "Castíguelo en su página («Castigar») o deje en blanco la fecha de castigo.",
        ]
    ]
    assert Loan.objects.get(payment_code="PX-0001").status == Loan.Status.ACTIVE
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.WRITE_OFF).exists()
    assert counts() == before


def test_another_write_off_day_for_a_written_off_loan_is_an_error(book, supervisor):
    run([loan_row()], supervisor, PAID)

    batch = run([loan_row(written_off="11/04/2026")], supervisor, PAID)

    assert batch.error_preview == [
        [
            2,
            "El crédito PX-0001 ya está castigado desde el 10/04/2026 y el archivo dice "
            "11/04/2026; un crédito registrado no se cambia por importación.",
        ]
    ]


def test_the_first_file_again_after_a_write_off_by_hand_changes_nothing(book, supervisor):
    run([loan_row(written_off="")], supervisor, PAID)
    loan = Loan.objects.get(payment_code="PX-0001")
    loan_services.write_off(loan=loan, actor=supervisor, reason="Incobrable")
    before = counts()

    again = run([loan_row(written_off="")], supervisor, PAID)
    with_today = run([loan_row(written_off="15/06/2026")], supervisor, PAID)

    assert again.unchanged_count == 1 and with_today.unchanged_count == 1
    assert counts() == before


def test_undo_removes_written_off_loans_until_one_of_them_moves(book, supervisor):
    rows = [loan_row(), loan_row(code="PX-0002", document="42345678", written_off="01/05/2026")]
    batch = run(rows, supervisor, PAID)
    assert batch.created_count == 2, batch.error_preview
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.WRITE_OFF).count() == 2

    assert services.undo_blockers(batch) == []
    services.undo_import(batch=batch, actor=supervisor)

    assert not Loan.objects.exists() and not LedgerEntry.objects.exists()
    again = run(rows, supervisor, PAID)
    assert again.created_count == 2
    pay(Loan.objects.get(payment_code="PX-0002"), "10.00", TODAY)
    assert services.undo_blockers(again) == [
        "Línea 3: el crédito PX-0002 tuvo movimientos después de la importación."
    ]


def test_its_page_shows_it_written_off(book, client, supervisor):
    run([loan_row()], supervisor, PAID)
    loan = Loan.objects.get(payment_code="PX-0001")
    client.force_login(supervisor)

    response = client.get(loan.get_absolute_url())

    assertContains(response, 'data-status="written_off">Castigado</span>', html=False)


def test_undo_waits_while_a_campaign_or_collections_name_its_loans(book, supervisor):
    # Campaigns name a loan by its code, collections' events by its id, neither by a foreign
    # key: the undo deleted the loan under them, leaving them naming nothing.
    _product, marta, jean = book
    rows = [loan_row(), loan_row(code="PX-0002", document="42345678", written_off="01/05/2026")]
    batch = run(rows, supervisor, PAID)
    first = Loan.objects.get(payment_code="PX-0001")
    recovery_services.create_campaign(
        customer=marta,
        code="CAST-01",
        debt_amount=recovery_services.loans_owed([first.pk])[first.pk],
        discount_type=Campaign.DiscountType.PERCENT,
        discount_value=Decimal("40"),
        ends_on=date(2026, 7, 31),
        payment_code="PX-0001",
        actor=supervisor,
    )
    second = Loan.objects.get(payment_code="PX-0002")
    PaymentPromise.objects.create(
        customer=jean,
        receivable_kind="loan",
        receivable_id=second.pk,
        receivable_code="PX-0002",
        amount=Decimal("50.00"),
        promised_on=date(2026, 6, 20),
        status=PaymentPromise.Status.CANCELLED,
    )

    assert services.undo_blockers(batch) == [
        "Línea 2: el crédito PX-0001 tiene una campaña de cartera castigada.",
        "Línea 3: el crédito PX-0002 tiene compromisos de pago en «Cobranzas».",
    ]
    with pytest.raises(ValidationError):
        services.undo_import(batch=batch, actor=supervisor)
    assert Loan.objects.count() == 2


def test_undo_waits_while_a_blank_code_campaign_covers_its_loan(book, supervisor):
    # A campaign with a blank payment code covers the loans written off when it was made
    # (Campaign.loans): the undo deleted one of them, and the campaign covered less than its
    # debt was worked out on, without a word.
    _product, marta, _jean = book
    batch = run([loan_row()], supervisor, PAID)
    loan = Loan.objects.get(payment_code="PX-0001")
    campaign = recovery_services.create_campaign(
        customer=marta,
        code="CAST-02",
        debt_amount=recovery_services.loans_owed([loan.pk])[loan.pk],
        discount_type=Campaign.DiscountType.PERCENT,
        discount_value=Decimal("40"),
        ends_on=date(2026, 7, 31),
        payment_code="",
        actor=supervisor,
    )
    assert list(campaign.loans.all()) == [loan]

    assert services.undo_blockers(batch) == [
        "Línea 2: el crédito PX-0001 tiene una campaña de cartera castigada."
    ]
    with pytest.raises(ValidationError):
        services.undo_import(batch=batch, actor=supervisor)
    assert Loan.objects.filter(pk=loan.pk).exists()
