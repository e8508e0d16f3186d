"""Payments applied to loans: allocation in the product's order, prepayment and re-scheduling,
credit balance, and annulment, which puts everything back as it was."""

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from credits import portfolio, schedule, selectors
from credits.models import (
    ZERO,
    Component,
    Distribution,
    Installment,
    LedgerEntry,
    Loan,
    Payment,
    PaymentAllocation,
)
from credits.services import delinquency, distributions, ledger
from crm import display
from crm import services as crm_services
from crm.models import Interaction
from integrations import email
from lib import locks, money, people, repeats
from lib.registry import Registry

# The largest amount a money column holds (14 digits, 2 of them decimals).
MAX_AMOUNT = Decimal("999999999999.99")
# The gateways whose webhook applies payments under "<source>:<operation>" external ids
# (collections_app.services.apply_gateway_payment); staff may also record their money by hand.
GATEWAY_SOURCES = (Payment.Source.MERCADOPAGO, Payment.Source.CLEAR)

# (loan, payment): called once a payment was applied to a loan, in its transaction and under
# the loan's lock: an app above credits withdraws what it offered for the old debt (a
# payment link now asking for more than is owed).
PaymentHook = Callable[[Loan, Payment], None]

_payment_hooks: Registry[PaymentHook] = Registry("A loan payment hook")


def register_payment_hook(name: str, hook: PaymentHook) -> None:
    """Call `hook(loan, payment)` whenever `apply_payment` applied a payment to a loan."""
    _payment_hooks.register(name, hook)


def unregister_payment_hook(name: str) -> None:
    """Forget `name`'s hook (for tests)."""
    _payment_hooks.unregister(name)


def _live_rows(loan: Loan) -> list[Installment]:
    return list(
        Installment.objects.select_for_update()
        .filter(loan=loan, is_superseded=False)
        .order_by("number")
    )


def _settle_state(inst: Installment, on: date) -> None:
    inst.paid_on = on if inst.total_pending == 0 else None


def plan_allocations(
    payment: Payment, rows: Iterable[Installment], amount: Decimal, order: list[str]
) -> tuple[list[PaymentAllocation], Decimal]:
    """Apply `amount` to `rows` in memory, oldest first, each row's components in `order`.

    Return the allocations (unsaved) and what is left. The rows' paid amounts and paid day
    change; nothing is written (`_allocate` writes; an import writes many loans at once).
    """
    allocations = []
    for inst in rows:
        if amount <= 0:
            # Nothing left: the rows after are untouched, their paid day as it was (they
            # are open rows, not paid: `_settle_state` would leave them so).
            break
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
    return allocations, amount


def allocation_entries(
    payment: Payment, allocations: Iterable[PaymentAllocation]
) -> list[LedgerEntry]:
    """Return the ledger entries (unsaved) of a payment's allocations."""
    reason = _("Pago %(id)s") % {"id": payment.pk}
    return [
        LedgerEntry(
            loan=payment.loan,
            installment=a.installment,
            payment=payment,
            kind=LedgerEntry.Kind.ALLOCATION,
            component=a.component,
            paid=a.amount,
            actor=payment.recorded_by,
            reason=reason,
        )
        for a in allocations
    ]


def _allocate(
    payment: Payment, rows: Iterable[Installment], amount: Decimal, order: list[str]
) -> Decimal:
    """Apply `amount` to `rows`, write it (allocations, installments, ledger); return the rest."""
    allocations, amount = plan_allocations(payment, rows, amount, order)
    PaymentAllocation.objects.bulk_create(allocations)
    touched = {a.installment.pk: a.installment for a in allocations}
    Installment.objects.bulk_update(
        touched.values(),
        ["principal_paid", "interest_paid", "fee_paid", "late_interest_paid", "paid_on"],
    )
    LedgerEntry.objects.bulk_create(allocation_entries(payment, allocations))
    return amount


