"""Loans from a file, with their schedules and payment histories (registered into crm.imports).

One row per loan: the customer's document, the product, the source system's payment code
(kept as the loan's: the bot, the portal and the campaigns name a loan by it), the
disbursement day, principal, rate, term and frequency. Two more tables may come with it,
each as its own file or as a sheet of the same workbook: the installments (*Cuotas*: when
the source system's schedule differs from our engine's, the loan keeps theirs and is
marked as an imported schedule) and the payment history (*Pagos*).

The payments are applied in date order with the ledger's own allocation
(`credits.services.payments.plan_allocations`: oldest installment first, each one's
components in the product's order); an amount beyond the installment in course pays the
next ones, as the source system recorded it, and only what exceeds the whole debt stays as
credit balance. The loan's resulting balance must equal the one the file reports, to the
cent, or the row is refused as a mismatch with both figures. Every row the loan has
(installments, payments, allocations, ledger entries) is written as the services write
them, in bulk: balances recompute from the ledger like any other loan's.

A loan the source system wrote off comes with its write-off day (*Fecha de castigo*) and
is stored written off as `credits.services.loans.write_off` leaves one: its WRITE_OFF and
STATUS ledger entries on that day, still owing its balance (a recovery campaign may name
it). A loan its payments settle is paid, and is refused with a write-off day.

A loan already in the book (its payment code) is never changed by an import: the same
loan again is "unchanged", other data under its code is an error (a write-off day for a
loan the book has not written off on that day too). Late interest before the import is
the source system's business: ours runs from the import day on.
"""

import gc
import itertools
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Min, ProtectedError, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from credits import portfolio, schedule
from credits.models import (
    COMPONENTS,
    ZERO,
    Bucket,
    Installment,
    LedgerEntry,
    Loan,
    LoanProduct,
    Payment,
    PaymentAllocation,
)
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from crm import validators
from crm.imports.customers import read_document
from crm.imports.registry import (
    DOCUMENT_FIELDS,
    RECORD_COLUMNS,
    Field,
    Importer,
    Outcome,
    Part,
    PartRows,
    WriteProgress,
    record_row,
)
from crm.models import Branch, Customer, ImportBatch, ImportRecord, Interaction
from crm.services import (
    INTERACTION_COLUMNS,
    system_entry_row,
)
from lib import bulk, links, money, people, search, small_tables, spreadsheets
from lib.registry import Registry

# Loans written per transaction step (their installments and payments with them).
BATCH_SIZE = 200

# {loan id: payment code} -> {loan id: what names it, "una campaña de cartera castigada"}:
# what an app above credits keeps on imported loans by their id or code, not by a foreign
# key, so deleting them would leave it naming a loan that no longer exists.
UndoCheck = Callable[[Mapping[int, str]], dict[int, str]]

_undo_checks: Registry[UndoCheck] = Registry("A loan import undo check")


def register_undo_check(name: str, check: UndoCheck) -> None:
    """Refuse to undo a loans import while `check` names what holds its loans (by its app's
    `ready`); it runs under the loans' locks."""
    _undo_checks.register(name, check)


def unregister_undo_check(name: str) -> None:
    """Forget `name`'s check (for tests)."""
    _undo_checks.unregister(name)


# Blockers an undo lists by line; the rest are counted.
BLOCKERS_LISTED = 20
# Problems of one loan's installments or payments named on its line; the rest are counted.
PART_PROBLEMS_LISTED = 5
# The earliest disbursement an import takes: older books are not this product's.
EARLIEST_DAY = date(1990, 1, 1)
# The longest a payment code may be (Loan.payment_code) and what it may hold.
CODE_MAX = 30
CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./")

# A currency in the words of a refusal: «El producto X es en soles».
CURRENCY_WORDS = {
    money.Currency.PEN: gettext_lazy("soles"),
    money.Currency.USD: gettext_lazy("dólares"),
}

FREQUENCIES = {
    "mensual": schedule.Frequency.MONTHLY,
    "monthly": schedule.Frequency.MONTHLY,
    "m": schedule.Frequency.MONTHLY,
    "quincenal": schedule.Frequency.BIWEEKLY,
    "biweekly": schedule.Frequency.BIWEEKLY,
    "q": schedule.Frequency.BIWEEKLY,
    "semanal": schedule.Frequency.WEEKLY,
    "weekly": schedule.Frequency.WEEKLY,
    "s": schedule.Frequency.WEEKLY,
}

INSTALLMENTS, PAYMENTS = "installments", "payments"

# The columns the ledger and the allocations are written with (lib.bulk: no objects).
LEDGER_FIELDS = (
    "loan",
    "installment",
    "payment",
    "kind",
    "component",
    "owed",
    "paid",
    "actor",
    "reason",
    "created_at",
)
ALLOCATION_FIELDS = ("payment", "installment", "component", "amount")
DISBURSEMENT, STATUS = LedgerEntry.Kind.DISBURSEMENT.value, LedgerEntry.Kind.STATUS.value
PAYMENT, ALLOCATION = LedgerEntry.Kind.PAYMENT.value, LedgerEntry.Kind.ALLOCATION.value
CREDIT = LedgerEntry.Kind.CREDIT.value
WRITE_OFF = LedgerEntry.Kind.WRITE_OFF.value
CODE_ALIASES = ("codigo de pago", "codigo", "cod pago", "payment code", "nro credito", "credito")

# An installment as kept while a run reads its file: six whole numbers (line, number,
# due day as an ordinal, principal, interest and fee in cents) in a flat array per loan,
# so 1,200,000 installments take about 60 MB instead of a gigabyte of objects.
INST_WIDTH = 6
# A payment: line, day (ordinal), amount in cents, its reference's place in
# LoanRun.references (-1: none).
PAY_WIDTH = 4


def _cents(amount: Decimal) -> int:
    return int(amount * 100)


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


@dataclass(slots=True)
class LoanRow:
    """One valid row: the loan as it will be stored."""

    code: str
    # The document as read, for the preview (the run finds the customer by it).
    document_type: str
    document_number: str
    customer_id: int
    branch_id: int | None
    advisor_id: int | None
    product: LoanProduct
    start_date: date
    principal: Decimal
    annual_rate: Decimal
    term: int
    frequency: str
    first_due_date: date
    balance: Decimal | None
    principal_balance: Decimal | None
    # Already in the book with the same data: nothing to write.
    unchanged: bool
    # The day the source system wrote it off; None: not written off.
    written_off_on: date | None = None


