"""The payment-event life cycle: links, payments to verify, promises, annulments,
agreements and call-back requests, for any registered receivable.

Every path (agent screens, the bot API, the portal, the gateway webhooks, admin) calls these
functions, so the money rules hold everywhere: no link outside the allowed range, no payment
above what is owed unless recorded as an overpayment, an annulment that restores balances
to the cent (the receivable's own services do the ledger work). Each event goes on the
customer's timeline and is announced with `signals.payment_event` after commit.
"""

import hashlib
import logging
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from collections_app import receivables, selectors
from collections_app.models import (
    WITHDRAWABLE_LINK,
    ZERO,
    AgreementRule,
    CallbackRequest,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    Portfolio,
    ReportedPayment,
)
from collections_app.receivables import Debt
from collections_app.signals import Event, send_on_commit
from collections_app.strategies import events as event_settings
from credits.forms import validate_receipt
from credits.models import Loan, Payment
from crm import display
from crm import messages as customer_messages
from crm import services as crm_services
from crm.models import Customer, Interaction, Message
from integrations import clear, email, mercadopago, payment_gateways
from integrations.errors import ProviderError
from integrations.models import ApiClient, WebhookEvent
from integrations.webhooks import IgnoreEvent
from lib import bulk, money, people, repeats, search

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")
# How far back a debtor may say a payment was made: older receipts go to an agent by hand.
REPORT_MAX_AGE_DAYS = 365
# A link with less than this left to pay is not offered again: a new one is made.
LINK_REUSE_MARGIN = timedelta(minutes=30)
# How long a request waits for the same link another one is asking the gateway for (the
# gateway answers in a second or two); older, a link still "creating" is left behind.
LINK_CREATING_WAIT = timedelta(seconds=30)
# At most this long a request waits for it, then says to try again.
LINK_WAIT = timedelta(seconds=10)
# The code of the refusal made after that wait (the bot's API answers 503: try again).
LINK_BEING_CREATED = "link_being_created"
LINK_POLL_SECONDS = 0.25
# How far ahead a promise may be: further than this is not a promise, it is a new plan.
PROMISE_MAX_DAYS = 60
# The gateways a link may use, as the bot API's `provider` names them, and how each one's
# notification names the payment it is about.
_PAYMENT_ID_READERS = {
    "mercadopago": mercadopago.payment_id_of,
    "clear": clear.payment_id_of,
}
GATEWAYS = tuple(_PAYMENT_ID_READERS)


# --- Shared steps --------------------------------------------------------------------------


def _checked_amount(value: Decimal, field: str = "amount") -> Decimal:
    try:
        amount = Decimal(value)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ValidationError({field: _("Indique un monto válido.")}) from exc
    if not amount.is_finite() or amount <= 0 or amount != money.cents(amount):
        raise ValidationError({field: _("El monto debe ser positivo, con hasta dos decimales.")})
    if amount > MAX_AMOUNT:
        raise ValidationError({field: _("El monto es demasiado grande.")})
    return amount


def debt_of(customer: Customer, receivable_kind: str, receivable_id: int) -> Debt:
    """Return the customer's receivable as it stands today, for a new link, promise,
    agreement or payment to verify; refuse anyone else's, and a written-off loan another
    receivable settles instead (a campaign): the debtor is offered that one."""
    today = timezone.localdate()
    debt = receivables.kind(receivable_kind).debt(receivable_id, today)
    if debt is None or debt.customer_id != customer.pk:
        raise ValidationError(_("La deuda no existe o no es de este cliente."))
    if debt.kind == receivables.LOAN and debt.portfolio == Portfolio.WRITTEN_OFF:
        receivables.refuse_covered_loan(debt.id, today)
    return debt


def _hold(debt: Debt) -> None:
    """Under the transaction that writes a link, promise, agreement or report for `debt`,
    after the customer's row: keep the receivable until it commits (an upload of campaigns
    being undone waits, then sees what was written); refused when it went meanwhile."""
    if not receivables.kind(debt.kind).hold(debt.id):
        raise ValidationError(_("La deuda ya no existe: se deshizo la importación que la trajo."))


def _timeline(
    customer: Customer,
    summary: str,
    *,
    origin: str,
    actor: AbstractBaseUser | None,
    payload: dict,
    kind: str = Interaction.Kind.PAYMENT,
) -> None:
    direction = (
        Interaction.Direction.INBOUND
        if origin in (Origin.BOT, Origin.PORTAL, Origin.WEBHOOK)
        else Interaction.Direction.INTERNAL
    )
    entry = crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.BOT if origin == Origin.BOT else kind,
        direction=direction,
        summary=summary,
        payload=payload,
        actor=people.signed_in(actor),
    )
    if origin in (Origin.BOT, Origin.PORTAL):
        # What the debtor did alone shows in their conversation.
        customer_messages.record_activity(
            interaction=entry,
            channel=Message.Channel.BOT if origin == Origin.BOT else Message.Channel.PORTAL,
        )


def _withdrawn_by(actor: AbstractBaseUser | None) -> dict:
    """How a withdrawal is written on the timeline: by an agent, a payment event; by the
    system (a campaign finished by the nightly task), bookkeeping that leaves the
    customer's *última interacción* as it was."""
    if people.signed_in(actor) is None:
        return {"origin": Origin.SYSTEM, "kind": Interaction.Kind.SYSTEM}
    return {"origin": Origin.AGENT}


def _refs(debt: Debt) -> dict:
    return {
        "receivable_kind": debt.kind,
        "receivable_id": debt.id,
        "receivable_code": debt.code,
        "currency": debt.currency,
        "portfolio": debt.portfolio,
    }


def _announce(event: str, instance, *, payment_id: int | None = None) -> None:
    """Send `payment_event` for an event about one receivable, after the commit."""
    send_on_commit(
        event,
        portfolio=instance.portfolio,
        customer_id=instance.customer_id,
        receivable_kind=instance.receivable_kind,
        receivable_id=instance.receivable_id,
        instance=instance,
        payment_id=payment_id,
    )


def _money(debt_or_currency: Debt | str, amount: Decimal) -> str:
    """An amount as the screens write it ("S/ 1,234.50"), in messages and on the timeline."""
    currency = debt_or_currency if isinstance(debt_or_currency, str) else debt_or_currency.currency
    return display.money_text(amount, currency)


# --- Payment links -------------------------------------------------------------------------


def least_link_amount(currency: str) -> Decimal:
    """Return the least a link asks for in `currency` (a custom amount, an agreement's down
    payment): COLLECTIONS_MIN_LINK_AMOUNT in soles, COLLECTIONS_MIN_LINK_AMOUNT_USD in
    dollars (the same figure would be near four times as much)."""
    if currency == money.Currency.USD:
        return settings.COLLECTIONS_MIN_LINK_AMOUNT_USD
    return settings.COLLECTIONS_MIN_LINK_AMOUNT


def link_bounds(debt: Debt) -> tuple[Decimal, Decimal]:
    """Return the least and the most a custom-amount link for this debt may ask for."""
    least = min(least_link_amount(debt.currency), debt.total)
    return least, debt.total


def link_amount(
    debt: Debt, *, concept: str, amount: Decimal | None, installment_number: int | None
) -> Decimal:
    """Return what a link of `concept` charges for this debt, fixed here and nowhere else."""
    if not debt.has_debt:
        raise ValidationError(
            _("La deuda %(code)s no tiene saldo pendiente.") % {"code": debt.code}
        )
    if concept == PaymentLink.Concept.TOTAL:
        return debt.total
    if concept == PaymentLink.Concept.INSTALLMENT:
        line = debt.line(installment_number or 0)
        if line is None:
            raise ValidationError(
                {"installment_number": _("Esa cuota no existe o ya está pagada.")}
            )
        return min(line.amount, debt.total)
    if concept == PaymentLink.Concept.CUSTOM:
        if amount is None:
            raise ValidationError({"amount": _("Indique el monto a pagar.")})
        amount = _checked_amount(amount)
        least, most = link_bounds(debt)
        if amount < least or amount > most:
            raise ValidationError(
                {
                    "amount": _("El monto debe estar entre %(least)s y %(most)s.")
                    % {"least": _money(debt, least), "most": _money(debt, most)}
                }
            )
        return amount
    raise ValidationError({"concept": _("Concepto de pago desconocido.")})


def other_gateway_link(debt: Debt, *, provider: str) -> PaymentLink | None:
    """Return the debt's open link through another gateway than `provider` (payable, or
    being made), the newest, that a link through `provider` would be paid besides: the
    debtor charged twice. None when there is none, or when one through `provider` is open
    too (asked again, it goes on as before), as the portal asks
    (collections_app.portal.views.other_gateway_started)."""
    now = timezone.now()
    open_links = PaymentLink.objects.filter(
        receivable_kind=debt.kind, receivable_id=debt.id
    ).filter(
        (Q(status=PaymentLink.Status.ACTIVE, expires_at__gt=now) & ~Q(url=""))
        | Q(status=PaymentLink.Status.CREATING, created_at__gt=now - LINK_CREATING_WAIT)
    )
    if open_links.filter(provider=provider).exists():
        return None
    return open_links.order_by("-created_at", "-pk").first()


def link_expiry(debt: Debt, concept: str, now: datetime) -> datetime:
    """Return when a link made `now` for `debt` expires: after COLLECTIONS_LINK_HOURS, and a
    total-debt link at the end of the last day its amount settles the debt
    (`Debt.total_until`): paid once the installment in course fell due, it would leave the
    next one's interest owed, with the debtor told the debt was cancelled; and any link no
    later than the offer its amount is (`Debt.offer_ends_at`: a campaign's countdown)."""
    expires = now + timedelta(hours=settings.COLLECTIONS_LINK_HOURS)
    if concept == PaymentLink.Concept.TOTAL and debt.total_until is not None:
        day_after = datetime.combine(debt.total_until + timedelta(days=1), datetime.min.time())
        expires = min(expires, timezone.make_aware(day_after) - timedelta(seconds=1))
    if debt.offer_ends_at is not None and debt.offer_ends_at > now:
        # Any concept: what it charges is the offer's (a campaign's discount). A link an
        # agent makes once the offer ended lasts as any other.
        expires = min(expires, debt.offer_ends_at)
    return expires