def _reschedule_rows(
    loan: Loan, open_rows: list[Installment], new_principal: Decimal, mode: str
) -> schedule.Schedule:
    """Return the schedule replacing `open_rows` after a prepayment leaves `new_principal`,
    its rows dated as the loan's own from the first open one (`_dates_from`)."""
    first = open_rows[0]
    dates_from = _dates_from(loan, open_rows)

    def plan(term: int) -> schedule.Schedule:
        return schedule.build_schedule(
            principal=new_principal,
            annual_rate=loan.annual_rate,
            term=term,
            method=loan.method,
            frequency=loan.frequency,
            first_due_date=first.due_date,
            dates_from=dates_from,
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
            dates_from=dates_from,
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


def _dates_from(loan: Loan, open_rows: list[Installment]) -> tuple[date, int] | None:
    """Return the date the loan's due dates count from and the position of its first open
    row among them, or None when the open rows are not dated by either rule (a schedule
    imported with its own dates, or moved before): re-scheduled from a row dated 28
    February, a loan due on the 31st keeps the 31st in March; a biweekly one keeps its two
    days of the month. The rows must match throughout: a loan whose dates were counted
    from a clipped first due date (before `schedule.dates_anchor`) keeps them."""
    held = [row.due_date for row in open_rows]
    anchors = {
        schedule.dates_anchor(loan.start_date, loan.first_due_date, loan.frequency),
        (loan.first_due_date, 0),
    }
    for anchor, skip in sorted(anchors, key=lambda pair: pair[1], reverse=True):
        dates = schedule.due_dates(anchor, loan.frequency, skip + loan.term)[skip:]
        try:
            position = dates.index(held[0])
        except ValueError:
            continue
        if dates[position : position + len(held)] == held:
            return anchor, skip + position
    return None


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
    ledger.record_owed(
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
    ledger.record_owed(
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
    accept_overpayment: bool = False,
    receipt: UploadedFile | None = None,
    receipt_url: str = "",
    external_id: str | None = None,
    repeat_ok: bool = False,
    is_bookkeeping: bool = False,
    unapplied: str = "",
) -> Payment:
    """Apply money received to a loan, record it, and share it with the loan's investors.

    It pays what is due up to `received_on` and the installment in course, oldest first,
    each installment's components in the product's allocation order. What is left either
    prepays principal (re-scheduling the rest: shorter term or lower installment) or stays
    as the loan's credit balance. A provider's `external_id` is applied once only.

    A gateway's operation (MercadoPago, Clear) is money received once, however it comes:
    recorded by hand with its operation number when the webhook applied it, or recorded by
    hand before, it is refused; recorded by hand without one, a payment of that gateway
    alike (amount and day) asks `repeat_ok`. Notified by the webhook after it was recorded
    by hand, the notification takes that payment when the amounts agree, and otherwise is
    applied and the collections team told that one of the two is to be annulled.

    The amount must be positive and no more than what pays the loan off that day, unless
    `accept_overpayment` says the payer really paid more: the excess then stays as credit
    balance and the payment records it as `overpaid`. The day must fall between the
    disbursement and today.

    The timeline tells the payment as contact from the customer, recorded now and naming
    the day it was received when that is another. `is_bookkeeping` tells it as the
    system's bookkeeping instead (the nightly spending a credit balance), which leaves the
    customer's *última interacción* as it is.

    `unapplied` (why, for the ledger and the timeline) records the money without paying
    anything with it: no installment, late interest or prepayment is touched, and the whole
    amount is the loan's credit balance, `overpaid`, for someone to give back or apply by
    hand (money through a link withdrawn because another receivable settles the loan).
    """
    amount = Decimal(amount)
    if not amount.is_finite() or amount <= 0 or amount != money.cents(amount):
        raise ValidationError({"amount": _("El monto debe ser positivo, con hasta dos decimales.")})
    if amount > MAX_AMOUNT:
        raise ValidationError({"amount": _("El monto es demasiado grande.")})
    if source not in Payment.Source.values:
        raise ValidationError({"source": _("Origen de pago desconocido.")})
    if overpayment not in Payment.Overpayment.values:
        raise ValidationError({"overpayment": _("Elija qué hacer con el excedente.")})
    loan = ledger.locked(loan)
    if source in GATEWAY_SOURCES and reference.strip():
        # One gateway operation is checked and recorded by one transaction at a time,
        # whatever loans it is recorded on: two cashiers typing it on two loans at once
        # (each under its own loan's lock) both found it unrecorded.
        locks.hold(f"payment-operation:{source}:{reference.strip()}")
    # Under the loan's lock: the same delivery arriving twice at once finds the first one.
    if external_id:
        existing = Payment.objects.filter(external_id=external_id).first()
        if existing is not None:
            return existing
    hand_twin = _hand_recorded_operation(loan, source, reference, external_id)
    if hand_twin is not None and hand_twin.amount == amount:
        # The gateway's notification of money staff already recorded by hand: it becomes
        # that payment, so the loan is credited once and a refund later finds it.
        return _adopt_hand_recorded(hand_twin, external_id or "")
    # Money received for a loan paid off meanwhile (a second link paid, a transfer that
    # crossed the last one) is recorded when the payer really paid it (`accept_overpayment`),
    # all of it as credit balance to give back: refused, a gateway's money would be in the
    # lender's account and nowhere in the books.
    late_for_paid = accept_overpayment and loan.status == Loan.Status.PAID
    if not loan.is_live and not late_for_paid:
        raise ValidationError(
            _("No se registran pagos en un crédito «%(s)s».") % {"s": loan.get_status_display()}
        )
    if received_on > timezone.localdate():
        raise ValidationError({"received_on": _("La fecha de pago no puede ser futura.")})
    if not external_id:
        _refuse_a_recorded_operation(loan, source, reference)
    if not external_id and not repeat_ok:
        _refuse_a_repeat(loan, amount, received_on, source, reference, people.signed_in(actor))
        _refuse_a_gateway_twin(loan, amount, received_on, source, reference)
    disbursed_on = loan.disbursed_on
    if disbursed_on is not None and received_on < disbursed_on:
        raise ValidationError(
            {
                "received_on": _(
                    "La fecha de pago no puede ser anterior al desembolso del crédito (%(day)s)."
                )
                % {"day": disbursed_on.strftime("%d/%m/%Y")}
            }
        )
    spends_again = False
    if not unapplied and source != Payment.Source.CREDIT_BALANCE:
        loan, spends_again = _before_later_credit_spends(loan, received_on)
    if not unapplied and source != Payment.Source.CREDIT_BALANCE:
        # The late interest of the days up to the payment's day that the nightly has not
        # charged yet (it runs at 01:15; a stopped worker missed days): charged now, or an
        # installment paid meanwhile would never owe it (the nightly skips paid rows). Not
        # for a credit balance spent: that money was the debtor's before the day fell due.
        delinquency.accrue_late_interest(loan=loan, today=received_on)
    # Recorded without being applied: no row is read, so nothing is owed, taken back or paid.
    live = [] if unapplied else _live_rows(loan)
    # What pays the loan off that day as the screens show it (the form, the portal), late
    # interest charged since then included: up to it, a payment is no overpayment.
    owed = selectors.open_installments(live, received_on).to_settle
    spent = ZERO
    if not unapplied and source != Payment.Source.CREDIT_BALANCE:
        spent = _credit_that_settles(loan, amount, owed, received_on)
    # Recorded after its day: the late interest charged since that day is not owed. What
    # it frees of the payment goes where any excess goes (saldo a favor, or a prepayment).
    rewound = delinquency.rewind_late_interest(loan=loan, rows=live, received_on=received_on)
    split = selectors.open_installments(live, received_on)
    # No more credit than the payment lacks once that late interest is taken back.
    spent = max(min(spent, split.to_settle - amount), ZERO)
    # Money that reaches what settles the loan settles it, whatever was chosen for an
    # excess: kept as credit, the later principal stayed owed and the credit paid it an
    # installment at a time, with its interest (a full payoff left the loan open).
    settles = amount + spent >= split.to_settle
    if overpayment == Payment.Overpayment.CREDIT and split.later and settles:
        overpayment = Payment.Overpayment.SHORTEN_TERM
    overpaid = ZERO
    # Spending the credit balance moves money the loan already holds: nothing to check.
    if amount > owed and source != Payment.Source.CREDIT_BALANCE:
        if not accept_overpayment and not unapplied:
            raise ValidationError(
                {
                    "amount": _(
                        "El monto supera lo que se debe: %(owed)s cancelan el crédito al "
                        "%(day)s. Si de verdad recibió más, marque «Registrar el exceso como "
                        "saldo a favor»."
                    )
                    % {
                        "owed": display.money_text(owed, loan.currency),
                        "day": received_on.strftime("%d/%m/%Y"),
                    }
                }
            )
        overpaid = amount - owed
    if loan.credit_balance + amount > MAX_AMOUNT:
        raise ValidationError({"amount": _("El monto es demasiado grande.")})
    actor = people.signed_in(actor)
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
    ledger.write_entry(
        loan,
        LedgerEntry.Kind.PAYMENT,
        actor=actor,
        payment=payment,
        reason=_("Pago recibido: %(amount)s (%(src)s)")
        % {"amount": amount, "src": payment.get_source_display()},
    )

    delinquency.record_rewound(loan, rewound, payment)
    if spent:
        # Spent with the payment, in one pass against one split: as two payments, the
        # second would owe the next installment's interest, which the first one's split
        # left out of what settles the loan.
        payment.credit_spent = spent
        _move_credit(
            loan,
            payment,
            actor,
            -spent,
            _("Saldo a favor aplicado con este pago, que cancela el crédito"),
        )

    order = loan.product.get_allocation_order()
    left = _allocate(payment, split.due + split.in_course, amount + spent, order)
    delinquency.charge_again(loan, rewound, payment)
    if left > 0 and split.later and overpayment != Payment.Overpayment.CREDIT:
        left = _prepay(payment, loan, split.later, left, overpayment)
    if left > 0:
        payment.credited = left
        _move_credit(
            loan,
            payment,
            actor,
            left,
            _("Pago no aplicado, a saldo a favor: %(why)s") % {"why": unapplied}
            if unapplied
            else _("Pago en exceso a saldo a favor")
            if overpaid
            else _("Excedente a saldo a favor"),
        )
    payment.overpaid = overpaid
    payment.save(update_fields=["prepaid_principal", "credited", "overpaid", "credit_spent"])
    distributions.distribute_payment(payment, loan)

    summary = _("Pago de %(cur)s %(amount)s al crédito %(code)s (%(src)s)") % {
        "cur": loan.currency,
        "amount": amount,
        "code": loan.payment_code,
        "src": payment.get_source_display(),
    }
    if received_on != timezone.localdate():
        # Recorded after its day (a transfer keyed in the next morning): the entry is dated
        # when it was recorded, so the sentence says when the money came.
        summary += _(", recibido el %(day)s") % {"day": received_on.strftime("%d/%m/%Y")}
    if unapplied:
        summary += _(
            "; no se aplicó al crédito (%(why)s): queda todo como saldo a favor, para "
            "devolverlo o aplicarlo a mano"
        ) % {"why": unapplied}
    if spent:
        summary += _(", con %(spent)s de su saldo a favor") % {
            "spent": display.money_text(spent, loan.currency)
        }
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM if is_bookkeeping else Interaction.Kind.PAYMENT,
        direction=Interaction.Direction.INTERNAL
        if is_bookkeeping
        else Interaction.Direction.INBOUND,
        summary=summary,
        payload={
            "loan": loan.pk,
            "payment": payment.pk,
            "received_on": received_on.isoformat(),
            "reference": reference,
            "prepaid_principal": str(payment.prepaid_principal),
            "credited": str(payment.credited),
            "overpaid": str(payment.overpaid),
            **({"credit_spent": str(spent)} if spent else {}),
        },
        actor=actor,
        occurred_at=timezone.now(),
    )
    if hand_twin is not None:
        _warn_of_hand_twin(loan, payment, hand_twin)
    if not unapplied and loan.status != Loan.Status.PAID and _is_settled(_live_rows(loan)):
        loan.paid_at = timezone.now()
        loan.save(update_fields=["paid_at", "updated_at"])
        ledger.move_status(
            loan, Loan.Status.PAID, actor=actor, reason=_("Crédito cancelado por completo")
        )
    # What the payment paid (or re-scheduled) shows in the loan's days past due at once.
    delinquency.refresh_delinquency(loan=loan)
    portfolio.mark_stale(received_on)
    if spends_again:
        # The credit the nightly had spent after this payment's day, spent again after it.
        spend_credit_if_due(loan)
    for name in _payment_hooks.names():
        hook = _payment_hooks.get(name)
        if hook is not None:
            hook(loan, payment)
    return payment


def spend_credit_if_due(loan: Loan) -> Payment | None:
    """Spend an active loan's credit balance as the nightly would now (an installment fell
    due, or the credit settles the loan), after its earlier spends were annulled to put a
    payment before them; return the payment it made, if any."""
    loan = ledger.locked(loan)  # read again: the annulments moved its credit balance
    if not _credit_falls_due(loan):
        return None
    return apply_credit_balance(loan=loan, actor=None, is_bookkeeping=True)


def _move_credit(
    loan: Loan, payment: Payment, actor: AbstractBaseUser | None, paid: Decimal, reason: str
) -> None:
    """Add `paid` (negative: spend it) to the loan's credit balance, with its ledger entry."""
    loan.credit_balance += paid
    loan.save(update_fields=["credit_balance", "updated_at"])
    ledger.write_entry(
        loan,
        LedgerEntry.Kind.CREDIT,
        actor=actor,
        payment=payment,
        component=LedgerEntry.CREDIT_COMPONENT,
        paid=paid,
        reason=reason,
    )


def _before_later_credit_spends(loan: Loan, received_on: date) -> tuple[Loan, bool]:
    """Put a payment received before the loan's credit balance was spent (by the nightly,
    or the loan page's button) before those spends: they are annulled, giving the credit
    back, so the payment meets the loan as it was on its day, and may settle it with the
    credit. Return the loan, locked again, and whether any was annulled: what credit is
    left is then spent again after the payment (`apply_payment`).

    Only when every payment after its day is such a spend (money of the debtor's the loan
    held, moved, not received); nothing when one of them cannot be annulled.
    """
    if loan.status != Loan.Status.ACTIVE:
        return loan, False
    later = list(
        Payment.objects.filter(
            loan=loan, status=Payment.Status.APPLIED, received_on__gt=received_on
        ).order_by("-pk")
    )
    if not later or any(p.source != Payment.Source.CREDIT_BALANCE for p in later):
        return loan, False
    reason = _("saldo a favor aplicado de nuevo después del pago recibido el %(day)s") % {
        "day": received_on.strftime("%d/%m/%Y")
    }
    try:
        with transaction.atomic():
            for spend in later:
                annul_payment(payment=spend, actor=None, reason=reason)
    except ValidationError:
        return ledger.locked(loan), False
    return ledger.locked(loan), True


def _credit_falls_due(loan: Loan, today: date | None = None) -> bool:
    """Whether an active loan's credit balance pays something now, as the nightly spends it
    (`apply_due_credit_balances`): an installment fell due, or the credit settles it."""
    if not selectors.has_credit_to_spend(loan):
        return False
    today = today or timezone.localdate()
    rows = _live_rows(loan)
    if any(r.total_pending > 0 and r.due_date <= today for r in rows):
        return True
    return loan.credit_balance >= selectors.open_installments(rows, today).to_settle > 0


def _credit_that_settles(loan: Loan, amount: Decimal, owed: Decimal, received_on: date) -> Decimal:
    """Return how much of the loan's credit balance a payment of `amount` spends with it:
    what it lacks to settle the loan (`owed`), when the credit makes that up. That is what
    the portal, the bot and a total link ask for (`selectors.settles_with_credit`).

    Nothing when the payment is recorded before another one already applied (keyed in days
    later: the credit may not have been there on its day).
    """
    if not selectors.has_credit_to_spend(loan):
        return ZERO
    short = owed - amount
    if short <= 0 or short > loan.credit_balance:
        return ZERO  # it settles the loan alone, or not even with the credit
    if Payment.objects.filter(
        loan=loan, status=Payment.Status.APPLIED, received_on__gt=received_on
    ).exists():
        return ZERO
    return short


def _refuse_a_repeat(
    loan: Loan,
    amount: Decimal,
    received_on: date,
    source: str,
    reference: str,
    actor: AbstractBaseUser | None,
) -> None:
    """Refuse (under the loan's lock) a payment the same person recorded a moment ago."""
    if actor is None:
        return
    twin = repeats.made_within(
        Payment.objects.filter(
            loan=loan,
            status=Payment.Status.APPLIED,
            amount=amount,
            received_on=received_on,
            source=source,
            reference=reference,
            recorded_by=actor,
        ),
        ledger.REPEAT_WINDOW,
        field="recorded_at",
    )
    if twin is None:
        return
    # A double click credited the loan twice.
    raise ledger.repeat_refused(
        _(
            "Usted registró un pago igual hace un momento (#%(id)s: %(amount)s del "
            "%(day)s). Si es otro pago con los mismos datos, marque «Es otro pago»."
        )
        % {
            "id": twin.pk,
            "amount": display.money_text(amount, loan.currency),
            "day": received_on.strftime("%d/%m/%Y"),
        }
    )


def _operation_ids(source: str, operation: str) -> Q:
    """Filter the payments a gateway's webhook applied for `operation`: under its external
    id, or under it followed by ":" and more (what a partial refund left of it)."""
    external_id = f"{source}:{operation}"
    return Q(external_id=external_id) | Q(external_id__startswith=f"{external_id}:")


def _said(payment: Payment, loan: Loan) -> dict[str, str]:
    """How a message names an earlier payment: number, amount, day, and its loan if other."""
    return {
        "id": str(payment.pk),
        "amount": display.money_text(payment.amount, payment.loan.currency),
        "day": payment.received_on.strftime("%d/%m/%Y"),
        "loan": ""
        if payment.loan_id == loan.pk
        else _(" (crédito %(code)s)") % {"code": payment.loan.payment_code},
        "op": payment.reference,
        "gateway": payment.get_source_display(),
    }


def _refuse_a_recorded_operation(loan: Loan, source: str, reference: str) -> None:
    """Refuse (under the loan's lock) a gateway's operation recorded by hand when it is
    recorded already: applied by the gateway's webhook, or by hand before."""
    operation = reference.strip()
    if source not in GATEWAY_SOURCES or not operation:
        return
    twin = (
        Payment.objects.filter(status=Payment.Status.APPLIED)
        .filter(
            _operation_ids(source, operation) | Q(external_id__isnull=True, reference=operation)
        )
        .filter(source=source)
        .select_related("loan")
        .order_by("pk")
        .first()
    )
    if twin is None:
        return
    said = _said(twin, loan) | {"op": operation}
    if twin.external_id:
        message = _(
            "La operación %(op)s de %(gateway)s ya está registrada: llegó por la pasarela como "
            "el pago #%(id)s, de %(amount)s del %(day)s%(loan)s. No se registró otra vez."
        )
    else:
        message = _(
            "La operación %(op)s de %(gateway)s ya está registrada a mano: es el pago "
            "#%(id)s, de %(amount)s del %(day)s%(loan)s. No se registró otra vez."
        )
    raise ValidationError({"reference": message % said})


def _refuse_a_gateway_twin(
    loan: Loan, amount: Decimal, received_on: date, source: str, reference: str
) -> None:
    """Ask to confirm a gateway's payment recorded by hand without its operation number
    when that gateway's webhook applied one alike (same amount, same day) to the loan."""
    if source not in GATEWAY_SOURCES or reference.strip():
        return
    twin = (
        Payment.objects.filter(
            loan=loan,
            status=Payment.Status.APPLIED,
            source=source,
            amount=amount,
            received_on=received_on,
            external_id__startswith=f"{source}:",
        )
        .select_related("loan")
        .order_by("pk")
        .first()
    )
    if twin is None:
        return
    raise ledger.repeat_refused(
        _(
            "Ya llegó por %(gateway)s un pago igual: el pago #%(id)s, de %(amount)s del "
            "%(day)s (operación %(op)s). Si es el mismo, no lo registre otra vez; si es otro "
            "pago, indique su número de operación o marque «Es otro pago»."
        )
        % _said(twin, loan)
    )


def _hand_recorded_operation(
    loan: Loan, source: str, reference: str, external_id: str | None
) -> Payment | None:
    """Return the loan's applied payment recorded by hand for the gateway operation a
    webhook applies now (`external_id` "<source>:<operation>…", `reference` the operation)."""
    operation = reference.strip()
    if source not in GATEWAY_SOURCES or not operation or not external_id:
        return None
    own = f"{source}:{operation}"
    if external_id != own and not external_id.startswith(f"{own}:"):
        return None
    return (
        Payment.objects.filter(
            loan=loan,
            status=Payment.Status.APPLIED,
            source=source,
            reference=operation,
            external_id__isnull=True,
        )
        .select_related("loan")
        .order_by("pk")
        .first()
    )


def _adopt_hand_recorded(payment: Payment, external_id: str) -> Payment:
    """Make a payment recorded by hand the one a gateway's webhook reports (same operation,
    same amount): it takes the gateway's external id, and the timeline says so."""
    payment.external_id = external_id
    payment.save(update_fields=["external_id"])
    crm_services.record_interaction(
        customer=payment.loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_(
            "%(gateway)s notificó la operación %(op)s, que ya estaba registrada a mano como el "
            "pago #%(id)s (%(amount)s del %(day)s): no se registró otra vez."
        )
        % _said(payment, payment.loan),
        payload={"loan": payment.loan_id, "payment": payment.pk, "external_id": external_id},
    )
    return payment


def _warn_of_hand_twin(loan: Loan, payment: Payment, twin: Payment) -> None:
    """Tell the timeline and the collections team that a gateway's payment was applied
    while a payment recorded by hand names its operation with another amount: one of the
    two is wrong, and only a person can say which."""
    said = _said(twin, loan) | {
        "new": str(payment.pk),
        "new_amount": display.money_text(payment.amount, loan.currency),
        "code": loan.payment_code,
        "name": loan.customer.full_name,
    }
    text = (
        _(
            "%(gateway)s notificó la operación %(op)s por %(new_amount)s y se registró como el "
            "pago #%(new)s del crédito %(code)s. Esa operación ya estaba registrada a mano "
            "como el pago #%(id)s, de %(amount)s del %(day)s: el crédito tiene los dos pagos. "
            "Revise cuál corresponde y anule el otro."
        )
        % said
    )
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=text,
        payload={"loan": loan.pk, "payment": payment.pk, "hand_recorded": twin.pk},
    )
    for address in settings.COLLECTIONS_TEAM_EMAILS:
        email.enqueue(
            to=address,
            subject=_("Operación registrada dos veces: %(name)s, crédito %(code)s") % said,
            body=text,
            dedupe_key=f"gateway-hand-twin-{payment.pk}-{address}",
        )