class LoanRun:
    """What a run reads before the loans: their tables, customers, products, existing codes."""

    def __init__(self) -> None:
        self.installments: dict[str, array] = defaultdict(lambda: array("q"))
        self.payments: dict[str, array] = defaultdict(lambda: array("q"))
        self.references: list[str] = []
        # Problems of a part's rows, by the payment code they belong to.
        self.problems: dict[str, list[str]] = defaultdict(list)
        self.codes_seen: set[str] = set()
        # (document type, number) → (customer id, branch id, advisor id).
        self.customers: dict[tuple[str, str], tuple[int, int | None, int | None]] = {}
        self.existing: dict[str, Loan] = {}
        # Payment code → the day the book wrote it off, of the loans already in the book
        # that the file brings with a write-off day.
        self.written_off: dict[str, date] = {}
        self.products: dict[str, LoanProduct] = {}
        self.branches: dict[str, int] = {}
        # Whom a loan may take from its customer: advisors still active with the role, and
        # active branches (`loan_services.customer_advisor_for_loan`).
        self.advisor_ids: set[int] = set()
        self.open_branch_ids: set[int] = set()
        self.today = timezone.localdate()


class LoanImporter(Importer):
    kind = "loans"
    label = gettext_lazy("Créditos")
    record_label = gettext_lazy("crédito")
    key_fields = ("payment_code",)
    written = (
        Loan,
        Installment,
        Payment,
        PaymentAllocation,
        LedgerEntry,
        Interaction,
        ImportRecord,
    )
    description = gettext_lazy(
        "Una fila por crédito, con el código de pago del sistema de origen. Con él pueden "
        "venir sus cuotas y su historial de pagos (archivos aparte, u hojas «Cuotas» y "
        "«Pagos» del mismo libro). Los clientes deben existir antes: impórtelos primero."
    )
    fields = (
        *DOCUMENT_FIELDS,
        Field(
            "payment_code",
            gettext_lazy("Código de pago"),
            required=True,
            aliases=CODE_ALIASES,
            help=gettext_lazy("El del sistema de origen; único. Letras, números y - _ . /"),
        ),
        Field(
            "product",
            gettext_lazy("Producto"),
            required=True,
            aliases=("producto", "producto de credito", "product"),
            help=gettext_lazy("El nombre de un producto de crédito registrado."),
        ),
        Field(
            "start_date",
            gettext_lazy("Fecha de desembolso"),
            required=True,
            aliases=("desembolso", "fecha desembolso", "fecha de inicio", "inicio"),
            help=gettext_lazy("dd/mm/aaaa o una celda de fecha."),
        ),
        Field(
            "principal",
            gettext_lazy("Capital"),
            required=True,
            aliases=("monto", "monto desembolsado", "principal", "importe"),
        ),
        Field(
            "annual_rate",
            gettext_lazy("Tasa nominal anual (%)"),
            aliases=("tasa", "tasa anual", "tna", "tasa de interes"),
            help=gettext_lazy("32,5 es 32,5 % anual; vacío: la del producto."),
        ),
        Field(
            "term",
            gettext_lazy("Plazo (cuotas)"),
            required=True,
            aliases=("plazo", "cuotas", "nro cuotas", "numero de cuotas", "term"),
        ),
        Field(
            "frequency",
            gettext_lazy("Frecuencia"),
            aliases=("frecuencia", "periodicidad", "frecuencia de pago"),
            help=gettext_lazy("Mensual, quincenal o semanal; vacío: la del producto."),
        ),
        Field(
            "first_due_date",
            gettext_lazy("Primer vencimiento"),
            aliases=("primer vencimiento", "primera cuota", "fecha primera cuota"),
            help=gettext_lazy("Vacío: un periodo después del desembolso."),
        ),
        Field(
            "balance",
            gettext_lazy("Saldo"),
            aliases=("saldo", "saldo total", "saldo pendiente", "deuda"),
            help=gettext_lazy(
                "Lo que falta pagar (capital, interés y comisiones de las cuotas), sin mora; "
                "se compara al centavo con el resultado de aplicar los pagos."
            ),
        ),
        Field(
            "principal_balance",
            gettext_lazy("Saldo de capital"),
            aliases=("saldo capital", "saldo de capital", "capital pendiente"),
            help=gettext_lazy("Se compara al centavo con el capital que queda por pagar."),
        ),
        Field(
            "written_off_on",
            gettext_lazy("Fecha de castigo"),
            aliases=(
                "fecha castigo",
                "castigo",
                "castigado",
                "fecha castigado",
                "written off",
                "written off date",
                "write off date",
            ),
            help=gettext_lazy(
                "Solo los créditos castigados: el día del castigo (dd/mm/aaaa). El crédito "
                "queda «Castigado» desde ese día, con su saldo pendiente."
            ),
        ),
        Field(
            "branch",
            gettext_lazy("Sucursal"),
            aliases=("sucursal", "agencia", "oficina"),
            help=gettext_lazy("Vacío: la del cliente."),
        ),
        Field(
            "currency",
            gettext_lazy("Moneda"),
            aliases=("moneda", "currency", "divisa"),
            help=gettext_lazy(
                "PEN (S/) o USD (US$); vacío: la del producto. Una fila en otra moneda que "
                "su producto se rechaza."
            ),
        ),
    )
    parts = (
        Part(
            INSTALLMENTS,
            gettext_lazy("Cuotas"),
            description=gettext_lazy(
                "El cronograma del sistema de origen, una fila por cuota. Sin este archivo, "
                "el cronograma se calcula con las condiciones del crédito."
            ),
            sheet_names=("cuotas", "cronograma", "cronogramas"),
            fields=(
                Field("payment_code", gettext_lazy("Código de pago"), True, CODE_ALIASES),
                Field(
                    "number",
                    gettext_lazy("Número de cuota"),
                    True,
                    ("cuota", "nro cuota", "numero", "n cuota", "numero cuota"),
                ),
                Field(
                    "due_date",
                    gettext_lazy("Vencimiento"),
                    True,
                    ("fecha vencimiento", "fecha de vencimiento", "vence"),
                ),
                Field("principal", gettext_lazy("Capital"), True, ("amortizacion", "principal")),
                Field("interest", gettext_lazy("Interés"), True, ("interes", "intereses")),
                Field(
                    "fee",
                    gettext_lazy("Comisiones"),
                    False,
                    ("comision", "comisiones", "gastos", "seguro"),
                ),
            ),
        ),
        Part(
            PAYMENTS,
            gettext_lazy("Pagos"),
            description=gettext_lazy(
                "El historial de pagos, una fila por pago; se aplican en orden de fecha."
            ),
            sheet_names=("pagos", "historial de pagos", "abonos"),
            fields=(
                Field("payment_code", gettext_lazy("Código de pago"), True, CODE_ALIASES),
                Field(
                    "date",
                    gettext_lazy("Fecha de pago"),
                    True,
                    ("fecha", "fecha pago", "fecha de pago"),
                ),
                Field("amount", gettext_lazy("Monto"), True, ("monto", "importe", "pago")),
                Field(
                    "reference",
                    gettext_lazy("Referencia"),
                    False,
                    ("referencia", "operacion", "nro operacion", "recibo"),
                ),
            ),
        ),
    )

    # --- Reading the tables ------------------------------------------------------------

    def start(
        self,
        parts: Mapping[str, PartRows],
        main: Iterable[Mapping[str, Any]] = (),
        *,
        options: Mapping[str, bool] | None = None,
    ) -> LoanRun:
        run = LoanRun()
        if INSTALLMENTS in parts:
            self._read_installments(run, parts[INSTALLMENTS])
        if PAYMENTS in parts:
            self._read_payments(run, parts[PAYMENTS])
        run.products = {search.normalize(p.name): p for p in LoanProduct.objects.all()}
        run.branches = {
            search.normalize(name): pk for pk, name in Branch.objects.values_list("pk", "name")
        }
        run.advisor_ids = loan_services.advisor_ids()
        run.open_branch_ids = set(
            Branch.objects.filter(is_active=True).values_list("pk", flat=True)
        )
        self._load_book(run, main)
        return run

    def _read_installments(self, run: LoanRun, rows: PartRows) -> None:
        # The labels once: a million rows would otherwise look each up in the catalog.
        label, number_label, due_label = _("Cuotas"), _("el número de cuota"), _("el vencimiento")
        amount_labels = (("principal", _("el capital")), ("interest", _("el interés")))
        fee_label = _("la comisión")
        latest = run.today + timedelta(days=366 * 40)
        for line, cells in rows:
            code = _code(cells.get("payment_code"))
            if not code:
                run.problems[""].append(
                    _("%(part)s, línea %(line)s: falta el código de pago.")
                    % {"part": label, "line": line}
                )
                continue
            try:
                number = spreadsheets.read_whole_number(
                    cells.get("number"), label=number_label, maximum=schedule.MAX_TERM
                )
                due = spreadsheets.read_date(
                    cells.get("due_date"), label=due_label, earliest=EARLIEST_DAY, latest=latest
                )
                amounts = [
                    spreadsheets.read_amount(
                        cells.get(name), label=text, maximum=payment_services.MAX_AMOUNT
                    )
                    for name, text in amount_labels
                ]
                fee = (
                    ZERO
                    if spreadsheets.is_blank(cells.get("fee"))
                    else spreadsheets.read_amount(
                        cells.get("fee"), label=fee_label, maximum=payment_services.MAX_AMOUNT
                    )
                )
            except ValueError as exc:
                run.problems[code].append(
                    _("%(part)s, línea %(line)s: %(error)s")
                    % {"part": label, "line": line, "error": exc}
                )
                continue
            run.installments[code].extend(
                (line, number, due.toordinal(), *(_cents(a) for a in amounts), _cents(fee))
            )

    def _read_payments(self, run: LoanRun, rows: PartRows) -> None:
        label, day_label, amount_label = _("Pagos"), _("la fecha de pago"), _("el monto")
        for line, cells in rows:
            code = _code(cells.get("payment_code"))
            if not code:
                run.problems[""].append(
                    _("%(part)s, línea %(line)s: falta el código de pago.")
                    % {"part": label, "line": line}
                )
                continue
            try:
                day = spreadsheets.read_date(
                    cells.get("date"), label=day_label, earliest=EARLIEST_DAY, latest=run.today
                )
                amount = spreadsheets.read_amount(
                    cells.get("amount"), label=amount_label, maximum=payment_services.MAX_AMOUNT
                )
                if amount <= 0:
                    raise ValueError(_("El monto debe ser mayor que cero."))
            except ValueError as exc:
                run.problems[code].append(
                    _("%(part)s, línea %(line)s: %(error)s")
                    % {"part": label, "line": line, "error": exc}
                )
                continue
            reference = spreadsheets.cell_text(cells.get("reference"))
            place = -1
            if reference:
                place = len(run.references)
                run.references.append(reference[:100])
            run.payments[code].extend((line, day.toordinal(), _cents(amount), place))

    def _load_book(self, run: LoanRun, main: Iterable[Mapping[str, Any]]) -> None:
        """Find the file's customers and its codes already in the book, a query per thousand."""
        numbers: set[str] = set()
        codes: set[str] = set()
        written_off_codes: set[str] = set()
        for cells in main:
            number = validators.normalize_document_number(
                spreadsheets.cell_text(cells.get("document_number"))
            )
            if number:
                numbers.add(number)
            code = _code(cells.get("payment_code"))
            if code:
                codes.add(code)
                if not spreadsheets.is_blank(cells.get("written_off_on")):
                    written_off_codes.add(code)
        numbers_list, codes_list = sorted(numbers), sorted(codes)
        merged: dict[tuple[str, str], int] = {}
        for start in range(0, len(numbers_list), 1000):
            for row in Customer.objects.filter(
                document_number__in=numbers_list[start : start + 1000]
            ).values_list(
                "pk",
                "document_type",
                "document_number",
                "branch_id",
                "advisor_id",
                "merged_into_id",
            ):
                pk, doc_type, doc_number, branch_id, advisor_id, merged_into = row
                if merged_into is not None:
                    merged[(doc_type, doc_number)] = merged_into
                else:
                    run.customers[(doc_type, doc_number)] = _owners(run, pk, branch_id, advisor_id)
        # A record merged into another (crm.merge): its loans go to the kept one.
        kept_ids = sorted(set(merged.values()))
        for start in range(0, len(kept_ids), 1000):
            kept = {
                pk: _owners(run, pk, branch_id, advisor_id)
                for pk, branch_id, advisor_id in Customer.objects.filter(
                    pk__in=kept_ids[start : start + 1000]
                ).values_list("pk", "branch_id", "advisor_id")
            }
            for document, kept_id in merged.items():
                if kept_id in kept:
                    run.customers[document] = kept[kept_id]
        for start in range(0, len(codes_list), 1000):
            for loan in Loan.objects.filter(payment_code__in=codes_list[start : start + 1000]).only(
                "pk",
                "payment_code",
                "customer_id",
                "principal",
                "term",
                "start_date",
                "annual_rate",
                "status",
            ):
                run.existing[loan.payment_code] = loan
        # When the book wrote off the loans the file brings written off: their first WRITE_OFF
        # entry (what the portfolio report reads), a query per thousand of them.
        by_id = {loan.pk: code for code, loan in run.existing.items() if code in written_off_codes}
        ids = sorted(by_id)
        for start in range(0, len(ids), 1000):
            for loan_id, first in (
                LedgerEntry.objects.filter(loan_id__in=ids[start : start + 1000], kind=WRITE_OFF)
                .values_list("loan_id")
                .annotate(first=Min("created_at"))
            ):
                run.written_off[by_id[loan_id]] = timezone.localdate(first)

    def leftovers(self, state: LoanRun | None) -> list[str]:
        if state is None:
            return []
        problems = list(state.problems.get("", ()))
        for code in sorted({*state.installments, *state.payments, *state.problems} - {""}):
            if code not in state.codes_seen:
                problems.append(
                    _(
                        "El código de pago «%(code)s» tiene cuotas o pagos, pero no está en el "
                        "archivo de créditos."
                    )
                    % {"code": code}
                )
        return problems

    # --- Reading a loan ----------------------------------------------------------------

    def parse(
        self, cells: Mapping[str, Any], state: LoanRun | None = None
    ) -> tuple[LoanRow | None, list[str]]:
        messages: list[str] = []
        text = {name: spreadsheets.cell_text(cells.get(name)) for name in cells}
        today = state.today if state is not None else timezone.localdate()

        document_type, number, problems = read_document(text)
        messages.extend(problems)

        code = _code(cells.get("payment_code"))
        raw_code = text.get("payment_code", "")
        if not raw_code:
            messages.append(_("Falta el código de pago."))
        elif not code:
            messages.append(
                _(
                    "El código de pago «%(value)s» no es válido: hasta %(max)s letras, números "
                    "o - _ . /"
                )
                % {"value": raw_code[:40], "max": CODE_MAX}
            )

        product = None
        if not text.get("product"):
            messages.append(_("Falta el producto."))
        else:
            products = (
                state.products
                if state is not None
                else {search.normalize(p.name): p for p in LoanProduct.objects.all()}
            )
            product = products.get(search.normalize(text["product"]))
            if product is None:
                messages.append(
                    _("El producto «%(value)s» no está registrado.")
                    % {"value": text["product"][:60]}
                )

        def read(reader, name: str, **kwargs):
            try:
                return reader(cells.get(name), **kwargs)
            except ValueError as exc:
                messages.append(str(exc))
                return None

        start_date = read(
            spreadsheets.read_date,
            "start_date",
            label=_("la fecha de desembolso"),
            earliest=EARLIEST_DAY,
            latest=today,
        )
        principal = read(
            spreadsheets.read_amount,
            "principal",
            label=_("el capital"),
            maximum=schedule.MAX_PRINCIPAL,
        )
        if principal is not None and principal <= 0:
            messages.append(_("El capital debe ser mayor que cero."))
        term = read(
            spreadsheets.read_whole_number,
            "term",
            label=_("el plazo"),
            maximum=schedule.MAX_TERM,
        )
        if term == 0:
            messages.append(_("El plazo debe ser de al menos una cuota."))
        annual_rate = None
        if text.get("annual_rate"):
            annual_rate = read(
                spreadsheets.read_rate,
                "annual_rate",
                label=_("la tasa"),
                maximum=schedule.MAX_ANNUAL_RATE,
            )
        elif product is not None:
            annual_rate = product.annual_rate
        frequency = product.frequency if product is not None else None
        if text.get("frequency"):
            frequency = FREQUENCIES.get(search.normalize(text["frequency"]))
            if frequency is None:
                messages.append(
                    _("Frecuencia «%(value)s» desconocida: use mensual, quincenal o semanal.")
                    % {"value": text["frequency"][:40]}
                )
        first_due_date = None
        if text.get("first_due_date") and start_date is not None:
            first_due_date = read(
                spreadsheets.read_date,
                "first_due_date",
                label=_("el primer vencimiento"),
                earliest=start_date + timedelta(days=1),
                latest=start_date + timedelta(days=366),
            )
        elif start_date is not None and frequency is not None:
            first_due_date = schedule.first_due_date_after(start_date, frequency)
        balances = {}
        for name, label in (
            ("balance", _("el saldo")),
            ("principal_balance", _("el saldo de capital")),
        ):
            balances[name] = None
            if text.get(name):
                balances[name] = read(
                    spreadsheets.read_amount,
                    name,
                    label=label,
                    maximum=payment_services.MAX_AMOUNT,
                )
        written_off_on = None
        if text.get("written_off_on"):
            # Any day is read; the day's own rules say what is wrong with it.
            written_off_on = read(
                spreadsheets.read_date,
                "written_off_on",
                label=_("la fecha de castigo"),
                earliest=date.min,
                latest=date.max,
            )
        if written_off_on is not None:
            if start_date is not None and written_off_on < start_date:
                messages.append(
                    _("La fecha de castigo (%(day)s) es anterior al desembolso (%(start)s).")
                    % {"day": _day(written_off_on), "start": _day(start_date)}
                )
            elif written_off_on > today:
                messages.append(
                    _("La fecha de castigo (%(day)s) es posterior a hoy (%(today)s).")
                    % {"day": _day(written_off_on), "today": _day(today)}
                )
        if text.get("currency"):
            messages.extend(_currency_problems(text["currency"], product))
        branch_id = None
        if text.get("branch"):
            branches = (
                state.branches
                if state is not None
                else {search.normalize(n): pk for pk, n in Branch.objects.values_list("pk", "name")}
            )
            branch_id = branches.get(search.normalize(text["branch"]))
            if branch_id is None:
                messages.append(
                    _("La sucursal «%(value)s» no está registrada.")
                    % {"value": text["branch"][:60]}
                )

        customer = None
        if state is not None and number:
            customer = state.customers.get((document_type, number))
            if customer is None:
                messages.append(
                    _(
                        "No hay un cliente con %(type)s %(number)s: impórtelo primero (o "
                        "regístrelo) y vuelva a subir este archivo."
                    )
                    % {"type": Customer.DocumentType(document_type).label, "number": number}
                )
        unchanged = False
        if state is not None and code:
            state.codes_seen.add(code)
            messages.extend(_part_messages(state.problems.get(code, ())))
            existing = state.existing.get(code)
            if existing is not None and customer is not None:
                same = (
                    existing.customer_id == customer[0]
                    and existing.principal == principal
                    and existing.term == term
                    and existing.start_date == start_date
                    and existing.annual_rate == annual_rate
                )
                if same:
                    written_off_problem = _written_off_change(
                        code, existing, written_off_on, state.written_off.get(code)
                    )
                    if written_off_problem:
                        messages.append(written_off_problem)
                    else:
                        unchanged = True
                else:
                    messages.append(
                        _(
                            "El código de pago %(code)s ya es de otro crédito, con otros datos; "
                            "un crédito registrado no se cambia por importación."
                        )
                        % {"code": code}
                    )
        if product is not None and not unchanged:
            messages.extend(_outside_product(product, principal, term, annual_rate))
        if state is not None and code:
            if not unchanged and not messages and code in state.installments:
                messages.extend(
                    _check_installments(state.installments[code], principal, term, start_date)
                )
            if not unchanged and not messages and code in state.payments:
                first_payment = min(
                    state.payments[code][k + 1]
                    for k in range(0, len(state.payments[code]), PAY_WIDTH)
                )
                if first_payment < start_date.toordinal():
                    messages.append(
                        _("Hay pagos del %(day)s, antes del desembolso.")
                        % {"day": date.fromordinal(first_payment).strftime("%d/%m/%Y")}
                    )
        if messages:
            return None, messages
        return (
            LoanRow(
                code=code,
                document_type=document_type,
                document_number=number,
                customer_id=customer[0] if customer else 0,
                branch_id=branch_id or (customer[1] if customer else None),
                advisor_id=customer[2] if customer else None,
                product=product,
                start_date=start_date,
                principal=principal,
                annual_rate=annual_rate,
                term=term,
                frequency=frequency,
                first_due_date=first_due_date,
                balance=balances["balance"],
                principal_balance=balances["principal_balance"],
                unchanged=unchanged,
                written_off_on=written_off_on,
            ),
            messages,
        )

    def key(self, row: LoanRow) -> tuple:
        return (row.code,)

    def shown(self, row: LoanRow) -> dict[str, str]:
        if row.branch_id is not None:
            # This process's copy of the small table: no query per previewed row.
            (branches,) = small_tables.rows(Branch)
            found = branches.get(row.branch_id)
            branch_name = found.name if found is not None else ""
        else:
            # The preview does not look the customer up: the run takes the branch from it.
            branch_name = "" if row.customer_id else _("La del cliente")
        return {
            "document_type": str(Customer.DocumentType(row.document_type).label),
            "document_number": row.document_number,
            "branch": branch_name,
            "payment_code": row.code,
            "product": row.product.name,
            "start_date": row.start_date.strftime("%d/%m/%Y"),
            "principal": money.format_money(row.principal),
            "annual_rate": f"{row.annual_rate.normalize():f} %",
            "term": str(row.term),
            "frequency": str(schedule.Frequency(row.frequency).label),
            "first_due_date": row.first_due_date.strftime("%d/%m/%Y"),
            "balance": "" if row.balance is None else money.format_money(row.balance),
            "principal_balance": ""
            if row.principal_balance is None
            else money.format_money(row.principal_balance),
            "written_off_on": "" if row.written_off_on is None else _day(row.written_off_on),
            # Blank in the file, the product's: the loan is in its product's currency.
            "currency": row.product.currency,
        }

    # --- Writing -----------------------------------------------------------------------

    def write(
        self,
        batch: ImportBatch,
        rows: Sequence[tuple[int, LoanRow]],
        *,
        actor: AbstractBaseUser | None,
        progress: WriteProgress,
        state: LoanRun | None = None,
    ) -> Outcome:
        outcome = Outcome()
        actor = people.signed_in(actor)
        run = state or LoanRun()
        total = len(rows)
        progress(0, total)
        earliest: date | None = None
        for start in range(0, total, BATCH_SIZE):
            chunk = rows[start : start + BATCH_SIZE]
            day = self._write_chunk(batch, chunk, run, actor=actor, outcome=outcome)
            if day is not None:
                earliest = day if earliest is None else min(earliest, day)
            # A Payment and its receipt's FieldFile refer to each other: a cycle that the
            # run's disabled collector (crm.imports.services.run_import) would keep for
            # good, 10 KB a loan. The youngest generation holds only this chunk's objects.
            gc.collect(0)
            progress(min(start + BATCH_SIZE, total), total)
        if earliest is not None:
            portfolio.mark_stale(earliest)
        return outcome

    def _write_chunk(self, batch, chunk, run: LoanRun, *, actor, outcome: Outcome) -> date | None:
        now = timezone.now()
        source = _("importación #%(n)s (%(file)s)") % {"n": batch.pk, "file": batch.file_name}
        texts = _Texts(source)
        built: list[tuple[int, LoanRow, _Replay]] = []
        for line, row in chunk:
            if row.unchanged:
                outcome.unchanged += 1
                continue
            replay = _replay(row, run, actor=actor, texts=texts)
            mismatch = replay.mismatch(row)
            if replay.loan.credit_balance > payment_services.MAX_AMOUNT:
                mismatch = _("Los pagos exceden tanto la deuda que el saldo a favor no cabe.")
            if row.written_off_on is not None and replay.loan.status == Loan.Status.PAID:
                mismatch = _(
                    "Los pagos del archivo cancelan el crédito %(code)s, y un crédito pagado no "
                    "se castiga: deje en blanco la fecha de castigo o revise los pagos."
                ) % {"code": row.code}
            if mismatch:
                outcome.errors[line] = mismatch
                continue
            built.append((line, row, replay))
        if not built:
            return None
        bulk.create_objects([replay.loan for _line, _row, replay in built])
        bulk.create_objects([inst for _line, _row, replay in built for inst in replay.installments])
        bulk.create_objects([p for _l, _r, replay in built for p in replay.payments])
        actor_id = actor.pk if actor is not None else None
        bulk.insert_rows(
            PaymentAllocation,
            ALLOCATION_FIELDS,
            (row for _l, _r, replay in built for row in replay.allocation_rows()),
        )
        bulk.insert_rows(
            LedgerEntry,
            LEDGER_FIELDS,
            (
                entry
                for _l, _r, replay in built
                for entry in replay.ledger(actor_id=actor_id, texts=texts, now=now)
            ),
        )
        bulk.insert_rows(
            Interaction,
            INTERACTION_COLUMNS,
            (
                system_entry_row(
                    row.customer_id,
                    summary=replay.summary(source, texts),
                    payload={
                        "loan": replay.loan.pk,
                        "payments": len(replay.payments),
                        "schedule": replay.loan.schedule_source,
                        "import": batch.pk,
                        **(
                            {"written_off_on": row.written_off_on.isoformat()}
                            if row.written_off_on is not None
                            else {}
                        ),
                    },
                    actor_id=actor_id,
                    at=now,
                )
                for _line, row, replay in built
            ),
        )
        last_entry = dict(
            LedgerEntry.objects.filter(loan__in=[r.loan for _l, _r, r in built])
            .values_list("loan_id")
            .annotate(last=Max("id"))
        )
        bulk.insert_rows(
            ImportRecord,
            RECORD_COLUMNS,
            (
                record_row(
                    batch.pk,
                    line,
                    replay.loan.pk,
                    action=ImportRecord.Action.CREATED.value,
                    after={
                        "updated_at": replay.loan.updated_at.isoformat(),
                        "last_entry": last_entry.get(replay.loan.pk, 0),
                    },
                )
                for line, _row, replay in built
            ),
        )
        outcome.created += len(built)
        return min(row.start_date for _l, row, _r in built)

    # --- Undo --------------------------------------------------------------------------

    def lock_for_undo(self, batch: ImportBatch) -> None:
        # A payment takes its loan's lock (ledger.locked) before it is recorded.
        ids = batch.records.filter(action=ImportRecord.Action.CREATED).values_list(
            "object_id", flat=True
        )
        list(Loan.objects.select_for_update().filter(pk__in=ids).values_list("pk"))

    def undo_blockers(self, batch: ImportBatch) -> list[str]:
        records = list(batch.records.filter(action=ImportRecord.Action.CREATED))
        ids = [r.object_id for r in records]
        loans = Loan.objects.only("pk", "payment_code", "updated_at").in_bulk(ids)
        last_entry = dict(
            LedgerEntry.objects.filter(loan_id__in=ids)
            .values_list("loan_id")
            .annotate(last=Max("id"))
        )
        held: dict[int, str] = {}
        codes = {pk: loan.payment_code for pk, loan in loans.items()}
        for name in _undo_checks.names():
            check = _undo_checks.get(name)
            for loan_id, what in (check(codes) if check is not None else {}).items():
                held.setdefault(loan_id, what)
        blockers = []
        for record in records:
            loan = loans.get(record.object_id)
            if loan is not None and loan.pk in held:
                blockers.append(
                    _("Línea %(line)s: el crédito %(code)s tiene %(what)s.")
                    % {"line": record.line, "code": loan.payment_code, "what": held[loan.pk]}
                )
            elif loan is None:
                blockers.append(
                    _("Línea %(line)s: el crédito ya no existe.") % {"line": record.line}
                )
            elif loan.updated_at.isoformat() != record.after.get("updated_at") or last_entry.get(
                loan.pk, 0
            ) != record.after.get("last_entry"):
                blockers.append(
                    _(
                        "Línea %(line)s: el crédito %(code)s tuvo movimientos después de la "
                        "importación."
                    )
                    % {"line": record.line, "code": loan.payment_code}
                )
        if len(blockers) > BLOCKERS_LISTED:
            more = len(blockers) - BLOCKERS_LISTED
            blockers = [*blockers[:BLOCKERS_LISTED], _("y %(n)s más.") % {"n": more}]
        return blockers

    def undo(self, batch: ImportBatch, *, actor: AbstractBaseUser) -> None:
        now = timezone.now()
        source = _("importación #%(n)s") % {"n": batch.pk}
        ids = list(
            batch.records.filter(action=ImportRecord.Action.CREATED).values_list(
                "object_id", flat=True
            )
        )
        interactions = []
        earliest = None
        try:
            with transaction.atomic():
                for start in range(0, len(ids), BATCH_SIZE):
                    chunk = ids[start : start + BATCH_SIZE]
                    loans = list(
                        Loan.objects.select_for_update()
                        .filter(pk__in=chunk)
                        .only("pk", "payment_code", "customer_id", "start_date")
                    )
                    for loan in loans:
                        interactions.append(
                            Interaction(
                                customer_id=loan.customer_id,
                                kind=Interaction.Kind.SYSTEM,
                                direction=Interaction.Direction.INTERNAL,
                                summary=_("Se deshizo la %(source)s: crédito %(code)s eliminado")
                                % {"source": source, "code": loan.payment_code},
                                payload={"loan": loan.pk, "import": batch.pk},
                                actor=people.signed_in(actor),
                                occurred_at=now,
                            )
                        )
                        earliest = (
                            loan.start_date if earliest is None else min(earliest, loan.start_date)
                        )
                    LedgerEntry.objects.filter(loan_id__in=chunk).delete()
                    PaymentAllocation.objects.filter(payment__loan_id__in=chunk).delete()
                    Installment.objects.filter(loan_id__in=chunk).delete()
                    Payment.objects.filter(loan_id__in=chunk).delete()
                    Loan.objects.filter(pk__in=chunk).delete()
        except (ProtectedError, RestrictedError) as exc:
            raise ValidationError(
                _(
                    "No se puede deshacer: algunos créditos importados ya tienen contratos, "
                    "inversionistas u otros registros."
                )
            ) from exc
        Interaction.objects.bulk_create(interactions)
        if earliest is not None:
            portfolio.mark_stale(earliest)

    def decide(self, record: ImportRecord, *, accept: bool, actor: AbstractBaseUser) -> None:
        raise ValidationError(_("Una importación de créditos no deja cambios por decidir."))

    def record_url(self, record: ImportRecord) -> str:
        return links.pk_link("credits:loan_detail")(record.object_id)


