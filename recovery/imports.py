"""Written-off campaigns from a file (registered into crm.imports as "recovery_campaigns").

One row per campaign: the customer's document, the campaign id, the written-off debt, the
discount (a percentage or an amount) and, when it has them, an end date and the payment
code of the loan it comes from. The campaign amount and its balance are computed
(`services.campaign_figures`); a file that brings them too (an export) has them checked.

A row is refused, with the reason naming the value, for what the screen and the API
refuse (`services.create_campaign`): a bad document for its type, a discount not below
the debt or above the portal settings' maximum, amounts negative, zero or too large, a
debt unlike the balance of the loan the row names, an end date gone, a payment code that
is not the customer's loan, a customer with an active campaign (in the book, or given
another one by an earlier row of the same file). A percentage discount in a numeric cell
between 0 and 1 is refused as ambiguous: Excel keeps a cell showing «40%» as 0.4. A
customer not registered is refused, or registered from the row's names and contact data
when the user chose so (the `create_customers` option); an existing customer's data is
never changed.

The rows are written in bulk by `services.copy_campaigns` (what `create_campaign` writes:
the campaign, the customer's tag, a timeline entry), so two uploads at once cannot give a
customer two active campaigns: the database's constraint fails the later one whole.
"""

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, ProtectedError, RestrictedError
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from credits.models import Loan
from crm import display, validators
from crm import services as crm_services
from crm.imports import customers as customer_imports
from crm.imports.registry import (
    DOCUMENT_FIELDS,
    Field,
    Importer,
    Option,
    Outcome,
    PartRows,
    WriteProgress,
)
from crm.models import Customer, ImportBatch, ImportRecord, Interaction
from lib import bulk, money, people, search, spreadsheets
from recovery import services
from recovery.models import MAX_DEBT, ZERO, Campaign, CampaignPayment, Visit

# Campaigns per call to services.copy_campaigns: one progress step each.
CHUNK = 2500
# Values per lookup query: SQLite binds each one; PostgreSQL takes one array.
LOOKUP_CHUNK = 1000
PG_LOOKUP_CHUNK = 20_000
# Blockers an undo lists; the rest are counted.
BLOCKERS_LISTED = 20
EARLIEST_END = date(2000, 1, 1)
CREATE_CUSTOMERS = "create_customers"
DNI = Customer.DocumentType.DNI.value
PERCENT = Campaign.DiscountType.PERCENT.value
AMOUNT = Campaign.DiscountType.AMOUNT.value
# What a file's discount type may say (normalized: lower case, no accents).
DISCOUNT_TYPES = {
    "porcentaje": PERCENT,
    "porcentual": PERCENT,
    "por ciento": PERCENT,
    "%": PERCENT,
    "p": PERCENT,
    "percent": PERCENT,
    "monto": AMOUNT,
    "monto fijo": AMOUNT,
    "importe": AMOUNT,
    "m": AMOUNT,
    "$": AMOUNT,
    "amount": AMOUNT,
}
# The fields a new customer is made from (besides the document).
CUSTOMER_FIELDS = ("first_name", "last_name", "phone", "email")


def _cents(amount: Decimal) -> int:
    return int(amount.scaleb(2))


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


@dataclass(slots=True)
class CampaignRow:
    """One valid row: the campaign as it will be stored.

    Amounts are kept in cents (whole numbers) while a run holds a hundred thousand rows:
    a quarter of the memory of Decimals and their figures.
    """

    # The customer's document as the run knows it (`_doc_key`).
    doc_key: str
    # 0 until the import registers the customer (`customer` holds their data).
    customer_id: int
    customer: customer_imports.CustomerRow | None
    code: str
    debt_cents: int
    discount_type: str
    discount_cents: int
    # What services.campaign_figures made of them.
    discount_amount_cents: int
    ends_on: date | None
    payment_code: str
    currency: str

    def campaign(self) -> services.NewCampaign:
        debt = _money(self.debt_cents)
        return services.NewCampaign(
            customer_id=self.customer_id,
            code=self.code,
            debt_amount=debt,
            discount_type=self.discount_type,
            discount_value=_money(self.discount_cents),
            figures=services.Figures(
                discount_amount=_money(self.discount_amount_cents),
                amount=_money(self.debt_cents - self.discount_amount_cents),
            ),
            ends_on=self.ends_on,
            payment_code=self.payment_code,
            currency=self.currency,
        )


class Labels:
    """The columns' names as messages say them, translated once per run."""

    def __init__(self) -> None:
        self.debt = _("el monto de deuda castigada")
        self.discount = _("el valor del descuento")
        self.amount = _("el monto de la campaña")
        self.balance = _("el saldo")
        self.ends_on = _("la fecha de finalización")


