"""Loans: payment codes, terms, creation, and the moves of their life (disburse, annul a
disbursement, write off).

An app above this one that follows a loan's life (a credit application waits for its
disbursement) registers a hook with `register_disbursement_hook`; `disburse` calls it in
its own transaction, so credits never imports that app. One that keeps open business on a
loan (collections: a payment link, a promise, an agreement) registers a check with
`register_annulment_check`, which refuses to annul the loan's disbursement while it stands.
"""

import secrets
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from credits import portfolio, schedule
from credits.models import (
    Bucket,
    Distribution,
    Installment,
    LedgerEntry,
    Loan,
    LoanContract,
    LoanProduct,
    Payment,
)
from credits.services import delinquency, ledger
from crm import display
from crm import services as crm_services
from crm.models import Branch, Customer, Interaction
from lib import money, people, repeats
from lib.registry import Registry

# (loan, actor): called once a loan is disbursed, inside the disbursement's transaction.
DisbursementHook = Callable[[Loan, AbstractBaseUser | None], None]

_disbursement_hooks: Registry[DisbursementHook] = Registry("A disbursement hook")


def register_disbursement_hook(name: str, hook: DisbursementHook) -> None:
    """Call `hook(loan, actor)` whenever a loan is disbursed (by its app's `ready`)."""
    _disbursement_hooks.register(name, hook)


def unregister_disbursement_hook(name: str) -> None:
    """Forget `name`'s hook (for tests)."""
    _disbursement_hooks.unregister(name)


# (loan) -> why its disbursement may not be annulled now, in a sentence, or "": what an app
# above credits keeps open on the loan (a payment link, a promise, an agreement).
AnnulmentCheck = Callable[[Loan], str]

_annulment_checks: Registry[AnnulmentCheck] = Registry("A disbursement annulment check")


def register_annulment_check(name: str, check: AnnulmentCheck) -> None:
    """Refuse to annul a loan's disbursement while `check(loan)` says why (by its app's
    `ready`); it runs under the loan's lock."""
    _annulment_checks.register(name, check)


def unregister_annulment_check(name: str) -> None:
    """Forget `name`'s check (for tests)."""
    _annulment_checks.unregister(name)


# What a loan keeps of its co-signer (*aval*): `create_loan(cosigner={...})`'s keys.
COSIGNER_FIELDS = ("name", "email", "document")

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


def schedule_for(loan: Loan) -> schedule.Schedule:
    """Return the schedule a loan's terms give (what a draft will have once disbursed)."""
    return schedule.build_schedule(
        principal=loan.principal,
        annual_rate=loan.annual_rate,
        term=loan.term,
        method=loan.method,
        frequency=loan.frequency,
        first_due_date=loan.first_due_date,
        start_date=loan.start_date,
        fee_type=loan.fee_type,
        fee_value=loan.fee_value,
    )


def validate_terms(
    *,
    product: LoanProduct,
    principal: Decimal | None,
    term: int | None,
    annual_rate: Decimal | None = None,
) -> None:
    """Raise ValidationError unless the product is active and allows this amount, term and rate.

    A None amount, term or rate is not checked (a form reports its own error for it; a None
    rate means the product's own).
    """
    errors = {}
    if not product.is_active:
        errors["product"] = _("El producto %(p)s no está activo.") % {"p": product}
    if principal is not None and not product.min_amount <= principal <= product.max_amount:
        errors["principal"] = _("El monto debe estar entre %(min)s y %(max)s para %(p)s.") % {
            "min": display.amount(product.min_amount),
            "max": display.amount(product.max_amount),
            "p": product,
        }
    if term is not None and not product.min_term <= term <= product.max_term:
        if product.min_term == product.max_term:
            errors["term"] = ngettext(
                "El plazo es de %(max)s cuota para %(p)s.",
                "El plazo es de %(max)s cuotas para %(p)s.",
                product.max_term,
            ) % {"max": product.max_term, "p": product}
        else:
            errors["term"] = _("El plazo debe estar entre %(min)s y %(max)s cuotas para %(p)s.") % {
                "min": product.min_term,
                "max": product.max_term,
                "p": product,
            }
    if annual_rate is not None and not product.min_rate <= annual_rate <= product.max_rate:
        errors["annual_rate"] = _(
            "La tasa debe estar entre %(min)s %% y %(max)s %% anual para %(p)s."
        ) % {"min": _rate(product.min_rate), "max": _rate(product.max_rate), "p": product}
    if errors:
        raise ValidationError(errors)


