"""Writes of the loan and investor ledger: every change to what is owed or paid.

Each service runs in one transaction, locks the loan it changes, writes the append-only
`LedgerEntry` rows that explain the change, and records it on the customer's timeline.
"""

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from credits import schedule
from credits.models import (
    ZERO,
    Bucket,
    Component,
    Distribution,
    Installment,
    Investor,
    LedgerEntry,
    Liquidation,
    Loan,
    LoanContract,
    LoanProduct,
    Participation,
    Payment,
    PaymentAllocation,
)
from crm import services as crm_services
from crm import validators
from crm.models import Branch, Channel, Customer, Interaction
from integrations import docuseal, webhooks
from integrations.errors import ProviderError, TemporaryProviderError
from integrations.models import WebhookEvent
from lib import money, queue

HUNDRED = Decimal(100)
DAYS_PER_YEAR_FOR_LATE_INTEREST = Decimal(360)

LOAN_TERM_FIELDS = (
    "principal",
    "annual_rate",
    "term",
    "method",
    "frequency",
    "fee_type",
    "fee_value",
    "first_due_date",
)


# --- Payment codes ----------------------------------------------------------------------


def luhn_digit(digits: str) -> str:
    """Return the Luhn check digit of a string of digits."""
    total = 0
    for k, char in enumerate(reversed(digits)):
        value = int(char) * (2 if k % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def is_valid_payment_code(code: str) -> bool:
    """Tell whether a payment code has the right shape and check digit."""
    return len(code) == 10 and code.isdigit() and luhn_digit(code[:-1]) == code[-1]


def new_payment_code() -> str:
    """Return an unused 10-digit payment code whose last digit is a Luhn check.

    Digits only, so a bank agent or an IVR can take it; the check digit catches a typo.
    """
    while True:
        body = f"{secrets.randbelow(900_000_000) + 100_000_000}"
        code = body + luhn_digit(body)
        if not Loan.objects.filter(payment_code=code).exists():
            return code


# --- Loans ------------------------------------------------------------------------------


def schedule_for(loan: Loan) -> schedule.Schedule:
    """Return the schedule a loan's terms give (what a draft will have once disbursed)."""
    return schedule.build_schedule(
        principal=loan.principal,
        annual_rate=loan.annual_rate,
        term=loan.term,
        method=loan.method,
        frequency=loan.frequency,
        first_due_date=loan.first_due_date,
        fee_type=loan.fee_type,
        fee_value=loan.fee_value,
    )


def validate_terms(*, product: LoanProduct, principal: Decimal | None, term: int | None) -> None:
    """Raise ValidationError unless the product is active and allows this amount and term.

    A None amount or term is not checked (a form reports its own error for it).
    """
    errors = {}
    if not product.is_active:
        errors["product"] = _("El producto %(p)s no está activo.") % {"p": product}
    if principal is not None and not product.min_amount <= principal <= product.max_amount:
        errors["principal"] = _("El monto debe estar entre %(min)s y %(max)s para %(p)s.") % {
            "min": product.min_amount,
            "max": product.max_amount,
            "p": product,
        }
    if term is not None and not product.min_term <= term <= product.max_term:
        errors["term"] = _("El plazo debe estar entre %(min)s y %(max)s cuotas para %(p)s.") % {
            "min": product.min_term,
            "max": product.max_term,
            "p": product,
        }
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_loan(
    *,
    actor: AbstractBaseUser | None,
    customer: Customer,
    product: LoanProduct,
    principal: Decimal,
    term: int,
    start_date: date,
    first_due_date: date | None = None,
    annual_rate: Decimal | None = None,
    advisor: AbstractBaseUser | None = None,
    branch: Branch | None = None,
    vehicle: dict | None = None,
    notes: str = "",
) -> Loan:
    """Open a draft loan on a product's terms (the rate may be negotiated) and record it."""
    principal = money.cents(Decimal(principal))
    validate_terms(product=product, principal=principal, term=term)
    first_due_date = first_due_date or schedule.first_due_date_after(start_date, product.frequency)
    if first_due_date <= start_date:
        raise ValidationError(
            {"first_due_date": _("El primer vencimiento debe ser posterior al inicio.")}
        )
    loan = Loan(
        customer=customer,
        product=product,
        payment_code=new_payment_code(),
        currency=product.currency,
        principal=principal,
        annual_rate=product.annual_rate if annual_rate is None else annual_rate,
        term=term,
        method=product.method,
        frequency=product.frequency,
        fee_type=product.fee_type,
        fee_value=product.fee_value,
        late_annual_rate=product.late_annual_rate,
        grace_days=product.grace_days,
        start_date=start_date,
        first_due_date=first_due_date,
        advisor=advisor or customer.advisor,
        branch=branch or customer.branch,
        notes=notes,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        **{f"vehicle_{k}": v for k, v in (vehicle or {}).items() if v not in (None, "")},
    )
    loan.full_clean(exclude=["payment_code"])
    loan.save()
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Crédito %(code)s registrado: %(cur)s %(amount)s en %(term)s cuotas")
        % {"code": loan.payment_code, "cur": loan.currency, "amount": principal, "term": term},
        payload={"loan": loan.pk, "product": product.name, "rate": str(loan.annual_rate)},
        actor=actor,
    )
    return loan


def _locked(loan: Loan) -> Loan:
    return Loan.objects.select_for_update().select_related("customer", "product").get(pk=loan.pk)


def _ledger(
    loan: Loan,
    kind: str,
    *,
    actor: AbstractBaseUser | None = None,
    installment: Installment | None = None,
    payment: Payment | None = None,
    component: str = "",
    owed: Decimal = ZERO,
    paid: Decimal = ZERO,
    reason: str = "",
) -> LedgerEntry:
    return LedgerEntry.objects.create(
        loan=loan,
        installment=installment,
        payment=payment,
        kind=kind,
        component=component,
        owed=owed,
        paid=paid,
        actor=actor if actor is not None and actor.is_authenticated else None,
        reason=reason[:255],
    )


