"""Leads from Kommo into the queue and out of it, with their customer; and each call's
outcome (or an annulled sale's undoing) sent back to Kommo through the outbox
('kommo.update_lead'), in the same transaction."""

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter import selectors
from callcenter.models import (
    CallRecord,
    Lead,
    QueueSettings,
)
from crm import services as crm_services
from crm.models import Customer, Interaction
from crm.validators import normalize_document_number
from integrations import kommo, outbox, webhooks
from integrations import services as inbox_services
from integrations.models import OutboxMessage, WebhookEvent

logger = logging.getLogger(__name__)


KOMMO_UPDATE_LEAD = "kommo.update_lead"

# Why a Kommo event waits: the queue has no «Para Llamar» stage yet, so nothing can say
# which of its leads belong in it. The text is also the event's mark (stored as it is,
# never translated), by which saving the settings finds and processes it again.
WAITING_FOR_SETTINGS = (
    "En espera: la cola no tiene etapa «Para Llamar» configurada. Se procesará al guardarla "
    "en Administración → Call center → Configuración de la cola."
)
# How many waiting events the queue page reads to count their leads: only an account set up
# without its queue collects them, and the count is "más de" past this.
WAITING_EVENTS_READ = 500


def process_kommo_event(event: WebhookEvent) -> None:
    """Apply a stored Kommo webhook: leads enter or leave the queue. Idempotent.

    The processor runs inside the inbox's transaction. Lead details are fetched from the
    API before any row is locked, so a slow Kommo does not hold locks.
    """
    webhook = kommo.parse_webhook(event.raw_body.encode("utf-8"))
    config = selectors.queue_settings()
    if config.queue_status_id is None:
        # Kommo does not send an event twice: ignored now, its leads were lost for good.
        # It waits instead, and saving the settings processes it (replay_waiting_events).
        raise webhooks.IgnoreEvent(WAITING_FOR_SETTINGS)
    applied = 0
    for change in webhook.leads:
        entering = change.action != "delete" and config.is_queue_stage(
            change.pipeline_id, change.status_id
        )
        # Details are read when a lead enters the queue; while it is in it, what the agent
        # confirmed on the call is not overwritten by Kommo's older data.
        queued = Lead.objects.filter(kommo_id=change.lead_id, in_queue=True).exists()
        details = _fetch_details(change.lead_id) if entering and not queued else None
        if _apply_lead_change(change, config=config, entering=entering, details=details):
            applied += 1
    if not applied:
        raise webhooks.IgnoreEvent(_("Ningún lead del evento concierne a la cola de llamadas."))


def waiting_events() -> QuerySet[WebhookEvent]:
    """Return the Kommo events kept for the queue's settings, oldest first."""
    return WebhookEvent.objects.filter(
        provider=kommo.WEBHOOK.provider,
        status=WebhookEvent.Status.IGNORED,
        last_error=WAITING_FOR_SETTINGS,
    ).order_by("received_at", "pk")


def waiting_leads_count() -> tuple[int, bool]:
    """Return how many Kommo leads the waiting events name, and whether more events than
    were read wait (the count is then a floor)."""
    events = list(waiting_events()[: WAITING_EVENTS_READ + 1])
    lead_ids: set[int] = set()
    for event in events[:WAITING_EVENTS_READ]:
        try:
            webhook = kommo.parse_webhook(event.raw_body.encode("utf-8"))
        except ValueError:
            continue
        lead_ids.update(change.lead_id for change in webhook.leads)
    return len(lead_ids), len(events) > WAITING_EVENTS_READ


@transaction.atomic
def replay_waiting_events() -> int:
    """Process again, in arrival order, the Kommo events that waited for the queue's
    «Para Llamar» stage, once it is set; return how many were sent back to the inbox."""
    if selectors.queue_settings().queue_status_id is None:
        return 0
    return sum(inbox_services.replay_event(event=event) for event in waiting_events())