# --- Helpers -------------------------------------------------------------------------------


def _code(value: Any) -> str:
    """Return a payment code as kept, or "" when the cell holds none or a bad one."""
    code = spreadsheets.cell_text(value)
    if not code or len(code) > CODE_MAX or not set(code) <= CODE_CHARS:
        return ""
    return code


def _day(day: date) -> str:
    # Four digits for the year whatever it is: strftime writes year 1 as "1".
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def _written_off_change(
    code: str, existing: Loan, written_off_on: date | None, ours: date | None
) -> str:
    """Return why a row's write-off day differs from what the book has of the loan under its
    code ("" if it does not): an import never writes off a loan already in the book. A blank
    day says nothing of it (the loan may have been written off here since)."""
    if written_off_on is None or written_off_on == ours:
        return ""
    if ours is not None:
        return _(
            "El crédito %(code)s ya está castigado desde el %(ours)s y el archivo dice "
            "%(file)s; un crédito registrado no se cambia por importación."
        ) % {"code": code, "ours": _day(ours), "file": _day(written_off_on)}
    if existing.status == Loan.Status.ACTIVE:
        return _(
            "El crédito %(code)s ya está registrado y vigente; una importación no lo castiga. "
            "Castíguelo en su página («Castigar») o deje en blanco la fecha de castigo."
        ) % {"code": code}
    return _(
        "El crédito %(code)s ya está registrado, en estado «%(status)s»; una importación no "
        "lo castiga."
    ) % {"code": code, "status": existing.get_status_display()}