def _record_owed(
    loan: Loan,
    rows: Iterable[Installment],
    *,
    sign: int,
    kind: str,
    actor: AbstractBaseUser | None,
    reason: str,
    payment: Payment | None = None,
) -> None:
    """Write to the ledger that `rows` are now owed (sign 1) or no longer owed (sign -1)."""
    actor = actor if actor is not None and actor.is_authenticated else None
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            loan=loan,
            installment=row,
            payment=payment,
            kind=kind,
            component=component,
            owed=sign * row.due(component),
            actor=actor,
            reason=reason[:255],
        )
        for row in rows
        for component in Component.values
        if row.due(component)
    )


def _move(loan: Loan, to: str, *, actor: AbstractBaseUser | None, reason: str = "") -> None:
    """Change a locked loan's status if the move is legal, with its ledger and timeline rows."""
    if not loan.can_move_to(to):
        raise ValidationError(
            _("Un crédito en estado «%(from)s» no puede pasar a «%(to)s».")
            % {"from": loan.get_status_display(), "to": Loan.Status(to).label}
        )
    old_label = loan.get_status_display()
    loan.status = to
    loan.status_changed_at = timezone.now()
    loan.save(update_fields=["status", "status_changed_at", "updated_at"])
    _ledger(loan, LedgerEntry.Kind.STATUS, actor=actor, reason=reason or f"{old_label} → {to}")
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Crédito %(code)s: %(from)s → %(to)s")
        % {"code": loan.payment_code, "from": old_label, "to": loan.get_status_display()},
        payload={"loan": loan.pk, "status": to, "reason": reason},
        actor=actor,
    )


@transaction.atomic
def change_status(*, loan: Loan, to: str, actor: AbstractBaseUser | None, reason: str = "") -> Loan:
    """Move a loan along its life cycle where no other service has more to do.

    Sending for signature, disbursing, paying off and writing off have their own services.
    """
    loan = _locked(loan)
    if to in (Loan.Status.ACTIVE, Loan.Status.PAID, Loan.Status.WRITTEN_OFF):
        raise ValidationError(_("Use la acción propia de ese estado."))
    if to == Loan.Status.CANCELLED and not reason.strip():
        raise ValidationError({"reason": _("Indique el motivo de la anulación.")})
    _move(loan, to, actor=actor, reason=reason)
    return loan


@transaction.atomic
def send_for_signature(*, loan: Loan, actor: AbstractBaseUser | None) -> LoanContract:
    """Move a draft to "awaiting signature" and queue the contract for the customer to sign."""
    loan = _locked(loan)
    if not loan.customer.email:
        raise ValidationError(
            _("El cliente no tiene correo electrónico: regístrelo para enviarle el contrato.")
        )
    _move(loan, Loan.Status.AWAITING_SIGNATURE, actor=actor, reason=_("Contrato enviado a firma"))
    contract = LoanContract.objects.create(loan=loan, signer_email=loan.customer.email)
    queue.enqueue("credits.send_contract", contract_id=contract.pk)
    return contract


@transaction.atomic
def disburse(
    *, loan: Loan, actor: AbstractBaseUser | None, disbursed_at: datetime | None = None
) -> Loan:
    """Disburse a loan ready for it: write its schedule and what it owes to the ledger."""
    loan = _locked(loan)
    if loan.status != Loan.Status.READY_TO_DISBURSE:
        raise ValidationError(
            _("Solo se desembolsa un crédito «Por desembolsar»; este está «%(s)s».")
            % {"s": loan.get_status_display()}
        )
    plan = schedule_for(loan)
    rows = Installment.objects.bulk_create(
        Installment(
            loan=loan,
            number=row.number,
            due_date=row.due_date,
            principal_due=row.principal,
            interest_due=row.interest,
            fee_due=row.fee,
        )
        for row in plan.rows
    )
    reason = _("Desembolso")
    _record_owed(loan, rows, sign=1, kind=LedgerEntry.Kind.DISBURSEMENT, actor=actor, reason=reason)
    loan.disbursed_at = disbursed_at or timezone.now()
    loan.save(update_fields=["disbursed_at", "updated_at"])
    _move(loan, Loan.Status.ACTIVE, actor=actor, reason=reason)
    return loan


@transaction.atomic
def write_off(*, loan: Loan, actor: AbstractBaseUser | None, reason: str) -> Loan:
    """Write off an active loan: what is owed stays owed and recoverable, in another portfolio."""
    if not reason.strip():
        raise ValidationError({"reason": _("Indique el motivo del castigo.")})
    loan = _locked(loan)
    if loan.status != Loan.Status.ACTIVE:
        raise ValidationError(_("Solo se castiga un crédito vigente."))
    _ledger(loan, LedgerEntry.Kind.WRITE_OFF, actor=actor, reason=reason)
    _move(loan, Loan.Status.WRITTEN_OFF, actor=actor, reason=reason)
    return loan


# --- Payments ---------------------------------------------------------------------------


def _live_rows(loan: Loan) -> list[Installment]:
    return list(
        Installment.objects.select_for_update()
        .filter(loan=loan, is_superseded=False)
        .order_by("number")
    )


def _settle_state(inst: Installment, on: date) -> None:
    inst.paid_on = on if inst.total_pending == 0 else None


def _allocate(
    payment: Payment, rows: Iterable[Installment], amount: Decimal, order: list[str]
) -> Decimal:
    """Apply `amount` to `rows`, oldest first, each row's components in `order`; return the rest."""
    allocations = []
    for inst in rows:
        for component in order:
            if amount <= 0:
                break
            take = min(amount, inst.pending(component))
            if take <= 0:
                continue
            setattr(inst, f"{component}_paid", inst.paid(component) + take)
            amount -= take
            allocations.append(
                PaymentAllocation(
                    payment=payment, installment=inst, component=component, amount=take
                )
            )
        _settle_state(inst, payment.received_on)
    PaymentAllocation.objects.bulk_create(allocations)
    touched = {a.installment.pk: a.installment for a in allocations}
    Installment.objects.bulk_update(
        touched.values(),
        ["principal_paid", "interest_paid", "fee_paid", "late_interest_paid", "paid_on"],
    )
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            loan=payment.loan,
            installment=a.installment,
            payment=payment,
            kind=LedgerEntry.Kind.ALLOCATION,
            component=a.component,
            paid=a.amount,
            actor=payment.recorded_by,
            reason=_("Pago %(id)s") % {"id": payment.pk},
        )
        for a in allocations
    )
    return amount