def _fetch_details(lead_id: int) -> kommo.LeadDetails | None:
    if not kommo.is_configured():
        # The demo and an account without a token: the webhook's own fields are used.
        return None
    return kommo.get_lead_details(lead_id)


def _apply_lead_change(
    change: kommo.LeadChange,
    *,
    config: QueueSettings,
    entering: bool,
    details: kommo.LeadDetails | None,
) -> bool:
    lead = Lead.objects.select_for_update().filter(kommo_id=change.lead_id).first()
    if lead is None:
        if not entering:
            return False
        try:
            with transaction.atomic():
                lead = Lead.objects.create(kommo_id=change.lead_id, name=change.name[:255])
        except IntegrityError:
            # A concurrent delivery created it: wait for it and carry on with its row.
            pass
        lead = Lead.objects.select_for_update().get(kommo_id=change.lead_id)
    elif change.modified_at and change.modified_at < lead.kommo_updated_at:
        # An older change delivered late: what is stored is newer.
        return False

    now = timezone.now()
    lead.pipeline_id = change.pipeline_id or lead.pipeline_id
    lead.status_id = change.status_id if change.action != "delete" else lead.status_id
    lead.kommo_updated_at = max(lead.kommo_updated_at, change.modified_at)
    if change.name:
        lead.name = change.name[:255]
    if entering:
        newly_queued = not lead.in_queue
        if newly_queued:
            _fill_from_kommo(lead, change=change, details=details, now=now)
            lead.in_queue = True
            lead.state = Lead.State.NEW
            lead.queued_at = lead.due_at = now
            lead.callback_at = None
            lead.taken_by = None
            lead.taken_at = None
        lead.search_text = lead.build_search_text()
        lead.save()
        if newly_queued:
            _match_customer(lead)
        if lead.customer_id and newly_queued:
            crm_services.record_interaction(
                customer=lead.customer,
                kind=Interaction.Kind.SYSTEM,
                summary=_("Lead de Kommo en la cola de llamadas: %(name)s")
                % {"name": lead.name or lead.kommo_id},
                channel=selectors.call_center_channel(),
                payload={"kommo_lead": lead.kommo_id},
            )
        return True

    was_queued = lead.in_queue
    if was_queued:
        lead.in_queue = False
        lead.taken_by = None
        lead.taken_at = None
        if lead.state in Lead.QUEUE_STATES:
            lead.state = Lead.State.LEFT
    lead.save()
    if was_queued and lead.customer_id:
        crm_services.record_interaction(
            customer=lead.customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("El lead salió de la etapa «Para Llamar» en Kommo."),
            channel=selectors.call_center_channel(),
            payload={"kommo_lead": lead.kommo_id, "etapa": change.status_id or ""},
        )
    return True


def _fill_from_kommo(
    lead: Lead, *, change: kommo.LeadChange, details: kommo.LeadDetails | None, now: datetime
) -> None:
    if details is None:
        named = {name.lower(): value for name, value in change.custom_fields}
        for attr, keys in (
            ("contact_name", ("nombre", "contacto")),
            ("phone", ("telefono", "teléfono", "phone", "celular")),
            ("document_number", ("dni", "documento")),
            ("address", ("direccion", "dirección", "address")),
            ("email", ("email", "correo")),
            ("source", ("fuente", "origen", "source")),
        ):
            value = next((v for k, v in named.items() if v and any(x in k for x in keys)), "")
            if value and not getattr(lead, attr):
                setattr(lead, attr, value[: Lead._meta.get_field(attr).max_length or 255])
        return
    lead.name = details.name[:255] or lead.name
    lead.contact_kommo_id = details.contact_id
    lead.contact_name = details.contact_name[:255]
    lead.phone = (details.phones[0] if details.phones else lead.phone)[:40]
    lead.phone_secondary = (details.phones[1] if len(details.phones) > 1 else "")[:40]
    lead.email = (details.emails[0] if details.emails else lead.email)[:254]
    lead.address = details.address[:255] or lead.address
    lead.city = details.city[:120] or lead.city
    lead.document_number = normalize_document_number(details.document_number)[:20] or (
        lead.document_number
    )
    lead.notes = "\n\n".join(details.notes)
    lead.source = details.source[:120] or lead.source
    lead.details_fetched_at = now