def _rate(value: Decimal) -> str:
    """Return a rate without trailing zeros: 32, 19.5."""
    return format(value.normalize(), "f")


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
    cosigner: dict | None = None,
    notes: str = "",
    repeat_ok: bool = False,
) -> Loan:
    """Open a draft loan on a product's terms (the rate may be negotiated) and record it.

    `cosigner` is the co-signer's name, email and document; a product that asks for a
    co-signer refuses a loan without their name and e-mail (they sign its contract). The
    same loan opened again by the same person within minutes (a double click, the back
    button and send) is refused, naming the first, unless `repeat_ok` says it is another.
    """
    principal = money.cents(Decimal(principal))
    annual_rate = product.annual_rate if annual_rate is None else Decimal(annual_rate)
    validate_terms(product=product, principal=principal, term=term, annual_rate=annual_rate)
    # Under the customer's lock: the same form sent twice at once finds the first loan.
    crm_services.lock_current_customer(customer.pk)
    if not repeat_ok:
        _refuse_a_repeat(actor, customer, product, principal, term, start_date)
    cosigner = {k: (v or "").strip() for k, v in (cosigner or {}).items()}
    if product.requires_cosigner and not (cosigner.get("name") and cosigner.get("email")):
        raise ValidationError(
            {
                "cosigner_name": _(
                    "El producto %(p)s exige un aval: indique su nombre y su correo, para que "
                    "firme el contrato."
                )
                % {"p": product}
            }
        )
    try:
        first_due_date = first_due_date or schedule.first_due_date_after(
            start_date, product.frequency
        )
        # The last due date too: the loan's page and its disbursement compute them all.
        schedule.loan_due_dates(start_date, first_due_date, product.frequency, term)
    except (ValueError, OverflowError) as exc:  # a date past year 9999
        raise ValidationError(
            {"first_due_date": _("Con estas fechas el cronograma pasaría del año 9999.")}
        ) from exc
    if first_due_date <= start_date:
        raise ValidationError(
            {"first_due_date": _("El primer vencimiento debe ser posterior al inicio.")}
        )
    customer_advisor, no_advisor = customer_advisor_for_loan(customer)
    customer_branch, no_branch = customer_branch_for_loan(customer)
    # What the loan does not take from the customer, said on its timeline entry.
    unowned = [why for given, why in ((advisor, no_advisor), (branch, no_branch)) if not given]
    loan = Loan(
        customer=customer,
        product=product,
        payment_code=new_payment_code(),
        currency=product.currency,
        principal=principal,
        annual_rate=annual_rate,
        term=term,
        method=product.method,
        frequency=product.frequency,
        fee_type=product.fee_type,
        fee_value=product.fee_value,
        late_annual_rate=product.late_annual_rate,
        grace_days=product.grace_days,
        start_date=start_date,
        first_due_date=first_due_date,
        advisor=advisor or customer_advisor,
        branch=branch or customer_branch,
        notes=notes,
        created_by=people.signed_in(actor),
        **{f"vehicle_{k}": v for k, v in (vehicle or {}).items() if v not in (None, "")},
        **{f"cosigner_{k}": v for k, v in cosigner.items() if k in COSIGNER_FIELDS and v},
    )
    loan.full_clean(exclude=["payment_code"])
    loan.save()
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=ngettext(
            "Crédito %(code)s registrado: %(cur)s %(amount)s en %(term)s cuota",
            "Crédito %(code)s registrado: %(cur)s %(amount)s en %(term)s cuotas",
            term,
        )
        % {"code": loan.payment_code, "cur": loan.currency, "amount": principal, "term": term}
        + "".join(f". {why}" for why in unowned if why),
        payload={"loan": loan.pk, "product": product.name, "rate": str(loan.annual_rate)},
        actor=actor,
    )
    return loan