def _reschedule_rows(
    loan: Loan, open_rows: list[Installment], new_principal: Decimal, mode: str
) -> schedule.Schedule:
    """Return the schedule replacing `open_rows` after a prepayment leaves `new_principal`."""
    first = open_rows[0]

    def plan(term: int) -> schedule.Schedule:
        return schedule.build_schedule(
            principal=new_principal,
            annual_rate=loan.annual_rate,
            term=term,
            method=loan.method,
            frequency=loan.frequency,
            first_due_date=first.due_date,
            fee_type=loan.fee_type,
            fee_value=loan.fee_value,
            first_number=first.number + 1,
        )

    if mode == Payment.Overpayment.LOWER_INSTALLMENT:
        return plan(len(open_rows))
    current = first.principal_due + first.interest_due + first.fee_due
    if loan.method == schedule.Method.FRENCH and loan.fee_type == schedule.FeeType.NONE:
        # Shorten a French loan: the same installment, fewer of them, a smaller last one.
        return schedule.build_schedule(
            principal=new_principal,
            annual_rate=loan.annual_rate,
            term=len(open_rows),
            method=loan.method,
            frequency=loan.frequency,
            first_due_date=first.due_date,
            installment=first.principal_due + first.interest_due,
            first_number=first.number + 1,
        )
    # Otherwise: the fewest installments whose largest total is no more than today's.
    low, high = 1, len(open_rows)
    while low < high:
        middle = (low + high) // 2
        if max(r.total for r in plan(middle).rows) <= current:
            high = middle
        else:
            low = middle + 1
    return plan(low)


def _prepay(
    payment: Payment, loan: Loan, open_rows: list[Installment], excess: Decimal, mode: str
) -> Decimal:
    """Prepay principal with `excess`, re-scheduling `open_rows`; return what is left over."""
    remaining = sum((r.principal_due for r in open_rows), ZERO)
    prepaid = min(excess, remaining)
    actor = payment.recorded_by
    reason = _("Prepago con el pago %(id)s") % {"id": payment.pk}
    for row in open_rows:
        row.is_superseded = True
        row.superseded_by_payment = payment
    _record_owed(
        loan,
        open_rows,
        sign=-1,
        kind=LedgerEntry.Kind.RESCHEDULE,
        payment=payment,
        actor=actor,
        reason=reason,
    )
    Installment.objects.bulk_update(open_rows, ["is_superseded", "superseded_by_payment"])
    prepayment_row = Installment.objects.create(
        loan=loan,
        number=open_rows[0].number,
        kind=Installment.Kind.PREPAYMENT,
        due_date=payment.received_on,
        principal_due=prepaid,
        interest_due=ZERO,
        created_by_payment=payment,
    )
    new_rows = [prepayment_row]
    if prepaid < remaining:
        plan = _reschedule_rows(loan, open_rows, remaining - prepaid, mode)
        new_rows += Installment.objects.bulk_create(
            Installment(
                loan=loan,
                number=row.number,
                due_date=row.due_date,
                principal_due=row.principal,
                interest_due=row.interest,
                fee_due=row.fee,
                created_by_payment=payment,
            )
            for row in plan.rows
        )
    _record_owed(
        loan,
        new_rows,
        sign=1,
        kind=LedgerEntry.Kind.RESCHEDULE,
        payment=payment,
        actor=actor,
        reason=reason,
    )
    _allocate(payment, [prepayment_row], prepaid, [Component.PRINCIPAL])
    payment.prepaid_principal = prepaid
    return excess - prepaid


@dataclass(frozen=True)
class Split:
    participation: Participation
    principal: Decimal
    interest: Decimal


def _pro_rata(total: Decimal, participations: list[Participation]) -> list[Decimal]:
    """Split `total` by the participations' shares, in cents, losing and inventing nothing.

    The funded part (total × the sum of shares) is rounded half-up; each participation gets
    its share rounded down and the leftover cents go to the largest remainders.
    """
    if not participations or total == 0:
        return [ZERO for _p in participations]
    funded_share = sum((p.share for p in participations), ZERO)
    funded = money.cents(total * funded_share / HUNDRED)
    exact = [funded * p.share / funded_share for p in participations]
    floors = [x.quantize(schedule.CENT, rounding=ROUND_DOWN) for x in exact]
    cents_left = int((funded - sum(floors, ZERO)) / schedule.CENT)
    by_remainder = sorted(range(len(exact)), key=lambda k: exact[k] - floors[k], reverse=True)
    for k in by_remainder[:cents_left]:
        floors[k] += schedule.CENT
    return floors


def _distribute(payment: Payment, loan: Loan) -> list[Distribution]:
    """Give each participation its share of the principal and interest a payment paid."""
    participations = list(loan.participations.select_related("investor").order_by("id"))
    if not participations:
        return []
    paid = dict(
        payment.allocations.filter(component__in=[Component.PRINCIPAL, Component.INTEREST])
        .values_list("component")
        .annotate(total=Sum("amount"))
    )
    principal_parts = _pro_rata(paid.get(Component.PRINCIPAL, ZERO), participations)
    interest_parts = _pro_rata(paid.get(Component.INTEREST, ZERO), participations)
    fee_rate = loan.product.platform_fee_percent / HUNDRED
    distributions = []
    for participation, principal, interest in zip(
        participations, principal_parts, interest_parts, strict=True
    ):
        if principal == 0 and interest == 0:
            continue
        fee = money.cents(interest * fee_rate)
        distributions.append(
            Distribution(
                payment=payment,
                participation=participation,
                investor=participation.investor,
                principal=principal,
                interest=interest,
                platform_fee=fee,
                net=principal + interest - fee,
                value_date=payment.received_on,
            )
        )
    return Distribution.objects.bulk_create(distributions)


