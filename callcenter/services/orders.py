"""Orders after the call: annulling one confirmed by mistake, before logistics dispatches it.

The stock comes back as movements of their own, the customer's timeline says who annulled
it and why, and Kommo is moved back to where the lead was before the sale only when that
is safely known; otherwise the lead stays where it is in Kommo and the screen says so.
"""

import enum
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from callcenter import selectors
from callcenter.models import CallRecord, CatalogProduct, Lead, Order, StockMovement
from callcenter.services import leads
from crm import services as crm_services
from crm.models import Interaction
from integrations.models import OutboxMessage
from lib import people, repeats

# How long the agent who confirmed an order may annul it themselves: the mistake is noticed
# on the call or right after it; later, a supervisor decides (callcenter.annul_order).
AGENT_ANNUL_WINDOW = timedelta(minutes=30)
REASON_MAX_LENGTH = 255


class KommoAfterAnnulment(enum.StrEnum):
    """What an annulment did about the lead's stage in Kommo."""

    # The sale moved nothing in Kommo (no «Venta Confirmada» stage configured then).
    UNTOUCHED = "untouched"
    # The sale's stage change failed for good: Kommo never had it.
    SALE_NEVER_SENT = "sale_never_sent"
    # Queued: back to the stage the lead had before the sale.
    MOVED_BACK = "moved_back"
    # Left where it is: where it was before the sale is not safely known, Kommo or another
    # call moved it since, or the sale's change is still on its way.
    LEFT = "left"


@dataclass(frozen=True)
class Annulment:
    order: Order
    units: int
    kommo: KommoAfterAnnulment
    # The stage the lead goes back to (MOVED_BACK) or stays in (LEFT), by Kommo id.
    kommo_status_id: int | None = None
    kommo_message: OutboxMessage | None = None


def may_annul(user: AbstractBaseUser, order: Order, *, now: datetime | None = None) -> bool:
    """Whether the user may annul this order: with the permission (supervisors), or as the
    agent who confirmed it, within AGENT_ANNUL_WINDOW of confirming it."""
    if user.has_perm("callcenter.annul_order"):
        return True
    return is_own_order(user, order) and (now or timezone.now()) - order.created_at <= (
        AGENT_ANNUL_WINDOW
    )


def is_own_order(user: AbstractBaseUser, order: Order) -> bool:
    """Whether the user is the agent who confirmed the order (and may still sell)."""
    return order.agent_id == user.pk and user.has_perm("callcenter.add_order")


def annul_refusal(order: Order, *, actor: AbstractBaseUser, now: datetime | None = None) -> str:
    """Say why the order cannot be annulled by `actor` now, or "" when it can.

    Raise PermissionDenied for someone who may not annul it at all (another agent's order).
    """
    if not may_annul(actor, order, now=now):
        if not is_own_order(actor, order):
            raise PermissionDenied
        return ngettext(
            "Pasó más de %(minutes)s minuto desde que confirmó el pedido %(order)s: ahora solo "
            "un supervisor puede anularlo.",
            "Pasaron más de %(minutes)s minutos desde que confirmó el pedido %(order)s: ahora "
            "solo un supervisor puede anularlo.",
            _window_minutes(),
        ) % {"minutes": _window_minutes(), "order": order.pk}
    if order.status == Order.Status.ANNULLED:
        return _("El pedido %(order)s ya fue anulado %(when_by)s.") % {
            "order": order.pk,
            "when_by": repeats.done_when_by(order.annulled_at, order.annulled_by),
        }
    if order.status == Order.Status.DISPATCHED:
        return _(
            "El pedido %(order)s ya fue despachado: un pedido despachado no se puede anular."
        ) % {"order": order.pk}
    return ""


