"""The call: an agent takes a lead, confirms who the person is, sells what is in stock or
records why not; the lead leaves the queue and Kommo is told through the outbox, in the
same transaction."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from callcenter import selectors
from callcenter.models import (
    CallRecord,
    CatalogProduct,
    Lead,
    LossReason,
    Order,
    OrderLine,
    StockMovement,
)
from callcenter.services import leads
from crm import display
from crm import services as crm_services
from crm.models import Customer, Interaction
from crm.validators import normalize_document_number
from lib import money, people

# Orders are for people, not warehouses: a line above this is a typing mistake.
MAX_LINE_QUANTITY = 999
# How far ahead a call-back may be set. Neither the settings nor the README name a limit;
# collections caps its call-back requests at 30 days (a debtor who asked to be called), a
# sale may wait a season ("after the holidays", "when my bonus comes"), and a lead parked
# longer is out of every agent's sight: past a quarter it belongs back in Kommo's pipeline.
CALLBACK_MAX_DAYS = 90
# The form sends whole minutes: the current minute, typed at 10:30:40, is 10:30 and not past.
CALLBACK_PAST_TOLERANCE = timedelta(minutes=1)


@dataclass(frozen=True)
class CartLine:
    product_id: int
    quantity: int
    # The unit price and currency the agent was shown (and told the person) for this line;
    # None when nobody was shown one (a script): the order then takes the catalog's price.
    unit_price: Decimal | None = None
    currency: str = ""


class PriceChanged(ValidationError):
    """An order refused because prices changed since the agent was shown them.

    `prices` has each changed product's price and currency now (under its row's lock), for
    the cart to show them: confirmed again, the order goes through at those prices.
    """

    def __init__(self, message: str, *, prices: dict[int, tuple[Decimal, str]]) -> None:
        super().__init__(message)
        self.prices = prices


@transaction.atomic
def take_lead(*, lead: Lead, agent: AbstractBaseUser) -> Lead:
    """Give the agent the lead, unless another agent holds it; one lead per agent at a time."""
    config = selectors.queue_settings()
    now = timezone.now()
    expired = config.hold_cutoff(now)
    # Two tabs taking two leads at once: the agent's row is taken first, so the second
    # sees the first's lead (each saw none, and the agent held both).
    get_user_model().objects.select_for_update(no_key=True).filter(pk=agent.pk).exists()
    holding = (
        Lead.objects.filter(taken_by=agent, in_queue=True, taken_at__gt=expired)
        .exclude(pk=lead.pk)
        .first()
    )
    if holding is not None:
        raise ValidationError(
            _("Ya está atendiendo a %(name)s. Termine esa llamada o libérela antes de tomar otra.")
            % {"name": holding.display_name}
        )
    # One conditional UPDATE: of two agents clicking at once, the database lets one win.
    taken = (
        Lead.objects.filter(pk=lead.pk, in_queue=True)
        .filter(Q(taken_by__isnull=True) | Q(taken_by=agent) | Q(taken_at__lte=expired))
        .update(taken_by=agent, taken_at=now)
    )
    lead.refresh_from_db()
    if not taken:
        if not lead.in_queue:
            raise ValidationError(_("Este lead ya salió de la cola."))
        raise ValidationError(
            _("%(agent)s ya está atendiendo este lead.")
            % {"agent": people.display_name(lead.taken_by) or "—"}
        )
    return lead


@transaction.atomic
def release_lead(*, lead: Lead, actor: AbstractBaseUser) -> AbstractBaseUser | None:
    """Free a lead: its holder may, and a supervisor may free anyone's.

    Return who held it; None when nobody did (a page left open past the hold's end), so
    the screen says that nothing was released.
    """
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if not lead.in_queue:
        raise ValidationError(_("Este lead ya salió de la cola: no había nada que liberar."))
    if lead.taken_by_id is None:
        return None
    if lead.taken_by_id != actor.pk and not actor.has_perm("callcenter.release_lead"):
        raise ValidationError(
            _("%(agent)s atiende este lead: solo quien lo atiende o un supervisor puede liberarlo.")
            % {"agent": people.display_name(lead.taken_by)}
        )
    holder = lead.taken_by
    lead.taken_by = None
    lead.taken_at = None
    lead.save(update_fields=["taken_by", "taken_at", "updated_at"])
    if lead.customer_id and holder.pk != actor.pk:
        crm_services.record_interaction(
            customer=lead.customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Lead liberado por %(actor)s (lo atendía %(holder)s).")
            % {"actor": people.display_name(actor), "holder": people.display_name(holder)},
            channel=selectors.call_center_channel(),
            actor=actor,
        )
    return holder


def check_lead_held(*, lead: Lead, agent: AbstractBaseUser, action: str) -> None:
    """Refuse `action` ("registrar la llamada") unless the agent holds the lead (the hold is
    what a call happens under); when another agent's hold is running, name them."""
    if not lead.in_queue:
        raise ValidationError(_("Este lead ya salió de la cola."))
    if lead.taken_by_id == agent.pk:
        return
    if lead.taken_by_id is not None and lead.is_held_after(
        selectors.queue_settings().hold_cutoff()
    ):
        raise ValidationError(
            _("%(agent)s atiende este lead: solo quien lo atiende puede %(action)s.")
            % {"agent": people.display_name(lead.taken_by), "action": action}
        )
    raise ValidationError(_("Tome el lead antes de %(action)s.") % {"action": action})


def _held_lead(
    lead: Lead, agent: AbstractBaseUser, *, action: str, outcome: str | None = None
) -> Lead:
    """Lock the lead and check the agent holds it (`check_lead_held`).

    With `outcome`, a lead the agent no longer holds because this very call was recorded
    a moment ago (a double click, the back button and send) is refused saying so.
    """
    lead = Lead.objects.select_for_update(of=("self",)).select_related("customer").get(pk=lead.pk)
    if outcome is not None and lead.taken_by_id != agent.pk:
        _refuse_a_repeat(lead, agent, outcome)
    check_lead_held(lead=lead, agent=agent, action=action)
    return lead


# The call the same agent recorded on this lead this recently, the lead since let go, is
# the form sent twice: the second finds the lead no longer theirs.
REPEAT_WINDOW = timedelta(minutes=10)


def _refuse_a_repeat(lead: Lead, agent: AbstractBaseUser, outcome: str) -> None:
    last = (
        lead.calls.filter(agent=agent, created_at__gte=timezone.now() - REPEAT_WINDOW)
        .order_by("-created_at", "-pk")
        .first()
    )
    if last is None or last.outcome != outcome:
        return
    if last.order_id is not None:
        raise ValidationError(
            _("Este pedido ya se registró: pedido %(order)s, confirmado hace un momento.")
            % {"order": last.order_id}
        )
    raise ValidationError(
        _("Esta llamada ya se registró hace un momento (%(outcome)s): no se registró otra.")
        % {"outcome": last.get_outcome_display()}
    )


def no_loss_reasons_message() -> str:
    """Say where an administrator adds the reasons an agent picks for «No interesado»."""
    return _(
        "Aún no hay motivos de no interés: un administrador los agrega en "
        "Administración → Call center → Motivos de no interés."
    )


def missing_loss_reason_message() -> str:
    """Ask for the reason a lead is not interested, or say why none can be chosen yet."""
    if LossReason.objects.filter(is_active=True).exists():
        return _("Indique por qué no le interesa.")
    return no_loss_reasons_message()


def check_callback_at(callback_at: datetime | None, *, now: datetime | None = None) -> None:
    """Refuse a call-back time that is missing, past, or more than CALLBACK_MAX_DAYS ahead."""
    if callback_at is None:
        raise ValidationError(_("Indique cuándo volver a llamar."))
    now = now or timezone.now()
    if callback_at <= now - CALLBACK_PAST_TOLERANCE:
        raise ValidationError(
            _("La hora para volver a llamar ya pasó: indique una fecha y hora futura.")
        )
    last_day = timezone.localdate(now) + timedelta(days=CALLBACK_MAX_DAYS)
    # Compared as a span first: a time like 31/12/9999 23:59 has no UTC (nor other zone's)
    # equivalent, and converting it to find its day raises OverflowError.
    if callback_at - now > timedelta(days=CALLBACK_MAX_DAYS + 1) or (
        timezone.localdate(callback_at) > last_day
    ):
        raise ValidationError(
            _("Puede volver a llamar hasta el %(day)s (%(days)s días desde hoy).")
            % {"day": last_day.strftime("%d/%m/%Y"), "days": CALLBACK_MAX_DAYS}
        )


@transaction.atomic
def confirm_contact_data(
    *,
    lead: Lead,
    agent: AbstractBaseUser,
    data: Mapping[str, Any],
    confirm_identity: str = "",
) -> Lead:
    """Save the data the person confirmed on the call, on the lead and its CRM customer.

    `data` has document_type, document_number, first_name, last_name, phone (E.164),
    phone_secondary, email, address, city. A lead with its customer updates that customer
    (`crm.services.update_customer` records what changed, from what to what, and refuses
    what the agent may not change); its document or names change only with the agent's
    confirmation of each old and new value (`confirm_identity`: the key the refusal gave).
    A lead without one creates it, unless the document belongs to an existing customer:
    then nobody's data changes, and that customer becomes the lead's suggested customer,
    for the agent to confirm with both records in view.
    """
    lead = _held_lead(lead, agent, action=_("confirmar sus datos"))
    document = normalize_document_number(data["document_number"])
    customer_data = {
        "document_type": data["document_type"],
        "document_number": document,
        "first_name": data["first_name"],
        "last_name": data.get("last_name", ""),
        "phone": data["phone"],
        "phone_secondary": data.get("phone_secondary") or "",
        "email": data.get("email", ""),
        "address": data["address"],
        "city": data.get("city", ""),
    }
    lead.document_number = document
    lead.contact_name = f"{data['first_name']} {data.get('last_name', '')}".strip()
    lead.phone = str(data["phone"])
    lead.phone_secondary = str(data.get("phone_secondary") or "")
    lead.email = data.get("email", "")
    lead.address = data["address"]
    lead.city = data.get("city", "")
    lead.search_text = lead.build_search_text()
    if lead.customer is not None:
        customer = lead.customer
        unchanged = all(
            (getattr(customer, field) or "") == (value or "")
            for field, value in customer_data.items()
        )
        crm_services.update_customer(
            customer=customer,
            actor=agent,
            data=customer_data,
            confirm_identity=confirm_identity,
            ask_identity_confirmation=True,
        )
        if unchanged:
            crm_services.record_interaction(
                customer=customer,
                kind=Interaction.Kind.SYSTEM,
                channel=selectors.call_center_channel(),
                summary=_("Datos confirmados en la llamada, sin cambios."),
                payload={"lead": lead.kommo_id},
                actor=agent,
            )
        lead.save()
        return lead
    # The document of a record merged into another one (crm.merge) suggests the kept one.
    existing = (
        Customer.objects.filter(document_type=data["document_type"], document_number=document)
        .resolved()
        .first()
    )
    if existing is not None:
        lead.suggested_customer = existing
        lead.suggested_by = Lead.Match.DOCUMENT
        lead.save()
        return lead
    lead.customer = crm_services.create_customer(
        actor=agent, data={**customer_data, "channel": selectors.call_center_channel()}
    )
    lead.suggested_customer = None
    lead.suggested_by = ""
    lead.save()
    return lead


def _lead_record(lead: Lead) -> dict[str, Any]:
    """Return the lead's data as the timeline keeps it: what the person was matched on."""
    return {
        "lead": lead.kommo_id,
        "nombre": lead.contact_name,
        "documento": lead.document_number,
        "teléfono": lead.phone,
        "correo": lead.email,
        "dirección": ", ".join(p for p in (lead.address, lead.city) if p),
    }


def _suggested(lead: Lead, agent: AbstractBaseUser, customer_id: int) -> Lead:
    """Lock the held lead and check `customer_id` is still the customer it suggests."""
    lead = _held_lead(lead, agent, action=_("decidir si es el cliente registrado"))
    if lead.customer_id is not None:
        raise ValidationError(_("Este lead ya tiene su cliente confirmado."))
    if lead.suggested_customer_id is None or lead.suggested_customer_id != customer_id:
        raise ValidationError(
            _("La coincidencia con el cliente cambió mientras decidía: revise los datos otra vez.")
        )
    return lead


@transaction.atomic
def confirm_customer_match(*, lead: Lead, agent: AbstractBaseUser, customer_id: int) -> Lead:
    """Make the suggested customer the lead's: the agent checked on the call it is that person.

    Nothing of the customer's data changes here; the confirmation, with the lead's data,
    goes on the customer's timeline.
    """
    lead = _suggested(lead, agent, customer_id)
    customer = lead.suggested_customer
    matched_by = lead.get_suggested_by_display() or _("sus datos")
    lead.customer = customer
    lead.suggested_customer = None
    lead.suggested_by = ""
    lead.save(update_fields=["customer", "suggested_customer", "suggested_by", "updated_at"])
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        channel=selectors.call_center_channel(),
        summary=_(
            "Lead de Kommo %(lead)s confirmado en la llamada como este cliente "
            "(coincidía por %(matched_by)s)."
        )
        % {"lead": lead.kommo_id, "matched_by": matched_by},
        payload=_lead_record(lead),
        actor=agent,
    )
    return lead