def _is_settled(rows: list[Installment]) -> bool:
    return all(r.total_pending == 0 for r in rows)


@transaction.atomic
def apply_payment(
    *,
    loan: Loan,
    amount: Decimal,
    received_on: date,
    source: str,
    actor: AbstractBaseUser | None,
    reference: str = "",
    overpayment: str = Payment.Overpayment.CREDIT,
    receipt: UploadedFile | None = None,
    receipt_url: str = "",
    external_id: str | None = None,
) -> Payment:
    """Apply money received to a loan, record it, and share it with the loan's investors.

    It pays what is due up to `received_on` and the installment in course, oldest first,
    each installment's components in the product's allocation order. What is left either
    prepays principal (re-scheduling the rest: shorter term or lower installment) or stays
    as the loan's credit balance. A provider's `external_id` is applied once only.
    """
    amount = Decimal(amount)
    if amount <= 0 or amount != money.cents(amount):
        raise ValidationError({"amount": _("El monto debe ser positivo, con hasta dos decimales.")})
    if source not in Payment.Source.values:
        raise ValidationError({"source": _("Origen de pago desconocido.")})
    if overpayment not in Payment.Overpayment.values:
        raise ValidationError({"overpayment": _("Elija qué hacer con el excedente.")})
    if external_id:
        existing = Payment.objects.filter(external_id=external_id).first()
        if existing is not None:
            return existing
    loan = _locked(loan)
    if not loan.is_live:
        raise ValidationError(
            _("No se registran pagos en un crédito «%(s)s».") % {"s": loan.get_status_display()}
        )
    if received_on > timezone.localdate():
        raise ValidationError({"received_on": _("La fecha de pago no puede ser futura.")})
    actor = actor if actor is not None and actor.is_authenticated else None
    payment = Payment(
        loan=loan,
        amount=amount,
        received_on=received_on,
        source=source,
        reference=reference,
        overpayment=overpayment,
        receipt_url=receipt_url,
        external_id=external_id or None,
        recorded_by=actor,
    )
    if receipt is not None:
        payment.receipt = receipt
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError as exc:  # the same provider payment, applied a moment ago
        raise ValidationError(_("Ese pago ya fue registrado.")) from exc
    _ledger(
        loan,
        LedgerEntry.Kind.PAYMENT,
        actor=actor,
        payment=payment,
        reason=_("Pago recibido: %(amount)s (%(src)s)")
        % {"amount": amount, "src": payment.get_source_display()},
    )

    rows = [r for r in _live_rows(loan) if r.total_pending > 0]
    due_now = [r for r in rows if r.due_date <= received_on]
    in_course = rows[len(due_now) : len(due_now) + 1]
    left = _allocate(payment, due_now + in_course, amount, loan.product.get_allocation_order())
    open_rows = rows[len(due_now) + len(in_course) :]
    if left > 0 and open_rows and overpayment != Payment.Overpayment.CREDIT:
        left = _prepay(payment, loan, open_rows, left, overpayment)
    if left > 0:
        payment.credited = left
        loan.credit_balance += left
        loan.save(update_fields=["credit_balance", "updated_at"])
        _ledger(
            loan,
            LedgerEntry.Kind.CREDIT,
            actor=actor,
            payment=payment,
            component=LedgerEntry.CREDIT_COMPONENT,
            paid=left,
            reason=_("Excedente a saldo a favor"),
        )
    payment.save(update_fields=["prepaid_principal", "credited"])
    _distribute(payment, loan)

    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.PAYMENT,
        direction=Interaction.Direction.INBOUND,
        summary=_("Pago de %(cur)s %(amount)s al crédito %(code)s (%(src)s)")
        % {
            "cur": loan.currency,
            "amount": amount,
            "code": loan.payment_code,
            "src": payment.get_source_display(),
        },
        payload={
            "loan": loan.pk,
            "payment": payment.pk,
            "reference": reference,
            "prepaid_principal": str(payment.prepaid_principal),
            "credited": str(payment.credited),
        },
        actor=actor,
        occurred_at=timezone.now(),
    )
    if _is_settled(_live_rows(loan)):
        loan.paid_at = timezone.now()
        loan.save(update_fields=["paid_at", "updated_at"])
        _move(loan, Loan.Status.PAID, actor=actor, reason=_("Crédito cancelado por completo"))
    return payment


@transaction.atomic
def apply_credit_balance(*, loan: Loan, actor: AbstractBaseUser | None) -> Payment:
    """Use the loan's credit balance as a payment (annulling it gives the credit back)."""
    loan = _locked(loan)
    if loan.credit_balance <= 0:
        raise ValidationError(_("El crédito no tiene saldo a favor."))
    amount = loan.credit_balance
    loan.credit_balance = ZERO
    loan.save(update_fields=["credit_balance", "updated_at"])
    _ledger(
        loan,
        LedgerEntry.Kind.CREDIT,
        actor=actor,
        component=LedgerEntry.CREDIT_COMPONENT,
        paid=-amount,
        reason=_("Saldo a favor aplicado a cuotas"),
    )
    return apply_payment(
        loan=loan,
        amount=amount,
        received_on=timezone.localdate(),
        source=Payment.Source.CREDIT_BALANCE,
        actor=actor,
    )


