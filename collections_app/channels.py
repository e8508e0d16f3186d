"""The messaging providers' webhooks, processed: delivery statuses and customers' replies.

Twilio (SMS) and Meta (WhatsApp) call `/webhooks/twilio/` and `/webhooks/whatsapp/`; the
inbox stores each call once (integrations.webhooks) and these processors, run by the
inbox's task, hand what the provider says to the customer-message service:
- a status moves the outbound Message along (crm.messages.record_status);
- a reply becomes an inbound Message of the customer whose phone sent it
  (crm.messages.record_inbound), which the conversations inbox shows.

Both are idempotent: a status already reached or a reply already recorded changes
nothing. A status can overtake our own record of the send (Twilio calls back within a
second): it is retried for STATUS_GRACE and then ignored with its reason.
"""

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from crm import messages as customer_messages
from integrations import channels, errors, sms, webhooks, whatsapp
from integrations.models import WebhookEvent

# How long a status for a message we have not recorded yet is retried before it is
# taken to be about a message this system did not send.
STATUS_GRACE = timedelta(minutes=30)


def process_twilio_event(event: WebhookEvent) -> None:
    data = sms.parse_webhook(event.raw_body.encode())
    _apply(event, [sms.read_webhook(data)])


def process_whatsapp_event(event: WebhookEvent) -> None:
    _apply(event, whatsapp.read_webhook(event.payload()))


def _apply(event: WebhookEvent, items: list) -> None:
    unknown: list[str] = []
    waiting = False
    for item in items:
        if isinstance(item, channels.StatusUpdate):
            found = customer_messages.record_status(
                provider=item.provider,
                provider_message_id=item.provider_message_id,
                status=item.status,
                at=item.at,
                error=item.error,
            )
            if found is None:
                if timezone.now() - event.received_at < STATUS_GRACE:
                    waiting = True
                else:
                    unknown.append(item.provider_message_id)
        else:
            message = customer_messages.record_inbound(
                channel=item.channel,
                provider=item.provider,
                provider_message_id=item.provider_message_id,
                address=item.sender,
                body=item.body,
                at=item.at,
                name=item.name,
            )
            if (
                message is None
                and customer_messages.customer_for_address(item.channel, item.sender) is None
            ):
                unknown.append(item.sender)
    if waiting:
        raise errors.TemporaryProviderError(
            _("El estado llegó antes que el registro del envío; se reintentará.")
        )
    if unknown and len(unknown) == len(items):
        raise webhooks.IgnoreEvent(
            _("Ningún mensaje ni cliente nuestro coincide: %(ids)s") % {"ids": ", ".join(unknown)}
        )
