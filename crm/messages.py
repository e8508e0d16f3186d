"""Messages to customers: the one way out, whatever the channel, with the timeline kept true.

`send_customer_message` writes, in the caller's transaction, the timeline entry ("Correo
en cola: …") and an outbox message for `DESTINATION`; the outbox sends it once the
transaction commits, with its retries. It is also where consent is kept: a customer who
asked not to be contacted (`Customer.has_opted_out`) gets nothing, whichever path sends
(campaigns, life-cycle events, surveys, alerts, strategies), and a customer without an
address on the channel neither; each skip is an entry on the timeline that says why, and
the caller learns what happened from the returned `Sending`.

Delivery marks the entry sent; a message that fails for good marks it not sent and adds
an entry saying why (`record_delivery_failure`, the destination's failure handler). A
message retried from admin and then delivered is marked sent again.

A channel (e-mail now; SMS and WhatsApp later) is one `MessageChannel` in a small
registry: where the customer's address is, how to send, and what the timeline says.

A higher app that wants a message's outcome (a campaign target) passes
`origin=(name, id)` and registers a handler for `name` with `register_outcome_handler`,
so the core never imports it.
"""

import datetime
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm import services
from crm.models import Customer, Interaction
from integrations import email, errors, outbox
from integrations.models import OutboxMessage
from lib.registry import Registry

logger = logging.getLogger(__name__)

DESTINATION = "crm.customer_message"
EMAIL = Interaction.Kind.EMAIL
# The timeline entry's payload key for the delivery state: a nested object, which the
# timeline does not display (the summary says it in words).
DELIVERY = "delivery"
# How much of a provider's error goes into a timeline summary; admin keeps all of it.
ERROR_CHARS = 200


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("En cola")
    SENT = "sent", _("Enviado")
    FAILED = "failed", _("No enviado")
    SKIPPED = "skipped", _("Omitido")


class SendStatus(models.TextChoices):
    """What `send_customer_message` did with a message."""

    QUEUED = "queued", _("En cola")
    OPTED_OUT = "opted_out", _("Omitido: el cliente pidió no ser contactado")
    NO_ADDRESS = "no_address", _("Omitido: el cliente no tiene dirección en el canal")


@dataclass(frozen=True)
class Sending:
    """What became of a message handed to `send_customer_message`, and its timeline entry.

    `interaction` is the message's entry when queued (the first one for a repeated
    `dedupe_key`), or the entry that says why it was skipped.
    """

    status: str
    interaction: Interaction | None

    @property
    def is_queued(self) -> bool:
        return self.status == SendStatus.QUEUED

    @property
    def is_opted_out(self) -> bool:
        return self.status == SendStatus.OPTED_OUT


@dataclass(frozen=True)
class MessageChannel:
    """How to reach customers on one channel, and how the timeline tells it."""

    kind: str  # an Interaction.Kind: the channel's name, and its timeline entries' kind
    address: Callable[[Customer], str]  # the customer's address, "" when there is none
    send: Callable[[str, str, str], None]  # (address, subject, body); raises ProviderError
    queued: str  # the entry's summary while queued, with %(subject)s
    sent: str  # ... once sent
    not_sent: str  # ... once it failed for good
    failure: str  # the entry that says why, with %(subject)s and %(error)s
    opted_out: str  # the entry of a message skipped by consent, with %(subject)s
    no_address: str  # ... skipped for want of an address, with %(subject)s


@dataclass(frozen=True)
class Outcome:
    """What became of a message: told to its origin's handler when it is sent or fails."""

    interaction_id: int
    status: str  # DeliveryStatus.SENT or DeliveryStatus.FAILED
    at: datetime.datetime
    error: str = ""

    @property
    def is_sent(self) -> bool:
        return self.status == DeliveryStatus.SENT


OutcomeHandler = Callable[[int, Outcome], None]

_channels: Registry[MessageChannel] = Registry("A message channel")
_outcome_handlers: Registry[OutcomeHandler] = Registry("An outcome handler for")


def register_channel(channel: MessageChannel) -> None:
    """Make `channel` the way messages of its kind are sent (one per kind)."""
    _channels.register(channel.kind, channel)