def _currency_problems(value: str, product: LoanProduct | None) -> list[str]:
    """What is wrong with a row's currency: none it knows, or not its product's (the loan
    takes its product's currency)."""
    currency = money.read_currency(value)
    if currency is None:
        return [money.currency_refusal(value)]
    if product is not None and currency != product.currency:
        return [
            _("El producto %(product)s es en %(words)s y la fila dice %(currency)s.")
            % {
                "product": product.name,
                "words": CURRENCY_WORDS.get(product.currency, product.currency),
                "currency": currency,
            }
        ]
    return []


def _part_messages(problems: Sequence[str]) -> list[str]:
    shown = list(problems[:PART_PROBLEMS_LISTED])
    if len(problems) > PART_PROBLEMS_LISTED:
        shown.append(
            _("y %(n)s problemas más en sus cuotas o pagos.")
            % {"n": len(problems) - PART_PROBLEMS_LISTED}
        )
    return shown


def _outside_product(
    product: LoanProduct, principal: Decimal | None, term: int | None, annual_rate: Decimal | None
) -> list[str]:
    """Return why the product does not take this principal, term or rate: the loan form's
    own check. A product no longer offered still takes the old loans a book brings."""
    try:
        loan_services.validate_terms(
            product=product,
            # A zero principal or term has its own message already.
            principal=principal or None,
            term=term or None,
            annual_rate=annual_rate,
        )
    except ValidationError as exc:
        return [m for field, ms in exc.message_dict.items() if field != "product" for m in ms]
    return []


