"""The link in every e-mail to a customer that stops our messages (RFC 8058 one-click).

A customer e-mail carries `List-Unsubscribe` (this link) and `List-Unsubscribe-Post`, so a
mail client's «Cancelar suscripción» button posts to it, and the same link at the foot of
the text. The link names the message it came in, signed: whoever holds it may stop the
messages to that message's customer, as a STOP reply does (`Customer.has_opted_out`),
and the timeline says which e-mail it came from.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from crm.models import Message

_SALT = "crm.unsubscribe"


def url_for(message_id: int) -> str:
    """Return the absolute link that stops the messages to message `message_id`'s customer."""
    token = signing.dumps(message_id, salt=_SALT)
    return settings.SITE_URL.rstrip("/") + reverse("crm:unsubscribe", args=[token])


def message_for(token: str) -> Message | None:
    """Return the e-mail a link was made for, with its customer; None for a link we did not
    sign, or whose message is gone."""
    try:
        message_id = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        return None
    return (
        Message.objects.select_related("customer")
        .filter(pk=message_id, channel=Message.Channel.EMAIL)
        .first()
    )
