"""The steps every write of the loan ledger shares: lock the loan, write its append-only
ledger entries, move its status with a timeline entry."""

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from credits.models import (
    COMPONENTS,
    ZERO,
    Installment,
    LedgerEntry,
    Loan,
    Payment,
)
from crm import services as crm_services
from crm.models import Customer, Interaction
from lib import people

# What the same person sends again this soon, alike (a double click, the back button and
# send), is the same form twice: refused unless they say it is another one (`repeat_ok`).
REPEAT_WINDOW = timedelta(minutes=10)
REPEATED = "repeated"


def repeat_refused(message: str) -> ValidationError:
    """Return the refusal of a form sent twice, on its `repeat_ok` box (offered then)."""
    return ValidationError({"repeat_ok": ValidationError(message, code=REPEATED)})


def locked(loan: Loan) -> Loan:
    """Return the loan locked for update, with what every ledger write reads of it.

    Its customer's row is taken first (FOR NO KEY UPDATE: rows that point at the customer
    are still inserted meanwhile), in the order a merge takes it: a payment stamps the
    customer's *última interacción* after it holds its loan, and a merge holding the
    customer waits to move the loan, so the other order deadlocked. Of the loan only its own
    row (`of=("self",)`): FOR UPDATE over the join locked the product's row too, so payments
    on any loans of one product ran one at a time."""
    _lock_customer(loan.customer_id)
    held = (
        Loan.objects.select_for_update(of=("self",))
        .select_related("customer", "product")
        .get(pk=loan.pk)
    )
    if held.customer_id != loan.customer_id:
        _lock_customer(held.customer_id)  # merged into another record meanwhile
    return held


def _lock_customer(pk: int) -> None:
    list(Customer.objects.select_for_update(no_key=True).filter(pk=pk).values_list("pk"))


def write_entry(loan: Loan, kind: str, **fields: Any) -> LedgerEntry:
    """Write one ledger entry (the fields as `entry` takes them) and return it."""
    written = entry(loan, kind, **fields)
    written.save(force_insert=True)
    return written


def entry(
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
    """Return a ledger entry as `write_entry` writes it, unsaved (for a bulk_create)."""
    return LedgerEntry(
        loan=loan,
        installment=installment,
        payment=payment,
        kind=kind,
        component=component,
        owed=owed,
        paid=paid,
        actor=people.signed_in(actor),
        reason=reason[:255],
    )


def record_owed(
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
    actor = people.signed_in(actor)
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
        for component in COMPONENTS
        if row.due(component)
    )


def move_status(loan: Loan, to: str, *, actor: AbstractBaseUser | None, reason: str = "") -> None:
    """Change a locked loan's status if the move is legal, with its ledger and timeline rows."""
    if loan.status == to:
        # A second click on the same action (Enviar a firma twice, say).
        raise ValidationError(
            _("El crédito ya está en estado «%(state)s».") % {"state": loan.get_status_display()}
        )
    if not loan.can_move_to(to):
        raise ValidationError(
            _("Un crédito en estado «%(from)s» no puede pasar a «%(to)s».")
            % {"from": loan.get_status_display(), "to": Loan.Status(to).label}
        )
    old_label = loan.get_status_display()
    loan.status = to
    loan.status_changed_at = timezone.now()
    loan.save(update_fields=["status", "status_changed_at", "updated_at"])
    write_entry(loan, LedgerEntry.Kind.STATUS, actor=actor, reason=reason or f"{old_label} → {to}")
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Crédito %(code)s: %(from)s → %(to)s")
        % {"code": loan.payment_code, "from": old_label, "to": loan.get_status_display()},
        payload={"loan": loan.pk, "status": to, "reason": reason},
        actor=actor,
    )