class CampaignRun:
    """What a run loads before its rows: the file's customers, their campaigns, the loans."""

    def __init__(self, *, create_customers: bool) -> None:
        self.create_customers = create_customers
        self.today = timezone.localdate()
        self.labels = Labels()
        # Customers by `_doc_key` → id.
        self.customers: dict[str, int] = {}
        # customer id → the code of their active campaign.
        self.active: dict[int, str] = {}
        # (customer id, code) of every campaign the file's customers had.
        self.had: set[tuple[int, str]] = set()
        # payment code → (customer id, currency, status, what it owes today in cents).
        self.loans: dict[str, tuple[int, str, str, int]] = {}
        # customer id → the currencies of their written-off loans, which a blank payment
        # code covers (only the customers who have some).
        self.written_off: dict[int, frozenset[str]] = {}
        # The highest discount, in percent of the debt (the portal's settings), read once.
        self.max_discount = services.max_discount()
        # The file's customers so far, by `_doc_key` → the campaign code of their first
        # row, so a second campaign for one customer is refused; and those whose first row
        # was bad.
        self.in_file: dict[str, str] = {}
        self.bad_first: set[str] = set()
        # What many rows repeat (a campaign id, an end date), kept once: each cell is its
        # own object, and 100,000 rows of one campaign id held 100,000 copies of it.
        self.same: dict[Any, Any] = {}


def _doc_key(document_type: str, number: str) -> str:
    """What a run knows a customer by: the number of a DNI (most), else type and number."""
    return number if document_type == DNI else f"{document_type} {number}"