def _check_installments(flat: array, principal: Decimal, term: int, start_date: date) -> list[str]:
    """Return what is wrong with a loan's schedule from the file; [] if it can be kept."""
    rows = sorted(
        (flat[k : k + INST_WIDTH] for k in range(0, len(flat), INST_WIDTH)), key=lambda r: r[1]
    )
    numbers = [r[1] for r in rows]
    if numbers != list(range(1, len(rows) + 1)):
        return [_("Las cuotas deben numerarse de 1 en adelante, sin saltos ni repetidas.")]
    problems = []
    if len(rows) != term:
        problems.append(
            ngettext(
                "El plazo dice %(term)s cuota y el cronograma trae %(n)s.",
                "El plazo dice %(term)s cuotas y el cronograma trae %(n)s.",
                term,
            )
            % {"term": term, "n": len(rows)}
        )
    dues = [r[2] for r in rows]
    if dues[0] <= start_date.toordinal():
        problems.append(_("La primera cuota vence el día del desembolso o antes."))
    if any(b <= a for a, b in itertools.pairwise(dues)):
        problems.append(_("Los vencimientos de las cuotas deben ir en aumento."))
    total = sum(r[3] for r in rows)
    if total != _cents(principal):
        problems.append(
            _("El capital de las cuotas suma %(sum)s y el del crédito es %(principal)s.")
            % {"sum": money.format_money(_money(total)), "principal": money.format_money(principal)}
        )
    return problems