def _match_customer(lead: Lead) -> None:
    """Find the lead's CRM customer, without taking anyone's identity on trust.

    A customer with the lead's document, phone or e-mail becomes the lead's *suggested*
    customer: an agent confirms it on the call, with both records in view, and until then
    the lead is not that customer's. A lead with a document no customer has becomes a new
    customer, made from its own data.
    """
    if lead.customer_id:
        return
    match = find_customer_match(
        document_number=lead.document_number,
        phones=[lead.phone, lead.phone_secondary],
        email=lead.email,
    )
    if match is not None:
        customer, matched_by = match
        Lead.objects.filter(pk=lead.pk).update(suggested_customer=customer, suggested_by=matched_by)
        lead.suggested_customer, lead.suggested_by = customer, matched_by
        return
    if not lead.document_number:
        return
    first, _sep, last = (lead.contact_name or lead.name).partition(" ")
    try:
        customer = crm_services.create_customer(
            actor=None,
            data={
                "document_type": Customer.DocumentType.DNI
                if len(lead.document_number) == 8
                else Customer.DocumentType.RUC,
                "document_number": lead.document_number,
                "first_name": first or lead.document_number,
                "last_name": last,
                "phone": crm_services.phone_e164(lead.phone) or "",
                "email": lead.email,
                "address": lead.address,
                "city": lead.city,
                "channel": selectors.call_center_channel(),
            },
        )
    except ValidationError as exc:
        # A lead with a malformed document: the agent confirms the data on the call.
        logger.info("Lead %s not linked to a customer: %s", lead.kommo_id, exc)
        return
    Lead.objects.filter(pk=lead.pk).update(customer=customer)
    lead.customer = customer


def find_customer_match(
    *, document_number: str = "", phones: Iterable[str] = (), email: str = ""
) -> tuple[Customer, str] | None:
    """Return the CRM customer with this document, else this phone, else this e-mail,
    and which of the three matched (a `Lead.Match` value). What a record merged into
    another one (crm.merge) had matches the kept record."""
    document = normalize_document_number(document_number)
    if document:
        found = Customer.objects.filter(document_number=document).resolved().first()
        if found:
            return found, Lead.Match.DOCUMENT
    numbers = [n for n in (crm_services.phone_e164(p) for p in phones) if n]
    if numbers:
        found = (
            Customer.objects.filter(Q(phone__in=numbers) | Q(phone_secondary__in=numbers))
            .resolved()
            .first()
        )
        if found:
            return found, Lead.Match.PHONE
    if email:
        found = Customer.objects.filter(email__iexact=email.strip()).resolved().first()
        if found:
            return found, Lead.Match.EMAIL
    return None


def move_in_kommo(
    lead: Lead, *, call: CallRecord, status_id: int | None, config: QueueSettings, **extra
) -> None:
    if not status_id:
        return
    payload: dict[str, Any] = {"lead_id": lead.kommo_id, "status_id": status_id, **extra}
    if config.pipeline_id:
        payload["pipeline_id"] = config.pipeline_id
    outbox.enqueue_message(
        destination=KOMMO_UPDATE_LEAD, payload=payload, dedupe_key=call.kommo_dedupe_key
    )


def move_back_in_kommo(
    lead: Lead, *, dedupe_key: str, status_id: int, pipeline_id: int | None
) -> OutboxMessage:
    """Queue the lead's move back to a stage it had (an annulled sale's), once."""
    payload: dict[str, Any] = {"lead_id": lead.kommo_id, "status_id": status_id}
    if pipeline_id:
        payload["pipeline_id"] = pipeline_id
    return outbox.enqueue_message(
        destination=KOMMO_UPDATE_LEAD, payload=payload, dedupe_key=dedupe_key
    )