def customer_advisor_for_loan(customer: Customer) -> tuple[AbstractBaseUser | None, str]:
    """Return the advisor a new loan of `customer` takes when none is chosen («El del
    cliente»), and, when it takes nobody, why in a sentence ("" if the customer has none).

    The customer's advisor counts only while active and with the role that gives customers
    (`crm.forms.advisors`): a loan credited to someone who left had nobody to follow it.
    """
    advisor = customer.advisor
    if advisor is None:
        return None, ""
    name = people.display_name(advisor)
    if not advisor.is_active:
        why = _("El asesor del cliente, %(name)s, ya no está activo: el crédito queda sin asesor.")
        return None, why % {"name": name}
    if not may_advise(advisor):
        why = _(
            "El asesor del cliente, %(name)s, ya no tiene el rol de asesor: el crédito queda "
            "sin asesor."
        )
        return None, why % {"name": name}
    return advisor, ""


def customer_branch_for_loan(customer: Customer) -> tuple[Branch | None, str]:
    """Return the branch a new loan of `customer` takes when none is chosen («La del
    cliente»): the customer's while it is active; else none, and why in a sentence."""
    branch = customer.branch
    if branch is None or branch.is_active:
        return branch, ""
    why = _("La sucursal del cliente, %(name)s, está inactiva: el crédito queda sin sucursal.")
    return None, why % {"name": branch.name}


def may_advise(user: AbstractBaseUser) -> bool:
    """Whether `user` is among the advisors the forms offer (`crm.forms.advisors`): active,
    in a role that may edit customers."""
    return user.is_active and _advisors().filter(pk=user.pk).exists()


def advisor_ids() -> set[int]:
    """Return the ids of everyone `may_advise` says yes to (for an import's many rows)."""
    return set(_advisors().values_list("pk", flat=True))


def _advisors() -> QuerySet:
    return get_user_model().objects.filter(
        is_active=True, groups__permissions__codename="change_customer"
    )


def _refuse_a_repeat(
    actor: AbstractBaseUser | None,
    customer: Customer,
    product: LoanProduct,
    principal: Decimal,
    term: int,
    start_date: date,
) -> None:
    actor = people.signed_in(actor)
    if actor is None:
        return
    twin = repeats.made_within(
        Loan.objects.filter(
            customer=customer,
            product=product,
            principal=principal,
            term=term,
            start_date=start_date,
            created_by=actor,
        ).exclude(status=Loan.Status.CANCELLED),
        ledger.REPEAT_WINDOW,
    )
    if twin is None:
        return
    raise ledger.repeat_refused(
        _(
            "Usted registró este mismo crédito hace un momento (%(code)s, %(amount)s en "
            "%(term)s cuotas). Si es otro crédito con los mismos datos, marque «Es otro "
            "crédito»."
        )
        % {
            "code": twin.payment_code,
            "amount": display.money_text(principal, twin.currency),
            "term": term,
        }
    )


@transaction.atomic
def change_status(*, loan: Loan, to: str, actor: AbstractBaseUser | None, reason: str = "") -> Loan:
    """Move a loan along its life cycle where no other service has more to do.

    Sending for signature, disbursing, paying off and writing off have their own services.
    """
    loan = ledger.locked(loan)
    # A disbursed loan leaves its state only through a service that also writes its ledger
    # (a payment, a write-off, `annul_disbursement`).
    if to in Loan.DISBURSED or loan.status in Loan.DISBURSED:
        raise ValidationError(_("Use la acción propia de ese estado."))
    if to == Loan.Status.CANCELLED and not reason.strip():
        raise ValidationError({"reason": _("Indique el motivo de la anulación.")})
    ledger.move_status(loan, to, actor=actor, reason=reason)
    return loan