def create_payment_link(
    *,
    customer: Customer,
    receivable_kind: str,
    receivable_id: int,
    concept: str,
    provider: str,
    origin: str,
    actor: AbstractBaseUser | None,
    amount: Decimal | None = None,
    installment_number: int | None = None,
    payer_email: str = "",
    agreement: PaymentAgreement | None = None,
    reuse_open: bool = False,
) -> PaymentLink:
    """Create a checkout at the gateway for an amount fixed here; return the link.

    The row is stored first (status "creating") and committed, then the gateway is asked,
    outside any transaction: a slow gateway holds no lock. The link ends "active" with its
    URL, or "failed" with the gateway's error, and the timeline says which.

    With `reuse_open` (a debtor's or the bot's request, which a retry or a second press
    repeats), the link made before for the same debt, concept, amount and gateway is
    returned instead while it has `LINK_REUSE_MARGIN` left, whoever made it (the portal,
    the bot, an agent): two open links for one debt could both be paid.
    """
    if provider not in GATEWAYS:
        raise ValidationError({"provider": _("Pasarela de pago desconocida.")})
    # A first read outside any lock: another's debt is refused at once, and a campaign past
    # its end is finished here (recovery.services.finish_ended locks other rows, which this
    # customer's lock must not wait for).
    seen = debt_of(customer, receivable_kind, receivable_id)
    with transaction.atomic():
        # The debt is read again under the customer's lock, which a loan's payment takes
        # first too (credits.services.ledger.locked), and the receivable's (`_hold`: a
        # campaign's payment takes the campaign's row): two requests at once (a double
        # click, the bot's retry) run one after the other, a payment committed meanwhile is
        # in the figures, and one that comes later waits for this link and then withdraws
        # it if it outgrew it (withdraw_outgrown_links). Read before the lock, a link made
        # as a payment committed asked for the debt as it was before that payment.
        crm_services.lock_current_customer(customer.pk)
        _hold(seen)
        debt = debt_of(customer, receivable_kind, receivable_id)
        link, open_link = _new_link(
            customer=customer,
            debt=debt,
            concept=concept,
            provider=provider,
            origin=origin,
            actor=actor,
            amount=amount,
            installment_number=installment_number,
            payer_email=payer_email,
            agreement=agreement,
            reuse_open=reuse_open,
        )
    if open_link is not None:
        return _when_created(open_link)
    charged = link.amount
    try:
        gateway = payment_gateways.gateway(provider)
        checkout = gateway.create_checkout(
            payment_gateways.CheckoutRequest(
                reference=link.reference,
                title=_link_title(link, debt),
                amount=link.amount,
                currency=link.currency,
                payer_email=payer_email,
                expires_at=link.expires_at,
                notification_url=settings.SITE_URL + reverse(f"collections_app:{provider}_webhook"),
                back_url=settings.SITE_URL
                + reverse("collections_app:portal_link", args=[link.reference]),
                idempotency_key=link.reference,
            )
        )
    except ProviderError as exc:
        link.status = PaymentLink.Status.FAILED
        link.status_reason = str(exc)[:255]
        link.save(update_fields=["status", "status_reason"])
        _timeline(
            customer,
            _("No se pudo crear el link de pago de %(amount)s (%(provider)s): %(error)s")
            % {
                "amount": _money(debt, charged),
                "provider": link.provider_name,
                "error": link.status_reason,
            },
            origin=origin,
            actor=actor,
            payload={"link": link.pk, "reference": link.reference},
        )
        raise ValidationError(
            _("La pasarela %(provider)s no pudo crear el link: %(error)s")
            % {"provider": link.provider_name, "error": link.status_reason}
        ) from exc
    provider_id = checkout.provider_id[:120]
    made = PaymentLink.objects.filter(pk=link.pk, status=PaymentLink.Status.CREATING).update(
        status=PaymentLink.Status.ACTIVE, url=checkout.url[:500], provider_id=provider_id
    )
    if not made:
        _withdrawn_while_created(link, debt, provider_id=provider_id, origin=origin, actor=actor)
    link.status = PaymentLink.Status.ACTIVE
    link.url = checkout.url[:500]
    link.provider_id = provider_id
    with transaction.atomic():
        _timeline(
            customer,
            _(
                "Link de pago creado: %(amount)s, %(concept)s, %(code)s (%(provider)s), vence el "
                "%(expires)s"
            )
            % {
                "amount": _money(debt, charged),
                "concept": link.get_concept_display().lower(),
                "code": debt.code,
                "provider": link.provider_name,
                "expires": timezone.localtime(link.expires_at).strftime("%d/%m/%Y %H:%M"),
            },
            origin=origin,
            actor=actor,
            payload={"link": link.pk, "reference": link.reference, "url": link.url},
        )
        _announce(Event.LINK, link)
    return link