@transaction.atomic
def annul_payment(*, payment: Payment, actor: AbstractBaseUser | None, reason: str) -> Payment:
    """Undo a payment exactly: installments, schedule, credit balance and investor shares."""
    if not reason.strip():
        raise ValidationError({"reason": _("Indique el motivo de la anulación.")})
    loan = _locked(payment.loan)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != Payment.Status.APPLIED:
        raise ValidationError(_("Este pago ya fue anulado."))
    created_rows = list(Installment.objects.select_for_update().filter(created_by_payment=payment))
    later = (
        PaymentAllocation.objects.filter(installment__in=created_rows)
        .exclude(payment=payment)
        .filter(payment__status=Payment.Status.APPLIED)
        .values_list("payment_id", flat=True)
        .distinct()
    )
    if later:
        raise ValidationError(
            _(
                "Este pago reprogramó el cronograma y luego se pagaron cuotas nuevas: "
                "anule primero los pagos %(ids)s."
            )
            % {"ids": ", ".join(f"#{pk}" for pk in sorted(later))}
        )
    if payment.credited > loan.credit_balance:
        raise ValidationError(
            _("El saldo a favor que dejó este pago ya se usó: anule primero ese uso.")
        )
    actor = actor if actor is not None and actor.is_authenticated else None
    note = _("Anulación del pago %(id)s: %(reason)s") % {"id": payment.pk, "reason": reason}

    # Allocations back, newest row first is irrelevant: each restores its own amount.
    allocations = list(payment.allocations.select_related("installment"))
    rows: dict[int, Installment] = {}
    for allocation in allocations:
        inst = rows.setdefault(
            allocation.installment_id,
            Installment.objects.select_for_update().get(pk=allocation.installment_id),
        )
        setattr(
            inst,
            f"{allocation.component}_paid",
            inst.paid(allocation.component) - allocation.amount,
        )
        _ledger(
            loan,
            LedgerEntry.Kind.ANNULMENT,
            actor=actor,
            installment=inst,
            payment=payment,
            component=allocation.component,
            paid=-allocation.amount,
            reason=note,
        )
    for inst in rows.values():
        if inst.total_pending > 0:
            inst.paid_on = None
    Installment.objects.bulk_update(
        rows.values(),
        ["principal_paid", "interest_paid", "fee_paid", "late_interest_paid", "paid_on"],
    )

    # A re-schedule is undone: its rows go, the rows it replaced come back.
    for row in created_rows:
        row.is_superseded = True
    _record_owed(
        loan,
        created_rows,
        sign=-1,
        kind=LedgerEntry.Kind.RESCHEDULE,
        payment=payment,
        actor=actor,
        reason=note,
    )
    Installment.objects.bulk_update(created_rows, ["is_superseded"])
    replaced = list(Installment.objects.select_for_update().filter(superseded_by_payment=payment))
    for row in replaced:
        row.is_superseded = False
        row.superseded_by_payment = None
    _record_owed(
        loan,
        replaced,
        sign=1,
        kind=LedgerEntry.Kind.RESCHEDULE,
        payment=payment,
        actor=actor,
        reason=note,
    )
    Installment.objects.bulk_update(replaced, ["is_superseded", "superseded_by_payment"])

    if payment.credited:
        loan.credit_balance -= payment.credited
        _ledger(
            loan,
            LedgerEntry.Kind.CREDIT,
            actor=actor,
            payment=payment,
            component=LedgerEntry.CREDIT_COMPONENT,
            paid=-payment.credited,
            reason=note,
        )
    if payment.source == Payment.Source.CREDIT_BALANCE:
        loan.credit_balance += payment.amount
        _ledger(
            loan,
            LedgerEntry.Kind.CREDIT,
            actor=actor,
            payment=payment,
            component=LedgerEntry.CREDIT_COMPONENT,
            paid=payment.amount,
            reason=note,
        )
    loan.save(update_fields=["credit_balance", "updated_at"])

    Distribution.objects.bulk_create(
        Distribution(
            payment=payment,
            participation_id=d.participation_id,
            investor_id=d.investor_id,
            principal=-d.principal,
            interest=-d.interest,
            platform_fee=-d.platform_fee,
            net=-d.net,
            reversal_of=d,
            value_date=timezone.localdate(),
        )
        for d in payment.distributions.filter(reversal_of__isnull=True, reversal__isnull=True)
    )

    payment.status = Payment.Status.ANNULLED
    payment.annulled_at = timezone.now()
    payment.annulled_by = actor
    payment.annul_reason = reason[:255]
    payment.save(update_fields=["status", "annulled_at", "annulled_by", "annul_reason"])
    _ledger(loan, LedgerEntry.Kind.ANNULMENT, actor=actor, payment=payment, reason=note)
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.PAYMENT,
        summary=_("Pago de %(cur)s %(amount)s al crédito %(code)s anulado: %(reason)s")
        % {
            "cur": loan.currency,
            "amount": payment.amount,
            "code": loan.payment_code,
            "reason": reason,
        },
        payload={"loan": loan.pk, "payment": payment.pk, "annulled": True},
        actor=actor,
    )
    if loan.status == Loan.Status.PAID:
        was_written_off = loan.ledger_entries.filter(kind=LedgerEntry.Kind.WRITE_OFF).exists()
        loan.paid_at = None
        loan.save(update_fields=["paid_at", "updated_at"])
        _move(
            loan,
            Loan.Status.WRITTEN_OFF if was_written_off else Loan.Status.ACTIVE,
            actor=actor,
            reason=note,
        )
    return payment


# --- Delinquency ------------------------------------------------------------------------


def accrue_late_interest(*, loan: Loan, today: date) -> Decimal:
    """Charge late interest on the loan's overdue installments up to `today`; return the total.

    Past the grace days, late interest runs from the due date on the unpaid principal and
    interest, at the loan's late rate over a 360-day year; it is charged once per day
    however often this runs.
    """
    if loan.late_annual_rate <= 0:
        return ZERO
    daily = loan.late_annual_rate / HUNDRED / DAYS_PER_YEAR_FOR_LATE_INTEREST
    charged = ZERO
    rows = Installment.objects.select_for_update().filter(
        loan=loan, is_superseded=False, paid_on__isnull=True, due_date__lt=today
    )
    for inst in rows:
        if (today - inst.due_date).days <= loan.grace_days:
            continue
        since = max(inst.due_date, inst.late_accrued_through or inst.due_date)
        days = (today - since).days
        base = inst.pending(Component.PRINCIPAL) + inst.pending(Component.INTEREST)
        amount = money.cents(base * daily * days) if days > 0 and base > 0 else ZERO
        inst.late_accrued_through = today
        if amount > 0:
            inst.late_interest_due += amount
            charged += amount
            _ledger(
                loan,
                LedgerEntry.Kind.LATE_INTEREST,
                installment=inst,
                component=Component.LATE_INTEREST,
                owed=amount,
                reason=_("Mora de %(days)s días hasta %(day)s")
                % {"days": days, "day": today.strftime("%d/%m/%Y")},
            )
        inst.save(update_fields=["late_interest_due", "late_accrued_through"])
    return charged