@transaction.atomic
def reject_customer_match(*, lead: Lead, agent: AbstractBaseUser, customer_id: int) -> Lead:
    """Drop the suggested customer: the agent checked on the call it is someone else.

    The customer's timeline keeps it, so whoever looks at that customer knows another
    person shares their phone, e-mail or document.
    """
    lead = _suggested(lead, agent, customer_id)
    customer = lead.suggested_customer
    matched_by = lead.get_suggested_by_display() or _("sus datos")
    lead.suggested_customer = None
    lead.suggested_by = ""
    lead.save(update_fields=["suggested_customer", "suggested_by", "updated_at"])
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        channel=selectors.call_center_channel(),
        summary=_(
            "Un lead de Kommo (%(lead)s) coincidía por %(matched_by)s con este cliente; "
            "en la llamada se comprobó que es otra persona."
        )
        % {"lead": lead.kommo_id, "matched_by": matched_by},
        payload=_lead_record(lead),
        actor=agent,
    )
    return lead


@transaction.atomic
def confirm_order(
    *,
    lead: Lead,
    agent: AbstractBaseUser,
    lines: Iterable[CartLine],
    notes: str = "",
) -> Order:
    """Sell: take the stock, record the order and the call, and move the lead in Kommo.

    One transaction. Each product's stock drops by a conditional UPDATE (`stock >= qty`),
    which locks the row: of two agents selling the last unit, the second waits for the
    first to commit, then finds no stock and is refused; nothing of its order is written.
    """
    lead = _held_lead(lead, agent, action=_("registrar el pedido"), outcome=CallRecord.Outcome.SALE)
    if lead.customer is None and lead.suggested_customer_id is not None:
        raise ValidationError(
            _("Confirme antes si la persona es el cliente registrado que coincide con el lead.")
        )
    if lead.customer is None:
        raise ValidationError(_("Confirme los datos del cliente antes de registrar el pedido."))
    lines = list(lines)
    quantities: dict[int, int] = {}
    for line in lines:
        if line.quantity <= 0:
            raise ValidationError(_("Las cantidades deben ser mayores que cero."))
        quantities[line.product_id] = quantities.get(line.product_id, 0) + line.quantity
    if not quantities:
        raise ValidationError(_("El pedido no tiene productos."))
    # Every check on a product is made under its row's lock, taken in id order (two orders
    # with the same products lock them in the same order): a price, a currency or the
    # catalog switch changed a moment before is seen, and none changes until the commit.
    products = {
        p.pk: p
        for p in CatalogProduct.objects.select_for_update().filter(pk__in=quantities).order_by("pk")
    }
    for product_id in quantities:
        product = products.get(product_id)
        if product is None:
            raise ValidationError(_("Un producto del pedido ya no está en el catálogo."))
        if not product.is_active:
            raise ValidationError(
                _("%(name)s ya no está en el catálogo: quítelo del pedido.")
                % {"name": product.name}
            )
        if quantities[product_id] > MAX_LINE_QUANTITY:
            raise ValidationError(
                ngettext(
                    "Máximo %(max)s unidad de %(name)s por pedido.",
                    "Máximo %(max)s unidades de %(name)s por pedido.",
                    MAX_LINE_QUANTITY,
                )
                % {"max": MAX_LINE_QUANTITY, "name": product.name}
            )
    _refuse_mixed_currencies(lines, products)
    _refuse_changed_prices(lines, products)

    # The rows are locked: the conditional UPDATE (`stock >= qty`) is what keeps the
    # guarantee where SELECT … FOR UPDATE locks nothing (SQLite takes the whole database).
    for product_id in sorted(quantities):
        quantity = quantities[product_id]
        taken = CatalogProduct.objects.filter(pk=product_id, stock__gte=quantity).update(
            stock=F("stock") - quantity
        )
        if not taken:
            left = (
                CatalogProduct.objects.filter(pk=product_id).values_list("stock", flat=True).first()
            ) or 0
            raise ValidationError(
                ngettext(
                    "Stock insuficiente de %(name)s: queda %(left)s y el pedido lleva %(qty)s.",
                    "Stock insuficiente de %(name)s: quedan %(left)s y el pedido lleva %(qty)s.",
                    left,
                )
                % {"name": products[product_id].name, "left": left, "qty": quantity}
            )

    customer = lead.customer
    order_lines = []
    for product_id, quantity in quantities.items():
        product = products[product_id]
        line_total = money.cents(product.price * quantity)
        order_lines.append(
            OrderLine(
                product=product,
                sku=product.sku,
                name=product.name,
                quantity=quantity,
                unit_price=product.price,
                line_total=line_total,
            )
        )
    order = Order.objects.create(
        lead=lead,
        customer=customer,
        agent=agent,
        total=sum((line.line_total for line in order_lines), Decimal("0")),
        currency=next(iter(products.values())).currency,
        delivery_name=customer.full_name,
        delivery_phone=str(customer.phone or lead.phone),
        delivery_address=customer.address or lead.address,
        delivery_city=customer.city or lead.city,
        notes=notes.strip(),
        # Where Kommo has the lead before the sale moves it: an annulment may move it back.
        kommo_pipeline_before=lead.pipeline_id,
        kommo_status_before=lead.status_id,
    )
    for line in order_lines:
        line.order = order
    OrderLine.objects.bulk_create(order_lines)
    StockMovement.objects.bulk_create(
        StockMovement(
            product_id=product_id,
            delta=-quantity,
            reason=StockMovement.Reason.SALE,
            order=order,
            actor=agent,
        )
        for product_id, quantity in quantities.items()
    )
    call = CallRecord.objects.create(
        lead=lead, agent=agent, outcome=CallRecord.Outcome.SALE, notes=notes.strip(), order=order
    )
    config = selectors.queue_settings()
    _leave_queue(lead, state=Lead.State.SOLD, status_id=config.sold_status_id)
    items = ", ".join(f"{line.quantity} × {line.name}" for line in order_lines)
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.CALL,
        direction=Interaction.Direction.OUTBOUND,
        channel=selectors.call_center_channel(),
        summary=_("Venta confirmada: pedido %(order)s por %(currency)s %(total)s (%(items)s)")
        % {
            "order": order.pk,
            "currency": order.currency,
            "total": format(order.total, "f"),
            "items": items,
        },
        payload={"pedido": order.pk, "lead": lead.kommo_id, "total": format(order.total, "f")},
        actor=agent,
    )
    leads.move_in_kommo(lead, call=call, status_id=config.sold_status_id, config=config)
    return order