def _new_link(
    *,
    customer: Customer,
    debt: Debt,
    concept: str,
    provider: str,
    origin: str,
    actor: AbstractBaseUser | None,
    amount: Decimal | None,
    installment_number: int | None,
    payer_email: str,
    agreement: PaymentAgreement | None,
    reuse_open: bool,
) -> tuple[PaymentLink | None, PaymentLink | None]:
    """Under the customer's lock, with `debt` read under it: store the link ("creating")
    for what `debt` allows now, or find the open one it repeats. Return (the new link,
    None) or (None, the open link)."""
    if agreement is not None:
        charged = _checked_amount(amount or ZERO)
    else:
        charged = link_amount(
            debt, concept=concept, amount=amount, installment_number=installment_number
        )
    now = timezone.now()
    # What makes two links the same: a second one like it, still open, is not made.
    same = {
        "customer": customer,
        **_refs(debt),
        "origin": origin,
        "concept": concept,
        "installment_number": installment_number
        if concept == PaymentLink.Concept.INSTALLMENT
        else None,
        "amount": charged,
        "provider": provider,
    }
    if reuse_open and agreement is None:
        # From any path: the debtor who opened one in the portal and then asks the bot
        # gets that one, made or being made.
        reused = {key: value for key, value in same.items() if key != "origin"}
        open_link = (
            PaymentLink.objects.filter(**reused, agreement__isnull=True)
            .filter(
                (
                    Q(status=PaymentLink.Status.ACTIVE, expires_at__gt=now + LINK_REUSE_MARGIN)
                    & ~Q(url="")
                )
                | Q(status=PaymentLink.Status.CREATING, created_at__gt=now - LINK_CREATING_WAIT)
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        if open_link is not None:
            return None, open_link
    elif agreement is None:
        # The same form sent twice at once finds the first.
        _refuse_a_repeated_link(same, actor, debt)
    link = PaymentLink.objects.create(
        **same,
        created_by=people.signed_in(actor),
        agreement=agreement,
        payer_email=payer_email,
        expires_at=link_expiry(debt, concept, now),
        reference=_link_reference(),
    )
    return link, None


def _withdrawn_while_created(
    link: PaymentLink,
    debt: Debt,
    *,
    provider_id: str,
    origin: str,
    actor: AbstractBaseUser | None,
) -> None:
    """The gateway made the checkout of a link someone withdrew meanwhile (an agent, a
    campaign's finish) or the hourly run gave up as cut off: it stays as they left it, not
    offered; the checkout's id is kept for a payment that still comes. Raise to say so."""
    PaymentLink.objects.filter(pk=link.pk).update(provider_id=provider_id)
    link.refresh_from_db(fields=["status", "status_reason"])
    said = {
        "ref": link.reference,
        "amount": _money(debt, link.amount),
        "provider": link.provider_name,
        "status": link.get_status_display().lower(),
        "reason": link.status_reason or "—",
    }
    with transaction.atomic():
        _timeline(
            link.customer,
            _(
                "%(provider)s creó el link de pago %(ref)s de %(amount)s cuando ya estaba "
                "%(status)s (%(reason)s): no se ofrece al cliente"
            )
            % said,
            origin=origin,
            actor=actor,
            payload={"link": link.pk, "reference": link.reference},
        )
    raise ValidationError(
        _(
            "El link %(ref)s quedó %(status)s mientras %(provider)s lo creaba (%(reason)s): "
            "no se ofrece al cliente."
        )
        % said
    )


# A link like one the same person made this recently, still open, is the form sent twice (a
# double click, the back button and send): two open links for one debt could both be paid.
LINK_REPEAT_WINDOW = timedelta(minutes=10)


def _refuse_a_repeated_link(same: dict, actor: AbstractBaseUser | None, debt: Debt) -> None:
    actor = people.signed_in(actor)
    if actor is None:
        return
    now = timezone.now()
    twin = repeats.made_within(
        PaymentLink.objects.filter(**same, agreement__isnull=True, created_by=actor).filter(
            Q(status=PaymentLink.Status.ACTIVE)
            # One still "creating" past the wait was cut off (its worker ended during the
            # gateway's call): it has no URL to send, and does not stand for a new one.
            | Q(status=PaymentLink.Status.CREATING, created_at__gt=now - LINK_CREATING_WAIT)
        ),
        LINK_REPEAT_WINDOW,
        now=now,
    )
    if twin is None:
        return
    said = {
        "reference": twin.reference,
        "amount": _money(debt, twin.amount),
        "provider": twin.provider_name,
        "expires": timezone.localtime(twin.expires_at).strftime("%d/%m/%Y %H:%M"),
    }
    if twin.status == PaymentLink.Status.CREATING:
        raise ValidationError(
            _(
                "Este mismo link se está creando en este momento (%(reference)s: %(amount)s "
                "por %(provider)s): no se creó otro. Espere unos segundos y búsquelo en su "
                "lista de links."
            )
            % said
        )
    raise ValidationError(
        _(
            "Usted creó este mismo link hace un momento (%(reference)s: %(amount)s por "
            "%(provider)s, vence el %(expires)s): no se creó otro. Envíe al cliente ese link, "
            "que figura en su lista de links."
        )
        % said
    )


def _link_title(link: PaymentLink, debt: Debt) -> str:
    if link.concept == PaymentLink.Concept.INSTALLMENT:
        return _("Cuota %(n)s de %(label)s") % {"n": link.installment_number, "label": debt.label}
    if link.concept == PaymentLink.Concept.AGREEMENT:
        return _("Convenio de pago de %(label)s") % {"label": debt.label}
    return _("Pago de %(label)s") % {"label": debt.label}


@transaction.atomic
def cancel_payment_link(
    *, link: PaymentLink, actor: AbstractBaseUser | None, reason: str
) -> PaymentLink:
    """Withdraw an unpaid link with a reason; a payment that still arrives is applied anyway.

    The gateway's checkout stays open until it expires (Checkout Pro preferences cannot be
    closed), so money paid through it is recorded as usual, not lost.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Indique el motivo.")})
    link = (
        PaymentLink.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=link.pk)
    )
    if not link.is_withdrawable:
        raise ValidationError(_("Solo se anula un link activo."))
    link.status = PaymentLink.Status.CANCELLED
    link.status_reason = reason[:255]
    link.save(update_fields=["status", "status_reason"])
    _timeline(
        link.customer,
        _("Link de pago %(ref)s de %(amount)s anulado: %(reason)s")
        % {"ref": link.reference, "amount": _money(link.currency, link.amount), "reason": reason},
        **_withdrawn_by(actor),
        actor=actor,
        payload={"link": link.pk},
    )
    if link.agreement_id is not None:
        _withdraw_waiting_agreement(link, actor=actor, reason=reason)
    return link


def _withdraw_waiting_agreement(
    link: PaymentLink, *, actor: AbstractBaseUser | None, reason: str
) -> None:
    """The down-payment link of an agreement still waiting for it was withdrawn: withdraw
    the agreement too, on the timeline. Nothing else can pay its down payment, and while
    it waited the debt could take no other agreement (until lapse_agreements, days later).

    `link.agreement` ends as the agreement is now, for the caller to say what was done.
    Locked after the link, as a gateway's payment does (apply_gateway_payment)."""
    agreement = (
        PaymentAgreement.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=link.agreement_id)
    )
    link.agreement = agreement
    if agreement.status != PaymentAgreement.Status.PENDING:
        return  # withdrawn with it (cancel_agreement), or paid meanwhile
    agreement.status = PaymentAgreement.Status.CANCELLED
    agreement.resolved_at = timezone.now()
    agreement.save(update_fields=["status", "resolved_at"])
    _timeline(
        agreement.customer,
        _(
            "Convenio de pago #%(id)s anulado con el link de su pie %(ref)s: %(reason)s; la "
            "deuda puede tomar otro convenio"
        )
        % {"id": agreement.pk, "ref": link.reference, "reason": reason},
        **_withdrawn_by(actor),
        actor=actor,
        payload={"agreement": agreement.pk, "link": link.pk},
    )


def withdraw_outgrown_links(
    *, receivable_kind: str, receivable_id: int, cause: str
) -> list[PaymentLink]:
    """Withdraw the receivable's open links that ask for more than they could pay now that
    money reduced the debt (`cause`, «el pago de S/ 1,215.72»: a payment applied to it by any
    path, an agreement's discount), each on the timeline; return them.

    An installment link could pay what that installment still owes, a total or free-amount
    link what settles the debt today. Paid, a link for more would leave the excess as a
    credit balance to refund by hand, and the portal would keep offering it beside the new
    figure. The down-payment link of an agreement still waiting for it stays while the debt
    is at least its down payment (withdrawing it withdraws the agreement, on its own card);
    once the debt is settled or less than that (a payment by hand of the whole loan, a
    payment to verify, another link), the agreement could only be paid as an excess: the link
    goes, and its agreement with it (`_withdraw_waiting_agreement`), each on the timeline.

    Runs in the payment's transaction, under the receivable's lock. A link another
    transaction holds is skipped, not waited for: a gateway's payment of it is being applied
    (apply_gateway_payment locks its link, then the receivable), so it is not withdrawn
    under that payment; what it brings beyond the debt is kept and its entry says so.
    """
    links = list(
        PaymentLink.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("customer")
        .filter(
            receivable_kind=receivable_kind,
            receivable_id=receivable_id,
            status__in=WITHDRAWABLE_LINK,
        )
        .filter(Q(agreement__isnull=True) | Q(agreement__status=PaymentAgreement.Status.PENDING))
        .order_by("pk")
    )
    if not links:
        return []
    debt = receivables.kind(receivable_kind).debt(receivable_id, timezone.localdate())
    outgrown = []
    for link in links:
        most, now = _what_link_could_pay(link, debt)
        if link.amount <= most:
            continue
        said = {
            "ref": link.reference,
            "amount": _money(link.currency, link.amount),
            "cause": cause,
            "now": now,
        }
        link.status = PaymentLink.Status.CANCELLED
        reason = _("%(cause)s redujo la deuda: el link por %(amount)s ya no corresponde") % said
        link.status_reason = (reason[:1].upper() + reason[1:])[:255]
        link.save(update_fields=["status", "status_reason"])
        _timeline(
            link.customer,
            _(
                "Link de pago %(ref)s de %(amount)s anulado: %(cause)s redujo la deuda y el "
                "link ya no corresponde (%(now)s)"
            )
            % said,
            origin=Origin.SYSTEM,
            actor=None,
            payload={"link": link.pk},
            kind=Interaction.Kind.SYSTEM,
        )
        if link.agreement_id is not None:
            _withdraw_waiting_agreement(link, actor=None, reason=reason)
        outgrown.append(link)
    return outgrown


def _what_link_could_pay(link: PaymentLink, debt: Debt | None) -> tuple[Decimal, str]:
    """Return the most `link` may still ask for `debt` (as link_amount fixes it; an
    agreement's down payment, the whole debt) and that figure in words, for the timeline."""
    if debt is None or not debt.has_debt:
        return ZERO, _("la deuda ya no tiene saldo pendiente")
    if link.concept == PaymentLink.Concept.INSTALLMENT:
        line = debt.line(link.installment_number or 0)
        if line is None:
            return ZERO, _("la cuota %(n)s ya está pagada") % {"n": link.installment_number}
        most = min(line.amount, debt.total)
        return most, _("la cuota %(n)s debe %(owed)s") % {
            "n": link.installment_number,
            "owed": _money(debt, most),
        }
    return debt.total, _("la deuda total es %(owed)s") % {"owed": _money(debt, debt.total)}


def withdraw_after_loan_payment(loan: Loan, payment: Payment) -> None:
    """credits' payment hook: a payment applied to a loan, whatever the path (the loan's
    page, the nightly's credit balance, a payment to verify, a gateway)."""
    withdraw_outgrown_links(
        receivable_kind=receivables.LOAN,
        receivable_id=loan.pk,
        cause=paid_cause(loan.currency, payment.amount),
    )


def paid_cause(currency: str, amount: Decimal) -> str:
    """«el pago de S/ 1,215.72»: what reduced a debt, for withdraw_outgrown_links."""
    return _("el pago de %(amount)s") % {"amount": _money(currency, amount)}


# Links marked expired per UPDATE: a short statement, whatever the database's limit on
# parameters.
EXPIRE_BATCH = 500


@transaction.atomic
def expire_links(*, now: datetime | None = None) -> int:
    """Mark active links past their expiry as expired, and links whose creation was cut off
    as failed, each with an entry on its customer's timeline; return how many (beat, hourly).

    A link still "creating" `LINK_CREATING_WAIT` after it was stored will get no URL: the
    request asking the gateway for it ended during the call (a worker killed by its
    timeout, a restart). Nobody could pay it, so it did not expire unpaid: it failed.

    The links are locked as they are read (FOR NO KEY UPDATE), and only those are marked and
    noted, in one transaction: two runs at once never note one link twice, and a link being
    paid or withdrawn right now (locked by that transaction) is left to the next run. The
    entries are bookkeeping (SYSTEM): they leave *última interacción* as it is.
    """
    now = now or timezone.now()
    columns = ("pk", "customer_id", "reference", "amount", "currency")
    locked = PaymentLink.objects.select_for_update(no_key=True, skip_locked=True).order_by("pk")
    cut_off = list(
        locked.filter(
            status=PaymentLink.Status.CREATING, created_at__lt=now - LINK_CREATING_WAIT
        ).values_list(*columns)
    )
    expired = list(
        locked.filter(status=PaymentLink.Status.ACTIVE, expires_at__lt=now).values_list(*columns)
    )
    _close_links(
        cut_off,
        status=PaymentLink.Status.FAILED,
        reason=_("La creación del link se interrumpió antes de recibir su URL de la pasarela."),
        said=_(
            "Link de pago %(ref)s de %(amount)s sin URL: la creación del link se interrumpió; "
            "no se cobró nada"
        ),
    )
    _close_links(
        expired,
        status=PaymentLink.Status.EXPIRED,
        reason="",
        said=_("Link de pago %(ref)s de %(amount)s venció sin pagarse"),
    )
    return len(cut_off) + len(expired)


def _close_links(rows: list[tuple], *, status: str, reason: str, said: str) -> None:
    """Give the locked links of `rows` (pk, customer, reference, amount, currency) their end
    `status`, and each customer's timeline the sentence `said` about each."""
    for start in range(0, len(rows), EXPIRE_BATCH):
        chunk = [pk for pk, *_rest in rows[start : start + EXPIRE_BATCH]]
        changes = {"status": status, "status_reason": reason} if reason else {"status": status}
        PaymentLink.objects.filter(pk__in=bulk.ids_in(chunk)).update(**changes)
    at = timezone.now()
    bulk.insert_rows(
        Interaction,
        crm_services.INTERACTION_COLUMNS,
        (
            crm_services.system_entry_row(
                customer_id,
                summary=said % {"ref": reference, "amount": _money(currency, amount)},
                payload={"link": pk},
                actor_id=None,
                at=at,
            )
            for pk, customer_id, reference, amount, currency in rows
        ),
    )


def process_gateway_event(event: WebhookEvent) -> None:
    """Act on a stored gateway notification: read the payment's current state and apply it.

    The gateway is asked for the payment every time, so the order in which notifications
    arrive does not matter: approved money is applied once (the receivable refuses a second
    payment with the same external id), pending waits for the next notification, rejected
    and cancelled do nothing, refunded and charged back annul what was applied.
    """
    provider = event.provider
    payment_id = _PAYMENT_ID_READERS[provider](event.payload())
    found = payment_gateways.gateway(provider).fetch_payment(payment_id)
    apply_gateway_payment(provider=provider, found=found)


def _link_reference() -> str:
    return f"PL-{secrets.token_hex(10)}"


def _when_created(link: PaymentLink) -> PaymentLink:
    """Return a link another request is creating, once the gateway gave it its URL; refuse
    while it has not (or when the gateway refused it) saying so."""
    deadline = min(link.created_at + LINK_CREATING_WAIT, timezone.now() + LINK_WAIT)
    while link.status == PaymentLink.Status.CREATING and timezone.now() < deadline:
        time.sleep(LINK_POLL_SECONDS)
        link.refresh_from_db(fields=["status", "url", "provider_id", "status_reason"])
    if link.status == PaymentLink.Status.ACTIVE:
        return link
    if link.status == PaymentLink.Status.FAILED:
        # The gateway's trouble, as when this request asks it (the bot's API answers 502).
        raise ValidationError(
            _("La pasarela %(provider)s no pudo crear el link: %(error)s")
            % {"provider": link.provider_name, "error": link.status_reason}
        ) from ProviderError(link.status_reason)
    raise ValidationError(
        _("El link de pago de esta deuda se está creando: vuelva a intentarlo en unos segundos."),
        code=LINK_BEING_CREATED,
    )


@transaction.atomic
def apply_gateway_payment(*, provider: str, found: "payment_gateways.GatewayPayment") -> None:
    """Apply a gateway payment's state to the link it pays (see process_gateway_event).

    A link may be paid more than once (MercadoPago lets a preference be paid again: a
    double click, the back button after paying), so each gateway payment is applied once,
    under its own external id, and its refund or chargeback annuls that payment, whichever
    one the link names. The link names its first payment. A partial refund leaves the
    payment approved with less of it kept: the payment is annulled and what is left applied
    in its place, under an id naming the total refunded, so a repeat changes nothing.
    """
    link = (
        PaymentLink.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(reference=found.reference, provider=provider)
        .first()
    )
    if link is None:
        raise IgnoreEvent(f"No payment link has reference {found.reference!r}.")
    kind = receivables.kind(link.receivable_kind)
    external_id = f"{provider}:{found.provider_payment_id}"
    # Under the link's lock: two notifications of one payment at once apply it once.
    recorded = kind.external_payments(link.receivable_id, external_id)
    standing = [payment for payment in recorded if payment.is_applied]
    if found.status == payment_gateways.APPROVED:
        kept = found.amount - found.refunded
        if not recorded:
            if kept > 0:
                _apply_new_gateway_payment(link, kind, found, external_id=external_id)
            return
        if not standing:
            return  # refunded, charged back or annulled by an agent before
        if kept >= sum(payment.amount for payment in standing):
            return  # applied before: a repeated notification
        if kept <= 0:
            reason = _refund_reason(link, refunded=True)
            with _told_when_refused(link, found, standing, reason=reason):
                _take_back(link, kind, standing, reason=reason)
            return
        with _told_when_refused(link, found, standing, reason=_partial_reason(link, found)):
            _keep_what_was_not_refunded(link, kind, found, standing, external_id=external_id)
        return
    if found.status in (payment_gateways.REFUNDED, payment_gateways.CHARGED_BACK):
        if not standing:
            return  # never applied, or annulled before: nothing to take back
        reason = _refund_reason(link, refunded=found.status == payment_gateways.REFUNDED)
        with _told_when_refused(link, found, standing, reason=reason):
            _take_back(link, kind, standing, reason=reason)
        return
    # pending, in process, rejected, cancelled: nothing to apply (yet).


def _received_on(found: "payment_gateways.GatewayPayment") -> date:
    return min(found.paid_on or timezone.localdate(), timezone.localdate())


def _apply_new_gateway_payment(
    link: PaymentLink,
    kind: receivables.ReceivableKind,
    found: "payment_gateways.GatewayPayment",
    *,
    external_id: str,
) -> None:
    """Apply a gateway payment seen for the first time (less what was refunded of it by
    then); the link's first payment marks it paid."""
    if found.currency and found.currency != link.currency:
        # The gateway took the money, in a currency the debt is not in: it cannot be
        # applied, and it must not go unseen either.
        _tell_other_currency(link, found)
        return
    kept = found.amount - found.refunded
    received_on = _received_on(found)
    _honour_total_quote(link, kind, amount=kept, received_on=received_on)
    first = link.payment_id is None
    if first:
        # Paid before its money is applied: the links the payment outgrows are withdrawn
        # as it is applied (withdraw_outgrown_links), and this one is not among them.
        link.status = PaymentLink.Status.PAID
        link.provider_payment_id = found.provider_payment_id
        link.paid_at = timezone.now()
        link.save(update_fields=["status", "provider_payment_id", "paid_at"])
    payment_id = kind.apply_payment(
        receivable_id=link.receivable_id,
        amount=kept,
        received_on=received_on,
        source=link.provider,
        actor=None,
        reference=found.provider_payment_id,
        external_id=_kept_external_id(external_id, found),
        # The money is in: whatever the debt is by now, it is recorded, the excess as
        # credit balance, rather than refused.
        accept_overpayment=True,
    )
    if first:
        link.payment_id = payment_id
        link.save(update_fields=["payment_id"])
    said = {
        "amount": _money(link.currency, found.amount),
        "provider": link.provider_name,
        "ref": link.reference,
        "op": found.provider_payment_id,
    }
    # The receivable wrote the payment's entry (the one «Pagos» counts); this one says
    # which link it paid: bookkeeping, not a second payment.
    if first:
        summary = _("Link de pago %(ref)s pagado por %(provider)s: %(amount)s (operación %(op)s)")
    else:
        summary = _(
            "Link de pago %(ref)s pagado otra vez por %(provider)s: %(amount)s (operación %(op)s)"
        )
    summary %= said
    if found.refunded > 0:
        summary += _(", de los que %(provider)s ya devolvió %(refunded)s: se registró %(kept)s") % {
            "provider": link.provider_name,
            "refunded": _money(link.currency, found.refunded),
            "kept": _money(link.currency, kept),
        }
    overpaid = kind.overpaid(payment_id)
    if overpaid > 0:
        # The debt was less by then (another payment, or a link withdrawn because one
        # reduced it): the excess waits on the receivable for someone to act.
        summary += _(
            "; %(excess)s superaban lo que se debía y quedaron a favor del cliente, para "
            "devolverlos o aplicarlos a mano"
        ) % {"excess": _money(link.currency, overpaid)}
    _timeline(
        link.customer,
        summary,
        origin=Origin.SYSTEM,
        actor=None,
        payload={"link": link.pk, "payment": payment_id},
        kind=Interaction.Kind.SYSTEM,
    )
    _announce(Event.PAYMENT, link, payment_id=payment_id)
    if link.agreement_id is not None:
        _activate_agreement(link.agreement_id)


def _tell_other_currency(link: PaymentLink, found: "payment_gateways.GatewayPayment") -> None:
    """Tell the customer's timeline and e-mail the collections team that a gateway took
    money for this link in another currency than the link's, which is not applied; once per
    gateway payment, however often the gateway notifies it.

    The event then ends processed: retried, it would end the same way, and the timeline
    entry keeps what the gateway said (operation, amount, currency) after the event is
    purged.
    """
    operation = f"{link.provider}:{found.provider_payment_id}"
    if Interaction.objects.filter(
        customer=link.customer, payload__other_currency_payment=operation
    ).exists():
        return  # told already: the same payment notified again, or retried
    said = {
        "amount": _money(found.currency, found.amount),
        "provider": link.provider_name,
        "ref": link.reference,
        "symbol": display.currency_symbol(link.currency),
        "op": found.provider_payment_id,
        "code": link.receivable_code,
        "name": link.customer.full_name,
        "doc": link.customer.document_number,
        "url": settings.SITE_URL
        + reverse("collections_app:customer_collections", args=[link.customer_id]),
    }
    summary = (
        _(
            "Pago de %(amount)s recibido por %(provider)s en otra moneda que el link "
            "%(ref)s (%(symbol)s), operación %(op)s para %(code)s: no se aplicó; "
            "devuélvalo o aplíquelo a mano"
        )
        % said
    )
    if found.refunded > 0:
        summary += _(" (%(provider)s ya devolvió %(refunded)s)") % {
            "provider": link.provider_name,
            "refunded": _money(found.currency, found.refunded),
        }
    _timeline(
        link.customer,
        summary,
        origin=Origin.SYSTEM,
        actor=None,
        payload={"link": link.pk, "other_currency_payment": operation},
        kind=Interaction.Kind.SYSTEM,
    )
    email_collections_team(
        subject=_("Pago en otra moneda sin aplicar: %(name)s, %(amount)s") % said,
        body=_("%(name)s (%(doc)s): ") % said
        + summary
        + ".\n\n"
        + _("Vea el cliente en %(url)s") % said,
        dedupe=f"other-currency-payment-{operation}",
    )


def email_collections_team(*, subject: str, body: str, dedupe: str) -> None:
    """E-mail each address of COLLECTIONS_TEAM_EMAILS once (`dedupe` names the occasion)."""
    for address in settings.COLLECTIONS_TEAM_EMAILS:
        email.enqueue(to=address, subject=subject, body=body, dedupe_key=f"{dedupe}-{address}")


def _kept_external_id(external_id: str, found: "payment_gateways.GatewayPayment") -> str:
    """The external id of what is kept of a gateway payment: its own id while nothing was
    refunded, else that id and the total refunded, which only a further refund changes."""
    if found.refunded <= 0:
        return external_id
    return f"{external_id}:refunded:{found.refunded}"


def _refund_reason(link: PaymentLink, *, refunded: bool) -> str:
    return (_("devuelto por %(provider)s") if refunded else _("contracargo en %(provider)s")) % {
        "provider": link.provider_name
    }


def _partial_reason(link: PaymentLink, found: "payment_gateways.GatewayPayment") -> str:
    return _("devuelto en parte por %(provider)s: %(refunded)s de %(amount)s") % {
        "provider": link.provider_name,
        "refunded": _money(link.currency, found.refunded),
        "amount": _money(link.currency, found.amount),
    }


@contextmanager
def _told_when_refused(
    link: PaymentLink,
    found: "payment_gateways.GatewayPayment",
    standing: "list[receivables.ExternalPayment]",
    *,
    reason: str,
) -> Iterator[None]:
    """Run a refund's or chargeback's take-back in a savepoint; when the receivable refuses
    it (a payment recorded by hand after it: only a person may annul that one), undo the
    take-back, tell the customer's timeline and e-mail the collections team, once per
    refund however often the gateway notifies it, and leave the payment applied.

    The event then ends processed: retried, it would fail the same way until someone acts,
    and what to do is in the e-mail.
    """
    try:
        with transaction.atomic():
            yield
    except ValidationError as exc:
        _tell_refund_refused(link, found, standing, reason=reason, error=" ".join(exc.messages))


def _tell_refund_refused(
    link: PaymentLink,
    found: "payment_gateways.GatewayPayment",
    standing: "list[receivables.ExternalPayment]",
    *,
    reason: str,
    error: str,
) -> None:
    # The refund as the gateway states it: a further refund or a chargeback is another one.
    refund = f"{link.provider}:{found.provider_payment_id}:{found.status}:{found.refunded}"
    if Interaction.objects.filter(
        customer=link.customer, payload__refund_not_taken_back=refund
    ).exists():
        return  # told already: the same refund notified again, or retried
    said = {
        "ids": ", ".join(f"#{payment.id}" for payment in standing),
        "amount": _money(link.currency, sum(payment.amount for payment in standing)),
        "op": found.provider_payment_id,
        "ref": link.reference,
        "reason": reason,
        "code": link.receivable_code,
        "error": error,
        "name": link.customer.full_name,
        "doc": link.customer.document_number,
    }
    summary = (
        _(
            "Pago %(ids)s (%(amount)s, operación %(op)s del link de pago %(ref)s) %(reason)s, "
            "pero no se pudo anular y sigue aplicado a %(code)s: %(error)s"
        )
        % said
    )
    _timeline(
        link.customer,
        summary,
        origin=Origin.SYSTEM,
        actor=None,
        payload={
            "link": link.pk,
            "payments": [payment.id for payment in standing],
            "refund_not_taken_back": refund,
        },
        kind=Interaction.Kind.SYSTEM,
    )
    email_collections_team(
        subject=_("Devolución sin aplicar: %(name)s, %(code)s") % said,
        body=_("%(name)s (%(doc)s): ") % said + summary,
        dedupe=f"refund-not-taken-back-{refund}",
    )


def _take_back(
    link: PaymentLink,
    kind: receivables.ReceivableKind,
    standing: "list[receivables.ExternalPayment]",
    *,
    reason: str,
) -> None:
    """Annul what stands of a gateway payment its gateway gave back or lost to a chargeback."""
    for payment in standing:
        _annul_given_back(link, kind, payment.id, reason=reason)
    _restore_quote_waiver(link, kind, standing, reason=reason)


def _annul_given_back(
    link: PaymentLink, kind: receivables.ReceivableKind, payment_id: int, *, reason: str
) -> None:
    """Annul one of a link's gateway payments whose money went back (see annul_payment),
    through the receivable, which applies again the gateway payments made after it."""
    taken = kind.take_back_payment(payment_id=payment_id, reason=reason)
    for old, new in taken.reapplied.items():
        # A link paid by a payment applied again names the new one.
        PaymentLink.objects.filter(
            receivable_kind=link.receivable_kind, receivable_id=link.receivable_id, payment_id=old
        ).update(payment_id=new)
        if link.payment_id == old:
            link.payment_id = new
    debt = kind.debt(taken.receivable_id, timezone.localdate())
    send_on_commit(
        Event.ANNULMENT,
        portfolio=debt.portfolio if debt is not None else Portfolio.CURRENT,
        customer_id=link.customer_id,
        receivable_kind=link.receivable_kind,
        receivable_id=taken.receivable_id,
        instance=None,
        payment_id=payment_id,
    )


def _restore_quote_waiver(
    link: PaymentLink,
    kind: receivables.ReceivableKind,
    annulled: "list[receivables.ExternalPayment]",
    *,
    reason: str,
) -> None:
    """Owe again the late interest a total link's quote waived, once the payment it stood
    on (the link's own) is annulled or kept only in part."""
    if link.concept != PaymentLink.Concept.TOTAL:
        return
    if link.payment_id not in {payment.id for payment in annulled}:
        return  # another payment of the link: the waiver stood on the first one
    kind.restore_discount(
        receivable_id=link.receivable_id,
        marker=link.reference,
        actor=None,
        summary=_(
            "Interés moratorio de %%(amount)s condonado por el link de pago total "
            "%(ref)s, adeudado otra vez: el pago fue anulado (%(reason)s)"
        )
        % {"ref": link.reference, "reason": reason},
    )


def _keep_what_was_not_refunded(
    link: PaymentLink,
    kind: receivables.ReceivableKind,
    found: "payment_gateways.GatewayPayment",
    standing: "list[receivables.ExternalPayment]",
    *,
    external_id: str,
) -> None:
    """A gateway payment refunded in part (again): annul what stands of it and apply what
    is left, on the day it was paid, in one go."""
    kept = found.amount - found.refunded
    was = sum(payment.amount for payment in standing)
    said = {
        "provider": link.provider_name,
        "refunded": _money(link.currency, found.refunded),
        "amount": _money(link.currency, found.amount),
        "was": _money(link.currency, was),
        "kept": _money(link.currency, kept),
        "more": _money(link.currency, was - kept),
        "op": found.provider_payment_id,
        "ref": link.reference,
    }
    reason = _partial_reason(link, found)
    _take_back(link, kind, standing, reason=reason)
    payment_id = kind.apply_payment(
        receivable_id=link.receivable_id,
        amount=kept,
        received_on=_received_on(found),
        source=link.provider,
        actor=None,
        reference=found.provider_payment_id,
        external_id=_kept_external_id(external_id, found),
        accept_overpayment=True,
    )
    if link.payment_id in {payment.id for payment in standing}:
        # The link's own payment, now what is left of it.
        link.payment_id = payment_id
        link.save(update_fields=["payment_id"])
    if was == found.amount:
        summary = _(
            "%(provider)s devolvió %(refunded)s de la operación %(op)s (%(amount)s) del link "
            "de pago %(ref)s: se anuló el pago de %(was)s y se registró lo que queda, %(kept)s"
        )
    else:
        summary = _(
            "%(provider)s devolvió otros %(more)s de la operación %(op)s (%(amount)s; en total "
            "%(refunded)s) del link de pago %(ref)s: se anuló el pago de %(was)s y se registró "
            "lo que queda, %(kept)s"
        )
    _timeline(
        link.customer,
        summary % said,
        origin=Origin.SYSTEM,
        actor=None,
        payload={"link": link.pk, "payment": payment_id, "annulled": [p.id for p in standing]},
        kind=Interaction.Kind.SYSTEM,
    )


def _honour_total_quote(
    link: PaymentLink, kind: receivables.ReceivableKind, *, amount: Decimal, received_on: date
) -> None:
    """Waive the late interest charged after a total-debt link was made, before its payment
    is applied: the link quoted what cancels the debt for as long as it is open.

    Only when the link's amount was paid while the link was open and not withdrawn; and only
    the late interest charged from the link to the day of the payment, as far as the amount
    falls short. Anything else still owed (principal, interest, earlier late interest) stays
    owed; installment, free-amount and agreement links waive nothing.
    """
    if link.concept != PaymentLink.Concept.TOTAL or link.agreement_id is not None:
        return
    if link.status == PaymentLink.Status.CANCELLED or amount < link.amount:
        return
    if received_on > timezone.localdate(link.expires_at):
        return
    # What the payment charges first (the days no nightly charged yet: paid at 00:30, or
    # after a stop), charged now, so that it is counted among what the link's quote waives.
    kind.charge_late_interest(link.receivable_id, received_on)
    debt = kind.debt(link.receivable_id, received_on)
    if debt is None or debt.late_interest <= 0:
        return  # none owed: nothing to waive (a kind without late interest ends here)
    # The nightly run charges each day early that day. What was charged after the day of the
    # payment, the payment itself takes back (a payment recorded after its day).
    cut = timezone.make_aware(
        datetime.combine(received_on + timedelta(days=1), datetime.min.time())
    )
    since_quote = kind.late_interest_charged(link.receivable_id, since=link.created_at, until=cut)
    taken_back = kind.late_interest_charged(
        link.receivable_id, since=max(cut, link.created_at), until=timezone.now()
    )
    short = debt.total - taken_back - amount
    to_waive = min(since_quote, short, debt.late_interest)
    if to_waive <= 0:
        return
    kind.grant_discount(
        receivable_id=link.receivable_id,
        amount=to_waive,
        actor=None,
        reason=_("link de pago total %(ref)s del %(day)s")
        % {"ref": link.reference, "day": timezone.localtime(link.created_at).strftime("%d/%m/%Y")},
        summary=_(
            "Interés moratorio de %%(amount)s generado después del link de pago total del "
            "%(day)s condonado: el link cotizaba la cancelación"
        )
        % {"day": timezone.localtime(link.created_at).strftime("%d/%m")},
    )


# --- Payments to verify --------------------------------------------------------------------


# What each path calls its "paid more" answer, for the refusal to name it.
PAID_MORE_ANSWERS = {
    Origin.AGENT: gettext_lazy("El cliente pagó más de lo que debe"),
    Origin.PORTAL: gettext_lazy("Pagué más de lo que debo"),
}


# The code of that refusal, for a form to offer its "paid more" box.
ABOVE_DEBT = "above_debt"


def above_debt_message(debt: Debt, origin: str) -> str:
    """Say that the amount is more than settles `debt` today, and how to say it is right."""
    total = display.money_text(debt.total, debt.currency)
    answer = PAID_MORE_ANSWERS.get(origin)
    if answer is None:  # the bot's API: a field, not a box
        return _(
            "El monto supera la deuda: %(total)s la cancelan hoy. Si de verdad pagó más, "
            "envíe pago_mayor_a_la_deuda=true."
        ) % {"total": total}
    return _(
        "El monto supera la deuda: %(total)s la cancelan hoy. Si de verdad pagó más, marque "
        "«%(answer)s»."
    ) % {"total": total, "answer": answer}


@dataclass(frozen=True)
class ApiRequestKey:
    """What an API request that creates a row stores on it (models.ApiRequest): its client,
    its Idempotency-Key and the hash of what it asked."""

    client: ApiClient
    key: str
    request_hash: str

    def fields(self) -> dict:
        return {
            "api_client": self.client,
            "idempotency_key": self.key,
            "request_hash": self.request_hash,
        }


def file_sha256(upload: UploadedFile) -> str:
    """The file's SHA-256 (hex), read in chunks; the file is left at its start."""
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def report_payment(
    *,
    customer: Customer,
    receivable_kind: str,
    receivable_id: int,
    amount: Decimal,
    paid_on: date,
    method: str,
    receipt: UploadedFile,
    origin: str,
    actor: AbstractBaseUser | None,
    reference: str = "",
    contact_email: str = "",
    paid_more: bool = False,
    api_request: ApiRequestKey | None = None,
) -> ReportedPayment:
    """Record a payment the debtor says was made, with its receipt, for an agent to verify.

    The collections team gets an e-mail; nothing is applied until an agent approves it.
    An amount above what settles the debt today is refused unless `paid_more` says the
    debtor really paid more (each path asks it in its own words): 10,000,000,000 typed for
    1,000 is a slip, and was taken.
    """
    amount = _checked_amount(amount)
    today = timezone.localdate()
    if paid_on > today:
        raise ValidationError({"paid_on": _("La fecha de pago no puede ser futura.")})
    if paid_on < today - timedelta(days=REPORT_MAX_AGE_DAYS):
        # A debtor is asked to call; an agent (origin AGENT) is not told to contact us.
        older = _("La fecha de pago no puede tener más de un año.")
        if origin != Origin.AGENT:
            older = f"{older} {_('Contáctenos.')}"
        raise ValidationError({"paid_on": older})
    if method not in ReportedPayment.Method.values:
        raise ValidationError({"method": _("Medio de pago desconocido.")})
    validate_receipt(receipt)
    receipt_hash = file_sha256(receipt)
    # A first read outside any lock, as create_payment_link's: another's debt is refused at
    # once, and a campaign past its end is finished here.
    debt = debt_of(customer, receivable_kind, receivable_id)
    with transaction.atomic():
        crm_services.lock_current_customer(customer.pk)
        earlier = _same_report(customer, debt, amount, paid_on, reference[:80], receipt_hash)
        if earlier is not None and earlier.status == ReportedPayment.Status.PENDING:
            return earlier  # the same form sent again (a double click, a retry)
        _hold(debt)
        # Against the debt under the lock: a payment committed since the first read
        # lowered it, and more than it now is the slip the check is there for.
        debt = debt_of(customer, receivable_kind, receivable_id)
        if amount > debt.total and not paid_more:
            raise ValidationError(
                {"amount": ValidationError(above_debt_message(debt, origin), code=ABOVE_DEBT)}
            )
        if earlier is not None:
            # Said of the earlier report: the same receipt may come with other figures.
            facts = {
                "ref": earlier.reference,
                "amount": _money(debt, earlier.amount),
                "day": earlier.paid_on.strftime("%d/%m/%Y"),
                "reviewed": timezone.localtime(earlier.reviewed_at).strftime("%d/%m/%Y"),
            }
            if earlier.reference:
                already = _(
                    "Ese pago (operación «%(ref)s», %(amount)s del %(day)s) ya se informó y se "
                    "verificó el %(reviewed)s."
                )
            else:
                already = _(
                    "Ese pago (%(amount)s del %(day)s) ya se informó y se verificó el %(reviewed)s."
                )
            raise ValidationError(already % facts)
        report = ReportedPayment.objects.create(
            customer=customer,
            **_refs(debt),
            origin=origin,
            created_by=people.signed_in(actor),
            amount=amount,
            paid_on=paid_on,
            method=method,
            reference=reference[:80],
            receipt=receipt,
            receipt_sha256=receipt_hash,
            contact_email=contact_email,
            **(api_request.fields() if api_request else {}),
        )
        _timeline(
            customer,
            _("Pago informado para verificar: %(amount)s del %(day)s (%(method)s), %(code)s")
            % {
                "amount": _money(debt, amount),
                "day": paid_on.strftime("%d/%m/%Y"),
                "method": report.get_method_display().lower(),
                "code": debt.code,
            },
            origin=origin,
            actor=actor,
            payload={"reported_payment": report.pk},
        )
        for address in settings.COLLECTIONS_TEAM_EMAILS:
            email.enqueue(
                to=address,
                subject=_("Pago a verificar: %(name)s, %(amount)s")
                % {"name": customer.full_name, "amount": _money(debt, amount)},
                body=_(
                    "%(name)s (%(doc)s) informó un pago de %(amount)s del %(day)s por "
                    "%(method)s, operación «%(ref)s», para %(code)s.\n\nVerifíquelo en %(url)s"
                )
                % {
                    "name": customer.full_name,
                    "doc": customer.document_number,
                    "amount": _money(debt, amount),
                    "day": paid_on.strftime("%d/%m/%Y"),
                    "method": report.get_method_display().lower(),
                    "ref": report.reference or "-",
                    "code": debt.code,
                    "url": settings.SITE_URL
                    + reverse("collections_app:reported_detail", args=[report.pk]),
                },
                dedupe_key=f"reported-payment-{report.pk}-{address}",
            )
        _announce(Event.TO_VERIFY, report)
    return report


# A report like one sent this recently, without an operation number, is the same form
# sent again; with the same operation number, or the same receipt file, it is the same
# payment whenever it comes.
RESEND_WINDOW = timedelta(minutes=10)


def _same_report(
    customer: Customer,
    debt: Debt,
    amount: Decimal,
    paid_on: date,
    reference: str,
    receipt_hash: str = "",
) -> ReportedPayment | None:
    """Return the report (pending or verified) this one repeats, if any."""
    reports = ReportedPayment.objects.filter(customer=customer, **_refs(debt)).exclude(
        status=ReportedPayment.Status.REJECTED
    )
    if receipt_hash:
        same_file = reports.filter(receipt_sha256=receipt_hash).order_by("-created_at", "-pk")
        if (earlier := same_file.first()) is not None:
            return earlier
    same = reports.filter(amount=amount, paid_on=paid_on)
    if reference.strip():
        same = same.filter(reference=reference)
    else:
        same = same.filter(reference="", created_at__gte=timezone.now() - RESEND_WINDOW)
    return same.order_by("-created_at", "-pk").first()


@dataclass(frozen=True)
class Review:
    """A payment to verify once reviewed, and what became of the message to the debtor
    (queued, or skipped because they opted out or have no e-mail); None when none was
    sent: a report rejected again after it was reopened (the debtor heard of the first
    rejection)."""

    report: ReportedPayment
    notice: customer_messages.Sending | None


@transaction.atomic
def approve_reported_payment(
    *, report: ReportedPayment, actor: AbstractBaseUser | None, accept_overpayment: bool = False
) -> Review:
    """Apply a payment to verify through its receivable and tell the debtor it was verified."""
    report = (
        ReportedPayment.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=report.pk)
    )
    if report.status != ReportedPayment.Status.PENDING:
        raise ValidationError(_("Este pago ya fue revisado."))
    payment_id = receivables.kind(report.receivable_kind).apply_payment(
        receivable_id=report.receivable_id,
        amount=report.amount,
        received_on=report.paid_on,
        source=report.method,
        actor=actor,
        reference=report.reference or f"Pago informado #{report.pk}",
        external_id=f"reported:{report.pk}",
        accept_overpayment=accept_overpayment,
    )
    report.status = ReportedPayment.Status.APPROVED
    report.reviewed_by = people.signed_in(actor)
    report.reviewed_at = timezone.now()
    report.payment_id = payment_id
    report.save(update_fields=["status", "reviewed_by", "reviewed_at", "payment_id"])
    notice = _tell_debtor(
        report,
        Event.VERIFIED,
        payment_id=payment_id,
        subject=_("Su pago fue verificado"),
        body=_("Verificamos su pago de %(amount)s del %(day)s para %(code)s. ¡Gracias!"),
    )
    _timeline(
        report.customer,
        _("Pago a verificar #%(id)s aprobado: %(amount)s aplicado a %(code)s")
        % {
            "id": report.pk,
            "amount": _money(report.currency, report.amount),
            "code": report.receivable_code,
        },
        origin=Origin.AGENT,
        actor=actor,
        payload={"reported_payment": report.pk, "payment": payment_id},
    )
    _announce(Event.VERIFIED, report, payment_id=payment_id)
    return Review(report=report, notice=notice)