@transaction.atomic
def apply_credit_balance(
    *, loan: Loan, actor: AbstractBaseUser | None, is_bookkeeping: bool = False
) -> Payment:
    """Use the loan's credit balance as a payment (annulling it gives the credit back).

    `is_bookkeeping`: the system spends it (the nightly), so the timeline tells it as
    bookkeeping, not as contact (`apply_payment`).
    """
    loan = ledger.locked(loan)
    if loan.credit_balance <= 0:
        raise ValidationError(_("El crédito no tiene saldo a favor."))
    amount = loan.credit_balance
    loan.credit_balance = ZERO
    loan.save(update_fields=["credit_balance", "updated_at"])
    ledger.write_entry(
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
        is_bookkeeping=is_bookkeeping,
    )


def apply_due_credit_balances(*, today: date | None = None) -> int:
    """Spend each live loan's credit balance on its installments once one falls due (beat,
    before the nightly's late interest); return on how many loans.

    A credit balance is the debtor's money already received: an installment it covers is
    not late, and is not charged late interest on it. A credit that covers all the loan
    owes settles it the same night, due or not: kept, it paid the installments one at a
    time, with their interest. Each loan is its own transaction,
    and the payment it makes is annullable like the loan page's *Aplicar saldo a favor*.

    Active loans only: a written-off loan's credit waits for a person (the loan page's
    button). Money kept unapplied on a loan a written-off campaign covers (`unapplied` in
    `apply_payment`) is to be given back or applied by hand, never spent at night.
    """
    today = today or timezone.localdate()
    # Few loans hold a credit balance: each is read, under its lock, to see if it pays now.
    holding = Loan.objects.filter(status=Loan.Status.ACTIVE, credit_balance__gt=0)
    applied = 0
    for loan_id in list(holding.order_by("pk").values_list("pk", flat=True)):
        with transaction.atomic():
            loan = ledger.locked(Loan(pk=loan_id))
            if not _credit_falls_due(loan, today):
                continue
            try:
                # Nobody was in touch: the customer's *última interacción* stays as it was.
                apply_credit_balance(loan=loan, actor=None, is_bookkeeping=True)
            except ValidationError:
                continue  # spent meanwhile (the loan page's button): nothing left to apply
            applied += 1
    return applied


