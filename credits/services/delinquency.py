"""Late interest and days past due, charged and refreshed every night.

Late interest is charged on running totals, as investors' shares are
(`credits.services.distributions`): a base (the principal and interest an installment has
unpaid) owes, from the installment's due date through a day, its exact late interest
rounded to the cent once (`_running_total`), and a run charges for its days what that
running total grew by since the day charged through (`_late_interest_between`). Days
charged in thirty nightly runs or in one run after thirty days are then the same cents, and
a base whose day is worth less than half a cent still owes a cent now and then. Rounding
each run's own days to the cent made what was owed depend on how often the task ran.

Nothing is stored for it beside the ledger: the running total is worked out from the
installment's due date, its unpaid principal and interest and `late_accrued_through`, all
of which the ledger's entries give. A base changed by a payment or an annulment is charged
from then on the rise of its own running total, so the days before and after the change are
each within a cent of their exact late interest.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, Min, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from credits.models import (
    ZERO,
    Bucket,
    Component,
    Installment,
    LedgerEntry,
    Loan,
    Payment,
)
from credits.services import ledger
from crm import display
from crm import services as crm_services
from crm.models import Interaction
from lib import bulk, money, people

DAYS_PER_YEAR_FOR_LATE_INTEREST = Decimal(360)


def _daily_rate(loan: Loan) -> Decimal:
    return loan.late_annual_rate / money.HUNDRED / DAYS_PER_YEAR_FOR_LATE_INTEREST


def _running_total(inst: Installment, base: Decimal, daily: Decimal, through: date) -> Decimal:
    """Return the late interest `base` owes from the installment's due date through
    `through`, exact and then rounded half up to the cent."""
    return money.cents(base * daily * max((through - inst.due_date).days, 0))


def _late_interest_between(
    inst: Installment, base: Decimal, daily: Decimal, since: date, through: date
) -> Decimal:
    """Return the late interest `base` owes for the days after `since` up to `through`: what
    its running total grew by (see the module's docstring), never below zero."""
    return _running_total(inst, base, daily, through) - _running_total(inst, base, daily, since)


def accrue_late_interest(
    *,
    loan: Loan,
    today: date,
    only: Iterable[int] | None = None,
    payment: Payment | None = None,
) -> Decimal:
    """Charge late interest on the loan's overdue installments up to `today`; return the total.

    Past the grace days, late interest runs from the due date on the unpaid principal and
    interest, at the loan's late rate over a 360-day year; it is charged once per day
    however often this runs, on running totals: the same cents whether the days are charged
    one run a day or all in one run (see the module's docstring). `only` limits it to those
    installments' ids; `payment` is the payment whose late interest taken back this charges
    again (`charge_again`).
    """
    if loan.late_annual_rate <= 0:
        return ZERO
    daily = _daily_rate(loan)
    charged = ZERO
    # Only installments past their grace days: due more than `grace_days` days before today.
    rows = Installment.objects.select_for_update().filter(
        loan=loan,
        is_superseded=False,
        paid_on__isnull=True,
        due_date__lt=today - timedelta(days=loan.grace_days),
    )
    if only is not None:
        rows = rows.filter(pk__in=list(only))
    changed: list[Installment] = []
    entries: list[LedgerEntry] = []
    for inst in rows:
        since = max(inst.due_date, inst.late_accrued_through or inst.due_date)
        if inst.late_accrued_through is not None and inst.late_accrued_through >= today:
            # Charged through that day already (a payment received on an earlier day than
            # the nightly reached: `rewind_late_interest` takes those days back instead).
            continue
        days = (today - since).days
        base = inst.pending(Component.PRINCIPAL) + inst.pending(Component.INTEREST)
        amount = _late_interest_between(inst, base, daily, since, today)
        inst.late_accrued_through = today
        changed.append(inst)
        if amount > 0:
            inst.late_interest_due += amount
            charged += amount
            entries.append(
                ledger.entry(
                    loan,
                    LedgerEntry.Kind.LATE_INTEREST,
                    installment=inst,
                    payment=payment,
                    component=Component.LATE_INTEREST,
                    owed=amount,
                    reason=ngettext(
                        "Mora de %(days)s día hasta %(day)s",
                        "Mora de %(days)s días hasta %(day)s",
                        days,
                    )
                    % {"days": days, "day": today.strftime("%d/%m/%Y")},
                )
            )
    # In two statements, not two a row: a loan 243 installments late took 490 queries.
    LedgerEntry.objects.bulk_create(entries, batch_size=500)
    Installment.objects.bulk_update(
        changed, ["late_interest_due", "late_accrued_through"], batch_size=500
    )
    return charged


@dataclass(frozen=True)
class Rewound:
    """Late interest taken back from one installment (see `rewind_late_interest`)."""

    installment: Installment
    amount: Decimal
    since: date
    through: date


def rewind_late_interest(
    *, loan: Loan, rows: Iterable[Installment], received_on: date
) -> list[Rewound]:
    """Take back the late interest charged on `rows` for days after `received_on`, before a
    payment received that day is applied to them (it was recorded later: a transfer keyed
    in the next morning, a bank's file). The rows are changed and saved; the payment writes
    the ledger entries (`record_rewound`) and charges again what stays unpaid.

    A payment received within the grace days takes back all of it. The nightly task charged
    every day on the same unpaid principal and interest as now, so what it charged after
    that day is what that base's running total grew by since then (`_late_interest_between`,
    whatever runs charged it): charged again on the same base, the same cents come back. A
    row is left as it is when that is not certain: a payment or annulment written since
    changed its principal or interest, or less late interest is owed than the amount to take
    back (some was paid or waived).
    """
    if loan.late_annual_rate <= 0:
        return []
    daily = _daily_rate(loan)
    rows = [
        inst
        for inst in rows
        if inst.paid_on is None
        and inst.late_accrued_through is not None
        and inst.late_accrued_through > received_on
    ]
    if not rows:
        return []
    changed_since = _changed_after(loan, received_on)
    rewound = []
    for inst in rows:
        if inst.pk in changed_since:
            continue
        since = _rewound_since(loan, inst, received_on)
        through = inst.late_accrued_through
        base = inst.pending(Component.PRINCIPAL) + inst.pending(Component.INTEREST)
        amount = _late_interest_between(inst, base, daily, since, through)
        if amount <= 0 or amount > inst.pending(Component.LATE_INTEREST):
            continue
        inst.late_interest_due -= amount
        inst.late_accrued_through = since
        inst.save(update_fields=["late_interest_due", "late_accrued_through"])
        rewound.append(Rewound(inst, amount, since, through))
    return rewound


def record_rewound(loan: Loan, rewound: list[Rewound], payment: Payment) -> None:
    """Write the ledger entries of late interest taken back for `payment`."""
    for row in rewound:
        ledger.write_entry(
            loan,
            LedgerEntry.Kind.LATE_INTEREST,
            actor=payment.recorded_by,
            installment=row.installment,
            payment=payment,
            component=Component.LATE_INTEREST,
            owed=-row.amount,
            reason=_("Mora desde el %(day)s anulada: pago %(id)s recibido ese día")
            % {"day": row.since.strftime("%d/%m/%Y"), "id": payment.pk},
        )


def charge_again(loan: Loan, rewound: list[Rewound], payment: Payment) -> None:
    """Charge again, on what the payment left unpaid, the days `rewind_late_interest` took
    back (the rows the payment settled owe nothing more)."""
    if rewound:
        accrue_late_interest(
            loan=loan,
            today=max(row.through for row in rewound),
            only=[row.installment.pk for row in rewound],
            payment=payment,
        )


def _rewound_since(loan: Loan, inst: Installment, received_on: date) -> date:
    """Return the day late interest runs from once a payment received on `received_on` is
    applied: the due date when it came within the grace days, else that day."""
    within_grace = received_on <= inst.due_date + timedelta(days=loan.grace_days)
    return inst.due_date if within_grace else received_on


def charge_after_annulment(
    loan: Loan, payment: Payment, actor: AbstractBaseUser | None, reason: str
) -> None:
    """Charge late interest on the installments an annulled payment touched as if it had
    never been made.

    Called once the annulment has given the installments back what the payment paid: each
    owes again the principal and interest it owed before (its full base). From the day the
    payment changed it (`_annulled_since`), the installment was charged on what the payment
    left (a running total on the reduced base: `charge_again`'s days and the nightly's since)
    or not at all (the payment settled it). That running total's rise is replaced by the full
    base's over the same days, one ledger entry an installment for the difference (a
    take-back when negative), up to the day the nightly task charged the loan through (the
    latest `late_accrued_through` of its installments): what the loan would owe had it never
    had the payment, with the same nightly runs. What was charged before that day, and
    waivers or discounts granted since, stay as they are.

    Only a loan's newest payment that paid installments can be annulled (`annul_payment`),
    so no later payment changed these installments' base after this one.
    """
    if loan.late_annual_rate <= 0:
        return
    daily = _daily_rate(loan)
    base_paid: dict[int, Decimal] = {}
    for installment_id, component, amount in payment.allocations.values_list(
        "installment_id", "component", "amount"
    ):
        part = amount if component in (Component.PRINCIPAL, Component.INTEREST) else ZERO
        base_paid[installment_id] = base_paid.get(installment_id, ZERO) + part
    # What the payment took back of each installment's late interest (`record_rewound`).
    taken_back: dict[int, Decimal] = {}
    charged_again: set[int] = set()
    for installment_id, owed in LedgerEntry.objects.filter(
        payment=payment, kind=LedgerEntry.Kind.LATE_INTEREST, installment__isnull=False
    ).values_list("installment_id", "owed"):
        charged_again.add(installment_id)
        if owed < 0:
            taken_back[installment_id] = taken_back.get(installment_id, ZERO) - owed
    ids = set(base_paid) | charged_again
    if not ids:
        return
    recorded_on = timezone.localdate(payment.recorded_at)
    rows = list(
        Installment.objects.select_for_update()
        .filter(pk__in=ids, is_superseded=False, paid_on__isnull=True)
        .order_by("number")
    )
    # The day the nightly task charged the loan through: the latest day its installments
    # were charged through, or one the payment took back (an installment it settled was
    # left behind there or on its day; the others were charged on what it left).
    days = [
        _taken_back_through(loan, inst, daily, payment.received_on, recorded_on, part)
        for inst in rows
        if (part := taken_back.get(inst.pk))
    ]
    latest = Installment.objects.filter(loan=loan, is_superseded=False).aggregate(
        day=Max("late_accrued_through")
    )["day"]
    reached = max([day for day in [*days, latest] if day is not None], default=None)
    if reached is None:
        return
    changed: list[Installment] = []
    for inst in rows:
        if inst.due_date >= reached - timedelta(days=loan.grace_days):
            continue  # within its grace days that day: the nightly charged nothing yet
        full = inst.pending(Component.PRINCIPAL) + inst.pending(Component.INTEREST)
        reduced = full - base_paid.get(inst.pk, ZERO)
        through = inst.late_accrued_through or inst.due_date
        since = _annulled_since(
            loan, inst, payment.received_on, recorded_on, through, set(taken_back)
        )
        charged = _late_interest_between(inst, reduced, daily, since, max(through, since))
        owed = _late_interest_between(inst, full, daily, since, max(reached, since))
        inst.late_accrued_through = reached
        changed.append(inst)
        if owed == charged:
            continue
        inst.late_interest_due += owed - charged
        ledger.write_entry(
            loan,
            LedgerEntry.Kind.LATE_INTEREST,
            actor=actor,
            installment=inst,
            payment=payment,
            component=Component.LATE_INTEREST,
            owed=owed - charged,
            reason=_("%(note)s. Mora desde el %(day)s como si el pago no se hubiera hecho")
            % {"note": reason, "day": since.strftime("%d/%m/%Y")},
        )
    Installment.objects.bulk_update(changed, ["late_interest_due", "late_accrued_through"])


def _taken_back_through(
    loan: Loan,
    inst: Installment,
    daily: Decimal,
    received_on: date,
    recorded_on: date,
    part: Decimal,
) -> date | None:
    """Return the day `inst` had been charged through when a payment took back `part` of its
    late interest (`rewind_late_interest`): the latest day, up to the one the payment was
    recorded on, whose running total on the installment's full base is `part` above the
    payment's day's. Days that add no cent to it owe the same, whichever of them it is."""
    since = _rewound_since(loan, inst, received_on)
    base = inst.pending(Component.PRINCIPAL) + inst.pending(Component.INTEREST)
    day = recorded_on
    while day > since:
        if _late_interest_between(inst, base, daily, since, day) == part:
            return day
        day -= timedelta(days=1)
    return None


def _annulled_since(
    loan: Loan,
    inst: Installment,
    received_on: date,
    recorded_on: date,
    through: date,
    rewound: set[int],
) -> date:
    """Return the day from which a payment being annulled had `inst` charged on what it left
    unpaid (see `charge_after_annulment`).

    Recorded on its day, or its late interest since that day taken back (`rewind_late_interest`),
    that is the payment's day (`_rewound_since`). Recorded later without taking any back (a
    payment since had changed the installment, or its late interest was waived), the days up
    to the one it was recorded on stayed charged on the full base: that day, or the day the
    installment was charged through when that is earlier (a payment that settled it stopped
    the nightly there).
    """
    since = _rewound_since(loan, inst, received_on)
    if inst.pk in rewound or recorded_on <= received_on:
        return since
    return max(since, min(recorded_on, through))


def _changed_after(loan: Loan, day: date) -> set[int]:
    """Return the ids of the loan's installments a payment or annulment written after `day`
    changed (what the nightly task charged on them since is not one base times days)."""
    after = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
    return set(
        LedgerEntry.objects.filter(
            loan=loan,
            installment__isnull=False,
            kind__in=[LedgerEntry.Kind.ALLOCATION, LedgerEntry.Kind.ANNULMENT],
            component__in=[Component.PRINCIPAL, Component.INTEREST],
            created_at__gte=after,
        ).values_list("installment_id", flat=True)
    )


@transaction.atomic
def waive_late_interest(
    *,
    loan: Loan,
    amount: Decimal,
    actor: AbstractBaseUser | None,
    reason: str,
    summary: str = "",
) -> Decimal:
    """Forgive up to `amount` of the late interest still owed, oldest installment first.

    A discount agreed with the debtor (a payment agreement), or one the lender owes it (a
    total-debt link's quote): each forgiven part is a ledger entry that lowers what the
    installment owes, so balances still add up from the ledger. `summary` replaces the
    timeline's usual text; its `%(amount)s` is what was forgiven ("S/ 6.24"). Returns what
    was forgiven (less than `amount` when less was owed).
    """
    amount = Decimal(amount)
    if not amount.is_finite() or amount < 0 or amount != money.cents(amount):
        raise ValidationError(_("El descuento debe ser positivo, con hasta dos decimales."))
    if not reason.strip():
        raise ValidationError(_("Indique el motivo del descuento."))
    loan = ledger.locked(loan)
    left = amount
    forgiven = ZERO
    rows = Installment.objects.select_for_update().filter(loan=loan, is_superseded=False)
    for inst in rows.order_by("number"):
        if left <= 0:
            break
        part = min(left, inst.pending(Component.LATE_INTEREST))
        if part <= 0:
            continue
        _owe_late_interest(
            loan, inst, -part, actor, _("Descuento de mora: %(reason)s") % {"reason": reason}
        )
        left -= part
        forgiven += part
    if forgiven:
        crm_services.record_interaction(
            customer=loan.customer,
            kind=Interaction.Kind.PAYMENT,
            summary=summary % {"amount": display.money_text(forgiven, loan.currency)}
            if summary
            else _(
                "Descuento de %(cur)s %(amount)s de interés moratorio en el crédito "
                "%(code)s: %(reason)s"
            )
            % {
                "cur": loan.currency,
                "amount": forgiven,
                "code": loan.payment_code,
                "reason": reason,
            },
            payload={"loan": loan.pk, "late_interest_waived": str(forgiven)},
            actor=people.signed_in(actor),
        )
        # An installment that owed only late interest is paid now.
        refresh_delinquency(loan=loan)
    return forgiven


def _owe_late_interest(
    loan: Loan, inst: Installment, change: Decimal, actor: AbstractBaseUser | None, reason: str
) -> None:
    """Change what an installment owes of late interest by `change` (a waiver's is negative),
    with its ledger entry; the installment is paid when nothing is left, unpaid again when
    something is."""
    inst.late_interest_due += change
    if inst.total_pending <= 0:
        inst.paid_on = inst.paid_on or timezone.localdate()
    else:
        inst.paid_on = None
    inst.save(update_fields=["late_interest_due", "paid_on"])
    ledger.write_entry(
        loan,
        LedgerEntry.Kind.LATE_INTEREST,
        actor=actor,
        installment=inst,
        component=Component.LATE_INTEREST,
        owed=change,
        reason=reason,
    )


def restore_waived_late_interest(
    *, loan: Loan, marker: str, actor: AbstractBaseUser | None, summary: str
) -> Decimal:
    """Owe again the late interest that waivers naming `marker` in their reason forgave.

    A waiver granted for a payment (a total-debt link's quote) stands only with its payment:
    when the payment is refunded, each installment owes again what was forgiven on it, by a
    ledger entry that names `marker` too, so a second call restores nothing more. `summary`
    is the timeline's text, its `%(amount)s` what was restored. Returns that amount.
    """
    loan = ledger.locked(loan)
    left: dict[int, Decimal] = {}
    for installment_id, owed in LedgerEntry.objects.filter(
        loan=loan,
        kind=LedgerEntry.Kind.LATE_INTEREST,
        component=Component.LATE_INTEREST,
        installment__isnull=False,
        reason__contains=marker,
    ).values_list("installment_id", "owed"):
        left[installment_id] = left.get(installment_id, ZERO) - owed
    restored = ZERO
    rows = Installment.objects.select_for_update().filter(
        pk__in=[pk for pk, part in left.items() if part > 0]
    )
    for inst in rows.order_by("number"):
        part = left[inst.pk]
        _owe_late_interest(
            loan,
            inst,
            part,
            actor,
            _("Descuento de mora repuesto: %(marker)s") % {"marker": marker},
        )
        restored += part
    if restored:
        crm_services.record_interaction(
            customer=loan.customer,
            kind=Interaction.Kind.PAYMENT,
            summary=summary % {"amount": display.money_text(restored, loan.currency)},
            payload={"loan": loan.pk, "late_interest_restored": str(restored)},
            actor=people.signed_in(actor),
        )
        refresh_delinquency(loan=loan)
    return restored


# The late interest an installment still owes.
_LATE_INTEREST_OWED = Sum(F("late_interest_due") - F("late_interest_paid"))


def update_delinquency(*, today: date | None = None, batch_size: int = 500) -> int:
    """Charge late interest and refresh every live loan's days past due and bucket.

    Runs daily (beat). Each loan is its own transaction, so a long run never holds locks
    on the whole portfolio; running it twice in a day changes nothing. A loan whose bucket
    changes gets one entry on its customer's timeline, written in the same transaction as
    the bucket (`_bucket_entry`). Returns how many loans changed bucket or days.
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

    late = _late_by_loan(today, Installment.objects.all())
    changed: list[Loan] = []
    # Every live loan, and any other still marked late: no IN list of thousands of ids.
    stale = Loan.objects.filter(Q(status__in=Loan.LIVE) | Q(days_past_due__gt=0)).only(
        "id", "days_past_due", "bucket", "status", "customer", "payment_code", "currency"
    )
    for loan in stale.iterator(chunk_size=batch_size):
        oldest, _owed = late.get(loan.pk, (None, ZERO))
        if _set_days_past_due(loan, oldest, today):
            changed.append(loan)
    now = timezone.now()
    written = 0
    for start in range(0, len(changed), batch_size):
        chunk = {loan.pk: loan for loan in changed[start : start + batch_size]}
        # A bucket and the entry that tells it are written together: one UPDATE and one
        # INSERT a batch, not a query a loan.
        with transaction.atomic():
            # Read again under the loans' locks: a payment since the first read (a
            # gateway's notification at night) refreshed its loan, and its figures stand.
            held = Loan.objects.select_for_update().filter(pk__in=bulk.ids_in(list(chunk)))
            now_late = _late_by_loan(
                today, Installment.objects.filter(loan_id__in=bulk.ids_in(list(chunk)))
            )
            moved: list[tuple[Loan, str, Decimal]] = []
            for pk, days, bucket in held.values_list("pk", "days_past_due", "bucket"):
                loan = chunk[pk]
                loan.days_past_due, loan.bucket = days, bucket
                oldest, owed = now_late.get(pk, (None, ZERO))
                if _set_days_past_due(loan, oldest, today):
                    moved.append((loan, bucket, owed or ZERO))
            written += len(moved)
            Loan.objects.bulk_update(
                [loan for loan, _was, _owed in moved], ["days_past_due", "bucket"]
            )
            bulk.insert_rows(
                Interaction,
                crm_services.INTERACTION_COLUMNS,
                [
                    _bucket_entry(loan, was, owed, now)
                    for loan, was, owed in moved
                    if loan.bucket != was
                ],
            )
    return written


def refresh_delinquency(*, loan: Loan, today: date | None = None) -> bool:
    """Refresh one loan's days past due and bucket as the nightly run does; charge nothing.

    Called by every service that pays, re-opens or forgives an installment (a payment, its
    annulment, a discount of late interest, a disbursement with a past date), in its own
    transaction: the screens, segments and message variables read these two fields, and
    would otherwise keep the night's figures until the next run. Late interest stays the
    nightly run's (`update_delinquency`). A change of bucket is told on the customer's
    timeline (`_bucket_entry`). Return whether they changed.
    """
    today = today or timezone.localdate()
    oldest, owed = None, ZERO
    if loan.status in Loan.LIVE:
        late = _late_installments(today, Installment.objects.filter(loan=loan)).aggregate(
            oldest=Min("due_date"), owed=_LATE_INTEREST_OWED
        )
        oldest, owed = late["oldest"], late["owed"] or ZERO
    was = loan.bucket
    if not _set_days_past_due(loan, oldest, today):
        return False
    Loan.objects.filter(pk=loan.pk).update(days_past_due=loan.days_past_due, bucket=loan.bucket)
    if loan.bucket != was:
        bulk.insert_rows(
            Interaction,
            crm_services.INTERACTION_COLUMNS,
            [_bucket_entry(loan, was, owed, timezone.now())],
        )
    return True


def _late_by_loan(today: date, rows: QuerySet[Installment]) -> dict[int, tuple[date, Decimal]]:
    """Return, for each live loan among `rows`' loans that is late on `today`, its oldest
    late due date and the late interest its late installments still owe."""
    return {
        loan_id: (oldest, owed)
        for loan_id, oldest, owed in _late_installments(
            today, rows.filter(loan__status__in=Loan.LIVE)
        )
        .values_list("loan_id")
        .annotate(oldest=Min("due_date"), owed=_LATE_INTEREST_OWED)
    }


def _bucket_entry(loan: Loan, was: str, owed: Decimal, at: datetime) -> tuple:
    """Return the timeline entry (a row of crm.services.INTERACTION_COLUMNS) telling that
    the loan moved from the bucket `was` to its own, with `owed` late interest unpaid.

    A SYSTEM entry: the system's bookkeeping, not contact with the customer, so it leaves
    their *última interacción* as it is. Only a change of bucket is told, not every night's
    days: an agent reads since when, and how late, the loan has been.
    """
    if loan.bucket == Bucket.CURRENT:
        summary = _("Crédito %(code)s: al día") % {"code": loan.payment_code}
    else:
        late = ngettext("%(days)s día de atraso", "%(days)s días de atraso", loan.days_past_due) % {
            "days": display.whole(loan.days_past_due)
        }
        if owed > 0:
            late += _("; interés moratorio pendiente %(amount)s") % {
                "amount": display.money_text(owed, loan.currency)
            }
        if was == Bucket.CURRENT:
            text = _("Crédito %(code)s: entra en mora, tramo «%(bucket)s» (%(late)s)")
        else:
            text = _("Crédito %(code)s: pasa al tramo de mora «%(bucket)s» (%(late)s)")
        summary = text % {
            "code": loan.payment_code,
            "bucket": str(Bucket(loan.bucket).label),
            "late": late,
        }
    return crm_services.system_entry_row(
        loan.customer_id, summary=summary, payload={"loan": loan.pk}, actor_id=None, at=at
    )


def _late_installments(today: date, rows: QuerySet[Installment]) -> QuerySet[Installment]:
    """Return the installments of `rows` unpaid past their due date on `today`."""
    return rows.filter(is_superseded=False, paid_on__isnull=True, due_date__lt=today)


def _set_days_past_due(loan: Loan, oldest: date | None, today: date) -> bool:
    """Set (unsaved) the days past due and bucket the oldest late due date gives on `today`;
    return whether they changed."""
    days = (today - oldest).days if oldest is not None else 0
    bucket = Bucket.for_days(days)
    if (loan.days_past_due, loan.bucket) == (days, bucket):
        return False
    loan.days_past_due, loan.bucket = days, bucket
    return True