@transaction.atomic
def reject_reported_payment(
    *, report: ReportedPayment, actor: AbstractBaseUser | None, reason: str
) -> Review:
    """Refuse a payment to verify with a reason, and tell the debtor why."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Indique el motivo del rechazo.")})
    report = (
        ReportedPayment.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=report.pk)
    )
    if report.status != ReportedPayment.Status.PENDING:
        raise ValidationError(_("Este pago ya fue revisado."))
    report.status = ReportedPayment.Status.REJECTED
    report.reviewed_by = people.signed_in(actor)
    report.reviewed_at = timezone.now()
    report.reject_reason = reason[:255]
    report.save(update_fields=["status", "reviewed_by", "reviewed_at", "reject_reason"])
    summary = _("Pago a verificar #%(id)s rechazado: %(reason)s") % {
        "id": report.pk,
        "reason": reason,
    }
    if selectors.report_was_reopened(report):
        # Rejected before and reopened: the debtor heard of that rejection, and is not
        # told twice (nor announced, which would send the events settings' template).
        _timeline(
            report.customer,
            summary + _(" (otra vez, tras reabrirse: no se avisó al cliente)"),
            origin=Origin.AGENT,
            actor=actor,
            payload={"reported_payment": report.pk},
        )
        return Review(report=report, notice=None)
    notice = _tell_debtor(
        report,
        Event.REJECTED,
        subject=_("No pudimos verificar su pago"),
        body=_(
            "No pudimos verificar el pago de %(amount)s del %(day)s que informó para "
            "%(code)s. Motivo: %(reason)s"
        ),
        reason=reason,
    )
    _timeline(
        report.customer,
        summary,
        origin=Origin.AGENT,
        actor=actor,
        payload={"reported_payment": report.pk},
    )
    _announce(Event.REJECTED, report)
    return Review(report=report, notice=notice)


def reopen_refusal(report: ReportedPayment) -> str:
    """Say why `report` may not be reopened ("" when it may): only a rejected report, and
    only while no other report of its debt, waiting or verified, is the same payment."""
    if report.status == ReportedPayment.Status.PENDING:
        return _("Este pago ya está por verificar.")
    if report.status != ReportedPayment.Status.REJECTED:
        return _("Solo se reabre un pago rechazado: este ya fue verificado.")
    twin = selectors.same_payment_reported(report)
    if twin is None:
        return ""
    said = {
        "id": twin.pk,
        "status": twin.get_status_display().lower(),
        "day": timezone.localtime(twin.created_at).strftime("%d/%m/%Y"),
    }
    if report.receipt_sha256 and twin.receipt_sha256 == report.receipt_sha256:
        text = _(
            "El pago a verificar #%(id)s (%(status)s, informado el %(day)s) trae el mismo "
            "comprobante: es el mismo pago, y reabierto este se podría aplicar dos veces."
        )
    else:
        text = _(
            "El pago a verificar #%(id)s (%(status)s, informado el %(day)s) tiene el mismo "
            "monto, fecha y n.º de operación: es el mismo pago, y reabierto este se podría "
            "aplicar dos veces."
        )
    return text % said


@transaction.atomic
def reopen_reported_payment(
    *, report: ReportedPayment, actor: AbstractBaseUser | None
) -> ReportedPayment:
    """Put a payment to verify rejected by mistake back in the queue, waiting as before
    (`reopen_refusal` says when it may not), with the rejection on the timeline.

    The debtor is not told: nothing happened to their payment yet. Verified later, they hear
    it as usual; rejected again, they are not told twice (reject_reported_payment).
    Locked as a review locks it, then the customer's row, which a new report of the debt
    takes (report_payment): one sent meanwhile is seen, and one sent after finds this one.
    """
    report = (
        ReportedPayment.objects.select_for_update(of=("self",))
        .select_related("customer", "reviewed_by")
        .get(pk=report.pk)
    )
    if report.status == ReportedPayment.Status.REJECTED:
        crm_services.lock_current_customer(report.customer_id)
    refusal = reopen_refusal(report)
    if refusal:
        raise ValidationError(refusal)
    before = {
        "id": report.pk,
        "status": report.get_status_display(),
        "reason": report.reject_reason or "—",
        "who": people.display_name(report.reviewed_by) or _("el sistema"),
        "when": timezone.localtime(report.reviewed_at).strftime("%d/%m/%Y %H:%M")
        if report.reviewed_at
        else "—",
    }
    report.status = ReportedPayment.Status.PENDING
    report.reviewed_by = None
    report.reviewed_at = None
    report.reject_reason = ""
    report.save(update_fields=["status", "reviewed_by", "reviewed_at", "reject_reason"])
    _timeline(
        report.customer,
        _(
            "Pago a verificar #%(id)s reabierto: antes %(status)s (motivo: %(reason)s), por "
            "%(who)s el %(when)s; vuelve a estar por verificar. No se avisó al cliente"
        )
        % before,
        origin=Origin.AGENT,
        actor=actor,
        payload={"reported_payment": report.pk, "status": selectors.REOPENED},
    )
    return report


def _tell_debtor(
    report: ReportedPayment,
    event: str,
    *,
    subject: str,
    body: str,
    reason: str = "",
    payment_id: int | None = None,
) -> customer_messages.Sending:
    """Tell the debtor the review's outcome; return what became of the message.

    With a template set for the event (Estrategias → Eventos) that template goes, now,
    so the agent learns its fate; the event's own announcement after the commit finds
    it sent (same key) and sends nothing more. Otherwise a built-in e-mail.
    """
    configured = event_settings.on_payment_event(
        Event,
        event=event,
        portfolio=report.portfolio,
        customer_id=report.customer_id,
        receivable_kind=report.receivable_kind,
        receivable_id=report.receivable_id,
        instance=report,
        payment_id=payment_id,
    )
    if configured is not None:
        return configured
    text = body % {
        "amount": _money(report.currency, report.amount),
        "day": report.paid_on.strftime("%d/%m/%Y"),
        "code": report.receivable_code,
        "reason": reason,
    }
    return customer_messages.send_customer_message(
        customer=report.customer,
        channel=customer_messages.EMAIL,
        subject=subject,
        body=text,
        dedupe_key=f"reported-payment-{report.pk}-{report.status}",
    )


# --- Promises ------------------------------------------------------------------------------


def promise_payment(
    *,
    customer: Customer,
    receivable_kind: str,
    receivable_id: int,
    amount: Decimal,
    promised_on: date,
    origin: str,
    actor: AbstractBaseUser | None,
    notes: str = "",
) -> PaymentPromise:
    """Record that the debtor promises to pay `amount` by `promised_on`."""
    amount = _checked_amount(amount)
    today = timezone.localdate()
    if promised_on < today:
        raise ValidationError({"promised_on": _("La fecha comprometida no puede ser pasada.")})
    if promised_on > today + timedelta(days=PROMISE_MAX_DAYS):
        raise ValidationError(
            {
                "promised_on": _("La fecha comprometida puede ser hasta %(days)s días desde hoy.")
                % {"days": PROMISE_MAX_DAYS}
            }
        )
    debt = debt_of(customer, receivable_kind, receivable_id)
    if not debt.has_debt:
        raise ValidationError(
            _("La deuda %(code)s no tiene saldo pendiente.") % {"code": debt.code}
        )
    if amount > debt.total:
        raise ValidationError(
            {
                "amount": _("El monto supera la deuda (%(total)s).")
                % {"total": _money(debt, debt.total)}
            }
        )
    with transaction.atomic():
        # Two promises made at once must not both pass: locking the open promise locks
        # nothing while there is none, so the customer's row is taken first.
        crm_services.lock_current_customer(customer.pk)
        _hold(debt)
        in_course = PaymentPromise.objects.filter(
            receivable_kind=debt.kind,
            receivable_id=debt.id,
            status=PaymentPromise.Status.PENDING,
            agreement__isnull=True,
        )
        # One whose day has passed is no longer in course, though the nightly
        # (resolve_promises) has not judged it yet (before 00:30, or after an outage): it is
        # judged now, as the nightly would, and does not stand in the way.
        for pk in list(in_course.filter(promised_on__lt=today).values_list("pk", flat=True)):
            _resolve_promise(pk)
        open_promise = in_course.first()
        if open_promise is not None:
            raise ValidationError(
                _("Ya hay un compromiso vigente para %(code)s: %(amount)s al %(day)s.")
                % {
                    "code": debt.code,
                    "amount": _money(debt, open_promise.amount),
                    "day": open_promise.promised_on.strftime("%d/%m/%Y"),
                }
            )
        promise = _create_promise(
            customer,
            debt,
            amount=amount,
            promised_on=promised_on,
            origin=origin,
            actor=actor,
            notes=notes,
        )
    return promise


def _create_promise(
    customer: Customer,
    debt: Debt,
    *,
    amount: Decimal,
    promised_on: date,
    origin: str,
    actor: AbstractBaseUser | None,
    notes: str = "",
    agreement: PaymentAgreement | None = None,
) -> PaymentPromise:
    promise = PaymentPromise.objects.create(
        customer=customer,
        **_refs(debt),
        origin=origin,
        created_by=people.signed_in(actor),
        amount=amount,
        promised_on=promised_on,
        notes=notes[:255],
        agreement=agreement,
    )
    if agreement is None:
        _timeline(
            customer,
            _("Compromiso de pago: %(amount)s al %(day)s, %(code)s")
            % {
                "amount": _money(debt, amount),
                "day": promised_on.strftime("%d/%m/%Y"),
                "code": debt.code,
            },
            origin=origin,
            actor=actor,
            payload={"promise": promise.pk},
        )
        _announce(Event.PROMISE, promise)
    return promise


def resolve_promises(*, today: date | None = None) -> dict[str, int]:
    """Decide every promise whose day has passed: kept when the money came, else broken.

    Runs daily (beat), each promise in its own transaction; running it twice changes
    nothing. A promise counts the standing payments received from the day it was made
    (for an agreement's installment: from the agreement's start, against what all its
    installments up to this one add up to) until its day. One that fails is logged with
    its id and looked at again the next night; it does not stop the others.
    """
    today = today or timezone.localdate()
    counts = {"kept": 0, "broken": 0}
    due = PaymentPromise.objects.filter(
        status=PaymentPromise.Status.PENDING, promised_on__lt=today
    ).values_list("pk", flat=True)
    for pk in list(due.iterator()):
        try:
            outcome = _resolve_promise(pk)
        except Exception:  # any: its transaction rolled back, the others go on
            logger.exception("Promise %s not resolved", pk)
            continue
        if outcome:
            counts[outcome] += 1
    # A payment received by the promise's day but recorded after it was judged (a bank's
    # file, cash keyed in next morning) makes a broken promise kept, for a week.
    late = PaymentPromise.objects.filter(
        status=PaymentPromise.Status.BROKEN,
        agreement__isnull=True,
        promised_on__gte=today - timedelta(days=PROMISE_RECHECK_DAYS),
    ).values_list("pk", flat=True)
    for pk in list(late.iterator()):
        try:
            if _recheck_broken_promise(pk):
                counts["kept"] += 1
        except Exception:  # as above
            logger.exception("Broken promise %s not looked at again", pk)
    return counts


# How long a broken promise (without an agreement) is looked at again each night.
PROMISE_RECHECK_DAYS = 7


@transaction.atomic
def _recheck_broken_promise(pk: int) -> bool:
    """Make a broken promise kept when the payments received by its day now cover it;
    return whether it did. The timeline says so; the customer is not messaged again (the
    "broken" message went out, and this is bookkeeping). A promise of an agreement stays:
    its breaking ended the agreement."""
    promise = (
        PaymentPromise.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(pk=pk)
        .first()
    )
    if promise is None:
        return False  # deleted since it was listed
    if promise.status != PaymentPromise.Status.BROKEN or promise.agreement_id is not None:
        return False
    kind = receivables.kind(promise.receivable_kind)
    start = timezone.localdate(promise.created_at)
    paid = kind.paid_between(promise.receivable_id, start, promise.promised_on)
    if paid < promise.amount:
        return False
    promise.status = PaymentPromise.Status.KEPT
    promise.paid_amount = paid
    promise.save(update_fields=["status", "paid_amount"])
    _timeline(
        promise.customer,
        _(
            "Compromiso de pago cumplido: %(amount)s al %(day)s, %(code)s (el pago de ese día "
            "se registró después de darlo por incumplido)"
        )
        % {
            "amount": _money(promise.currency, promise.amount),
            "day": promise.promised_on.strftime("%d/%m/%Y"),
            "code": promise.receivable_code,
        },
        origin=Origin.SYSTEM,
        actor=None,
        payload={"promise": promise.pk, "paid": str(paid)},
        kind=Interaction.Kind.SYSTEM,
    )
    return True


def resolve_promise(*, promise_id: int) -> str:
    """Judge one promise whose day has passed, as the nightly does (kept or broken, on the
    timeline); "" when it was judged or deleted meanwhile."""
    return _resolve_promise(promise_id)


@transaction.atomic
def _resolve_promise(pk: int) -> str:
    promise = (
        PaymentPromise.objects.select_for_update(of=("self",))
        .select_related("customer", "agreement")
        .filter(pk=pk)
        .first()
    )
    if promise is None or promise.status != PaymentPromise.Status.PENDING:
        return ""  # deleted since it was listed, or decided already
    kind = receivables.kind(promise.receivable_kind)
    agreement = promise.agreement
    if agreement is not None and agreement.activated_at is not None:
        start = timezone.localdate(agreement.activated_at)
        target = sum(
            (p.amount for p in agreement.promises.filter(promised_on__lte=promise.promised_on)),
            ZERO,
        )
    else:
        start = timezone.localdate(promise.created_at)
        target = promise.amount
    paid = kind.paid_between(promise.receivable_id, start, promise.promised_on)
    kept = paid >= target
    promise.status = PaymentPromise.Status.KEPT if kept else PaymentPromise.Status.BROKEN
    promise.paid_amount = paid
    promise.resolved_at = timezone.now()
    promise.save(update_fields=["status", "paid_amount", "resolved_at"])
    _timeline(
        promise.customer,
        (
            _("Compromiso de pago cumplido: %(amount)s al %(day)s, %(code)s")
            if kept
            else _(
                "Compromiso de pago incumplido: %(amount)s al %(day)s, %(code)s (pagado %(paid)s)"
            )
        )
        % {
            "amount": _money(promise.currency, promise.amount),
            "day": promise.promised_on.strftime("%d/%m/%Y"),
            "code": promise.receivable_code,
            "paid": _money(promise.currency, paid),
        },
        origin=Origin.SYSTEM,
        actor=None,
        payload={"promise": promise.pk, "paid": str(paid)},
        # The night's judgement, not contact with the debtor: «última interacción» stays.
        kind=Interaction.Kind.SYSTEM,
    )
    _announce(Event.PROMISE_KEPT if kept else Event.PROMISE_BROKEN, promise)
    if agreement is not None:
        _settle_agreement(agreement, broken=not kept)
    return "kept" if kept else "broken"


@transaction.atomic
def cancel_promise(
    *, promise: PaymentPromise, actor: AbstractBaseUser | None, reason: str
) -> PaymentPromise:
    """Withdraw a promise still in course, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Indique el motivo.")})
    promise = (
        PaymentPromise.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=promise.pk)
    )
    if promise.status != PaymentPromise.Status.PENDING:
        raise ValidationError(_("Este compromiso ya no está vigente."))
    if promise.agreement_id is not None:
        raise ValidationError(
            _("Es una cuota del convenio #%(id)s: se resuelve con el convenio.")
            % {"id": promise.agreement_id}
        )
    promise.status = PaymentPromise.Status.CANCELLED
    promise.resolved_at = timezone.now()
    promise.save(update_fields=["status", "resolved_at"])
    _timeline(
        promise.customer,
        _("Compromiso de pago del %(day)s anulado: %(reason)s")
        % {"day": promise.promised_on.strftime("%d/%m/%Y"), "reason": reason},
        **_withdrawn_by(actor),
        actor=actor,
        payload={"promise": promise.pk},
    )
    return promise