def register_outcome_handler(name: str, handler: OutcomeHandler) -> None:
    """Call `handler(origin_id, outcome)` for messages sent with `origin=(name, origin_id)`."""
    _outcome_handlers.register(name, handler)


def unregister_outcome_handler(name: str) -> None:
    """Forget `name`'s outcome handler (for tests)."""
    _outcome_handlers.unregister(name)


def address_for(customer: Customer, channel: str) -> str:
    """Return the customer's address on `channel`, or "" when there is none."""
    return (_channel(channel).address(customer) or "").strip()


@transaction.atomic
def send_customer_message(
    *,
    customer: Customer,
    channel: str,
    subject: str,
    body: str,
    actor: AbstractBaseUser | None = None,
    payload: Mapping[str, Any] | None = None,
    occurred_at: datetime.datetime | None = None,
    dedupe_key: str = "",
    origin: tuple[str, int] | None = None,
    is_secret: bool = False,
) -> Sending:
    """Queue a message to the customer and put it on the timeline as queued.

    With `is_secret` (a one-time code) the timeline keeps the subject, not the text: staff
    who read the timeline must not be able to sign in as the customer.

    Skip it, with an entry that says why, when the customer asked not to be contacted or
    has no address on `channel`. Nothing is sent unless the caller's transaction commits.
    With a `dedupe_key` already used, return the first message's entry and queue nothing.
    `payload` adds to what the entry shows; `origin=(name, id)` has the handler
    registered for `name` told the outcome.
    """
    spec = _channel(channel)
    # Read now, not from the caller's copy: a campaign's batch may have loaded it minutes ago.
    if Customer.objects.filter(pk=customer.pk, has_opted_out=True).exists():
        return _skip(customer, spec, SendStatus.OPTED_OUT, subject, actor, payload, occurred_at)
    address = address_for(customer, channel)
    if not address:
        return _skip(customer, spec, SendStatus.NO_ADDRESS, subject, actor, payload, occurred_at)
    with transaction.atomic():
        interaction = services.record_interaction(
            customer=customer,
            kind=spec.kind,
            direction=Interaction.Direction.OUTBOUND,
            summary=spec.queued % {"subject": subject},
            payload={
                **(payload or {}),
                "para": address,
                **({} if is_secret else {"mensaje": body}),
                DELIVERY: {"status": DeliveryStatus.QUEUED.value},
            },
            actor=actor,
            occurred_at=occurred_at,
        )
        message_payload: dict[str, Any] = {
            "interaction": interaction.pk,
            "channel": spec.kind,
            "to": address,
            "subject": subject,
            "body": body,
        }
        if origin is not None:
            message_payload["origin"] = {"name": origin[0], "id": origin[1]}
        message = outbox.enqueue_message(
            destination=DESTINATION, payload=message_payload, dedupe_key=dedupe_key
        )
        first_id = message.payload.get("interaction")
        if first_id != interaction.pk:
            # Queued before under this dedupe_key: keep only the first entry.
            transaction.set_rollback(True)
    if first_id != interaction.pk:
        return Sending(SendStatus.QUEUED, Interaction.objects.filter(pk=first_id).first())
    return Sending(SendStatus.QUEUED, interaction)


def _skip(
    customer: Customer,
    spec: "MessageChannel",
    status: str,
    subject: str,
    actor: AbstractBaseUser | None,
    payload: Mapping[str, Any] | None,
    occurred_at: datetime.datetime | None,
) -> Sending:
    """Write on the timeline that a message was not sent, and why (a system entry: no
    message went out on the channel)."""
    summary = spec.opted_out if status == SendStatus.OPTED_OUT else spec.no_address
    interaction = services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=summary % {"subject": subject},
        payload={
            **(payload or {}),
            DELIVERY: {"status": DeliveryStatus.SKIPPED.value, "reason": status},
        },
        actor=actor,
        occurred_at=occurred_at,
    )
    return Sending(status, interaction)


