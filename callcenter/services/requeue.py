"""A lead back in the queue: a supervisor undoes an outcome that took it out («No
interesado» recorded by mistake, a call-back stage the lead should not have gone to, an
annulled sale), with a reason, on the customer's timeline and in Kommo.

Kommo keeps the queue: a lead is called while Kommo has it in «Para Llamar». When the
outcome moved it to another stage, the lead goes back to «Para Llamar» through the outbox;
while an earlier change of the lead still waits in the outbox, nothing is done (the outbox
keeps no order between messages: the earlier one could land after ours).
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter import selectors
from callcenter.models import CallRecord, Lead
from callcenter.services import leads
from callcenter.services.orders import REASON_MAX_LENGTH
from crm import services as crm_services
from crm.models import Interaction
from integrations.models import OutboxMessage
from lib import people

PERMISSION = "callcenter.requeue_lead"


@dataclass(frozen=True)
class Requeue:
    lead: Lead
    # The state the lead left the queue in, as shown («No interesado»).
    left_as: str
    # Queued for Kommo: the lead's move back to «Para Llamar»; None when it is there already.
    kommo_message: OutboxMessage | None


def requeue_refusal(lead: Lead, actor: AbstractBaseUser) -> str:
    """Say why `actor` cannot put `lead` back in the queue now; "" when they can."""
    if not actor.has_perm(PERMISSION):
        return _("Solo un supervisor puede devolver un lead a la cola.")
    if lead.in_queue:
        return _("Este lead ya está en la cola.")
    if lead.state not in Lead.REQUEUABLE_STATES:
        if lead.state == Lead.State.LEFT:
            return _(
                "Este lead salió de la cola porque Kommo lo movió a otra etapa: vuelve cuando "
                "Kommo lo regrese a «Para Llamar»."
            )
        return _("Un lead en estado «%(state)s» no vuelve a la cola.") % {
            "state": lead.get_state_display()
        }
    if not selectors.queue_settings().queue_status_id:
        return _("La cola no tiene configurada su etapa de Kommo («Para Llamar»).")
    if _kommo_change_waiting(lead):
        return _(
            "El cambio anterior de este lead todavía no llega a Kommo. Vuelva a intentarlo "
            "en unos minutos."
        )
    return ""


def _kommo_change_waiting(lead: Lead) -> bool:
    return OutboxMessage.objects.filter(
        destination=leads.KOMMO_UPDATE_LEAD,
        status__in=(OutboxMessage.Status.QUEUED, OutboxMessage.Status.SENDING),
        payload__lead_id=lead.kommo_id,
    ).exists()


def clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": _("Indique por qué vuelve a la cola.")})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": _("El motivo admite hasta %(max)s caracteres.") % {"max": REASON_MAX_LENGTH}}
        )
    return reason


@transaction.atomic
def requeue_lead(*, lead: Lead, actor: AbstractBaseUser, reason: str) -> Requeue:
    """Put a lead an outcome took out back in the queue, first in line, free.

    The lead's row is locked first (as a webhook's change and a call take it): of two
    supervisors at once, the second finds it in the queue and is refused; a Kommo webhook
    moving it meanwhile is applied before or after, never half.
    """
    reason = clean_reason(reason)
    lead = Lead.objects.select_for_update(of=("self",)).select_related("customer").get(pk=lead.pk)
    refusal = requeue_refusal(lead, actor)
    if refusal:
        raise ValidationError(refusal)
    last_call = lead.calls.order_by("-created_at", "-pk").first()
    if last_call is None:
        raise ValidationError(_("Este lead no tiene llamadas: no salió de la cola por una."))
    config = selectors.queue_settings()
    left_as = lead.get_state_display()
    now = timezone.now()
    message = None
    if lead.status_id != config.queue_status_id:
        message = leads.move_back_in_kommo(
            lead,
            dedupe_key=f"callcenter:requeue:{lead.pk}:{last_call.pk}",
            status_id=config.queue_status_id,
            pipeline_id=config.pipeline_id,
        )
        lead.status_id = config.queue_status_id
        lead.pipeline_id = config.pipeline_id or lead.pipeline_id
        # Our change is the newest one: a late webhook from before it changes nothing.
        lead.kommo_updated_at = max(lead.kommo_updated_at, int(now.timestamp()))
    lead.in_queue = True
    lead.state = Lead.State.REQUEUED
    lead.queued_at = lead.due_at = now
    lead.callback_at = None
    lead.taken_by = None
    lead.taken_at = None
    lead.save()
    if lead.customer_id:
        crm_services.record_interaction(
            customer=lead.customer,
            kind=Interaction.Kind.SYSTEM,
            channel=selectors.call_center_channel(),
            summary=_(
                "Lead devuelto a la cola de llamadas por %(actor)s (había salido como "
                "«%(state)s» el %(when)s): %(reason)s"
            )
            % {
                "actor": people.display_name(actor),
                "state": left_as,
                "when": timezone.localtime(last_call.created_at).strftime("%d/%m/%Y %H:%M"),
                "reason": reason,
            },
            payload={"lead": lead.kommo_id, "antes": left_as, "motivo": reason},
            actor=actor,
        )
    return Requeue(lead=lead, left_as=left_as, kommo_message=message)


def last_outcome(lead: Lead) -> CallRecord | None:
    """The call that took the lead out of the queue, for the confirmation page."""
    return lead.calls.select_related("agent", "loss_reason").order_by("-created_at", "-pk").first()