def _window_minutes() -> int:
    return int(AGENT_ANNUL_WINDOW.total_seconds() // 60)


@transaction.atomic
def annul_order(*, order: Order, actor: AbstractBaseUser, reason: str) -> Annulment:
    """Annul an order not yet dispatched: its units back in stock, the timeline, Kommo.

    One transaction. Rows are locked in the order the rest of the call center takes them:
    the order (of two annulments at once, the second waits here and then finds it
    annulled), its lead, then its products by id, as a sale does. Each line's units come
    back as a movement of their own (`StockMovement.Reason.ANNULMENT`).
    """
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": _("Indique por qué se anula el pedido.")})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": _("El motivo admite hasta %(max)s caracteres.") % {"max": REASON_MAX_LENGTH}}
        )
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "annulled_by")
        .get(pk=order.pk)
    )
    lead = Lead.objects.select_for_update().get(pk=order.lead_id)
    now = timezone.now()
    refusal = annul_refusal(order, actor=actor, now=now)
    if refusal:
        raise ValidationError(refusal)
    lines = list(order.lines.order_by("product_id", "pk"))
    units = Counter()
    for line in lines:
        units[line.product_id] += line.quantity
    list(CatalogProduct.objects.select_for_update().filter(pk__in=units).order_by("pk"))
    # Conditional: where SELECT … FOR UPDATE locks nothing (SQLite), the status is what
    # keeps a second annulment (or a dispatch meanwhile) from giving the stock back twice.
    annulled = Order.objects.filter(pk=order.pk, status=Order.Status.CONFIRMED).update(
        status=Order.Status.ANNULLED, annulled_at=now, annulled_by=actor, annul_reason=reason
    )
    if not annulled:
        order.refresh_from_db()
        raise ValidationError(annul_refusal(order, actor=actor, now=now) or _("Reintente."))
    order.refresh_from_db()
    for product_id in sorted(units):
        CatalogProduct.objects.filter(pk=product_id).update(stock=F("stock") + units[product_id])
    note = _("Pedido %(order)s anulado: %(reason)s") % {"order": order.pk, "reason": reason}
    StockMovement.objects.bulk_create(
        StockMovement(
            product_id=line.product_id,
            delta=line.quantity,
            reason=StockMovement.Reason.ANNULMENT,
            order=order,
            note=note[:REASON_MAX_LENGTH],
            actor=actor,
            created_at=now,
        )
        for line in lines
    )

    call = CallRecord.objects.filter(order=order).first()
    last_call = lead.calls.order_by("-created_at", "-pk").first()
    is_last_sale = call is not None and last_call is not None and last_call.pk == call.pk
    if is_last_sale and lead.state == Lead.State.SOLD and not lead.in_queue:
        lead.state = Lead.State.ORDER_ANNULLED
    result = _undo_in_kommo(lead, order=order, call=call, is_last_sale=is_last_sale, now=now)
    lead.save()

    crm_services.record_interaction(
        customer=order.customer,
        kind=Interaction.Kind.SYSTEM,
        channel=selectors.call_center_channel(),
        summary=_(
            "Pedido %(order)s anulado por %(actor)s (no se despachó): %(reason)s. "
            "Vuelven al stock: %(items)s."
        )
        % {
            "order": order.pk,
            "actor": people.display_name(actor),
            "reason": reason,
            "items": ", ".join(f"{line.quantity} × {line.name}" for line in lines),
        },
        payload={
            "pedido": order.pk,
            "lead": lead.kommo_id,
            "total": format(order.total, "f"),
            "motivo": reason,
        },
        actor=actor,
    )
    return Annulment(order=order, units=sum(units.values()), **result)


def _undo_in_kommo(
    lead: Lead, *, order: Order, call: CallRecord | None, is_last_sale: bool, now: datetime
) -> dict:
    """Queue the lead's move back to its stage before the sale, when that is safe.

    Safe only when the sale's change reached Kommo, the order knows the stage before it,
    the lead is still in the stage the sale put it in (as far as the webhooks told), and
    no call came after the sale. A sale change still queued could reach Kommo after the
    move back (the outbox keeps no order between messages): the lead is left alone then.
    """
    sale_update = selectors.kommo_update(call) if call is not None else None
    if sale_update is None:
        return {"kommo": KommoAfterAnnulment.UNTOUCHED}
    if sale_update.status == OutboxMessage.Status.FAILED:
        return {"kommo": KommoAfterAnnulment.SALE_NEVER_SENT}
    sold_status_id = sale_update.payload.get("status_id")
    if (
        sale_update.status == OutboxMessage.Status.SENT
        and order.kommo_status_before
        and order.kommo_status_before != sold_status_id
        and is_last_sale
        and not lead.in_queue
        and lead.status_id == sold_status_id
    ):
        message = leads.move_back_in_kommo(
            lead,
            dedupe_key=order.kommo_annulment_key,
            status_id=order.kommo_status_before,
            pipeline_id=order.kommo_pipeline_before,
        )
        lead.status_id = order.kommo_status_before
        lead.pipeline_id = order.kommo_pipeline_before or lead.pipeline_id
        # Our change is the newest one: a late webhook from before it changes nothing.
        lead.kommo_updated_at = max(lead.kommo_updated_at, int(now.timestamp()))
        return {
            "kommo": KommoAfterAnnulment.MOVED_BACK,
            "kommo_status_id": order.kommo_status_before,
            "kommo_message": message,
        }
    return {"kommo": KommoAfterAnnulment.LEFT, "kommo_status_id": lead.status_id}