def update_delinquency(*, today: date | None = None, batch_size: int = 500) -> int:
    """Charge late interest and refresh every live loan's days past due and bucket.

    Runs daily (beat). Each loan is its own transaction, so a long run never holds locks
    on the whole portfolio; running it twice in a day changes nothing. Returns how many
    loans changed bucket or days.
    """
    today = today or timezone.localdate()
    overdue_loans = (
        Installment.objects.filter(
            is_superseded=False,
            paid_on__isnull=True,
            due_date__lt=today,
            loan__status__in=Loan.LIVE,
            loan__late_annual_rate__gt=0,
        )
        .values_list("loan_id", flat=True)
        .distinct()
    )
    for loan_id in list(overdue_loans):
        with transaction.atomic():
            loan = Loan.objects.select_for_update().get(pk=loan_id)
            accrue_late_interest(loan=loan, today=today)

    oldest = dict(
        Installment.objects.filter(
            is_superseded=False,
            paid_on__isnull=True,
            due_date__lt=today,
            loan__status__in=Loan.LIVE,
        )
        .values_list("loan_id")
        .annotate(oldest=Min("due_date"))
    )
    changed = []
    # Every live loan, and any other still marked late: no IN list of thousands of ids.
    stale = Loan.objects.filter(Q(status__in=Loan.LIVE) | Q(days_past_due__gt=0)).only(
        "id", "days_past_due", "bucket", "status"
    )
    for loan in stale.iterator(chunk_size=batch_size):
        days = (today - oldest[loan.pk]).days if loan.pk in oldest else 0
        bucket = Bucket.for_days(days)
        if (loan.days_past_due, loan.bucket) != (days, bucket):
            loan.days_past_due, loan.bucket = days, bucket
            changed.append(loan)
    Loan.objects.bulk_update(changed, ["days_past_due", "bucket"], batch_size=batch_size)
    return len(changed)


# --- Investors --------------------------------------------------------------------------


@transaction.atomic
def add_participation(
    *,
    loan: Loan,
    investor: Investor,
    actor: AbstractBaseUser | None,
    amount: Decimal | None = None,
    share: Decimal | None = None,
) -> Participation:
    """Give an investor a part of a loan, by amount or by share; shares never pass 100 %."""
    loan = _locked(loan)
    if loan.status in (Loan.Status.PAID, Loan.Status.CANCELLED, Loan.Status.WRITTEN_OFF):
        raise ValidationError(
            _("No se agregan inversionistas a un crédito «%(s)s».")
            % {"s": loan.get_status_display()}
        )
    if (amount is None) == (share is None):
        raise ValidationError(_("Indique el monto o el porcentaje, uno de los dos."))
    if amount is not None:
        amount = money.cents(Decimal(amount))
        if not ZERO < amount <= loan.principal:
            raise ValidationError(
                {"amount": _("El monto debe ser positivo y no mayor al capital.")}
            )
        share = (amount * HUNDRED / loan.principal).quantize(Decimal("0.000001"))
    else:
        share = Decimal(share).quantize(Decimal("0.000001"))
        if not ZERO < share <= HUNDRED:
            raise ValidationError({"share": _("El porcentaje debe estar entre 0 y 100.")})
        amount = money.cents(loan.principal * share / HUNDRED)
    taken = loan.participations.aggregate(total=Sum("share"))["total"] or ZERO
    if taken + share > HUNDRED:
        raise ValidationError(
            _("Las participaciones superarían el 100 %%: queda %(left)s %% por financiar.")
            % {"left": format((HUNDRED - taken).normalize(), "f")}
        )
    if loan.participations.filter(investor=investor).exists():
        raise ValidationError(_("Ese inversionista ya participa en este crédito."))
    participation = Participation.objects.create(
        investor=investor, loan=loan, amount=amount, share=share
    )
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Crédito %(code)s: %(inv)s financia %(cur)s %(amount)s (%(share)s %%)")
        % {
            "code": loan.payment_code,
            "inv": investor.name,
            "cur": loan.currency,
            "amount": amount,
            "share": format(share.normalize(), "f"),
        },
        payload={"loan": loan.pk, "investor": investor.pk},
        actor=actor,
    )
    return participation