class _Texts:
    """What the ledger, the payments and the timeline say of imported loans, translated
    once per chunk: Django's gettext and a status's display cost several µs a call, and a
    loan asked for about fifty of them (~5% of an import of 100,000 loans)."""

    def __init__(self, source: str) -> None:
        self.disbursement = (_("Desembolso (%(source)s)") % {"source": source})[:255]
        self.status_label = {value: str(label) for value, label in Loan.Status.choices}
        self.status = {
            value: (_("Importado: %(status)s") % {"status": label})[:255]
            for value, label in self.status_label.items()
        }
        self.received = _("Pago recibido: %(amount)s (importado)")
        self.allocated = _("Pago %(id)s")
        self.credited = _("Pago en exceso a saldo a favor")
        self.source = source
        self.written_off = _("Castigado el %(day)s en el sistema de origen (%(source)s)")
        self.imported = _("importado")
        self.imported_reference = _("importado: %(ref)s")


class _Replay:
    """One loan built in memory: its schedule, its payments applied, ready to write."""

    def __init__(self, loan: Loan) -> None:
        self.loan = loan
        self.installments: list[Installment] = []
        self.payments: list[Payment] = []
        self.allocations: list[PaymentAllocation] = []
        self.credited: list[tuple[Payment, Decimal]] = []
        # The moment the source system wrote it off (noon of its day); None: not written off.
        self.written_off_at: datetime | None = None

    def pending(self) -> Decimal:
        return sum((i.total_pending for i in self.installments), ZERO) - self.loan.credit_balance

    def principal_pending(self) -> Decimal:
        return sum((i.pending("principal") for i in self.installments), ZERO)

    def mismatch(self, row: LoanRow) -> str:
        problems = []
        if row.balance is not None and row.balance != self.pending():
            problems.append(
                _("el saldo del archivo es %(file)s y el que resulta de los pagos es %(ours)s")
                % {
                    "file": money.format_money(row.balance),
                    "ours": money.format_money(self.pending()),
                }
            )
        if row.principal_balance is not None and row.principal_balance != self.principal_pending():
            problems.append(
                _("el saldo de capital del archivo es %(file)s y el que resulta es %(ours)s")
                % {
                    "file": money.format_money(row.principal_balance),
                    "ours": money.format_money(self.principal_pending()),
                }
            )
        if not problems:
            return ""
        return _("No cuadra: %(problems)s.") % {"problems": "; ".join(problems)}

    def ledger(self, *, actor_id: int | None, texts: _Texts, now: datetime) -> list[tuple]:
        """Return the loan's ledger as rows of LEDGER_FIELDS: what disbursing it and applying
        each payment write (`loans.disburse`, `payments.apply_payment`), the same entries."""
        loan_id = self.loan.pk
        disbursement = texts.disbursement
        # A loan written off was active first: its write-off follows, as `loans.write_off`
        # writes it.
        written_off_at = self.written_off_at
        status = texts.status[
            Loan.Status.ACTIVE.value if written_off_at is not None else self.loan.status
        ]
        entries = [
            (
                loan_id,
                inst.pk,
                None,
                DISBURSEMENT,
                component,
                inst.due(component),
                ZERO,
                actor_id,
                disbursement,
                now,
            )
            for inst in self.installments
            for component in COMPONENTS
            if inst.due(component)
        ]
        entries.append((loan_id, None, None, STATUS, "", ZERO, ZERO, actor_id, status, now))
        by_payment = defaultdict(list)
        for allocation in self.allocations:
            by_payment[allocation.payment].append(allocation)
        credited = dict(self.credited)
        for payment in self.payments:
            received = texts.received % {"amount": payment.amount}
            entries.append(
                (loan_id, None, payment.pk, PAYMENT, "", ZERO, ZERO, actor_id, received, now)
            )
            allocated = texts.allocated % {"id": payment.pk}
            entries.extend(
                (
                    loan_id,
                    a.installment.pk,
                    payment.pk,
                    ALLOCATION,
                    a.component,
                    ZERO,
                    a.amount,
                    actor_id,
                    allocated,
                    now,
                )
                for a in by_payment[payment]
            )
            if payment in credited:
                entries.append(
                    (
                        loan_id,
                        None,
                        payment.pk,
                        CREDIT,
                        LedgerEntry.CREDIT_COMPONENT,
                        ZERO,
                        credited[payment],
                        actor_id,
                        texts.credited,
                        now,
                    )
                )
        if written_off_at is not None:
            reason = self.written_off_reason(texts)
            entries.extend(
                (loan_id, None, None, kind, "", ZERO, ZERO, actor_id, reason, written_off_at)
                for kind in (WRITE_OFF, STATUS)
            )
        return entries

    def written_off_reason(self, texts: _Texts) -> str:
        day = timezone.localdate(self.written_off_at)
        return (texts.written_off % {"day": _day(day), "source": texts.source})[:255]

    def allocation_rows(self) -> list[tuple]:
        """Return the payments' allocations as rows of ALLOCATION_FIELDS."""
        return [(a.payment.pk, a.installment.pk, a.component, a.amount) for a in self.allocations]

    def summary(self, source: str, texts: _Texts) -> str:
        loan = self.loan
        if self.written_off_at is not None:
            return ngettext(
                "Crédito %(code)s importado castigado (%(source)s): %(cur)s %(amount)s en "
                "%(term)s cuota, %(payments)s pagos aplicados, castigado el %(day)s",
                "Crédito %(code)s importado castigado (%(source)s): %(cur)s %(amount)s en "
                "%(term)s cuotas, %(payments)s pagos aplicados, castigado el %(day)s",
                loan.term,
            ) % {
                "code": loan.payment_code,
                "source": source,
                "cur": loan.currency,
                "amount": money.format_money(loan.principal),
                "term": loan.term,
                "payments": len(self.payments),
                "day": _day(timezone.localdate(self.written_off_at)),
            }
        return ngettext(
            "Crédito %(code)s importado (%(source)s): %(cur)s %(amount)s en %(term)s cuota, "
            "%(payments)s pagos aplicados, estado %(status)s",
            "Crédito %(code)s importado (%(source)s): %(cur)s %(amount)s en %(term)s cuotas, "
            "%(payments)s pagos aplicados, estado %(status)s",
            loan.term,
        ) % {
            "code": loan.payment_code,
            "source": source,
            "cur": loan.currency,
            "amount": money.format_money(loan.principal),
            "term": loan.term,
            "payments": len(self.payments),
            "status": texts.status_label[loan.status],
        }