# --- Annulments ----------------------------------------------------------------------------


@transaction.atomic
def annul_payment(
    *,
    customer: Customer,
    receivable_kind: str,
    payment_id: int,
    actor: AbstractBaseUser | None,
    reason: str,
    origin: str = Origin.AGENT,
) -> None:
    """Annul a receivable's payment with a reason, reversing its effect exactly."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Indique el motivo de la anulación.")})
    kind = receivables.kind(receivable_kind)
    receivable_id = kind.annul_payment(payment_id=payment_id, actor=actor, reason=reason)
    debt = kind.debt(receivable_id, timezone.localdate())
    if debt is None or debt.customer_id != customer.pk:
        raise ValidationError(_("La deuda no existe o no es de este cliente."))
    send_on_commit(
        Event.ANNULMENT,
        portfolio=debt.portfolio,
        customer_id=customer.pk,
        receivable_kind=receivable_kind,
        receivable_id=receivable_id,
        instance=None,
        payment_id=payment_id,
    )


# --- Agreements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementOption:
    """One way to pay a debt's overdue part that a rule allows."""

    rule: AgreementRule
    installments: int
    debt_amount: Decimal
    discount_amount: Decimal
    down_payment: Decimal
    installment_amount: Decimal
    plan: tuple[tuple[int, date, Decimal], ...]  # (number, due day, amount); 0 = down payment

    @property
    def total(self) -> Decimal:
        return self.debt_amount - self.discount_amount

    @property
    def key(self) -> str:
        return f"{self.rule.pk}-{self.installments}"

    @property
    def last_installment_amount(self) -> Decimal | None:
        """Return the last installment when rounding made it differ from the others (it takes
        the difference), so the figures shown add up to the total; else None."""
        if len(self.plan) < 3:  # the down payment and at most one installment
            return None
        last = self.plan[-1][2]
        return last if last != self.installment_amount else None