@transaction.atomic
def disburse(
    *,
    loan: Loan,
    actor: AbstractBaseUser | None,
    disbursed_at: datetime | None = None,
    disbursed_on: date | None = None,
) -> Loan:
    """Disburse a loan ready for it: write its schedule and what it owes to the ledger.

    `disbursed_on` is the day the money was handed over, as a person states it (a loan
    registered after the fact): from today back to the loan's start date, the day its
    schedule counts its first period from. A past day is kept at noon, local time, as the
    importer keeps it; today, the moment is now; either way the installments already due
    show as late at once. `disbursed_at` is an exact moment, from code (seeds, tests); a
    past one, too, has its late installments counted at once. Payments are recorded from
    that day on, and the portfolio counts the loan from then.
    """
    if disbursed_at is not None and disbursed_on is not None:
        raise TypeError("Pass disbursed_at or disbursed_on, not both.")
    loan = ledger.locked(loan)
    if loan.status != Loan.Status.READY_TO_DISBURSE:
        raise ValidationError(
            _("Solo se desembolsa un crédito «Por desembolsar»; este está «%(s)s».")
            % {"s": loan.get_status_display()}
        )
    today = timezone.localdate()
    reason = _("Desembolso")
    if disbursed_on is not None:
        validate_disbursement_day(loan, disbursed_on, today)
        if disbursed_on != today:
            disbursed_at = timezone.make_aware(datetime.combine(disbursed_on, time(12)))
            # The ledger's own date is when this was written: the reason keeps the day.
            reason = _("Desembolso del %(day)s") % {"day": disbursed_on.strftime("%d/%m/%Y")}
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
    ledger.record_owed(
        loan, rows, sign=1, kind=LedgerEntry.Kind.DISBURSEMENT, actor=actor, reason=reason
    )
    loan.disbursed_at = disbursed_at or timezone.now()
    loan.save(update_fields=["disbursed_at", "updated_at"])
    ledger.move_status(loan, Loan.Status.ACTIVE, actor=actor, reason=reason)
    # Installments due before today are late now, not after the next nightly run, whether
    # the day came as a date (a person) or as a moment (code): the loans list filtered by
    # bucket and the portfolio report, which computes lateness itself, agree at once.
    delinquency.refresh_delinquency(loan=loan, today=today)
    portfolio.mark_stale(timezone.localdate(loan.disbursed_at))
    for name in _disbursement_hooks.names():
        hook = _disbursement_hooks.get(name)
        if hook is not None:
            hook(loan, actor)
    return loan


def validate_disbursement_day(loan: Loan, day: date, today: date) -> None:
    """Refuse a disbursement day in the future or before the loan's start date.

    The schedule counts its first period (and its interest) from the start date: money
    handed over before it would run days the schedule does not charge.
    """
    if day > today:
        raise ValidationError({"disbursed_on": _("La fecha del desembolso no puede ser futura.")})
    if day < loan.start_date:
        raise ValidationError(
            {
                "disbursed_on": _(
                    "La fecha del desembolso no puede ser anterior al inicio del crédito (%(day)s)."
                )
                % {"day": loan.start_date.strftime("%d/%m/%Y")}
            }
        )


# How the ledger's and the timeline's reason of an annulled disbursement begins: a second
# request finds the first one by it, to say when and by whom.
_ANNULMENT_REASON_START = "Anulación del desembolso"