def _refuse_mixed_currencies(lines: list[CartLine], products: Mapping[int, CatalogProduct]) -> None:
    """Refuse an order whose products are in more than one currency, naming them.

    The lines' currency (what the agent was shown) says which products are the odd ones:
    those whose currency changed since. Without one, every product is named with its own.
    """
    currencies = {p.currency for p in products.values()}
    if len(currencies) <= 1:
        return
    shown = {line.currency for line in lines if line.unit_price is not None}
    if len(shown) == 1 and (order_currency := shown.pop()) in currencies:
        raise ValidationError(
            [
                _(
                    "%(name)s ahora está en %(currency)s y el pedido en %(order)s: un pedido "
                    "lleva productos de una sola moneda. Quítelo del pedido."
                )
                % {
                    "name": product.name,
                    "currency": display.currency_symbol(product.currency),
                    "order": display.currency_symbol(order_currency),
                }
                for product in products.values()
                if product.currency != order_currency
            ]
        )
    raise ValidationError(
        _("Un pedido lleva productos de una sola moneda: %(products)s.")
        % {
            "products": ", ".join(
                _("%(name)s en %(currency)s")
                % {"name": p.name, "currency": display.currency_symbol(p.currency)}
                for p in products.values()
            )
        }
    )


def _refuse_changed_prices(lines: list[CartLine], products: Mapping[int, CatalogProduct]) -> None:
    """Refuse (PriceChanged) an order a line of which was shown at another price or currency
    than the product has now: the agent told the person that price."""
    changes: dict[int, str] = {}
    for line in lines:
        product = products[line.product_id]
        if line.unit_price is None or line.product_id in changes:
            continue
        if (line.unit_price, line.currency) != (product.price, product.currency):
            changes[line.product_id] = _(
                "El precio de %(name)s cambió de %(old)s a %(new)s desde que lo agregó."
            ) % {
                "name": product.name,
                "old": display.money_text(line.unit_price, line.currency),
                "new": display.money_text(product.price, product.currency),
            }
    if changes:
        raise PriceChanged(
            " ".join(
                [*changes.values(), _("Revise el pedido con el cliente y confírmelo de nuevo.")]
            ),
            prices={pid: (products[pid].price, products[pid].currency) for pid in changes},
        )