def agreement_options(
    debt: Debt, *, today: date | None = None, rules: Sequence[AgreementRule] | None = None
) -> list[AgreementOption]:
    """Return the agreements the active rules allow for this debt (none when nothing is late).

    `rules` are the active rules when the caller read them already (a page with several
    debts reads them once).
    """
    today = today or timezone.localdate()
    if debt.overdue <= 0 or debt.portfolio != Portfolio.CURRENT:
        return []
    if rules is None:
        rules = selectors.active_agreement_rules()
    options = []
    for rule in rules:
        if debt.days_past_due < rule.min_days_past_due:
            continue
        discount = money.cents(debt.late_interest * rule.late_interest_discount_percent / 100)
        total = debt.overdue - discount
        # The down payment goes through a gateway link: never less than the least link
        # (a rule of 0 % had offered S/ 0.01 down, which bought the whole discount).
        least_down = max(
            (total * rule.min_down_payment_percent / 100).quantize(CENT, rounding=ROUND_HALF_UP),
            min(least_link_amount(debt.currency), total),
        )
        for count in range(1, rule.max_installments + 1):
            if count == 1:
                down, each, parts = total, ZERO, []
            else:
                down = least_down
                rest = total - down
                each = (rest / (count - 1)).quantize(CENT, rounding=ROUND_HALF_UP)
                parts = [each] * (count - 2) + [rest - each * (count - 2)]
                if each <= 0 or parts[-1] <= 0:
                    continue
            plan = [(0, today, down)] + [
                (n, today + timedelta(days=rule.days_between_installments * n), amount)
                for n, amount in enumerate(parts, start=1)
            ]
            options.append(
                AgreementOption(
                    rule=rule,
                    installments=count,
                    debt_amount=debt.overdue,
                    discount_amount=discount,
                    down_payment=down,
                    installment_amount=each,
                    plan=tuple(plan),
                )
            )
    return options