def disbursement_annulment_refusal(loan: Loan) -> str:
    """Return why the loan's disbursement may not be annulled now, in a sentence, or "".

    Only a disbursement nothing followed is annulled: the loan active, never a payment on it
    (an annulled one either: its allocations and investors' reversals stay on the schedule
    it paid), no credit balance, no investor distribution (so no liquidation line), no
    discount of its late interest, a schedule of its own (not one imported), and nothing an
    app above credits keeps open on it (its `register_annulment_check`s). Call it with the
    loan locked to act on the answer.
    """
    code = {"code": loan.payment_code}
    if loan.status != Loan.Status.ACTIVE:
        if loan.status == Loan.Status.READY_TO_DISBURSE:
            annulled = (
                LedgerEntry.objects.filter(loan=loan, kind=LedgerEntry.Kind.STATUS)
                .select_related("actor")
                .order_by("-pk")
                .first()
            )
            if annulled is not None and annulled.reason.startswith(_ANNULMENT_REASON_START):
                return _("El desembolso del crédito %(code)s ya fue anulado %(when_by)s.") % {
                    **code,
                    "when_by": repeats.done_when_by(annulled.created_at, annulled.actor),
                }
        return _(
            "Solo se anula el desembolso de un crédito «Vigente»; el crédito %(code)s está "
            "«%(state)s»."
        ) % {**code, "state": loan.get_status_display()}
    if loan.schedule_source == Loan.ScheduleSource.IMPORTED:
        # Disbursed again, it would get the engine's schedule, not its source system's.
        return (
            _(
                "El crédito %(code)s tiene el cronograma importado de su sistema de origen: su "
                "desembolso no se anula aquí; corríjalo en «Importaciones»."
            )
            % code
        )
    payments = Payment.objects.filter(loan=loan).count()
    if payments:
        return ngettext(
            "El crédito %(code)s ya tiene %(n)s pago registrado (aunque se haya anulado): su "
            "desembolso ya no se anula.",
            "El crédito %(code)s ya tiene %(n)s pagos registrados (aunque se hayan anulado): "
            "su desembolso ya no se anula.",
            payments,
        ) % {**code, "n": payments}
    if loan.credit_balance:
        return _(
            "El crédito %(code)s tiene saldo a favor (%(amount)s): su desembolso ya no se anula."
        ) % {**code, "amount": display.money_text(loan.credit_balance, loan.currency)}
    if Distribution.objects.filter(participation__loan=loan).exists():
        return (
            _(
                "El crédito %(code)s ya repartió dinero a sus inversionistas: su desembolso ya no "
                "se anula."
            )
            % code
        )
    waived = LedgerEntry.objects.filter(
        loan=loan, kind=LedgerEntry.Kind.LATE_INTEREST, owed__lt=0
    ).exists()
    if waived:
        return (
            _(
                "El crédito %(code)s tiene un descuento de interés moratorio: su desembolso ya no "
                "se anula."
            )
            % code
        )
    for name in _annulment_checks.names():
        check = _annulment_checks.get(name)
        refusal = check(loan) if check is not None else ""
        if refusal:
            return refusal
    return ""


