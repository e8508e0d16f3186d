"""Late interest and days past due, charged and refreshed every night."""

from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min, Q
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
)
from credits.services import ledger
from crm import services as crm_services
from crm.models import Interaction
from lib import money, people

DAYS_PER_YEAR_FOR_LATE_INTEREST = Decimal(360)


def accrue_late_interest(*, loan: Loan, today: date) -> Decimal:
    """Charge late interest on the loan's overdue installments up to `today`; return the total.

    Past the grace days, late interest runs from the due date on the unpaid principal and
    interest, at the loan's late rate over a 360-day year; it is charged once per day
    however often this runs.
    """
    if loan.late_annual_rate <= 0:
        return ZERO
    daily = loan.late_annual_rate / money.HUNDRED / DAYS_PER_YEAR_FOR_LATE_INTEREST
    charged = ZERO
    # Only installments past their grace days: due more than `grace_days` days before today.
    rows = Installment.objects.select_for_update().filter(
        loan=loan,
        is_superseded=False,
        paid_on__isnull=True,
        due_date__lt=today - timedelta(days=loan.grace_days),
    )
    for inst in rows:
        since = max(inst.due_date, inst.late_accrued_through or inst.due_date)
        days = (today - since).days
        base = inst.pending(Component.PRINCIPAL) + inst.pending(Component.INTEREST)
        amount = money.cents(base * daily * days)
        inst.late_accrued_through = today
        if amount > 0:
            inst.late_interest_due += amount
            charged += amount
            ledger.write_entry(
                loan,
                LedgerEntry.Kind.LATE_INTEREST,
                installment=inst,
                component=Component.LATE_INTEREST,
                owed=amount,
                reason=ngettext(
                    "Mora de %(days)s día hasta %(day)s",
                    "Mora de %(days)s días hasta %(day)s",
                    days,
                )
                % {"days": days, "day": today.strftime("%d/%m/%Y")},
            )
        inst.save(update_fields=["late_interest_due", "late_accrued_through"])
    return charged


@transaction.atomic
def waive_late_interest(
    *, loan: Loan, amount: Decimal, actor: AbstractBaseUser | None, reason: str
) -> Decimal:
    """Forgive up to `amount` of the late interest still owed, oldest installment first.

    A discount agreed with the debtor (a payment agreement): each forgiven part is a ledger
    entry that lowers what the installment owes, so balances still add up from the ledger.
    Returns what was forgiven (less than `amount` when less was owed).
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
        inst.late_interest_due -= part
        if inst.total_pending <= 0 and inst.paid_on is None:
            inst.paid_on = timezone.localdate()
        inst.save(update_fields=["late_interest_due", "paid_on"])
        ledger.write_entry(
            loan,
            LedgerEntry.Kind.LATE_INTEREST,
            actor=actor,
            installment=inst,
            component=Component.LATE_INTEREST,
            owed=-part,
            reason=_("Descuento de mora: %(reason)s") % {"reason": reason},
        )
        left -= part
        forgiven += part
    if forgiven:
        crm_services.record_interaction(
            customer=loan.customer,
            kind=Interaction.Kind.PAYMENT,
            summary=_(
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
    return forgiven


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