def create_agreement(
    *,
    customer: Customer,
    receivable_kind: str,
    receivable_id: int,
    option_key: str,
    provider: str,
    origin: str,
    actor: AbstractBaseUser | None,
    payer_email: str = "",
) -> tuple[PaymentAgreement, PaymentLink]:
    """Take one of the offered agreements: store it and create the link for its down payment.

    The option is worked out again under the customer's lock, which a payment takes first
    too: one that committed since the debtor saw the options changes their figures, and the
    agreement is then refused in words instead of made with figures nobody saw."""
    seen = _option(debt_of(customer, receivable_kind, receivable_id), option_key)
    try:
        with transaction.atomic():
            crm_services.lock_current_customer(customer.pk)
            debt = debt_of(customer, receivable_kind, receivable_id)
            _hold(debt)
            option = _option(debt, option_key)
            if option != seen:
                raise ValidationError(
                    {
                        "option": _(
                            "La deuda %(code)s cambió mientras se elegía el convenio (se "
                            "registró un pago): revise las opciones de nuevo."
                        )
                        % {"code": debt.code}
                    }
                )
            agreement = PaymentAgreement.objects.create(
                customer=customer,
                **_refs(debt),
                origin=origin,
                created_by=people.signed_in(actor),
                rule=option.rule,
                installments=option.installments,
                debt_amount=option.debt_amount,
                discount_amount=option.discount_amount,
                down_payment=option.down_payment,
                installment_amount=option.installment_amount,
                plan=[
                    {"number": n, "due_on": day.isoformat(), "amount": str(amount)}
                    for n, day, amount in option.plan
                ],
            )
            _timeline(
                customer,
                ngettext(
                    "Convenio de pago en %(n)s cuota para %(code)s: pie %(down)s, descuento "
                    "%(discount)s, total %(total)s",
                    "Convenio de pago en %(n)s cuotas para %(code)s: pie %(down)s, descuento "
                    "%(discount)s, total %(total)s",
                    option.installments,
                )
                % {
                    "n": option.installments,
                    "code": debt.code,
                    "down": _money(debt, option.down_payment),
                    "discount": _money(debt, option.discount_amount),
                    "total": _money(debt, option.total),
                },
                origin=origin,
                actor=actor,
                payload={"agreement": agreement.pk},
            )
            _announce(Event.AGREEMENT, agreement)
    except IntegrityError as exc:
        raise ValidationError(
            _("La deuda %(code)s ya tiene un convenio en curso.") % {"code": debt.code}
        ) from exc
    try:
        link = create_payment_link(
            customer=customer,
            receivable_kind=receivable_kind,
            receivable_id=receivable_id,
            concept=PaymentLink.Concept.AGREEMENT,
            amount=option.down_payment,
            provider=provider,
            origin=origin,
            actor=actor,
            payer_email=payer_email,
            agreement=agreement,
        )
    except ValidationError:
        # Without a link its down payment cannot be paid, and a pending agreement would
        # keep the debt from getting another one (coll_agreement_one_open): withdraw it.
        PaymentAgreement.objects.filter(
            pk=agreement.pk, status=PaymentAgreement.Status.PENDING
        ).update(status=PaymentAgreement.Status.CANCELLED, resolved_at=timezone.now())
        raise
    return agreement, link


def _option(debt: Debt, option_key: str) -> AgreementOption:
    """The agreement `option_key` names among those `debt` allows now; refused in words."""
    option = next((o for o in agreement_options(debt) if o.key == option_key), None)
    if option is None:
        raise ValidationError({"option": _("Ese convenio no está disponible para esta deuda.")})
    return option