class CampaignImporter(Importer):
    kind = "recovery_campaigns"
    label = gettext_lazy("Campañas de cartera castigada")
    record_label = gettext_lazy("campaña")
    key_fields = ("document_type", "document_number", "code")
    template_url_name = "recovery:import_template"
    written = (Campaign, Customer, Customer.tags.through, Interaction, ImportRecord)
    description = gettext_lazy(
        "Una fila por campaña: el documento del cliente, el ID de campaña, la deuda castigada "
        "y el descuento (porcentaje o monto). El monto de la campaña y su saldo se calculan. "
        "Un cliente solo puede tener una campaña activa."
    )
    options = (
        Option(
            CREATE_CUSTOMERS,
            gettext_lazy("Crear los clientes que no estén registrados"),
            help=gettext_lazy(
                "Con sus nombres (obligatorios), apellidos, celular y correo de la fila. Sin "
                "marcar, la fila de un cliente no registrado se rechaza."
            ),
        ),
    )
    fields = (
        *DOCUMENT_FIELDS,
        Field(
            "code",
            gettext_lazy("ID de campaña"),
            required=True,
            aliases=(
                "id de campana",
                "id campana",
                "id de campana de cartera castigada",
                "codigo de campana",
                "campana",
                "campaign id",
            ),
            help=gettext_lazy("Hasta 30 caracteres; un cliente recibe cada campaña una vez."),
        ),
        Field(
            "debt_amount",
            gettext_lazy("Monto de deuda castigada"),
            required=True,
            aliases=("deuda castigada", "monto deuda castigada", "deuda", "deuda total"),
            help=gettext_lazy("Mayor que cero; 1234,50 o 1234.50."),
        ),
        Field(
            "discount_type",
            gettext_lazy("Tipo de descuento"),
            required=True,
            aliases=("tipo descuento", "tipo de dscto"),
            help=gettext_lazy("Porcentaje (o %, P) o Monto (o $, M)."),
        ),
        Field(
            "discount_value",
            gettext_lazy("Valor del descuento"),
            required=True,
            aliases=("valor descuento", "descuento", "dscto"),
            help=gettext_lazy(
                "40 es 40 % (porcentaje) o 40,00 (monto); menor que la deuda y no más que el "
                "descuento máximo del portal de cartera castigada (95 % si nadie lo cambió)."
            ),
        ),
        Field(
            "ends_on",
            gettext_lazy("Fecha de finalización"),
            aliases=("fecha finalizacion", "fecha fin", "fecha de fin", "fin", "vigencia"),
            help=gettext_lazy("dd/mm/aaaa, hoy o después; vacío: sin fecha de finalización."),
        ),
        Field(
            "payment_code",
            gettext_lazy("Código de pago asociado"),
            aliases=("codigo de pago", "codigo pago", "cod pago", "credito", "payment code"),
            help=gettext_lazy(
                "El crédito del cliente que origina la campaña; vacío: sus créditos castigados "
                "a la fecha."
            ),
        ),
        Field(
            "currency",
            gettext_lazy("Moneda"),
            aliases=("currency", "divisa", "tipo de moneda"),
            help=gettext_lazy(
                "PEN (S/) o USD (US$); vacío: la de los créditos castigados que cubre. Si la "
                "indica, debe ser esa."
            ),
        ),
        Field(
            "amount",
            gettext_lazy("Monto de la campaña"),
            aliases=("monto de campana", "monto campana", "monto de la campana de castigo"),
            help=gettext_lazy("Se calcula; si el archivo lo trae, debe coincidir."),
        ),
        Field(
            "balance",
            gettext_lazy("Saldo"),
            aliases=("saldo de la campana", "monto total"),
            help=gettext_lazy("El monto de la campaña menos los pagos: al importar, el monto."),
        ),
        Field("first_name", gettext_lazy("Nombres"), aliases=("nombre",)),
        Field("last_name", gettext_lazy("Apellidos"), aliases=("apellido",)),
        Field("phone", gettext_lazy("Celular"), aliases=("telefono", "movil", "cel")),
        Field("email", gettext_lazy("Correo electrónico"), aliases=("correo", "email", "e-mail")),
    )

    # --- Reading the file ----------------------------------------------------------------

    def start(
        self,
        parts: Mapping[str, PartRows],
        main: Iterable[Mapping[str, Any]] = (),
        *,
        options: Mapping[str, bool] | None = None,
    ) -> CampaignRun:
        run = CampaignRun(create_customers=bool((options or {}).get(CREATE_CUSTOMERS)))
        # Each number → the file's own text of it, which the run's keys then share: the
        # database's copies of 100,000 numbers would take 6 MB more.
        numbers: dict[str, str] = {}
        codes: set[str] = set()
        for cells in main:
            number = _document_number(cells.get("document_number"))
            if number:
                numbers.setdefault(number, number)
            code = spreadsheets.cell_text(cells.get("payment_code"))
            if code:
                codes.add(code)
        for chunk in _chunks(sorted(numbers)):
            # A record merged into another (crm.merge) answers as the kept one.
            run.customers.update(
                (_doc_key(kind, numbers.get(number, number)), merged_into or pk)
                for pk, kind, number, merged_into in Customer.objects.filter(
                    document_number__in=_texts_in(chunk)
                ).values_list("pk", "document_type", "document_number", "merged_into_id")
            )
        del numbers
        written_off: dict[int, set[str]] = {}
        for chunk in _chunks(sorted(run.customers.values())):
            for customer_id, code, status in Campaign.objects.filter(
                customer_id__in=bulk.ids_in(chunk)
            ).values_list("customer_id", "code", "status"):
                run.had.add((customer_id, code))
                if status == Campaign.Status.ACTIVE:
                    run.active[customer_id] = code
            for customer_id, currency in (
                Loan.objects.filter(
                    customer_id__in=bulk.ids_in(chunk), status=Loan.Status.WRITTEN_OFF
                )
                .values_list("customer_id", "currency")
                .distinct()
            ):
                written_off.setdefault(customer_id, set()).add(currency)
        run.written_off = {pk: frozenset(found) for pk, found in written_off.items()}
        for chunk in _chunks(sorted(codes)):
            loans = list(
                Loan.objects.filter(payment_code__in=_texts_in(chunk)).values_list(
                    "payment_code", "pk", "customer_id", "currency", "status"
                )
            )
            owed = services.loans_owed(pk for _code, pk, *_rest in loans)
            run.loans.update(
                (code, (customer_id, currency, status, _cents(owed[pk])))
                for code, pk, customer_id, currency, status in loans
            )
        return run

    def parse(
        self, cells: Mapping[str, Any], state: CampaignRun | None = None
    ) -> tuple[CampaignRow | None, list[str]]:
        messages: list[str] = []
        labels = state.labels if state is not None else Labels()
        today = state.today if state is not None else timezone.localdate()

        document_type, number, problems = read_document(cells)
        messages.extend(problems)
        # A customer is looked for by a document that can be one.
        is_document = not problems

        code = spreadsheets.cell_text(cells.get("code"))
        if state is not None:
            code = state.same.setdefault(code, code)
        messages.extend(_named(p, code) for p in services.check_code(code))

        debt = _amount(cells.get("debt_amount"), labels.debt, messages)
        discount_type = read_discount_type(cells.get("discount_type"), messages)
        discount_cell = cells.get("discount_value")
        ambiguous = _ambiguous_percent(discount_cell) if discount_type == PERCENT else None
        if ambiguous:
            messages.append(ambiguous)
        if isinstance(discount_cell, str) and discount_cell.rstrip().endswith("%"):
            if discount_type == AMOUNT:
                messages.append(
                    _(
                        "El valor del descuento «%(value)s» es un porcentaje, pero el tipo de "
                        "descuento es «Monto»."
                    )
                    % {"value": discount_cell.strip()[:40]}
                )
            discount_cell = discount_cell.rstrip().removesuffix("%")
        discount = None if ambiguous else _amount(discount_cell, labels.discount, messages)
        max_discount = state.max_discount if state is not None else services.max_discount()
        figures = None
        if debt is not None and not ZERO < debt <= MAX_DEBT:
            # The debt alone (less nothing), so each message names its own value.
            _figures, problems = services.campaign_figures(
                debt_amount=debt,
                discount_type=AMOUNT,
                discount_value=ZERO,
                max_discount_percent=max_discount,
            )
            messages.extend(_named(p, str(debt)) for p in problems)
        elif debt is not None and discount_type and discount is not None:
            figures, problems = services.campaign_figures(
                debt_amount=debt,
                discount_type=discount_type,
                discount_value=discount,
                max_discount_percent=max_discount,
            )
            # As the message writes an amount (1,000.00), so it is not named twice.
            shown = f"{discount} %" if discount_type == PERCENT else display.amount(discount)
            messages.extend(_named(p, shown) for p in problems)
        if figures is not None:
            for name, label in (("amount", labels.amount), ("balance", labels.balance)):
                if spreadsheets.is_blank(cells.get(name)):
                    continue
                given = _amount(cells.get(name), label, messages)
                if given is not None and given != figures.amount:
                    messages.append(
                        _(
                            "%(label)s del archivo (%(given)s) no es el que resulta de la deuda "
                            "y el descuento (%(ours)s)."
                        )
                        % {"label": capfirst(label), "given": given, "ours": figures.amount}
                    )

        ends_on = None
        if not spreadsheets.is_blank(cells.get("ends_on")):
            try:
                ends_on = spreadsheets.read_date(
                    cells.get("ends_on"),
                    label=labels.ends_on,
                    earliest=EARLIEST_END,
                    latest=services.latest_end(today),
                )
            except ValueError as exc:
                messages.append(str(exc))
            else:
                messages.extend(services.check_end_date(ends_on, today=today))
                if state is not None:
                    ends_on = state.same.setdefault(ends_on, ends_on)

        payment_code = spreadsheets.cell_text(cells.get("payment_code"))
        if len(payment_code) > services.MAX_CODE:
            messages.append(
                _("El código de pago asociado «%(value)s» tiene más de %(n)s caracteres.")
                % {"value": payment_code[:40], "n": services.MAX_CODE}
            )

        given = money.read_currency(cells.get("currency"))
        if given is None:
            messages.append(money.currency_refusal(cells.get("currency")))
        customer_id = 0
        new_customer = None
        currency = given or services.DEFAULT_CURRENCY
        key = _doc_key(document_type, number)
        if state is not None and is_document:
            customer_id = state.customers.get(key, 0)
            if not customer_id:
                new_customer = self._new_customer(cells, document_type, number, state, messages)
            else:
                if (active := state.active.get(customer_id)) is not None:
                    messages.append(services.active_refusal(active))
                if code and (customer_id, code) in state.had:
                    messages.append(_("El cliente ya tuvo la campaña %(code)s.") % {"code": code})
            if payment_code:
                loan = state.loans.get(payment_code)
                if loan is None:
                    messages.append(
                        _("No existe un crédito con el código de pago %(code)s.")
                        % {"code": payment_code}
                    )
                elif loan[0] != customer_id:
                    messages.append(
                        _("El crédito %(code)s no es de este cliente.") % {"code": payment_code}
                    )
                elif problem := services.loan_status_problem(payment_code, loan[2]):
                    messages.append(problem)
                else:
                    currency, refusals = services.campaign_currency(
                        payment_code=payment_code,
                        loan_currency=loan[1],
                        written_off=(),
                        given=given or "",
                    )
                    messages.extend(refusals.values())
                    if debt is not None and figures is not None:
                        problem = services.debt_problem(
                            debt_amount=debt,
                            owed=_money(loan[3]),
                            payment_code=payment_code,
                            currency=currency,
                        )
                        if problem:
                            messages.append(problem)
            elif customer_id:
                # A blank code covers the customer's written-off loans: their currency.
                currency, refusals = services.campaign_currency(
                    payment_code="",
                    loan_currency=None,
                    written_off=state.written_off.get(customer_id, ()),
                    given=given or "",
                )
                messages.extend(refusals.values())
            earlier = state.in_file.get(key)
            if earlier is None:
                state.in_file[key] = code
                if messages:
                    state.bad_first.add(key)
            elif earlier != code or key in state.bad_first:
                # The same good row twice is the framework's "fila repetida", with its line.
                messages.append(
                    _(
                        "Otra fila del archivo ya da al cliente %(type)s %(number)s la campaña "
                        "%(code)s: un cliente solo puede tener una campaña activa."
                    )
                    % {
                        "type": Customer.DocumentType(document_type).label,
                        "number": number,
                        "code": earlier,
                    }
                )

        if messages:
            return None, messages
        assert debt is not None and discount is not None and figures is not None
        return (
            CampaignRow(
                doc_key=key,
                customer_id=customer_id,
                customer=new_customer,
                code=code,
                debt_cents=_cents(debt),
                discount_type=discount_type,
                discount_cents=_cents(discount),
                discount_amount_cents=_cents(figures.discount_amount),
                ends_on=ends_on,
                payment_code=payment_code,
                currency=currency,
            ),
            messages,
        )

    def _new_customer(
        self,
        cells: Mapping[str, Any],
        document_type: str,
        number: str,
        state: CampaignRun,
        messages: list[str],
    ) -> customer_imports.CustomerRow | None:
        """Return the data to register a customer the book does not have, or say why not."""
        shown = {"type": Customer.DocumentType(document_type).label, "number": number}
        if not state.create_customers:
            messages.append(
                _(
                    "No hay un cliente con %(type)s %(number)s: regístrelo, o marque «Crear los "
                    "clientes que no estén registrados», y vuelva a subir el archivo."
                )
                % shown
            )
            return None
        if spreadsheets.is_blank(cells.get("first_name")):
            messages.append(
                _(
                    "No hay un cliente con %(type)s %(number)s y la fila no trae sus nombres "
                    "para registrarlo."
                )
                % shown
            )
            return None
        given = {name: cells.get(name) for name in CUSTOMER_FIELDS}
        row, problems = customer_imports.CustomerImporter().parse(
            {"document_type": document_type, "document_number": number, **given}
        )
        messages.extend(problems)
        return row

    def key(self, row: CampaignRow) -> tuple:
        return (row.doc_key, row.code)

    def shown(self, row: CampaignRow) -> dict[str, str]:
        campaign = row.campaign()
        document_type, _space, number = row.doc_key.rpartition(" ")
        values = {
            "document_type": str(Customer.DocumentType(document_type or DNI).label),
            "document_number": number,
            "code": row.code,
            "debt_amount": money.format_money(campaign.debt_amount),
            "discount_type": str(Campaign.DiscountType(row.discount_type).label),
            "discount_value": (
                f"{campaign.discount_value} %"
                if row.discount_type == PERCENT
                else money.format_money(campaign.discount_value)
            ),
            "amount": money.format_money(campaign.figures.amount),
            "balance": money.format_money(campaign.figures.amount),
            "ends_on": row.ends_on.strftime("%d/%m/%Y") if row.ends_on else "",
            "payment_code": row.payment_code,
            "currency": row.currency,
        }
        if row.customer is not None:
            values.update(
                {
                    "first_name": row.customer.first_name,
                    "last_name": row.customer.last_name or "",
                    "phone": row.customer.phone or "",
                    "email": row.customer.email or "",
                }
            )
        return values

    # --- Writing -------------------------------------------------------------------------

    def write(
        self,
        batch: ImportBatch,
        rows: Sequence[tuple[int, CampaignRow]],
        *,
        actor: AbstractBaseUser | None,
        progress: WriteProgress,
        state: CampaignRun | None = None,
    ) -> Outcome:
        outcome = Outcome()
        actor = people.signed_in(actor)
        total = len(rows)
        progress(0, total)
        if state is not None:
            # Done with: the memory goes to the writing.
            state.customers.clear()
            state.in_file.clear()
            state.same.clear()
        new = [(line, row) for line, row in rows if row.customer is not None]
        _create_customers(batch, new, actor=actor)
        made: dict[int, int] = {}  # line → campaign id, of the rows with a new customer
        for start in range(0, total, CHUNK):
            chunk = rows[start : start + CHUNK]
            ids = services.copy_campaigns(
                [row.campaign() for _line, row in chunk],
                actor=actor,
                batch=batch,
                batch_size=CHUNK,
            )
            if new:
                made.update(
                    (line, pk)
                    for (line, row), pk in zip(chunk, ids, strict=True)
                    if row.customer is not None
                )
            outcome.created += len(ids)
            progress(min(start + CHUNK, total), total)
        # The customers the import registered: an undo removes them with their campaign.
        ImportRecord.objects.bulk_create(
            [
                ImportRecord(
                    batch=batch,
                    line=line,
                    object_id=made[line],
                    action=ImportRecord.Action.CREATED,
                    after={"new_customer": row.customer_id},
                )
                for line, row in new
            ],
            batch_size=CHUNK,
        )
        return outcome

    # --- Undo ----------------------------------------------------------------------------

    def lock_for_undo(self, batch: ImportBatch) -> None:
        # The customers it registered (and deletes) first, then the campaigns: the order in
        # which a new link, promise or report takes its customer and then its campaign
        # (collections_app.services._hold), so the two wait for each other, never deadlock.
        registered = sorted(
            after["new_customer"]
            for after in batch.records.filter(action=ImportRecord.Action.CREATED).values_list(
                "after", flat=True
            )
        )
        for chunk in _chunks(registered, LOOKUP_CHUNK):
            list(Customer.objects.select_for_update().filter(pk__in=chunk).values_list("pk"))
        list(Campaign.objects.select_for_update().filter(import_batch=batch).values_list("pk"))

    def undo_blockers(self, batch: ImportBatch) -> list[str]:
        every = Campaign.objects.filter(import_batch=batch)
        fields = ("code", "status", "customer__document_type", "customer__document_number")
        blockers = []
        for code, status, kind, number in every.exclude(status=Campaign.Status.ACTIVE).values_list(
            *fields
        )[: BLOCKERS_LISTED + 1]:
            blockers.append(
                _("La campaña %(code)s de %(customer)s ya no está activa (%(status)s).")
                % {
                    "code": code,
                    "customer": _customer_text(kind, number),
                    "status": Campaign.Status(status).label.lower(),
                }
            )
        # Of the ones still active (the others are named above, once each).
        campaigns = every.filter(status=Campaign.Status.ACTIVE)
        paid = CampaignPayment.objects.filter(campaign__import_batch=batch).values("campaign")
        for code, _status, kind, number in campaigns.filter(pk__in=paid).values_list(*fields)[
            : BLOCKERS_LISTED + 1
        ]:
            blockers.append(
                _("La campaña %(code)s de %(customer)s tiene pagos.")
                % {"code": code, "customer": _customer_text(kind, number)}
            )
        blockers.extend(_pending_blockers(campaigns, fields))
        visited = Visit.objects.filter(campaign__import_batch=batch).values("campaign")
        for code, _status, kind, number in campaigns.filter(pk__in=visited).values_list(*fields)[
            : BLOCKERS_LISTED + 1
        ]:
            blockers.append(
                _("El cliente %(customer)s ya vio la campaña %(code)s en el portal.")
                % {"code": code, "customer": _customer_text(kind, number)}
            )
        registered = {
            record.after["new_customer"]: record.line
            for record in batch.records.filter(action=ImportRecord.Action.CREATED)
        }
        # A customer the import registered has two entries: registered, and the campaign.
        busy: list[int] = []
        for chunk in _chunks(list(registered)):
            busy.extend(
                Interaction.objects.filter(customer_id__in=bulk.ids_in(chunk))
                .values("customer_id")
                .annotate(n=Count("id"))
                .filter(n__gt=2)
                .values_list("customer_id", flat=True)
            )
        for customer_id in sorted(busy, key=registered.__getitem__):
            blockers.append(
                _(
                    "Línea %(line)s: el cliente que registró la importación tiene actividad "
                    "después de ella."
                )
                % {"line": registered[customer_id]}
            )
        if len(blockers) > BLOCKERS_LISTED:
            # Each kind was read up to the limit: how many more there are is not counted.
            blockers = [*blockers[:BLOCKERS_LISTED], _("y otras más.")]
        return blockers

    def undo(self, batch: ImportBatch, *, actor: AbstractBaseUser) -> None:
        now = timezone.now()
        by = people.signed_in(actor)
        source = _("importación #%(n)s") % {"n": batch.pk}
        registered = {
            after["new_customer"]
            for after in batch.records.filter(action=ImportRecord.Action.CREATED).values_list(
                "after", flat=True
            )
        }
        campaigns = list(
            Campaign.objects.select_for_update()
            .filter(import_batch=batch)
            .values_list("pk", "customer_id", "code")
        )
        kept = [
            (pk, customer_id, code)
            for pk, customer_id, code in campaigns
            if customer_id not in registered
        ]
        try:
            with transaction.atomic():
                for chunk in _chunks([pk for pk, _customer, _code in campaigns], LOOKUP_CHUNK):
                    Campaign.objects.filter(pk__in=chunk).delete()
                for chunk in _chunks(sorted(registered), LOOKUP_CHUNK):
                    Customer.objects.filter(pk__in=chunk).delete()
        except (ProtectedError, RestrictedError) as exc:
            raise ValidationError(
                _(
                    "No se puede deshacer: algunas campañas o clientes de la importación ya "
                    "tienen otros registros."
                )
            ) from exc
        for chunk in _chunks([customer_id for _pk, customer_id, _code in kept]):
            services.untag_customers(chunk)
        bulk.insert_rows(
            Interaction,
            crm_services.INTERACTION_COLUMNS,
            (
                crm_services.system_entry_row(
                    customer_id,
                    summary=_("Se deshizo la %(source)s: campaña %(code)s eliminada")
                    % {"source": source, "code": code},
                    payload={"recovery_campaign": pk, "import": batch.pk},
                    actor_id=by.pk if by is not None else None,
                    at=now,
                )
                for pk, customer_id, code in kept
            ),
        )

    def decide(self, record: ImportRecord, *, accept: bool, actor: AbstractBaseUser) -> None:
        raise ValidationError(
            _("Una importación de campañas no deja cambios por decidir: no cambia clientes.")
        )

    def record_url(self, record: ImportRecord) -> str:
        return reverse("recovery:campaign_detail", args=[record.object_id])