def deliver_customer_message(payload: dict[str, Any]) -> None:
    """Send a queued customer message and mark its timeline entry sent (the outbox sender)."""
    spec = _channel(payload["channel"])
    interaction = Interaction.objects.filter(pk=payload["interaction"]).first()
    if interaction is None:
        raise errors.ProviderError(gettext("El cliente ya no existe: el mensaje no se envió."))
    if delivery_status(interaction) == DeliveryStatus.SENT:
        # Sent already, and the outbox lost track of it (a worker died right after).
        return
    if Customer.objects.filter(pk=interaction.customer_id, has_opted_out=True).exists():
        # Queued before the customer asked not to be contacted: it must not go out now.
        raise errors.ProviderError(gettext("El cliente pidió no ser contactado."))
    spec.send(payload["to"], payload["subject"], payload["body"])
    _record_outcome(payload, DeliveryStatus.SENT)


def record_delivery_failure(message: OutboxMessage) -> None:
    """Tell the customer's timeline that a message failed for good (the failure handler)."""
    payload = message.payload
    spec = _channel(payload["channel"])
    error = _short(message.last_error)
    interaction = _record_outcome(payload, DeliveryStatus.FAILED, error=error)
    if interaction is None:
        return
    services.record_interaction(
        customer=interaction.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=spec.failure % {"subject": payload["subject"], "error": error},
        payload={
            "para": payload["to"],
            gettext("mensaje saliente"): f"#{message.pk}",
            gettext("intentos"): message.attempts,
        },
    )


def delivery_status(interaction: Interaction) -> str:
    """Return the DeliveryStatus of a message's timeline entry, or "" for other entries."""
    delivery = (interaction.payload or {}).get(DELIVERY)
    return delivery.get("status", "") if isinstance(delivery, dict) else ""


def _record_outcome(
    payload: Mapping[str, Any], status: str, *, error: str = ""
) -> Interaction | None:
    """Mark the message's timeline entry sent or not sent and tell its origin.

    Return the entry, or None when it is gone or a failure arrives for a message sent.
    """
    spec = _channel(payload["channel"])
    now = timezone.now()
    with transaction.atomic():
        interaction = (
            Interaction.objects.select_for_update()
            .select_related("customer")
            .filter(pk=payload["interaction"])
            .first()
        )
        if interaction is None:
            return None
        if status == DeliveryStatus.FAILED and delivery_status(interaction) == DeliveryStatus.SENT:
            # The sweep gave up on a send that had in fact gone out: the customer has it.
            return None
        summary = spec.sent if status == DeliveryStatus.SENT else spec.not_sent
        delivery: dict[str, Any] = {"status": status, "at": now.isoformat()}
        if error:
            delivery["error"] = error
        interaction.summary = (summary % {"subject": payload["subject"]})[:500]
        interaction.payload = {**(interaction.payload or {}), DELIVERY: delivery}
        # The entry already exists: only its delivery state changes, never who or when.
        interaction.save(update_fields=["summary", "payload"])
        _tell_origin(payload, Outcome(interaction.pk, status, now, error))
    return interaction


def _tell_origin(payload: Mapping[str, Any], outcome: Outcome) -> None:
    origin = payload.get("origin")
    if not origin:
        return
    handler = _outcome_handlers.get(origin["name"])
    if handler is None:
        logger.warning("No outcome handler for %r (message %s)", origin["name"], outcome)
        return
    try:
        # A savepoint: the message went out (or failed) whatever the origin makes of it;
        # a broken handler must not have it sent again.
        with transaction.atomic():
            handler(origin["id"], outcome)
    except Exception:
        logger.exception("Outcome handler %r failed for %s", origin["name"], origin["id"])


def _channel(kind: str) -> MessageChannel:
    channel = _channels.get(kind)
    if channel is None:
        raise ValueError(f"No message channel {kind!r}; registered: {_channels.names()}")
    return channel


def _short(error: str) -> str:
    """Return the last line of an error (a traceback ends with the exception), shortened."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    text = lines[-1] if lines else gettext("error desconocido")
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


register_channel(
    MessageChannel(
        kind=Interaction.Kind.EMAIL,
        address=lambda customer: customer.email,
        send=email.send,
        queued=_("Correo en cola: %(subject)s"),
        sent=_("Correo enviado: %(subject)s"),
        not_sent=_("Correo no enviado: %(subject)s"),
        failure=_("No se pudo enviar el correo «%(subject)s»: %(error)s"),
        opted_out=_("Correo no enviado: %(subject)s. El cliente pidió no ser contactado."),
        no_address=_("Correo no enviado: %(subject)s. El cliente no tiene correo registrado."),
    )
)