@transaction.atomic
def cancel_agreement(
    *, agreement: PaymentAgreement, actor: AbstractBaseUser | None, reason: str
) -> PaymentAgreement:
    """Withdraw an agreement still waiting for its down payment, and its link (open, or
    still being made at the gateway: once made it is not offered)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Indique el motivo.")})
    # Its links first, then the agreement: the order a gateway's payment locks them in
    # (apply_gateway_payment), so the two never wait for each other.
    links = list(
        PaymentLink.objects.select_for_update(of=("self",))
        .filter(agreement_id=agreement.pk, status__in=WITHDRAWABLE_LINK)
        .order_by("pk")
    )
    agreement = (
        PaymentAgreement.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=agreement.pk)
    )
    if agreement.status != PaymentAgreement.Status.PENDING:
        raise ValidationError(_("Solo se anula un convenio que espera su pie."))
    agreement.status = PaymentAgreement.Status.CANCELLED
    agreement.resolved_at = timezone.now()
    agreement.save(update_fields=["status", "resolved_at"])
    for link in links:
        cancel_payment_link(link=link, actor=actor, reason=reason)
    _timeline(
        agreement.customer,
        _("Convenio de pago #%(id)s anulado: %(reason)s") % {"id": agreement.pk, "reason": reason},
        **_withdrawn_by(actor),
        actor=actor,
        payload={"agreement": agreement.pk},
    )
    return agreement


# An agreement whose down-payment link expired unpaid waits this long more for a late
# gateway notification (money paid just before the expiry) before it lapses.
AGREEMENT_LAPSE_GRACE = timedelta(hours=24)


def lapse_agreements(*, now: datetime | None = None) -> int:
    """Withdraw the agreements still waiting for their down payment whose links all ended
    unpaid more than AGREEMENT_LAPSE_GRACE ago (or that never got one); return how many
    (beat, hourly, after expire_links).

    Otherwise one left unpaid blocked its debt for good: the portal offers no agreement
    while one is in course, and only an agent could withdraw it. Each says so on the
    timeline.
    """
    now = now or timezone.now()
    cut = now - AGREEMENT_LAPSE_GRACE
    candidates = PaymentAgreement.objects.filter(
        status=PaymentAgreement.Status.PENDING,
        created_at__lt=cut - timedelta(hours=settings.COLLECTIONS_LINK_HOURS),
    ).values_list("pk", flat=True)
    lapsed = 0
    for pk in list(candidates):
        with transaction.atomic():
            agreement = (
                PaymentAgreement.objects.select_for_update(of=("self",))
                .select_related("customer")
                .get(pk=pk)
            )
            links = list(agreement.links.values_list("status", "expires_at"))
            open_or_paid = {
                PaymentLink.Status.ACTIVE,
                PaymentLink.Status.CREATING,
                PaymentLink.Status.PAID,
            }
            if agreement.status != PaymentAgreement.Status.PENDING or any(
                status in open_or_paid or expires_at >= cut for status, expires_at in links
            ):
                continue
            agreement.status = PaymentAgreement.Status.CANCELLED
            agreement.resolved_at = now
            agreement.save(update_fields=["status", "resolved_at"])
            _agreement_entry(
                agreement,
                _(
                    "Convenio de pago #%(id)s sin efecto: su pie de %(down)s no se pagó "
                    "a tiempo; la deuda puede tomar otro convenio"
                )
                % {
                    "id": agreement.pk,
                    "down": _money(agreement.currency, agreement.down_payment),
                },
            )
            lapsed += 1
    return lapsed


def _activate_agreement(agreement_id: int) -> None:
    """The down payment came in: grant the discount and turn each installment into a promise."""
    agreement = (
        PaymentAgreement.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=agreement_id)
    )
    if agreement.status != PaymentAgreement.Status.PENDING:
        return
    kind = receivables.kind(agreement.receivable_kind)
    if agreement.discount_amount > 0:
        kind.grant_discount(
            receivable_id=agreement.receivable_id,
            amount=agreement.discount_amount,
            actor=None,
            reason=_("convenio de pago #%(id)s") % {"id": agreement.pk},
        )
        # The late interest forgiven leaves an installment's link for more than it owes.
        withdraw_outgrown_links(
            receivable_kind=agreement.receivable_kind,
            receivable_id=agreement.receivable_id,
            cause=_("el descuento del convenio de pago #%(id)s") % {"id": agreement.pk},
        )
    debt = kind.debt(agreement.receivable_id, timezone.localdate())
    agreement.status = PaymentAgreement.Status.ACTIVE
    agreement.activated_at = timezone.now()
    today = timezone.localdate()
    promises = [
        _create_promise(
            agreement.customer,
            debt,
            amount=Decimal(part["amount"]),
            promised_on=today
            + (date.fromisoformat(part["due_on"]) - timezone.localdate(agreement.created_at)),
            origin=Origin.SYSTEM,
            actor=None,
            agreement=agreement,
        )
        for part in agreement.plan
        if part["number"] != 0
    ]
    if agreement.installments == 1:
        agreement.status = PaymentAgreement.Status.COMPLETED
        agreement.resolved_at = timezone.now()
    agreement.save(update_fields=["status", "activated_at", "resolved_at"])
    _agreement_entry(agreement, _activated_text(agreement, promises))


def _activated_text(agreement: PaymentAgreement, promises: list[PaymentPromise]) -> str:
    """Say what the down payment started: the installments now owed as promises, or, with
    none left (an agreement in one payment), that the agreement is done."""
    if not promises:
        return _("Convenio de pago #%(id)s cumplido: pagado en una cuota de %(down)s") % {
            "id": agreement.pk,
            "down": _money(agreement.currency, agreement.down_payment),
        }
    first, last = promises[0], promises[-1]
    text = ngettext(
        "Convenio de pago #%(id)s activo: pie de %(down)s pagado; %(n)s cuota de %(amount)s "
        "el %(day)s",
        "Convenio de pago #%(id)s activo: pie de %(down)s pagado; %(n)s cuotas de %(amount)s "
        "desde el %(day)s",
        len(promises),
    ) % {
        "id": agreement.pk,
        "down": _money(agreement.currency, agreement.down_payment),
        "n": len(promises),
        "amount": _money(agreement.currency, first.amount),
        "day": first.promised_on.strftime("%d/%m/%Y"),
    }
    if last.amount != first.amount:
        # Rounding put the difference on the last one.
        text += _(" (la última de %(amount)s, el %(day)s)") % {
            "amount": _money(agreement.currency, last.amount),
            "day": last.promised_on.strftime("%d/%m/%Y"),
        }
    return text


def _agreement_entry(agreement: PaymentAgreement, summary: str) -> None:
    """Note on the timeline what the system did to an agreement (bookkeeping, not contact)."""
    _timeline(
        agreement.customer,
        summary,
        origin=Origin.SYSTEM,
        actor=None,
        payload={"agreement": agreement.pk},
        kind=Interaction.Kind.SYSTEM,
    )


def _settle_agreement(agreement: PaymentAgreement, *, broken: bool) -> None:
    """End an active agreement as broken (its installments still to come are withdrawn) or,
    with none left pending, as completed; the timeline says which."""
    agreement = (
        PaymentAgreement.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=agreement.pk)
    )
    if agreement.status != PaymentAgreement.Status.ACTIVE:
        return
    if broken:
        agreement.status = PaymentAgreement.Status.BROKEN
    elif not agreement.promises.filter(status=PaymentPromise.Status.PENDING).exists():
        agreement.status = PaymentAgreement.Status.COMPLETED
    else:
        return
    agreement.resolved_at = timezone.now()
    agreement.save(update_fields=["status", "resolved_at"])
    if not broken:
        _agreement_entry(agreement, _("Convenio de pago #%(id)s cumplido") % {"id": agreement.pk})
        return
    withdrawn = agreement.promises.filter(status=PaymentPromise.Status.PENDING).update(
        status=PaymentPromise.Status.CANCELLED, resolved_at=timezone.now()
    )
    if withdrawn:
        summary = ngettext(
            "Convenio de pago #%(id)s incumplido: se anuló %(n)s cuota pendiente",
            "Convenio de pago #%(id)s incumplido: se anularon %(n)s cuotas pendientes",
            withdrawn,
        ) % {"id": agreement.pk, "n": withdrawn}
    else:
        summary = _("Convenio de pago #%(id)s incumplido") % {"id": agreement.pk}
    _agreement_entry(agreement, summary)


# --- Call-back requests ----------------------------------------------------------------------


CALLBACK_PHONE_INVALID = gettext_lazy(
    "Indique un teléfono válido, p. ej. 987 654 321 o 01 234 5678 "
    "(con + y el código de país si no es de Perú)."
)


def callback_phone(raw: str) -> str:
    """Return the number a debtor gave to be called on, as E.164; or refuse it.

    A mobile or a landline, read in the country's format; digits typed on some phones
    ("９８７…", "٩٨٧…") are read as ASCII. Seven to fifteen digits of anything was taken
    before, "1234567" too, and an agent dialled it.
    """
    number = crm_services.phone_e164(search.ascii_digits(raw or "").strip())
    if not number:
        raise ValidationError({"phone": CALLBACK_PHONE_INVALID})
    return number


def request_callback(
    *,
    customer: Customer,
    phone: str,
    origin: str,
    actor: AbstractBaseUser | None,
    preferred_at: datetime | None = None,
    preferred_time: str = "",
    portfolio: str = Portfolio.CURRENT,
    api_request: ApiRequestKey | None = None,
) -> CallbackRequest:
    """Record that the debtor wants a call; it waits in the agents' call-back list.

    One open request per number: asked again while it waits (a double click, an agent and
    the bot, another visit to the portal), the one already waiting is returned, with
    `is_repeat` set, and nothing new goes on the timeline.
    """
    phone = callback_phone(phone)
    if preferred_at is not None and preferred_at < timezone.now() - timedelta(minutes=5):
        raise ValidationError({"preferred_at": _("El horario preferido no puede ser pasado.")})
    if preferred_at is not None and preferred_at > timezone.now() + timedelta(days=30):
        raise ValidationError(
            {"preferred_at": _("El horario preferido puede ser hasta 30 días desde hoy.")}
        )
    with transaction.atomic():
        # Taken first: two requests at once run one after the other, the second finds the first.
        crm_services.lock_current_customer(customer.pk)
        waiting = (
            CallbackRequest.objects.filter(
                customer=customer,
                phone=phone,
                portfolio=portfolio,
                status=CallbackRequest.Status.OPEN,
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        if waiting is not None:
            waiting.is_repeat = True
            return waiting
        callback = CallbackRequest.objects.create(
            customer=customer,
            phone=phone,
            preferred_at=preferred_at,
            preferred_time=preferred_time[:60],
            origin=origin,
            portfolio=portfolio,
            **(api_request.fields() if api_request else {}),
        )
        callback.is_repeat = False
        when = (
            timezone.localtime(preferred_at).strftime("%d/%m/%Y %H:%M")
            if preferred_at
            else preferred_time or _("cuanto antes")
        )
        _timeline(
            customer,
            _("Pidió que lo llamen al %(phone)s (%(when)s)") % {"phone": phone, "when": when},
            origin=origin,
            actor=actor,
            payload={"callback": callback.pk},
            kind=Interaction.Kind.CALL,
        )
        send_on_commit(
            Event.CALLBACK,
            portfolio=portfolio,
            customer_id=customer.pk,
            instance=callback,
        )
    return callback


@transaction.atomic
def close_callback(
    *, callback: CallbackRequest, actor: AbstractBaseUser | None, status: str, outcome: str
) -> CallbackRequest:
    """Close a call-back request as called or discarded, with what happened."""
    if status not in (CallbackRequest.Status.DONE, CallbackRequest.Status.CANCELLED):
        raise ValidationError({"status": _("Elija «Llamado» o «Descartado».")})
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationError({"outcome": _("Indique qué pasó.")})
    callback = (
        CallbackRequest.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=callback.pk)
    )
    if callback.status != CallbackRequest.Status.OPEN:
        raise ValidationError(_("Este pedido ya fue cerrado."))
    callback.status = status
    callback.outcome = outcome[:255]
    callback.closed_at = timezone.now()
    callback.closed_by = people.signed_in(actor)
    callback.save(update_fields=["status", "outcome", "closed_at", "closed_by"])
    crm_services.record_interaction(
        customer=callback.customer,
        kind=Interaction.Kind.CALL,
        direction=Interaction.Direction.OUTBOUND,
        summary=_("Pedido de llamada %(status)s: %(outcome)s")
        % {"status": callback.get_status_display().lower(), "outcome": outcome},
        payload={"callback": callback.pk},
        actor=people.signed_in(actor),
    )
    return callback