# --- Helpers -------------------------------------------------------------------------------

# What an undo waits for, in the order it names them: each names a campaign by id without a
# foreign key, so a delete would leave it naming nothing. Not withdrawn by the undo: a
# payment to verify is money the debtor says was sent, for an agent to judge, and a
# gateway's checkout stays payable after its link is withdrawn (services._withdraw_open_offers).
PENDING_WORDS = {
    "reported": lambda n: ngettext("%(n)d pago a verificar", "%(n)d pagos a verificar", n),
    "links": lambda n: ngettext("%(n)d link de pago abierto", "%(n)d links de pago abiertos", n),
    "promises": lambda n: ngettext(
        "%(n)d compromiso de pago vigente", "%(n)d compromisos de pago vigentes", n
    ),
    # Past its day, the nightly's verdict still to come: not in course, and the undo writes
    # no verdict (its campaign would be gone before the debtor is told): it waits for it.
    "promises_due": lambda n: ngettext(
        "%(n)d compromiso de pago vencido por resolver",
        "%(n)d compromisos de pago vencidos por resolver",
        n,
    ),
    "agreements": lambda n: ngettext(
        "%(n)d convenio esperando el pie", "%(n)d convenios esperando el pie", n
    ),
}


def _pending_blockers(campaigns: Any, fields: Sequence[str]) -> list[str]:
    """Name each of `campaigns` with something pending on it, and how much of each kind
    (up to the blockers listed, plus one to say there are more)."""
    counts: dict[int, dict[str, int]] = {}
    pending = services.pending_on_campaigns(campaigns.values("pk"))
    for kind, rows in pending.items():
        for campaign_id, n in (
            rows.order_by()
            .values("receivable_id")
            .annotate(n=Count("pk"))
            .values_list("receivable_id", "n")
        ):
            counts.setdefault(campaign_id, {})[kind] = n
    if not counts:
        return []
    blockers = []
    for pk, code, _status, kind, number in (
        campaigns.filter(pk__in=list(counts)[: BLOCKERS_LISTED + 1])
        .order_by("pk")
        .values_list("pk", *fields)
    ):
        parts = [PENDING_WORDS[name](n) % {"n": n} for name, n in counts[pk].items()]
        what = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " y " + parts[-1]
        blockers.append(
            _("La campaña %(code)s de %(customer)s tiene %(what)s.")
            % {"code": code, "customer": _customer_text(kind, number), "what": what}
        )
    return blockers