@transaction.atomic
def create_liquidation(
    *, investor: Investor, period_start: date, period_end: date, actor: AbstractBaseUser | None
) -> Liquidation:
    """Settle an investor's period: every distribution dated in it and not yet liquidated.

    A reversal is dated the day of the annulment, so annulling a payment already
    liquidated lands in the next liquidation.
    """
    if period_start > period_end:
        raise ValidationError({"period_end": _("El fin del periodo es anterior al inicio.")})
    lines = Distribution.objects.select_for_update().filter(
        investor=investor,
        liquidation__isnull=True,
        value_date__range=(period_start, period_end),
    )
    if not lines.exists():
        raise ValidationError(_("No hay repartos por liquidar en ese periodo."))
    totals = lines.aggregate(
        principal=Sum("principal"),
        interest=Sum("interest"),
        platform_fee=Sum("platform_fee"),
        net=Sum("net"),
    )
    liquidation = Liquidation.objects.create(
        investor=investor,
        period_start=period_start,
        period_end=period_end,
        principal=totals["principal"],
        interest=totals["interest"],
        platform_fee=totals["platform_fee"],
        net_amount=totals["net"],
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    lines.update(liquidation=liquidation)
    return liquidation


@transaction.atomic
def mark_liquidation_paid(
    *, liquidation: Liquidation, reference: str, actor: AbstractBaseUser | None
) -> Liquidation:
    """Record that a liquidation's net amount was paid to the investor."""
    liquidation = Liquidation.objects.select_for_update().get(pk=liquidation.pk)
    if liquidation.status == Liquidation.Status.PAID:
        raise ValidationError(_("Esta liquidación ya figura como pagada."))
    if not reference.strip():
        raise ValidationError({"reference": _("Indique el número de operación del abono.")})
    liquidation.status = Liquidation.Status.PAID
    liquidation.paid_at = timezone.now()
    liquidation.payout_reference = reference.strip()
    liquidation.save(update_fields=["status", "paid_at", "payout_reference"])
    return liquidation


# Investors are not customers: nothing about their own data goes on a timeline.
# Fields a person may set on an investor; anything else is the system's.
INVESTOR_FIELDS = (
    "kind",
    "name",
    "document_type",
    "document_number",
    "email",
    "phone",
    "bank_name",
    "bank_account",
    "bank_cci",
    "currency",
    "is_active",
)


def normalize_cci(cci: str) -> str:
    """Return an interbank account code (CCI) without spaces or dashes."""
    return re.sub(r"[\s\-]", "", cci or "")


def _duplicate_investor_message() -> str:
    return _("Ya existe un inversionista con ese tipo y número de documento.")


def _validated_investor(investor: Investor) -> None:
    """Check the investor's data per document type, its CCI and its uniqueness."""
    investor.name = investor.name.strip()
    investor.document_number = validators.normalize_document_number(investor.document_number)
    investor.bank_cci = normalize_cci(investor.bank_cci)
    errors: dict[str, list[str]] = {}
    try:
        validators.validate_document(investor.document_type, investor.document_number)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if investor.kind == Investor.Kind.COMPANY and investor.document_type != "ruc":
        errors.setdefault("document_type", []).append(_("Una empresa se registra con su RUC."))
    if investor.bank_cci and not re.fullmatch(r"\d{20}", investor.bank_cci):
        errors.setdefault("bank_cci", []).append(_("El CCI debe tener exactamente 20 dígitos."))
    duplicates = Investor.objects.filter(
        document_type=investor.document_type, document_number=investor.document_number
    ).exclude(pk=investor.pk)
    if "document_number" not in errors and duplicates.exists():
        errors["document_number"] = [_duplicate_investor_message()]
    try:
        investor.full_clean(exclude=list(errors), validate_constraints=False)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _saved_investor(investor: Investor) -> Investor:
    try:
        with transaction.atomic():
            investor.save()
    except IntegrityError as exc:  # the same document registered a moment ago by someone else
        raise ValidationError({"document_number": _duplicate_investor_message()}) from exc
    return investor


@transaction.atomic
def create_investor(*, actor: AbstractBaseUser | None, data: Mapping[str, Any]) -> Investor:
    """Register an investor, validated per document type, with a unique document."""
    investor = Investor(**{k: v for k, v in data.items() if k in INVESTOR_FIELDS})
    _validated_investor(investor)
    return _saved_investor(investor)


@transaction.atomic
def update_investor(
    *, investor: Investor, actor: AbstractBaseUser | None, data: Mapping[str, Any]
) -> Investor:
    """Change an investor's data, validated as when it was registered."""
    investor = Investor.objects.select_for_update().get(pk=investor.pk)
    for field in INVESTOR_FIELDS:
        if field in data:
            setattr(investor, field, data[field])
    _validated_investor(investor)
    return _saved_investor(investor)


# --- Leads ------------------------------------------------------------------------------


@transaction.atomic
def record_investment_lead(*, data: Mapping[str, Any], summary: str, details: dict) -> Customer:
    """Register a web prospect who wants to invest, or note it on the customer they already are.

    An existing customer's data is left as it is: the form is public, and anyone who
    knows a document number could otherwise change that customer's contact details, so
    what was typed goes in the interaction instead.
    """
    channel, _created = Channel.objects.get_or_create(code="web", defaults={"name": "Web"})

    def existing() -> Customer | None:
        return Customer.objects.filter(
            document_type=data["document_type"], document_number=data["document_number"]
        ).first()

    customer = existing()
    if customer is None:
        try:
            customer = crm_services.create_customer(actor=None, data={**data, "channel": channel})
        except ValidationError:
            # The same person sent the form twice at once: the other request created them.
            customer = existing()
            if customer is None:
                raise
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.NOTE,
        channel=channel,
        direction=Interaction.Direction.INBOUND,
        summary=summary,
        payload={
            _("nombre indicado"): f"{data['first_name']} {data['last_name']}".strip(),
            _("correo indicado"): data.get("email") or "—",
            _("celular indicado"): str(data.get("phone") or "—"),
            _("autoriza que lo contacten"): _("sí"),
            **details,
        },
    )
    return customer


# --- Contracts (DocuSeal) ---------------------------------------------------------------


def contract_values(loan: Loan) -> dict[str, str]:
    """Return the template's pre-filled fields: DocuSeal field name → value.

    The DocuSeal template must name its fields like these keys (see the README).
    """
    customer = loan.customer
    plan = schedule_for(loan)
    values = {
        "Nombre": customer.full_name,
        "Documento": f"{customer.get_document_type_display()} {customer.document_number}",
        "Direccion": ", ".join(p for p in (customer.address, customer.city) if p),
        "Correo": customer.email,
        "Codigo de pago": loan.payment_code,
        "Moneda": loan.currency,
        "Monto": f"{loan.principal:.2f}",
        "Tasa anual": f"{loan.annual_rate.normalize():f} %",
        "Plazo": str(loan.term),
        "Frecuencia": loan.get_frequency_display(),
        "Cuota": f"{plan.installment:.2f}",
        "Primer vencimiento": loan.first_due_date.strftime("%d/%m/%Y"),
        "Total a pagar": f"{plan.total:.2f}",
    }
    if loan.has_vehicle:
        values["Vehiculo"] = " ".join(
            str(v) for v in (loan.vehicle_brand, loan.vehicle_model, loan.vehicle_year) if v
        )
        values["Placa"] = loan.vehicle_plate
        values["VIN"] = loan.vehicle_vin
    return values