def _owners(
    run: LoanRun, pk: int, branch_id: int | None, advisor_id: int | None
) -> tuple[int, int | None, int | None]:
    """A customer's id, and the branch and advisor its loans take from it: none of them once
    closed or gone (inactive, or without the advisor's role), as `create_loan` does."""
    return (
        pk,
        branch_id if branch_id in run.open_branch_ids else None,
        advisor_id if advisor_id in run.advisor_ids else None,
    )


def _replay(row: LoanRow, run: LoanRun, *, actor, texts: _Texts) -> _Replay:
    """Build a loan from its row: schedule (the file's or the engine's), payments in date order."""
    product = row.product
    loan = Loan(
        customer_id=row.customer_id,
        product=product,
        payment_code=row.code,
        currency=product.currency,
        principal=row.principal,
        annual_rate=row.annual_rate,
        term=row.term,
        method=product.method,
        frequency=row.frequency,
        fee_type=product.fee_type,
        fee_value=product.fee_value,
        late_annual_rate=product.late_annual_rate,
        grace_days=product.grace_days,
        start_date=row.start_date,
        first_due_date=row.first_due_date,
        advisor_id=row.advisor_id,
        branch_id=row.branch_id,
        status=Loan.Status.ACTIVE,
        disbursed_at=timezone.make_aware(datetime.combine(row.start_date, time(12))),
        created_by=actor,
        notes="",
    )
    replay = _Replay(loan)
    engine = loan_services.schedule_for(loan).rows
    flat = run.installments.get(row.code)
    if flat:
        theirs = sorted(
            (flat[k : k + INST_WIDTH] for k in range(0, len(flat), INST_WIDTH)), key=lambda r: r[1]
        )
        replay.installments = [
            Installment(
                loan=loan,
                number=r[1],
                due_date=date.fromordinal(r[2]),
                principal_due=_money(r[3]),
                interest_due=_money(r[4]),
                fee_due=_money(r[5]),
            )
            for r in theirs
        ]
        same = len(engine) == len(theirs) and all(
            (e.due_date, e.principal, e.interest, e.fee)
            == (i.due_date, i.principal_due, i.interest_due, i.fee_due)
            for e, i in zip(engine, replay.installments, strict=True)
        )
        if not same:
            loan.schedule_source = Loan.ScheduleSource.IMPORTED
            loan.first_due_date = replay.installments[0].due_date
    else:
        replay.installments = [
            Installment(
                loan=loan,
                number=r.number,
                due_date=r.due_date,
                principal_due=r.principal,
                interest_due=r.interest,
                fee_due=r.fee,
            )
            for r in engine
        ]
    order = product.get_allocation_order()
    paid_flat = run.payments.get(row.code)
    payments = (
        sorted(
            (paid_flat[k : k + PAY_WIDTH] for k in range(0, len(paid_flat), PAY_WIDTH)),
            key=lambda p: (p[1], p[0]),
        )
        if paid_flat
        else []
    )
    first_open = 0
    for _line, ordinal, cents, place in payments:
        day = date.fromordinal(ordinal)
        amount = _money(cents)
        reference = run.references[place] if place >= 0 else ""
        payment = Payment(
            loan=loan,
            amount=amount,
            received_on=day,
            source=Payment.Source.OTHER,
            reference=(
                texts.imported_reference % {"ref": reference} if reference else texts.imported
            )[:100],
            overpayment=Payment.Overpayment.CREDIT,
            recorded_by=actor,
        )
        # Payments settle installments in order: the ones before the first open are paid.
        while first_open < len(replay.installments) and (
            replay.installments[first_open].total_pending == 0
        ):
            first_open += 1
        allocations, left = payment_services.plan_allocations(
            payment, replay.installments[first_open:], amount, order
        )
        replay.allocations.extend(allocations)
        if left > 0:
            payment.credited = left
            payment.overpaid = left
            loan.credit_balance += left
            replay.credited.append((payment, left))
        replay.payments.append(payment)
    today = run.today
    overdue = [i for i in replay.installments if i.total_pending > 0 and i.due_date < today]
    for inst in overdue:
        # Late interest up to the import is the source system's; ours runs from today.
        inst.late_accrued_through = today
    if all(i.total_pending == 0 for i in replay.installments):
        loan.status = Loan.Status.PAID
        last_day = max((p.received_on for p in replay.payments), default=row.start_date)
        loan.paid_at = timezone.make_aware(datetime.combine(last_day, time(12)))
    days = (today - overdue[0].due_date).days if overdue else 0
    loan.days_past_due, loan.bucket = days, Bucket.for_days(days)
    now = timezone.now()
    loan.status_changed_at = now
    if row.written_off_on is not None and loan.status == Loan.Status.ACTIVE:
        # Settled, it stays paid and the row is refused (LoanImporter._write_chunk).
        loan.status = Loan.Status.WRITTEN_OFF
        # Noon of its day, as the disbursement; never later than the import itself.
        replay.written_off_at = min(
            timezone.make_aware(datetime.combine(row.written_off_on, time(12))), now
        )
        loan.status_changed_at = replay.written_off_at
    return replay


def register() -> None:
    from crm.imports import registry

    registry.register(LoanImporter())