def read_document(cells: Mapping[str, Any]) -> tuple[str, str, list[str]]:
    """Return a row's document type (blank: DNI), its number as kept, and what is wrong,
    naming the value."""
    messages: list[str] = []
    document_type = DNI
    type_text = spreadsheets.cell_text(cells.get("document_type"))
    if type_text:
        found = _document_type(type_text)
        if found is None:
            messages.append(
                _("Tipo de documento «%(value)s» desconocido: use DNI, CE, RUC o Pasaporte.")
                % {"value": type_text[:40]}
            )
        else:
            document_type = found
    number = _document_number(cells.get("document_number"))
    if not number:
        messages.append(_("Falta el número de documento."))
    elif len(number) > Customer._meta.get_field("document_number").max_length:
        messages.append(
            _("El número de documento «%(value)s» es demasiado largo.") % {"value": number[:40]}
        )
    elif not messages:
        try:
            validators.validate_document(document_type, number)
        except ValidationError as exc:
            messages.extend(
                _("Número de documento «%(value)s»: %(problem)s")
                % {"value": number, "problem": problem[:1].lower() + problem[1:]}
                for problem in exc.messages
            )
    return document_type, number, messages


def _document_number(value: Any) -> str:
    """Return a document number as kept (no spaces, dots or dashes, upper case).

    A number written as kept is the cell's own text: a hundred thousand rows hold no copy.
    """
    text = spreadsheets.cell_text(value)
    if text.isascii() and text.isdigit():  # "４５６…" isdigit() too, and is converted
        return text
    return validators.normalize_document_number(text)