def _payment_numbers(pks: list[int], shown: int = 5) -> str:
    """Return "#9, #8, #7" or, for many, the newest few and how many more ("y 1,297 más")."""
    numbers = ", ".join(f"#{pk}" for pk in pks[:shown])
    if len(pks) <= shown:
        return numbers
    rest = len(pks) - shown
    return _("%(numbers)s y %(count)s más") % {
        "numbers": numbers,
        "count": formats.number_format(rest, force_grouping=True),
    }


@transaction.atomic
def annul_payment(*, payment: Payment, actor: AbstractBaseUser | None, reason: str) -> Payment:
    """Undo a payment exactly: installments, schedule, credit balance and investor shares."""
    if not reason.strip():
        raise ValidationError({"reason": _("Indique el motivo de la anulación.")})
    loan = ledger.locked(payment.loan)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != Payment.Status.APPLIED:
        # The same annulment sent twice (a double click, the back button): say when the
        # first one did it, and that nothing more was done.
        raise ValidationError(
            _("Este pago ya fue anulado %(when_by)s; no se anuló otra vez.")
            % {"when_by": repeats.done_when_by(payment.annulled_at, payment.annulled_by)}
        )
    created_rows = list(Installment.objects.select_for_update().filter(created_by_payment=payment))
    later = (
        PaymentAllocation.objects.filter(installment__in=created_rows)
        .exclude(payment=payment)
        .filter(payment__status=Payment.Status.APPLIED)
        # Without the model's ordering (installment number, id) DISTINCT sees only payments.
        .order_by("payment_id")
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
    younger = (
        Payment.objects.filter(loan=loan, status=Payment.Status.APPLIED, pk__gt=payment.pk)
        .filter(allocations__isnull=False)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    if younger:
        # Annulled alone, it would re-open the oldest installments while younger ones stay
        # paid by the later payments: the loan would read late since then, and be charged.
        raise ValidationError(
            _(
                "Después de este pago se aplicaron los pagos %(ids)s: anúlelos primero, del "
                "más reciente al más antiguo, y vuelva a registrarlos después de anular este. "
                "Así cada pago cubre las cuotas más antiguas, como si este no hubiera existido."
            )
            % {"ids": _payment_numbers(list(younger))}
        )
    actor = people.signed_in(actor)
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
        ledger.write_entry(
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
    ledger.record_owed(
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
    ledger.record_owed(
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
        _move_credit(loan, payment, actor, -payment.credited, note)
    # The credit balance it spent comes back: as a payment of its own, or with this one.
    given_back = payment.amount if payment.source == Payment.Source.CREDIT_BALANCE else ZERO
    given_back += payment.credit_spent
    if given_back:
        _move_credit(loan, payment, actor, given_back, note)

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

    delinquency.charge_after_annulment(loan, payment, actor, note)

    payment.status = Payment.Status.ANNULLED
    payment.annulled_at = timezone.now()
    payment.annulled_by = actor
    payment.annul_reason = reason[:255]
    payment.save(update_fields=["status", "annulled_at", "annulled_by", "annul_reason"])
    ledger.write_entry(loan, LedgerEntry.Kind.ANNULMENT, actor=actor, payment=payment, reason=note)
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
    # A payment that paid no installment (money for a loan already paid off, all of it
    # credit) leaves the loan paid.
    if loan.status == Loan.Status.PAID and not _is_settled(_live_rows(loan)):
        was_written_off = loan.ledger_entries.filter(kind=LedgerEntry.Kind.WRITE_OFF).exists()
        loan.paid_at = None
        loan.save(update_fields=["paid_at", "updated_at"])
        ledger.move_status(
            loan,
            Loan.Status.WRITTEN_OFF if was_written_off else Loan.Status.ACTIVE,
            actor=actor,
            reason=note,
        )
    # The installments it re-opened are late again from their due dates.
    delinquency.refresh_delinquency(loan=loan)
    portfolio.mark_stale(payment.received_on)
    return payment