@transaction.atomic
def record_outcome(
    *,
    lead: Lead,
    agent: AbstractBaseUser,
    outcome: str,
    callback_at: datetime | None = None,
    loss_reason: LossReason | None = None,
    notes: str = "",
) -> CallRecord:
    """Record a call that ended without a sale, and what happens to the lead next.

    No answer: back in the queue, last. Call back: in the queue at that time, from now to
    CALLBACK_MAX_DAYS ahead (`check_callback_at`). Not interested: out of the queue. An
    outcome whose Kommo stage is configured moves the lead there, and out of the queue.
    """
    lead = _held_lead(lead, agent, action=_("registrar la llamada"), outcome=outcome)
    config = selectors.queue_settings()
    now = timezone.now()
    if outcome == CallRecord.Outcome.CALLBACK:
        try:
            check_callback_at(callback_at, now=now)
        except ValidationError as exc:
            raise ValidationError({"callback_at": exc.messages}) from exc
        status_id, state = config.callback_status_id, Lead.State.CALLBACK
    elif outcome == CallRecord.Outcome.NO_ANSWER:
        callback_at = None
        status_id, state = config.no_answer_status_id, Lead.State.NO_ANSWER
    elif outcome == CallRecord.Outcome.NOT_INTERESTED:
        if loss_reason is None:
            raise ValidationError({"loss_reason": missing_loss_reason_message()})
        callback_at = None
        status_id, state = config.not_interested_status_id, Lead.State.NOT_INTERESTED
    else:
        raise ValidationError(_("Resultado de llamada desconocido."))

    call = CallRecord.objects.create(
        lead=lead,
        agent=agent,
        outcome=outcome,
        callback_at=callback_at,
        loss_reason=loss_reason if outcome == CallRecord.Outcome.NOT_INTERESTED else None,
        notes=notes.strip(),
    )
    if status_id or state == Lead.State.NOT_INTERESTED:
        _leave_queue(lead, state=state, status_id=status_id)
    else:
        lead.state = state
        lead.attempts += 1
        lead.callback_at = callback_at
        # No answer goes to the back of the queue; a call-back waits for its time.
        lead.due_at = callback_at or now
        lead.taken_by = None
        lead.taken_at = None
        lead.save()
    if lead.customer_id:
        summary = _("Llamada: %(outcome)s") % {"outcome": call.get_outcome_display()}
        if callback_at:
            summary += " · " + timezone.localtime(callback_at).strftime("%d/%m/%Y %H:%M")
        if call.loss_reason:
            summary += f" · {call.loss_reason.name}"
        crm_services.record_interaction(
            customer=lead.customer,
            kind=Interaction.Kind.CALL,
            direction=Interaction.Direction.OUTBOUND,
            channel=selectors.call_center_channel(),
            summary=summary,
            payload={"lead": lead.kommo_id, "notas": call.notes} if call.notes else {},
            actor=agent,
        )
    extra = {}
    if call.loss_reason and call.loss_reason.kommo_loss_reason_id:
        extra["loss_reason_id"] = call.loss_reason.kommo_loss_reason_id
    leads.move_in_kommo(lead, call=call, status_id=status_id, config=config, **extra)
    return call


def _leave_queue(lead: Lead, *, state: str, status_id: int | None) -> None:
    lead.state = state
    lead.in_queue = False
    lead.attempts += 1
    lead.callback_at = None
    lead.taken_by = None
    lead.taken_at = None
    if status_id:
        lead.status_id = status_id
        # Our change is the newest one: a late webhook from before it changes nothing.
        lead.kommo_updated_at = max(lead.kommo_updated_at, int(timezone.now().timestamp()))
    lead.save()