# A file says its few document and discount types on every row: each spelling is read once.
@functools.lru_cache(maxsize=64)
def _document_type(text: str) -> str | None:
    found = customer_imports.DOCUMENT_TYPES.get(search.normalize(text).rstrip("."))
    return None if found is None else found.value


@functools.lru_cache(maxsize=64)
def _discount_type(text: str) -> str | None:
    return DISCOUNT_TYPES.get(search.normalize(text).rstrip("."))


def read_discount_type(value: Any, messages: list[str]) -> str:
    """Return the discount type of a cell ("" and a message if it says none we know)."""
    text = spreadsheets.cell_text(value)
    if not text:
        messages.append(_("Falta el tipo de descuento."))
        return ""
    found = _discount_type(text)
    if found is None:
        messages.append(
            _(
                "Tipo de descuento «%(value)s» desconocido: use Porcentaje (o %%, P) o "
                "Monto (o $, M)."
            )
            % {"value": text[:40]}
        )
        return ""
    return found


def _ambiguous_percent(value: Any) -> str | None:
    """Say why a numeric cell between 0 and 1 is no percentage to take as it is: Excel keeps
    a cell showing «40%» as 0.4 (text cells, "40" or "40%", are read as written)."""
    if not isinstance(value, float) or not 0 < value < 1:
        return None
    # repr() is a float's shortest exact spelling (0.4, not 0.40000000000000002).
    typed = Decimal(repr(value))
    return _(
        "¿%(typed)s %% o %(meant)s %%? Escriba %(meant)s para un descuento de %(meant)s %%."
    ) % {
        "typed": _comma(typed),
        "meant": _comma(typed * 100),
    }