@transaction.atomic
def annul_disbursement(*, loan: Loan, actor: AbstractBaseUser | None, reason: str) -> Loan:
    """Undo a disbursement recorded by mistake: the loan goes back to «Por desembolsar», to
    be disbursed again with the right day (or cancelled, if its amount was wrong).

    Refused, in words, unless nothing followed it (`disbursement_annulment_refusal`). Its
    schedule stays, superseded, and the ledger takes back everything it owed (late interest
    charged since included) with entries of its own: replayed, the ledger gives every
    installment of it nothing owed. The loan leaves the portfolio from the day it was
    disbursed (those days' snapshots go stale), its investors' capital counts as deployed
    no more, and the customer's timeline says who, when and why.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Indique el motivo de la anulación del desembolso.")})
    loan = ledger.locked(loan)
    refusal = disbursement_annulment_refusal(loan)
    if refusal:
        raise ValidationError(refusal)
    disbursed_on = loan.disbursed_on or timezone.localdate()
    # A fixed text first (`_ANNULMENT_REASON_START`), then the day and the person's words.
    note = _("%(start)s del %(day)s: %(reason)s") % {
        "start": _ANNULMENT_REASON_START,
        "day": disbursed_on.strftime("%d/%m/%Y"),
        "reason": reason,
    }
    rows = list(Installment.objects.select_for_update().filter(loan=loan, is_superseded=False))
    ledger.record_owed(
        loan, rows, sign=-1, kind=LedgerEntry.Kind.ANNULMENT, actor=actor, reason=note
    )
    for row in rows:
        row.is_superseded = True
    Installment.objects.bulk_update(rows, ["is_superseded"])
    loan.disbursed_at = None
    loan.days_past_due, loan.bucket = 0, Bucket.CURRENT
    loan.save(update_fields=["disbursed_at", "days_past_due", "bucket", "updated_at"])
    ledger.move_status(loan, Loan.Status.READY_TO_DISBURSE, actor=actor, reason=note)
    portfolio.mark_stale(min(disbursed_on, timezone.localdate()))
    return loan


@transaction.atomic
def write_off(*, loan: Loan, actor: AbstractBaseUser | None, reason: str) -> Loan:
    """Write off an active loan: what is owed stays owed and recoverable, in another portfolio."""
    if not reason.strip():
        raise ValidationError({"reason": _("Indique el motivo del castigo.")})
    loan = ledger.locked(loan)
    if loan.status != Loan.Status.ACTIVE:
        raise ValidationError(_("Solo se castiga un crédito vigente."))
    ledger.write_entry(loan, LedgerEntry.Kind.WRITE_OFF, actor=actor, reason=reason)
    ledger.move_status(loan, Loan.Status.WRITTEN_OFF, actor=actor, reason=reason)
    portfolio.mark_stale(timezone.localdate())
    return loan


# --- The co-signer of a loan not yet signed -------------------------------------------------


def cosigner_editable(loan: Loan, *, has_open_contract: bool) -> bool:
    """Whether the loan's co-signer may still change: before its contract goes to
    signature, or after one ended unsigned (failed, declined, expired) and before the next."""
    if loan.status == Loan.Status.DRAFT:
        return True
    return loan.status == Loan.Status.AWAITING_SIGNATURE and not has_open_contract


@transaction.atomic
def set_cosigner(
    *, loan: Loan, name: str, email: str, document: str, actor: AbstractBaseUser | None
) -> bool:
    """Register, change or remove the co-signer (*aval*) of a loan not yet signed; return
    whether anything changed. The timeline says what it was and what it is.

    Refused once a contract is on its way to the signers (they would sign another person's
    name), and when a product that asks for a co-signer would be left without one.
    """
    loan = ledger.locked(loan)
    open_contract = loan.contracts.filter(
        status__in=(LoanContract.Status.PENDING, LoanContract.Status.SENT)
    ).exists()
    if not cosigner_editable(loan, has_open_contract=open_contract):
        raise ValidationError(
            _(
                "El aval ya no se cambia: el contrato del crédito %(code)s está en firma o "
                "firmado. Si el aval es otro, anule el crédito y cree uno nuevo."
            )
            % {"code": loan.payment_code}
        )
    new = {"name": name, "email": email, "document": document}
    new = {key: (value or "").strip() for key, value in new.items()}
    errors = {}
    for key, value in new.items():
        try:
            Loan._meta.get_field(f"cosigner_{key}").clean(value, loan)
        except ValidationError as exc:
            errors[f"cosigner_{key}"] = exc.messages
    if errors:
        raise ValidationError(errors)
    if loan.product.requires_cosigner and not (new["name"] and new["email"]):
        raise ValidationError(
            {
                "cosigner_name": _(
                    "El producto %(p)s exige un aval: indique su nombre y su correo, para que "
                    "firme el contrato."
                )
                % {"p": loan.product}
            }
        )
    if bool(new["name"]) != bool(new["email"]):
        missing = "cosigner_email" if new["name"] else "cosigner_name"
        raise ValidationError(
            {missing: _("El aval firma el contrato: indique su nombre y su correo, los dos.")}
        )
    old = {key: getattr(loan, f"cosigner_{key}") for key in COSIGNER_FIELDS}
    if old == new:
        return False
    for key in COSIGNER_FIELDS:
        setattr(loan, f"cosigner_{key}", new[key])
    loan.save(update_fields=[f"cosigner_{key}" for key in COSIGNER_FIELDS] + ["updated_at"])

    def said(values: dict[str, str]) -> str:
        return " · ".join(v for v in values.values() if v) or "—"

    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Aval del crédito %(code)s: %(old)s → %(new)s")
        % {"code": loan.payment_code, "old": said(old), "new": said(new)},
        payload={"loan": loan.pk, "antes": old, "ahora": new},
        actor=actor,
    )
    return True
