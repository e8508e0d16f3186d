"""The /recovery portal's writes: a visit and how far it got, the first visit that starts a
countdown, paying the offer, declining it (asking for an advisor, too).

Each step goes on the customer's timeline ("Portal de cartera castigada: …") with the
visit's id, and moves the visit's `furthest_step` forward, never back (the funnel report
counts these). What the debtor did alone (identifying, declining) also shows in their
conversation, as the customer portal's visits do.
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from collections_app import services as collection_services
from collections_app.models import CallbackRequest, Origin, PaymentLink, Portfolio
from collections_app.signals import Event
from crm import messages as customer_messages
from crm import services as crm_services
from crm.models import Customer, Interaction, Message
from recovery.models import Campaign, RecoverySettings, Visit
from recovery.portal import selectors
from recovery.receivables import CAMPAIGN

# A link made before is offered again only with at least this long left to pay it.


class Step:
    """A visit's steps as the timeline names them; the first four are the funnel's."""

    IDENTIFIED = "identified"
    OFFER = "offer"
    PAYMENT_OPTIONS = "payment_options"
    PAID = "paid"
    DECLINED = "declined"

    FUNNEL = {
        IDENTIFIED: Visit.Step.IDENTIFIED,
        OFFER: Visit.Step.OFFER,
        PAYMENT_OPTIONS: Visit.Step.PAYMENT_OPTIONS,
        PAID: Visit.Step.PAID,
    }
    LABELS = {
        IDENTIFIED: gettext_lazy("se identificó con su documento"),
        OFFER: gettext_lazy("vio la oferta"),
        PAYMENT_OPTIONS: gettext_lazy("abrió las opciones de pago"),
        PAID: gettext_lazy("pagó la oferta"),
        DECLINED: gettext_lazy("no le interesa la oferta"),
    }


def record_step(*, visit: Visit, step: str, detail: str = "") -> Interaction:
    """Put one step of a visit on the customer's timeline, with the visit's id."""
    summary = _("Portal de cartera castigada: %(step)s") % {"step": Step.LABELS[step]}
    if detail:
        summary = f"{summary} ({detail})"
    return crm_services.record_interaction(
        customer=visit.customer,
        kind=Interaction.Kind.PORTAL_VISIT,
        direction=Interaction.Direction.INBOUND,
        summary=summary,
        payload={
            "recovery_visit": visit.pk,
            "recovery_step": step,
            "recovery_campaign": visit.campaign_id,
        },
    )


# One browser's identification sent twice at once (a double click) is one visit: the first
# keeps its visit under the browser's key this long (the second's session has no visitor yet).
VISIT_REPEAT_SECONDS = 30


@transaction.atomic
def start_visit(
    *, customer: Customer, campaign: Campaign, detail: str = "", browser: str = ""
) -> Visit:
    """Record that the customer with this campaign identified; return the new visit, or
    the one the same `browser` (a key of its own, e.g. its CSRF cookie) started a moment ago.
    """
    now = timezone.now()
    key = ""
    if browser:
        key = "recovery:visit:" + hashlib.sha256(f"{browser}:{campaign.pk}".encode()).hexdigest()
        # Two sends at once wait for each other here; the second finds the first's visit.
        # The customer's row, not the campaign's: the visit's entry moves the customer's
        # *última interacción*, and a payment link for the campaign takes the customer and
        # then the campaign (locking the campaign first deadlocked with it).
        crm_services.lock_customer(customer.pk)
        twin = Visit.objects.filter(
            pk=cache.get(key) or 0, customer=customer, campaign=campaign
        ).first()
        if twin is not None:
            return twin
    visit = Visit.objects.create(
        campaign=campaign,
        customer=customer,
        token=secrets.token_hex(12),
        furthest_step=Visit.Step.IDENTIFIED,
        started_at=now,
        last_seen_at=now,
    )
    if key:
        cache.set(key, visit.pk, VISIT_REPEAT_SECONDS)
    entry = record_step(visit=visit, step=Step.IDENTIFIED, detail=detail)
    # The visit shows in the customer's conversation; its later steps on the timeline.
    customer_messages.record_activity(interaction=entry, channel=Message.Channel.PORTAL)
    return visit


@transaction.atomic
def reach(*, visit: Visit, step: str, detail: str = "") -> bool:
    """Move the visit forward to `step`; put it on the timeline the first time only.

    One conditional UPDATE: two requests at once record the step once.
    """
    value = Step.FUNNEL[step]
    moved = Visit.objects.filter(pk=visit.pk, furthest_step__lt=value).update(
        furthest_step=value, last_seen_at=timezone.now()
    )
    if not moved:
        return False
    visit.furthest_step = value
    record_step(visit=visit, step=step, detail=detail)
    return True


def note_first_visit(campaign: Campaign, portal: RecoverySettings | None = None) -> datetime:
    """Set when the debtor first saw the offer, once, and the end of their countdown with
    the hours set now (none while the countdown is off): a later change of the settings
    does not move it. Return the first visit.

    UPDATE … WHERE first_visit_at IS NULL: of two first views at once, one sets both.
    """
    if campaign.first_visit_at is None:
        portal = portal or RecoverySettings.current()
        now = timezone.now()
        ends_at = (
            now + timedelta(hours=portal.countdown_hours) if portal.countdown_enabled else None
        )
        Campaign.objects.filter(pk=campaign.pk, first_visit_at__isnull=True).update(
            first_visit_at=now, countdown_ends_at=ends_at
        )
        campaign.first_visit_at, campaign.countdown_ends_at = Campaign.objects.values_list(
            "first_visit_at", "countdown_ends_at"
        ).get(pk=campaign.pk)
    return campaign.first_visit_at


def pay(*, visit: Visit, portal: RecoverySettings, provider: str) -> PaymentLink:
    """Make a payment link for the campaign's balance, while the offer is open; or return
    the one made before for the same balance and gateway, while it can be paid (a debtor
    who went back and pressed again got a second link, and could pay twice).

    Not in one transaction: the link is stored and committed before the gateway is asked
    (collections_app.services.create_payment_link).
    """
    campaign = Campaign.objects.get(pk=visit.campaign_id)
    if not selectors.offer(campaign, portal).is_open:
        raise ValidationError(_("La oferta ha concluido, contáctanos para más detalles."))
    return collection_services.create_payment_link(
        customer=visit.customer,
        receivable_kind=CAMPAIGN,
        receivable_id=campaign.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider=provider,
        origin=Origin.PORTAL,
        actor=None,
        payer_email=visit.customer.email,
        reuse_open=True,
    )


@transaction.atomic
def decline(
    *, visit: Visit, reason: str, phone: str = "", preferred_time: str = ""
) -> CallbackRequest | None:
    """Record that the debtor is not interested, and why; the advisor's reason also asks
    for a call-back on `phone` (blank: the customer's registered phone). Return the
    call-back request, if one was made or was already waiting.

    The same answer again in the same visit (a resubmitted form) records nothing more,
    unless it gives another phone: the call-back already waiting is enough, and the
    timeline says it once.
    """
    reason = reason.strip()[:200]
    # The visit as it is now, locked: a form sent twice at once waits here and then sees
    # the first answer (each read the request's copy and recorded it, call-back and all).
    visit.declined, visit.decline_reason = (
        Visit.objects.select_for_update()
        .filter(pk=visit.pk)
        .values_list("declined", "decline_reason")
        .get()
    )
    wants_a_call = reason == selectors.ADVISOR_REASON
    if wants_a_call and not phone.strip() and visit.customer.phone:
        phone = str(visit.customer.phone.as_e164)
    if visit.declined and visit.decline_reason == reason:
        if not wants_a_call:
            return None
        waiting = (
            CallbackRequest.objects.filter(
                customer_id=visit.customer_id,
                portfolio=Portfolio.WRITTEN_OFF,
                status=CallbackRequest.Status.OPEN,
                created_at__gte=visit.started_at,
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        if waiting is not None and waiting.phone == _dialled(phone):
            return waiting
    callback = None
    if wants_a_call:
        callback = collection_services.request_callback(
            customer=visit.customer,
            phone=phone,
            origin=Origin.PORTAL,
            actor=None,
            preferred_time=preferred_time,
            portfolio=Portfolio.WRITTEN_OFF,
        )
    Visit.objects.filter(pk=visit.pk).update(
        declined=True, decline_reason=reason, last_seen_at=timezone.now()
    )
    visit.declined, visit.decline_reason = True, reason
    entry = record_step(visit=visit, step=Step.DECLINED, detail=reason)
    customer_messages.record_activity(interaction=entry, channel=Message.Channel.PORTAL)
    return callback


def _dialled(phone: str) -> str:
    """Return a phone as a call-back keeps it (E.164), or "" for one it would refuse."""
    try:
        return collection_services.callback_phone(phone)
    except ValidationError:
        return ""


def record_paid(*, link: PaymentLink) -> Visit | None:
    """Move the latest visit, before the link, of the link's campaign to PAID."""
    visit = (
        Visit.objects.filter(
            campaign_id=link.receivable_id,
            customer_id=link.customer_id,
            started_at__lte=link.created_at,
        )
        .select_related("customer")
        .order_by("-started_at", "-pk")
        .first()
    )
    if visit is None:
        return None
    reach(visit=visit, step=Step.PAID, detail=f"{link.currency} {link.amount}, {link.reference}")
    return visit


def on_payment_event(
    sender: Any,
    *,
    event: str,
    receivable_kind: str | None = None,
    instance: Any = None,
    **details: Any,
) -> None:
    """`collections_app.signals.payment_event` receiver: a campaign's portal link paid."""
    if event != Event.PAYMENT or receivable_kind != CAMPAIGN:
        return
    if not isinstance(instance, PaymentLink) or instance.origin != Origin.PORTAL:
        return
    record_paid(link=instance)