def send_contract(*, contract_id: int) -> None:
    """Create the DocuSeal submission of a pending contract; safe to run twice.

    A temporary provider error propagates (the task retries); a definitive one marks the
    contract failed, with the error, for someone to fix the data and send it again.
    """
    with transaction.atomic():
        contract = (
            LoanContract.objects.select_for_update()
            .select_related("loan__customer")
            .get(pk=contract_id)
        )
        if contract.status != LoanContract.Status.PENDING:
            return
        loan = contract.loan
        try:
            created = docuseal.create_submission(
                template_id=settings.DOCUSEAL_TEMPLATE_ID,
                role=settings.DOCUSEAL_SIGNER_ROLE,
                submitter_email=contract.signer_email,
                submitter_name=loan.customer.full_name,
                submitter_phone=str(loan.customer.phone or ""),
                values=contract_values(loan),
                external_id=contract.external_id,
                message_subject=_("Contrato de su crédito %(code)s") % {"code": loan.payment_code},
                readonly_values=True,
            )
        except TemporaryProviderError:
            raise
        except ProviderError as exc:
            contract.status = LoanContract.Status.FAILED
            contract.error = str(exc)
            contract.save(update_fields=["status", "error"])
            crm_services.record_interaction(
                customer=loan.customer,
                kind=Interaction.Kind.SYSTEM,
                summary=_("No se pudo enviar a firma el contrato del crédito %(code)s: %(e)s")
                % {"code": loan.payment_code, "e": exc},
                payload={"loan": loan.pk, "contract": contract.pk},
            )
            return
        contract.submission_id = created.submission_id
        contract.status = LoanContract.Status.SENT
        contract.sent_at = timezone.now()
        contract.error = ""
        contract.save(update_fields=["submission_id", "status", "sent_at", "error"])
        crm_services.record_interaction(
            customer=loan.customer,
            kind=Interaction.Kind.EMAIL,
            direction=Interaction.Direction.OUTBOUND,
            summary=_("Contrato del crédito %(code)s enviado a firma a %(email)s")
            % {"code": loan.payment_code, "email": contract.signer_email},
            payload={"loan": loan.pk, "contract": contract.pk, "submission": created.submission_id},
        )


@transaction.atomic
def resend_contract(*, loan: Loan, actor: AbstractBaseUser | None) -> LoanContract:
    """Send the contract of a loan awaiting signature again (after a failure or a decline)."""
    loan = _locked(loan)
    if loan.status != Loan.Status.AWAITING_SIGNATURE:
        raise ValidationError(_("Solo se reenvía el contrato de un crédito «Por firmar»."))
    if loan.contracts.filter(status__in=[LoanContract.Status.PENDING, LoanContract.Status.SENT]):
        raise ValidationError(_("Hay un contrato en curso: espere la firma o su rechazo."))
    if not loan.customer.email:
        raise ValidationError(_("El cliente no tiene correo electrónico."))
    contract = LoanContract.objects.create(loan=loan, signer_email=loan.customer.email)
    queue.enqueue("credits.send_contract", contract_id=contract.pk)
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Contrato del crédito %(code)s reenviado a firma") % {"code": loan.payment_code},
        payload={"loan": loan.pk, "contract": contract.pk},
        actor=actor,
    )
    return contract


def process_docuseal_event(event: WebhookEvent) -> None:
    """Apply a stored DocuSeal webhook to its contract; a duplicate or late one changes nothing.

    All parties signed: keep the signed PDF and its link, and move a loan still awaiting
    signature to "ready to disburse". A decline or an expiry marks the contract so.
    """
    parsed = docuseal.parse_event(event.raw_body.encode())
    contract = (
        LoanContract.objects.select_for_update()
        .select_related("loan__customer")
        .filter(submission_id=parsed.submission_id)
        .first()
    )
    if contract is None:
        raise webhooks.IgnoreEvent(f"No contract for DocuSeal submission {parsed.submission_id}.")
    loan = contract.loan
    if parsed.all_completed:
        if contract.status == LoanContract.Status.COMPLETED:
            raise webhooks.IgnoreEvent("The contract was already signed.")
        url = parsed.combined_document_url or (parsed.documents[0][1] if parsed.documents else "")
        if url:
            contract.signed_file.save(
                f"{loan.payment_code}-contrato.pdf", ContentFile(docuseal.download(url)), save=False
            )
        contract.status = LoanContract.Status.COMPLETED
        contract.document_url = url
        contract.audit_log_url = parsed.audit_log_url
        contract.completed_at = parsed.timestamp
        contract.save()
        crm_services.record_interaction(
            customer=loan.customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Contrato del crédito %(code)s firmado por todas las partes")
            % {"code": loan.payment_code},
            payload={"loan": loan.pk, "contract": contract.pk, "document": url},
            occurred_at=parsed.timestamp,
        )
        loan = _locked(loan)
        if loan.status == Loan.Status.AWAITING_SIGNATURE:
            _move(loan, Loan.Status.READY_TO_DISBURSE, actor=None, reason=_("Contrato firmado"))
        return
    if parsed.event_type == "form.declined" and contract.status != LoanContract.Status.COMPLETED:
        contract.status = LoanContract.Status.DECLINED
        contract.save(update_fields=["status"])
        summary = _("El cliente rechazó firmar el contrato del crédito %(code)s")
    elif (
        parsed.event_type == "submission.expired"
        and contract.status != LoanContract.Status.COMPLETED
    ):
        contract.status = LoanContract.Status.EXPIRED
        contract.save(update_fields=["status"])
        summary = _("Venció el plazo para firmar el contrato del crédito %(code)s")
    elif parsed.event_type == "form.completed":
        summary = _("Un firmante completó el contrato del crédito %(code)s")
    else:
        raise webhooks.IgnoreEvent(f"Nothing to do for {parsed.event_type}.")
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=summary % {"code": loan.payment_code},
        payload={"loan": loan.pk, "contract": contract.pk, "event": parsed.event_type},
        occurred_at=parsed.timestamp,
    )