def _comma(value: Decimal) -> str:
    """A percentage as the message writes it: 0,4 and 40 (no trailing zeros)."""
    return f"{value.normalize():f}".replace(".", ",")


def _amount(value: Any, label: str, messages: list[str]) -> Decimal | None:
    """Return an amount (decimal commas too) or None, with what is wrong added to `messages`."""
    try:
        # The campaign's own limit (MAX_DEBT) is checked, with its message, by campaign_figures.
        return spreadsheets.read_amount(value, label=label, maximum=MAX_DEBT * 1000)
    except ValueError as exc:
        messages.append(_named(str(exc), spreadsheets.cell_text(value)))
        return None


def _named(message: str, value: str) -> str:
    """Return the message with the value it is about, unless it already names it."""
    if not value or value in message:
        return message
    return f"{message.rstrip('.')} («{value[:40]}»)."


def _customer_text(document_type: str, number: str) -> str:
    return f"{Customer.DocumentType(document_type).label} {number}"


def _chunks(values: Sequence, size: int = 0) -> Iterator[Sequence]:
    size = size or (PG_LOOKUP_CHUNK if connection.vendor == "postgresql" else LOOKUP_CHUNK)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _texts_in(values: Sequence[str]) -> Any:
    """The right side of a `__in` filter over many texts: one array on PostgreSQL."""
    if connection.vendor != "postgresql":
        return list(values)
    return RawSQL("SELECT unnest(%s::text[])", [list(values)])


def _create_customers(
    batch: ImportBatch,
    rows: Sequence[tuple[int, CampaignRow]],
    *,
    actor: AbstractBaseUser | None,
) -> None:
    """Register the rows' customers the book did not have, setting each row's customer id.

    As the customers' import registers them (`crm.imports.customers`), with the same entry
    on their timeline. One registered meanwhile by someone else fails the run (the unique
    document), which then writes nothing.
    """
    if not rows:
        return
    now = timezone.now()
    by = people.signed_in(actor)
    actor_id = by.pk if by is not None else None
    source = _("importación #%(n)s (%(file)s)") % {"n": batch.pk, "file": batch.file_name}
    summary = _("Cliente registrado por la %(source)s") % {"source": source}
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        customers = [customer_imports._new_customer(row.customer, now) for _line, row in chunk]
        Customer.objects.bulk_create(customers)
        bulk.insert_rows(
            Interaction,
            crm_services.INTERACTION_COLUMNS,
            (
                crm_services.system_entry_row(
                    customer.pk,
                    summary=summary,
                    payload={_("línea"): str(line)},
                    actor_id=actor_id,
                    at=now,
                )
                for (line, _row), customer in zip(chunk, customers, strict=True)
            ),
        )
        for (_line, row), customer in zip(chunk, customers, strict=True):
            row.customer_id = customer.pk
