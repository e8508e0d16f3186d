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

A channel (e-mail, SMS, WhatsApp) is one `MessageChannel` in a small registry: where the
customer's address is, how to send, and what the timeline says.

Every message, out or in, is also a `Message` row: what the conversations inbox lists,
what providers' delivery callbacks move along (queued → sent → delivered → read, or
failed: `record_status`), and what customers' replies arrive as (`record_inbound`, which
also honours STOP / BAJA for every customer messaged at that number). Twilio saying the
number opted out with it (21610), on a send or in a status, marks those customers too.
Listeners registered with `register_message_listener` (the conversations of
collections_app) are told of each new row in the same transaction.

Quiet hours (`MessagePolicy`, default 20:00–08:00 local) hold a message until morning:
it is queued with its outbox row due then. Delivery reads the policy again (as this
process keeps it, lib.small_tables: no query while it is unchanged), so a holiday, a quiet
weekday or longer hours set after the message was held hold it again, with the timeline
saying until when; a one-time code and what the customer asked for go out regardless.
With `capped`, a message counts toward the customer's daily limit and is skipped, with a
timeline entry, once the limit is reached; the customer's row is locked while counting,
so two senders at once cannot both take the last place. A limit lowered after queueing
refuses, at delivery, the capped messages past it. `send_customer_messages` is the same
for a batch (a flow's thousand customers) in a few bulk statements and one Celery task.

With the policy's «SMS sin tildes» (`MessagePolicy.is_sms_unaccented`, the lender's
choice) an SMS's text is written without the letters outside the SMS alphabet that have a
plain equivalent ("á" as "a", lib.gsm) when it is queued: one of them sends the whole
text in parts of 70 characters instead of 160. The timeline, the conversation and the
provider all get that text; WhatsApp and e-mail never change.

A higher app that wants a message's outcome (a campaign target) passes
`origin=(name, id)` and registers a handler for `name` with `register_outcome_handler`,
so the core never imports it. A message waiting in the outbox is still subject to its
origin: one that registers a check with `register_still_wanted` (an event setting, a flow)
is asked again at delivery, and a message it no longer wants (switched off while the
message was held) is not sent, ending failed with the origin's reason on the timeline, as
a message to a customer who opted out meanwhile does. An origin that queues a message with
`origin_detail` (an event: which payment or promise it is about) is asked with it too,
so it may refuse a message its event was overtaken by (the payment verified while «lo
verificaremos» waited).

A message held (by the quiet hours, or again at delivery) may have been written with the
evening's figures: an origin that registers `register_held_rewrite` writes it again when it
goes out, from what it keeps in `origin_detail` (the template and the event), so «su saldo
hoy es …» is the morning's; the timeline entry and the conversation's message get the text
sent. A message not held goes out as it was queued.
"""

import dataclasses
import datetime
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from phonenumber_field.phonenumber import PhoneNumber

from crm import selectors, services, unsubscribe
from crm.models import Customer, Interaction, Message, MessagePolicy
from integrations import channels, email, errors, http, outbox, sms, whatsapp
from integrations.models import OutboxMessage
from lib import bulk, gsm, people, small_tables
from lib.registry import Registry

logger = logging.getLogger(__name__)

DESTINATION = "crm.customer_message"
EMAIL = Interaction.Kind.EMAIL
SMS = Interaction.Kind.SMS
WHATSAPP = Interaction.Kind.WHATSAPP
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
    # The provider answered with success but its answer could not be read: it most likely
    # has the message; neither retried nor called not sent (a resend may duplicate it).
    UNKNOWN = "unknown", _("Sin confirmar")


class SendStatus(models.TextChoices):
    """What `send_customer_message` did with a message."""

    QUEUED = "queued", _("En cola")
    OPTED_OUT = "opted_out", _("Omitido: el cliente pidió no ser contactado")
    NO_ADDRESS = "no_address", _("Omitido: el cliente no tiene dirección en el canal")
    CAPPED = "capped", _("Omitido: el cliente ya recibió los mensajes del día")
    MERGED = "merged", _("Omitido: el registro fue fusionado en otro del mismo cliente")


@dataclass(frozen=True)
class Sending:
    """What became of a message handed to `send_customer_message`, and its timeline entry.

    `interaction` is the message's entry when queued (the first one for a repeated
    `dedupe_key`), or the entry that says why it was skipped.
    """

    status: str
    # The timeline entry; None from the bulk path, which gives only `interaction_id`.
    interaction: Interaction | None
    message: Message | None = None
    # When quiet hours held it: the moment it goes out.
    held_until: datetime.datetime | None = None
    interaction_id: int | None = None

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
    # Sends an outbox payload ("to", "subject", "body", maybe "whatsapp_template");
    # returns what the provider answered (None: it gives no id); raises ProviderError.
    send: Callable[[Mapping[str, Any]], channels.Delivery | None]
    queued: str  # the entry's summary while queued, with %(subject)s
    sent: str  # ... once sent
    logged: str  # ... once written to the log instead: the channel is not configured
    not_sent: str  # ... once it failed for good
    failure: str  # the entry that says why, with %(subject)s and %(error)s
    label: str  # the channel in a sentence: "Correo", "SMS", "WhatsApp"
    opted_out: str  # the entry of a message skipped by consent, with %(subject)s
    no_address: str  # ... skipped for want of an address, with %(subject)s
    received: str = ""  # the entry of a message the customer sent, with %(text)s


@dataclass(frozen=True)
class Outcome:
    """What became of a message: told to its origin's handler when it is sent or fails."""

    interaction_id: int
    status: str  # DeliveryStatus.SENT, FAILED or UNKNOWN (taken, its answer unreadable)
    at: datetime.datetime
    error: str = ""
    # Sent to the log, not to the customer: the channel has no provider configured.
    logged: bool = False

    @property
    def is_sent(self) -> bool:
        return self.status == DeliveryStatus.SENT


OutcomeHandler = Callable[[int, Outcome], None]
# Given the origin's id, and the `origin_detail` it queued the message with when it gave
# one (then a second argument): "" when the origin still wants its message sent, or why
# not (in Spanish, for the timeline).
StillWanted = Callable[..., str]


@dataclass(frozen=True)
class Rewritten:
    """A held message written again for the moment it goes out (`register_held_rewrite`)."""

    subject: str
    body: str
    whatsapp_template: "WhatsAppTemplate | None" = None


# Given the origin's id, its `origin_detail` and the customer: the held message written
# again, why it must not go out now (in Spanish, for the timeline), or None to send it as
# it was queued.
HeldRewrite = Callable[[int, Mapping[str, Any], Customer], "Rewritten | str | None"]

_channels: Registry[MessageChannel] = Registry("A message channel")
_outcome_handlers: Registry[OutcomeHandler] = Registry("An outcome handler for")
_still_wanted: Registry[StillWanted] = Registry("A delivery check for")
_held_rewrites: Registry[HeldRewrite] = Registry("A held message's rewrite for")


def register_channel(channel: MessageChannel) -> None:
    """Make `channel` the way messages of its kind are sent (one per kind)."""
    _channels.register(channel.kind, channel)


def register_outcome_handler(name: str, handler: OutcomeHandler) -> None:
    """Call `handler(origin_id, outcome)` for messages sent with `origin=(name, origin_id)`."""
    _outcome_handlers.register(name, handler)


def unregister_outcome_handler(name: str) -> None:
    """Forget `name`'s outcome handler (for tests)."""
    _outcome_handlers.unregister(name)


def register_still_wanted(name: str, check: StillWanted) -> None:
    """Ask `check(origin_id)` before sending a message queued with `origin=(name, origin_id)`:
    "" sends it, a reason ends it not sent (its origin was switched off while it waited).

    Called at every delivery of the origin's messages: read the origin's row the cheap way
    (lib.small_tables, or one lookup by pk).
    """
    _still_wanted.register(name, check)


def unregister_still_wanted(name: str) -> None:
    """Forget `name`'s delivery check (for tests)."""
    _still_wanted.unregister(name)


def register_held_rewrite(name: str, rewrite: HeldRewrite) -> None:
    """Ask `rewrite(origin_id, origin_detail, customer)` to write again, as it goes out, a
    message queued with `origin=(name, origin_id)` and an `origin_detail` that was held (the
    quiet hours): its figures were the evening's. It returns the new text (`Rewritten`), a
    reason not to send it (it would now go out incomplete), or None to send it unchanged.
    """
    _held_rewrites.register(name, rewrite)


def unregister_held_rewrite(name: str) -> None:
    """Forget `name`'s rewrite of held messages (for tests)."""
    _held_rewrites.unregister(name)


def address_for(customer: Customer, channel: str) -> str:
    """Return the customer's address on `channel`, or "" when there is none."""
    return (_channel(channel).address(customer) or "").strip()


@dataclass(frozen=True)
class WhatsAppTemplate:
    """A template approved at Meta, and the values of its body's {{1}}, {{2}}…"""

    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outgoing:
    """One message of a batch for `send_customer_messages`."""

    customer: Customer
    subject: str
    body: str
    whatsapp_template: WhatsAppTemplate | None = None
    payload: Mapping[str, Any] | None = None


Listener = Callable[[list[Message]], None]
_listeners: list[Listener] = []


def register_message_listener(listener: Listener) -> None:
    """Call `listener(messages)` in the transaction that writes new Message rows."""
    if listener not in _listeners:
        _listeners.append(listener)


def unregister_message_listener(listener: Listener) -> None:
    """Forget a listener (for tests)."""
    if listener in _listeners:
        _listeners.remove(listener)


def _tell_listeners(messages: list[Message]) -> None:
    if not messages:
        return
    for listener in list(_listeners):
        listener(messages)


def quiet_until(moment: datetime.datetime, policy: MessagePolicy) -> datetime.datetime | None:
    """Return when a message written at `moment` may go out, or None when it may go now:
    the end of the quiet hours around it and, when that falls on a day without messages
    (a weekday or a holiday of the policy), the first moment of the next day with them.

    Local time (TIME_ZONE). Start after end (20:00–08:00) spans midnight; start equal to
    end means no quiet hours.
    """
    held = quiet_hours_until(moment, policy)
    day = timezone.localtime(held or moment).date()
    if not policy.is_quiet_day(day):
        return held
    for _ahead in range(MAX_QUIET_DAYS_AHEAD):
        day += datetime.timedelta(days=1)
        if not policy.is_quiet_day(day):
            opening = timezone.make_aware(
                datetime.datetime.combine(day, datetime.time.min), timezone.get_current_timezone()
            )
            return quiet_hours_until(opening, policy) or opening
    return held  # a policy with no day left to send (the form refuses it): hours only


# A search for the next day with messages stops after this many days (the policy's form
# keeps at least one weekday; a year of holidays is far less).
MAX_QUIET_DAYS_AHEAD = 400


def quiet_hours_until(moment: datetime.datetime, policy: MessagePolicy) -> datetime.datetime | None:
    """Return when the quiet hours around `moment` end, or None when it is not in them."""
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return None
    local = timezone.localtime(moment)
    now = local.time()
    if start < end:
        quiet = start <= now < end
        end_day = local.date()
    else:
        quiet = now >= start or now < end
        end_day = local.date() if now < end else local.date() + datetime.timedelta(days=1)
    if not quiet:
        return None
    return timezone.make_aware(
        datetime.datetime.combine(end_day, end), timezone.get_current_timezone()
    )


def _local_day_bounds(moment: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    day = timezone.localtime(moment).date()
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min), zone)
    return start, start + datetime.timedelta(days=1)


def _capped_counts(customer_ids: list[int], due_at: datetime.datetime) -> dict[int, int]:
    """Lock the customers' rows and count the capped messages each gets on due_at's day.

    The lock makes count-then-write atomic: another sender to the same customer waits
    until this transaction commits, and then counts this one's messages too. FOR NO KEY
    UPDATE, not FOR UPDATE: senders still wait for each other, but not for (nor against)
    the foreign-key checks of rows written for the customer meanwhile, which deadlocked
    with it (a message inserted, its conversation, a delivery recorded, all at once).
    """
    list(
        Customer.objects.select_for_update(no_key=True)
        .filter(pk__in=bulk.ids_in(customer_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    rows = (
        _capped_of_the_day(due_at)
        .filter(customer_id__in=bulk.ids_in(customer_ids))
        .values("customer_id")
        .annotate(n=Count("id"))
    )
    return {row["customer_id"]: row["n"] for row in rows}


def _capped_of_the_day(moment: datetime.datetime) -> QuerySet[Message]:
    """The capped messages due on `moment`'s local day that count toward the daily limit:
    what the customer receives, so not one the provider refused."""
    start, end = _local_day_bounds(moment)
    return Message.objects.filter(
        direction=Message.Direction.OUTBOUND, is_capped=True, due_at__gte=start, due_at__lt=end
    ).exclude(status=Message.Status.FAILED)


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
    whatsapp_template: WhatsAppTemplate | None = None,
    capped: bool = False,
    requested: bool = False,
    origin_detail: Mapping[str, Any] | None = None,
) -> Sending:
    """Queue a message to the customer and put it on the timeline as queued.

    With `is_secret` (a one-time code) the timeline keeps the subject, not the text: staff
    who read the timeline must not be able to sign in as the customer; such a message
    is never held by quiet hours (the customer is waiting for it). With `requested` the
    customer asked for this very message (the portal's code to pay): it answers them, it
    is not contact, so it goes even to a customer who asked not to be contacted.

    Skip it, with an entry that says why, when the record was merged into another one
    (crm.merge), the customer asked not to be contacted, has no address on `channel`, or
    (`capped`) already got the day's limit. Nothing is sent unless the caller's
    transaction commits. With a `dedupe_key` already used, return the first message's
    entry and queue nothing. `payload` adds to what the entry shows; `origin=(name, id)`
    is kept on the Message, and the handler registered for `name` (if any) is told the
    outcome. `origin_detail` (JSON values) is what the origin needs at delivery to say
    whether it still wants the message and, held, to write it again (`register_still_wanted`,
    `register_held_rewrite`).
    """
    spec = _channel(channel)
    # Read now, not from the caller's copy: a campaign's batch may have loaded it minutes ago.
    opted_out, merged_into = Customer.objects.filter(pk=customer.pk).values_list(
        "has_opted_out", "merged_into_id"
    ).first() or (False, None)
    if merged_into:
        # A record merged into another one (crm.merge) is history: its messages go nowhere.
        return _skip(
            customer,
            spec,
            SendStatus.MERGED,
            subject,
            actor,
            payload,
            occurred_at,
            dedupe_key,
            merged_into=merged_into,
        )
    if not requested and opted_out:
        return _skip(
            customer, spec, SendStatus.OPTED_OUT, subject, actor, payload, occurred_at, dedupe_key
        )
    address = address_for(customer, channel)
    if not address:
        return _skip(
            customer, spec, SendStatus.NO_ADDRESS, subject, actor, payload, occurred_at, dedupe_key
        )
    if dedupe_key:
        existing = OutboxMessage.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return _already_queued(existing)
    policy = MessagePolicy.current()
    if channel == SMS:
        body = sms_text(body, policy)
    now = timezone.now()
    held_until = None if is_secret else quiet_until(now, policy)
    due_at = held_until or now
    if capped:
        sent_today = _capped_counts([customer.pk], due_at).get(customer.pk, 0)
        if sent_today >= policy.daily_limit:
            return _skip(
                customer, spec, SendStatus.CAPPED, subject, actor, payload, occurred_at, dedupe_key
            )
    with transaction.atomic():
        interaction = services.record_interaction(
            customer=customer,
            kind=spec.kind,
            direction=Interaction.Direction.OUTBOUND,
            summary=_queued_summary(
                spec,
                subject,
                held_until,
                by_quiet_days=_held_by_quiet_days(now, held_until, policy),
            ),
            payload=_entry_payload(payload, address, body, is_secret, held_until),
            actor=actor,
            occurred_at=occurred_at,
        )
        message = Message.objects.create(
            **_message_fields(
                customer.pk, spec, subject, body, address, interaction, actor, origin, capped
            ),
            created_at=now,
            due_at=due_at,
        )
        queued = outbox.enqueue_message(
            destination=DESTINATION,
            payload={
                **_outbox_payload(
                    spec,
                    interaction.pk,
                    message.pk,
                    address,
                    subject,
                    body,
                    origin,
                    whatsapp_template,
                    capped_on=timezone.localdate(due_at) if capped else None,
                    origin_detail=origin_detail,
                ),
                **({"requested": True} if requested else {}),
                # Delivery holds again what the policy holds, never a one-time code.
                **({"secret": True} if is_secret else {}),
            },
            dedupe_key=dedupe_key,
            not_before=held_until,
        )
        first_id = queued.payload.get("interaction")
        if first_id != interaction.pk:
            # Queued before under this dedupe_key (a race): keep only the first entry.
            transaction.set_rollback(True)
        else:
            _tell_listeners([message])
    if first_id != interaction.pk:
        return _already_queued(queued)
    return Sending(SendStatus.QUEUED, interaction, message, held_until)


def _already_queued(queued: OutboxMessage) -> Sending:
    payload = queued.payload
    return Sending(
        SendStatus.QUEUED,
        Interaction.objects.filter(pk=payload.get("interaction")).first(),
        Message.objects.filter(pk=payload.get("message")).first(),
    )


@transaction.atomic
def send_customer_messages(
    outgoing: Sequence[Outgoing],
    *,
    channel: str,
    origin: tuple[str, int] | None = None,
    capped: bool = False,
    actor: AbstractBaseUser | None = None,
    valid_through: datetime.date | None = None,
) -> list[Sending]:
    """Queue a batch of messages on one channel; return what became of each, in order.

    The same rules as `send_customer_message`, for a flow's batch: a fixed number of
    statements whatever its size (bulk inserts of the timeline entries, the messages
    and the outbox rows) and one Celery task for the batch, not one per message. A
    customer may appear once per batch.

    `valid_through` is the last local day the messages are true on (a flow's «hoy vence»,
    «tiene 5 días de atraso»), or the day the policy holds them to when later: one not
    delivered by then (a stopped worker, retries past midnight) ends failed, not sent late.
    """
    if not outgoing:
        return []
    spec = _channel(channel)
    policy = MessagePolicy.current()
    if channel == SMS and policy.is_sms_unaccented:
        outgoing = [_with_sms_text(item, policy) for item in outgoing]
    now = timezone.now()
    held_until = quiet_until(now, policy)
    by_days = _held_by_quiet_days(now, held_until, policy)
    due_at = held_until or now
    if valid_through is not None:
        # Held by the policy from the start (a run asked for at 21:00): true through the
        # day it is due on, as the queue says it will go.
        valid_through = max(valid_through, timezone.localdate(due_at))
    customer_ids = [item.customer.pk for item in outgoing]
    held_back = list(
        Customer.objects.filter(pk__in=bulk.ids_in(customer_ids))
        .filter(Q(has_opted_out=True) | Q(merged_into__isnull=False))
        .values_list("pk", "has_opted_out", "merged_into_id")
    )
    opted_out = {pk for pk, has_opted_out, _into in held_back if has_opted_out}
    merged = {pk: into for pk, _opted, into in held_back if into}
    counts = _capped_counts(customer_ids, due_at) if capped else {}
    results: list[tuple[str, Outgoing, str]] = []
    for item in outgoing:
        address = address_for(item.customer, channel)
        if item.customer.pk in merged:
            status = SendStatus.MERGED
        elif item.customer.pk in opted_out:
            status = SendStatus.OPTED_OUT
        elif not address:
            status = SendStatus.NO_ADDRESS
        elif capped and counts.get(item.customer.pk, 0) >= policy.daily_limit:
            status = SendStatus.CAPPED
        else:
            status = SendStatus.QUEUED
            counts[item.customer.pk] = counts.get(item.customer.pk, 0) + 1
        results.append((status, item, address))

    actor = people.signed_in(actor)
    actor_id = actor.pk if actor is not None else None
    entries = []
    for status, item, address in results:
        queued = status == SendStatus.QUEUED
        entries.append(
            {
                "customer_id": item.customer.pk,
                "kind": spec.kind if queued else Interaction.Kind.SYSTEM,
                "channel_id": None,
                "direction": (
                    Interaction.Direction.OUTBOUND if queued else Interaction.Direction.INTERNAL
                ),
                "summary": (
                    _queued_summary(spec, item.subject, held_until, by_quiet_days=by_days)
                    if queued
                    else _skip_summary(spec, status, merged.get(item.customer.pk))
                    % {"subject": item.subject}
                )[:500],
                "text": "",
                "payload": (
                    _entry_payload(item.payload, address, item.body, False, held_until)
                    if queued
                    else {
                        **(item.payload or {}),
                        DELIVERY: {"status": DeliveryStatus.SKIPPED.value, "reason": status},
                    }
                ),
                "actor_id": actor_id if queued else None,
                "occurred_at": now,
                "created_at": now,
            }
        )
    # Rows, not model objects, written by COPY on PostgreSQL (lib.bulk): a flow's 100,000
    # messages spent most of their time in bulk_create's per-value adaptation.
    entry_ids = bulk.create_rows(Interaction, entries)
    # Contact is a message sent: the skipped ones (merged, opted out, no address, capped)
    # are not.
    contacted = [item.customer.pk for status, item, _a in results if status == SendStatus.QUEUED]
    services.stamp_last_interaction(Customer.objects.filter(pk__in=bulk.ids_in(contacted)), now)

    queued_items = [
        (item, address, entry_id)
        for (status, item, address), entry_id in zip(results, entry_ids, strict=True)
        if status == SendStatus.QUEUED
    ]
    message_rows = [
        {
            "customer_id": item.customer.pk,
            "channel": spec.kind,
            "direction": Message.Direction.OUTBOUND,
            "status": Message.Status.QUEUED,
            "subject": item.subject[:200],
            "body": item.body,
            "address": address[:254],
            "provider": "",
            "provider_message_id": "",
            "error": "",
            "interaction_id": entry_id,
            "actor_id": actor_id,
            "origin": origin[0] if origin else "",
            "origin_id": origin[1] if origin else None,
            "is_capped": capped,
            "created_at": now,
            "due_at": due_at,
            "sent_at": None,
            "delivered_at": None,
            "read_at": None,
            "failed_at": None,
        }
        for item, address, entry_id in queued_items
    ]
    message_ids = bulk.create_rows(Message, message_rows)
    outbox.enqueue_messages(
        destination=DESTINATION,
        payloads=[
            _outbox_payload(
                spec,
                entry_id,
                message_id,
                address,
                item.subject,
                item.body,
                origin,
                item.whatsapp_template,
                valid_through,
                capped_on=timezone.localdate(due_at) if capped else None,
            )
            for (item, address, entry_id), message_id in zip(queued_items, message_ids, strict=True)
        ],
        not_before=held_until,
    )
    messages = [
        Message(id=message_id, **row)
        for message_id, row in zip(message_ids, message_rows, strict=True)
    ]
    _tell_listeners(messages)
    by_entry = {message.interaction_id: message for message in messages}
    return [
        Sending(
            status,
            None,
            by_entry.get(entry_id),
            held_until if status == SendStatus.QUEUED else None,
            interaction_id=entry_id,
        )
        for (status, _item, _address), entry_id in zip(results, entry_ids, strict=True)
    ]


def sms_text(text: str, policy: MessagePolicy | None = None) -> str:
    """Return an SMS's text as it is sent: under «SMS sin tildes», each character outside
    the SMS alphabet written as its plain equivalent when it has one (lib.gsm.plain)."""
    if policy is None:
        policy = _current_policy()
    return gsm.plain(text) if policy.is_sms_unaccented else text


def _with_sms_text(item: Outgoing, policy: MessagePolicy) -> Outgoing:
    body = sms_text(item.body, policy)
    return item if body == item.body else dataclasses.replace(item, body=body)


def _queued_summary(
    spec: "MessageChannel",
    subject: str,
    held_until: datetime.datetime | None,
    *,
    by_quiet_days: bool = False,
) -> str:
    summary = spec.queued % {"subject": subject}
    if held_until is not None:
        local = timezone.localtime(held_until)
        if by_quiet_days:
            summary += " " + gettext(
                "(retenido hasta el %(day)s a las %(time)s por los días sin mensajes)"
            ) % {"day": formats.date_format(local, "l j/m"), "time": local.strftime("%H:%M")}
        else:
            summary += " " + gettext("(retenido hasta las %(time)s por el horario de silencio)") % {
                "time": local.strftime("%H:%M")
            }
    return summary


def _held_by_quiet_days(
    now: datetime.datetime, held_until: datetime.datetime | None, policy: MessagePolicy
) -> bool:
    """Whether a day without messages, not only the quiet hours, holds the message."""
    return held_until is not None and held_until != quiet_hours_until(now, policy)


def _entry_payload(
    payload: Mapping[str, Any] | None,
    address: str,
    body: str,
    is_secret: bool,
    held_until: datetime.datetime | None,
) -> dict[str, Any]:
    delivery: dict[str, Any] = {"status": DeliveryStatus.QUEUED.value}
    if held_until is not None:
        delivery["held_until"] = held_until.isoformat()
    return {
        **(payload or {}),
        "para": address,
        **({} if is_secret else {"mensaje": body}),
        DELIVERY: delivery,
    }


def _message_fields(
    customer_id: int,
    spec: "MessageChannel",
    subject: str,
    body: str,
    address: str,
    interaction: Interaction,
    actor: AbstractBaseUser | None,
    origin: tuple[str, int] | None,
    capped: bool,
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "channel": spec.kind,
        "direction": Message.Direction.OUTBOUND,
        "status": Message.Status.QUEUED,
        "subject": subject[:200],
        "body": body if interaction.payload.get("mensaje") is not None else "",
        "address": address[:254],
        "interaction": interaction,
        "actor": people.signed_in(actor),
        "origin": origin[0] if origin else "",
        "origin_id": origin[1] if origin else None,
        "is_capped": capped,
    }


def _outbox_payload(
    spec: "MessageChannel",
    interaction_id: int,
    message_id: int,
    address: str,
    subject: str,
    body: str,
    origin: tuple[str, int] | None,
    whatsapp_template: WhatsAppTemplate | None,
    valid_through: datetime.date | None = None,
    *,
    capped_on: datetime.date | None = None,
    origin_detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "interaction": interaction_id,
        "message": message_id,
        "channel": spec.kind,
        "to": address,
        "subject": subject,
        "body": body,
    }
    if whatsapp_template is not None:
        payload["whatsapp_template"] = {
            "name": whatsapp_template.name,
            "language": whatsapp_template.language,
            "parameters": list(whatsapp_template.parameters),
        }
    if origin is not None:
        payload["origin"] = {"name": origin[0], "id": origin[1]}
        if origin_detail is not None:
            payload["origin"]["detail"] = dict(origin_detail)
    if valid_through is not None:
        payload["valid_through"] = valid_through.isoformat()
    if capped_on is not None:
        # The day whose limit counted it: delivered on a later one, it counts again.
        payload["capped_on"] = capped_on.isoformat()
    return payload


def _skip_summary(spec: "MessageChannel", status: str, merged_into: int | None = None) -> str:
    if status == SendStatus.MERGED:
        said = _(
            "%(label)s no enviado: %(subject)s. Este registro fue fusionado en el cliente "
            "n.º %(keep)s."
        )
        return str(said) % {"label": spec.label, "subject": "%(subject)s", "keep": merged_into}
    if status == SendStatus.OPTED_OUT:
        return spec.opted_out
    if status == SendStatus.NO_ADDRESS:
        return spec.no_address
    return str(
        _("%(label)s no enviado: %(subject)s. El cliente ya recibió los mensajes del día.")
    ) % {"label": spec.label, "subject": "%(subject)s"}


def _skip(
    customer: Customer,
    spec: "MessageChannel",
    status: str,
    subject: str,
    actor: AbstractBaseUser | None,
    payload: Mapping[str, Any] | None,
    occurred_at: datetime.datetime | None,
    dedupe_key: str = "",
    *,
    merged_into: int | None = None,
) -> Sending:
    """Write on the timeline that a message was not sent, and why (a system entry: no
    message went out on the channel). The same message skipped again (its `dedupe_key`:
    an event announced twice) is said once. `merged_into`: the record a merged one went
    to (SendStatus.MERGED)."""
    if dedupe_key:
        said = Interaction.objects.filter(
            customer=customer, kind=Interaction.Kind.SYSTEM, payload__skipped=dedupe_key
        ).first()
        if said is not None:
            return Sending(status, said)
    summary = _skip_summary(spec, status, merged_into)
    interaction = services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=summary % {"subject": subject},
        payload={
            **(payload or {}),
            DELIVERY: {"status": DeliveryStatus.SKIPPED.value, "reason": status},
            **({"skipped": dedupe_key} if dedupe_key else {}),
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
    customer = Customer.objects.filter(pk=interaction.customer_id).first()
    if customer is None or (customer.has_opted_out and not payload.get("requested")):
        # Queued before the customer asked not to be contacted: it must not go out now.
        raise errors.ProviderError(gettext("El cliente pidió no ser contactado."))
    address = spec.address(customer)
    if _comparable(address) != _comparable(payload["to"]):
        # Removed or corrected since it was queued (held by the quiet hours overnight...):
        # the old one may now be someone else's.
        raise errors.ProviderError(
            gettext("El cliente ya no tiene %(channel)s registrado: el mensaje no se envió.")
            % {"channel": _address_name(spec)}
            if not address
            else gettext(
                "La dirección del cliente cambió después de poner el mensaje en cola: no se "
                "envió a la anterior (%(old)s)."
            )
            % {"old": payload["to"]}
        )
    _keep_to_its_day(payload)
    _keep_origin(payload)
    if not (payload.get("secret") or payload.get("requested")):
        _keep_policy(payload, spec, interaction)
    payload = _rewritten_if_held(payload, spec, interaction, customer)
    try:
        delivery = spec.send(payload)
    except errors.TemporaryProviderError as exc:
        _note_retry(payload, spec, str(exc))
        raise
    except errors.OptedOut as exc:
        # Refused for good (the outbox marks it failed, no retry); every later message to
        # the number would be refused too, and the customer asked to stop.
        _opted_out_with_provider(spec, payload["to"], exc.notice or str(exc))
        raise
    except http.OutcomeUnknown as exc:
        # The outbox keeps its row failed (not retried, its error in admin); the entry and
        # the message say what is known, and the failure handler leaves them so.
        _record_outcome(payload, DeliveryStatus.UNKNOWN, error=_short(str(exc)))
        raise
    _record_sent(payload, delivery)


def _keep_policy(payload: Mapping[str, Any], spec: "MessageChannel", entry: Interaction) -> None:
    """Hold a message the policy holds now, or refuse one past the daily limit.

    The policy was kept when the message was queued, but it may have changed while the
    message waited (a holiday declared overnight, longer quiet hours, a new quiet weekday,
    a lower limit), and a retry may fall in the quiet hours. Held: the timeline entry and
    the message say until when, and the outbox queues it for then (`outbox.Deferred`, no
    attempt counted).
    """
    policy = _current_policy()
    now = timezone.now()
    held_until = quiet_until(now, policy)
    if held_until is not None:
        by_days = _held_by_quiet_days(now, held_until, policy)
        _note_held(payload, spec, entry, held_until, by_days)
        local = timezone.localtime(held_until)
        raise outbox.Deferred(
            held_until,
            gettext("Retenido hasta el %(day)s a las %(time)s por la política de mensajes.")
            % {"day": formats.date_format(local, "l j/m"), "time": local.strftime("%H:%M")},
        )
    capped_on = payload.get("capped_on")
    late = capped_on is not None and timezone.localdate(now) > datetime.date.fromisoformat(
        capped_on
    )
    if late:
        # Due on a day gone (the worker stopped for days): it is today's message now, and
        # counts toward today's limit, or a backlog of days went out in one morning.
        Message.objects.filter(pk=payload.get("message")).update(due_at=now)
    if (late or policy.updated_at > entry.created_at) and _past_daily_limit(payload, policy, now):
        # The limit was counted when the message was queued; only a policy changed since
        # then (a lower limit), or a day gone, can make it wrong, so only then is it
        # counted again.
        raise errors.ProviderError(
            gettext(
                "El cliente ya alcanzó hoy el límite de mensajes por día (%(limit)s) de la "
                "política de mensajes."
            )
            % {"limit": policy.daily_limit}
        )


def _keep_to_its_day(payload: Mapping[str, Any]) -> None:
    """Refuse a message written for a day that has passed (`valid_through`): a worker
    stopped over a weekend sent Friday's «hoy vence» and «tiene 5 días de atraso» on Monday,
    to debtors who had paid since. Refused for good, no attempt reaches the provider."""
    through = payload.get("valid_through")
    if not through:
        return
    day = datetime.date.fromisoformat(through)
    if timezone.localdate() <= day:
        return
    raise errors.ProviderError(
        gettext(
            "Era para el %(day)s y no salió ese día (envíos detenidos o reintentos): ya no "
            "se envió, lo que decía pudo dejar de ser cierto."
        )
        % {"day": day.strftime("%d/%m/%Y")}
    )


def _keep_origin(payload: Mapping[str, Any]) -> None:
    """Refuse a message its origin no longer wants: the event or flow that queued it was
    switched off while it waited (held by the quiet hours overnight...). Refused for good,
    as for a customer who opted out meanwhile: no attempt reaches the provider."""
    origin = payload.get("origin")
    if not origin:
        return
    check = _still_wanted.get(origin["name"])
    if check is None:
        return
    detail = origin.get("detail")
    reason = check(origin["id"]) if detail is None else check(origin["id"], detail)
    if reason:
        raise errors.ProviderError(reason)


def _was_held(entry: Interaction) -> bool:
    """Whether the message waited for the policy: its entry says «retenido hasta …»."""
    delivery = (entry.payload or {}).get(DELIVERY)
    return isinstance(delivery, dict) and bool(delivery.get("held_until"))


def _rewritten_if_held(
    payload: dict[str, Any], spec: "MessageChannel", entry: Interaction, customer: Customer
) -> dict[str, Any]:
    """Return the payload to send: a held message its origin writes again for now
    (`register_held_rewrite`), the message and its timeline entry saying the new text; any
    other unchanged. Refused for good when the origin says it must not go out now."""
    origin = payload.get("origin") or {}
    detail = origin.get("detail")
    rewrite = _held_rewrites.get(origin.get("name", ""))
    if rewrite is None or detail is None or not _was_held(entry):
        return payload
    written = rewrite(origin["id"], detail, customer)
    if isinstance(written, str):
        raise errors.ProviderError(written)
    if written is None:
        return payload
    body = sms_text(written.body) if spec.kind == SMS else written.body
    rewritten = {**payload, "subject": written.subject, "body": body}
    rewritten.pop("whatsapp_template", None)
    if written.whatsapp_template is not None:
        rewritten["whatsapp_template"] = {
            "name": written.whatsapp_template.name,
            "language": written.whatsapp_template.language,
            "parameters": list(written.whatsapp_template.parameters),
        }
    if (body, written.subject) == (payload["body"], payload["subject"]):
        return rewritten
    shown = (entry.payload or {}).get("mensaje") is not None
    if shown:
        entry.payload = {**entry.payload, "mensaje": body}
        entry.save(update_fields=["payload"])
    Message.objects.filter(pk=payload.get("message")).update(
        subject=written.subject[:200], **({"body": body} if shown else {})
    )
    return rewritten


def _current_policy() -> MessagePolicy:
    """The message policy as this process keeps it (lib.small_tables): read at every
    delivery, it costs no query while unchanged; a change shows within MAX_AGE seconds
    in a process that never loaded it, at once in the others."""
    (policies,) = small_tables.rows(MessagePolicy)
    return policies.get(1) or MessagePolicy.current()


def _note_held(
    payload: Mapping[str, Any],
    spec: "MessageChannel",
    entry: Interaction,
    held_until: datetime.datetime,
    by_quiet_days: bool,
) -> None:
    """Say on the timeline entry and the message that the message waits until `held_until`
    (the entry's «retenido hasta …» gets the new time: one story, not two)."""
    delivery = (entry.payload or {}).get(DELIVERY)
    if not isinstance(delivery, dict) or delivery.get("status") != DeliveryStatus.QUEUED:
        return
    entry.summary = _queued_summary(
        spec, payload["subject"], held_until, by_quiet_days=by_quiet_days
    )[:500]
    entry.payload = {
        **entry.payload,
        DELIVERY: {**delivery, "held_until": held_until.isoformat()},
    }
    entry.save(update_fields=["summary", "payload"])
    # Counted toward the daily limit of the day it goes out (`_capped_counts`).
    Message.objects.filter(pk=payload.get("message"), status=Message.Status.QUEUED).update(
        due_at=held_until
    )


def _past_daily_limit(
    payload: Mapping[str, Any], policy: MessagePolicy, now: datetime.datetime
) -> bool:
    """Whether a capped message comes after the day's limit: the customer's capped messages
    of today queued before it, and not failed, already reach it."""
    message_id = payload.get("message")
    customer_id = (
        Message.objects.filter(pk=message_id, is_capped=True)
        .values_list("customer_id", flat=True)
        .first()
    )
    if customer_id is None:
        return False
    earlier = _capped_of_the_day(now).filter(customer_id=customer_id, pk__lt=message_id).count()
    return earlier >= policy.daily_limit


def _record_sent(payload: Mapping[str, Any], answer: channels.Delivery | None) -> None:
    """Mark a message the provider accepted sent. From here on nothing may have it sent
    again: a record that fails (a dropped connection, a lock timeout) is tried once more in
    a fresh transaction, then the outbox is told to keep it sent with the error
    (`outbox.SentNotRecorded`), instead of retrying it as a failed send."""
    try:
        _record_outcome(payload, DeliveryStatus.SENT, answer=answer)
        return
    except Exception:
        logger.warning(
            "Message %s sent; recording it failed", payload.get("message"), exc_info=True
        )
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        # A connection the error left broken is replaced, not used to fail again.
        connection.close_if_unusable_or_obsolete()
    try:
        _record_outcome(payload, DeliveryStatus.SENT, answer=answer)
    except Exception as exc:
        logger.exception("Message %s sent; recording it failed twice", payload.get("message"))
        raise outbox.SentNotRecorded(_short(errors.traceback_summary(exc))) from exc


def _note_retry(payload: Mapping[str, Any], spec: "MessageChannel", error: str) -> None:
    """Say on the message and its timeline entry that it waits for another attempt, and why:
    "en cola" alone hid a provider refusing it for an hour. The outbox plans the attempt;
    a send that then succeeds or fails for good writes over this."""
    error = _short(error)
    Message.objects.filter(pk=payload.get("message"), status=Message.Status.QUEUED).update(
        error=error[:500]
    )
    summary = gettext("%(queued)s. Se reintentará: %(error)s") % {
        "queued": spec.queued % {"subject": payload["subject"]},
        "error": error,
    }
    interaction = Interaction.objects.filter(pk=payload["interaction"]).first()
    if interaction is not None and delivery_status(interaction) == DeliveryStatus.QUEUED:
        Interaction.objects.filter(pk=interaction.pk).update(summary=summary[:500])


def _comparable(address: str) -> str:
    return (address or "").strip().lower()


def _address_name(spec: "MessageChannel") -> str:
    return gettext("correo") if spec.kind == Interaction.Kind.EMAIL else gettext("celular")


@transaction.atomic
def resend_failed(*, customer: Customer, message_id: int, actor: AbstractBaseUser) -> bool:
    """Queue again a message to `customer` that failed for good; return whether it was
    (False: it is not failed any more, sent again a moment ago by someone, or not theirs).

    The outbox's own row goes back to the queue with fresh attempts (`outbox.retry_message`,
    which takes only a failed row: a double click queues it once); the delivery checks
    consent, quiet hours and the address again. The timeline says who asked for it.
    """
    message = (
        Message.objects.select_for_update()
        .filter(
            pk=message_id,
            customer=customer,
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.FAILED,
        )
        .first()
    )
    if message is None:
        return False
    queued = OutboxMessage.objects.filter(
        destination=DESTINATION, payload__message=message.pk
    ).first()
    if queued is None or not outbox.retry_message(message=queued):
        return False
    message.status = Message.Status.QUEUED
    message.error = ""
    message.save(update_fields=["status", "error"])
    spec = _channel(message.channel)
    services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=gettext("%(channel)s «%(subject)s» en cola de nuevo, a pedido de %(who)s")
        % {
            "channel": spec.label,
            "subject": message.subject,
            "who": people.display_name(actor),
        },
        payload={"para": message.address, gettext("mensaje saliente"): f"#{queued.pk}"},
        actor=actor,
    )
    return True


def record_delivery_failure(message: OutboxMessage) -> None:
    """Tell the customer's timeline that a message failed for good (the failure handler)."""
    payload = message.payload
    spec = _channel(payload["channel"])
    error = _short(message.last_error)
    if UNEXPECTED_ERROR in (message.last_error or ""):
        # A sender that broke (a bug, not the provider): its exception is for developers
        # ("KeyError: 'body'"); the timeline says where the detail is.
        error = gettext("un error interno del envío (el detalle está en Mensajes salientes)")
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
    payload: Mapping[str, Any],
    status: str,
    *,
    error: str = "",
    answer: channels.Delivery | None = None,
) -> Interaction | None:
    """Mark the message's timeline entry sent or not sent and tell its origin.

    Return the entry, or None when it is gone or a failure arrives for a message sent.
    """
    spec = _channel(payload["channel"])
    now = timezone.now()
    with transaction.atomic():
        # The entry's row only: select_related's customer is read, not locked (FOR UPDATE on
        # it waited against the foreign-key checks of its new messages, and deadlocked).
        interaction = (
            Interaction.objects.select_for_update(of=("self",))
            .select_related("customer")
            .filter(pk=payload["interaction"])
            .first()
        )
        if interaction is None:
            return None
        if status == DeliveryStatus.FAILED and delivery_status(interaction) in (
            DeliveryStatus.SENT,
            DeliveryStatus.UNKNOWN,
        ):
            # The sweep gave up on a send that had in fact gone out: the customer has it.
            # Or the provider took it and its answer was unreadable: not known unsent.
            return None
        logged = answer is not None and answer.provider == channels.LOG_PROVIDER
        if status == DeliveryStatus.UNKNOWN:
            summary = gettext(
                "%(label)s sin confirmar: %%(subject)s. El proveedor recibió el mensaje pero su "
                "respuesta no se pudo leer: no se sabe si se envió."
            ) % {"label": spec.label}
        elif status != DeliveryStatus.SENT:
            summary = spec.not_sent
        else:
            summary = spec.logged if logged else spec.sent
        delivery: dict[str, Any] = {"status": status, "at": now.isoformat()}
        if logged:
            delivery["logged"] = True
        if error:
            delivery["error"] = error
        interaction.summary = (summary % {"subject": payload["subject"]})[:500]
        interaction.payload = {**(interaction.payload or {}), DELIVERY: delivery}
        # The entry already exists: only its delivery state changes, never who or when.
        interaction.save(update_fields=["summary", "payload"])
        _mark_message(payload.get("message"), status, now, error=error, answer=answer)
        _tell_origin(payload, Outcome(interaction.pk, status, now, error, logged=logged))
    return interaction


def _mark_message(
    message_id: int | None,
    status: str,
    at: datetime.datetime,
    *,
    error: str = "",
    answer: channels.Delivery | None = None,
) -> None:
    """Record the outbox's outcome on the Message: the provider's id, sent or failed."""
    if message_id is None:
        return
    fields: dict[str, Any] = {}
    if answer is not None:
        fields["provider"] = answer.provider[:30]
        fields["provider_message_id"] = answer.provider_message_id[:120]
    if status == DeliveryStatus.UNKNOWN:
        # Not FAILED, which offers «Reenviar» (a second copy), nor QUEUED ("se
        # reintentará"): unconfirmed, with the error saying why. No provider id: no
        # delivery report will come to move it.
        Message.objects.filter(pk=message_id, status=Message.Status.QUEUED).update(
            status=Message.Status.UNKNOWN, error=error[:500], **fields
        )
    elif status == DeliveryStatus.SENT:
        # A delivery callback may have overtaken this: never move the status back.
        Message.objects.filter(pk=message_id).update(**fields)
        # A message failed before and sent on a retry (admin's) is sent: not "Fallido".
        Message.objects.filter(
            pk=message_id, status__in=(Message.Status.QUEUED, Message.Status.FAILED)
        ).update(status=Message.Status.SENT, sent_at=at, error="")
    else:
        Message.objects.filter(
            pk=message_id, status__in=(Message.Status.QUEUED, Message.Status.SENT)
        ).update(status=Message.Status.FAILED, failed_at=at, error=error[:500], **fields)


# --- Delivery callbacks and replies from customers --------------------------------------

_STATUS_TIMES = {
    Message.Status.SENT: "sent_at",
    Message.Status.DELIVERED: "delivered_at",
    Message.Status.READ: "read_at",
    Message.Status.FAILED: "failed_at",
}


@transaction.atomic
def record_status(
    *,
    provider: str,
    provider_message_id: str,
    status: str,
    at: datetime.datetime | None = None,
    error: str = "",
) -> Message | None:
    """Move an outbound message to the status a provider's callback reports.

    Only forward (queued → sent → delivered → read; failed before delivery): a late or
    repeated callback changes nothing. A failure because the number opted out with Twilio
    (21610) marks its customers not to be contacted.
    Return the message, or None when no message has that provider id (the callback
    overtook our own record of the send: the caller retries later).
    """
    message = (
        Message.objects.select_for_update()
        .filter(provider=provider, provider_message_id=provider_message_id)
        .first()
    )
    if message is None:
        return None
    if not channels.advances(message.status, status):
        return message
    at = at or timezone.now()
    message.status = status
    update = ["status"]
    field = _STATUS_TIMES.get(status)
    if field:
        setattr(message, field, at)
        update.append(field)
    if status == Message.Status.FAILED:
        message.error = (error or gettext("el proveedor no lo entregó"))[:500]
        update.append("error")
    message.save(update_fields=update)
    if message.interaction_id:
        _mark_entry(message, status, at)
    notice = _provider_opt_out(provider, error) if status == Message.Status.FAILED else ""
    spec = _channels.get(message.channel)
    if notice and spec is not None:
        _opted_out_with_provider(spec, message.address, notice)
    return message


def _mark_entry(message: Message, status: str, at: datetime.datetime) -> None:
    """Keep the message's timeline entry in step: delivered and read in its details; a
    failure in its sentence, and an entry that says why."""
    interaction = Interaction.objects.select_for_update().filter(pk=message.interaction_id).first()
    if interaction is None:
        return
    spec = _channels.get(message.channel)
    delivery = {**((interaction.payload or {}).get(DELIVERY) or {}), "status": status}
    delivery[f"{status}_at"] = at.isoformat()
    interaction.payload = {**(interaction.payload or {}), DELIVERY: delivery}
    fields = ["payload"]
    if status == Message.Status.FAILED and spec is not None:
        interaction.summary = (spec.not_sent % {"subject": message.subject})[:500]
        fields.append("summary")
        services.record_interaction(
            customer=message.customer,
            kind=Interaction.Kind.SYSTEM,
            summary=spec.failure % {"subject": message.subject, "error": _short(message.error)},
            payload={"para": message.address},
        )
        if message.origin and message.origin_id is not None:
            # What sent it (a campaign) counted it sent: it was not delivered after all.
            _tell_origin(
                {"origin": {"name": message.origin, "id": message.origin_id}},
                Outcome(interaction.pk, DeliveryStatus.FAILED, at, _short(message.error)),
            )
    interaction.save(update_fields=fields)


def record_activity(*, interaction: Interaction, channel: str) -> Message:
    """Show in the conversations what a customer did on the bot or the portal.

    `interaction` is the timeline entry the action already wrote; its summary becomes
    the message's text. Not a message to answer: the inbox shows it, unread.
    """
    if channel not in (Message.Channel.BOT, Message.Channel.PORTAL):
        raise ValueError(f"Not an activity channel: {channel!r}")
    message = Message.objects.create(
        customer_id=interaction.customer_id,
        channel=channel,
        direction=Message.Direction.INBOUND,
        status=Message.Status.RECEIVED,
        body=interaction.text or interaction.summary,
        interaction=interaction,
        created_at=interaction.occurred_at,
        due_at=interaction.occurred_at,
    )
    _tell_listeners([message])
    return message


# What a customer writes to stop messages (compared without accents, case or punctuation):
# ours, and the words Twilio itself honours on SMS (it then refuses every SMS to the number,
# error 21610; https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out).
# Not Twilio's "cancel", nor "cancelar": in Peru a debtor who writes it means to pay off.
OPT_OUT_WORDS = frozenset(
    {
        "stop",
        "baja",
        "darme de baja",
        "no molestar",
        "unsubscribe",
        "stopall",
        "stop all",
        "end",
        "quit",
        "optout",
        "opt out",
        "revoke",
    }
)
# What may follow the word and leave it a request to stop: "BAJA por favor", "STOP gracias".
# Anything else ("baja la cuota si pago hoy?", "stop, ya pagué") is a sentence for an agent.
COURTESY_WORDS = frozenset({"por", "favor", "porfavor", "porfa", "xfa", "gracias", "muchas", "ya"})
_LONGEST_OPT_OUT = max(len(words.split()) for words in OPT_OUT_WORDS)


def is_opt_out(text: str) -> bool:
    """Whether a customer's message asks to stop messages: STOP, BAJA… first, and at most
    a courtesy after it ("BAJA por favor"); never a sentence that only says the word."""
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z ]", " ", plain.lower()).split()
    return any(
        " ".join(words[:size]) in OPT_OUT_WORDS
        and all(word in COURTESY_WORDS for word in words[size:])
        for size in range(1, _LONGEST_OPT_OUT + 1)
    )


def customer_for_address(channel: str, address: str) -> Customer | None:
    """Find the customer a phone number or e-mail belongs to (crm.selectors's one rule:
    the primary phone's customer first, then the latest one active)."""
    address = (address or "").strip()
    if not address:
        return None
    if channel == EMAIL:
        return selectors.customer_reached_at(email=address)
    return selectors.customer_reached_at(phone=address)


def customers_at(channel: str, address: str) -> QuerySet[Customer]:
    """Return the customers whose messages on `channel` go to `address`: their e-mail, or
    their primary phone (never the second phone, which nothing is sent to).

    A record merged into another one (crm.merge) keeps its old address but is sent and
    written nothing: the kept record, the same person, comes in its place, even when it
    kept another address (a STOP from the old one is that person asking to stop).
    """
    address = (address or "").strip()
    if not address:
        return Customer.objects.none()
    if channel == EMAIL:
        return Customer.objects.filter(email__iexact=address).resolved()
    return Customer.objects.filter(phone=address).resolved()


@transaction.atomic
def record_inbound(
    *,
    channel: str,
    provider: str,
    provider_message_id: str,
    address: str,
    body: str,
    customer: Customer | None = None,
    at: datetime.datetime | None = None,
    name: str = "",
) -> Message | None:
    """Record a message a customer sent us: the timeline entry, the Message, the listeners.

    The customer is found by their phone or e-mail when not given; a sender we do not
    know is not recorded (None; the caller says so). A provider id seen before records
    nothing (None). STOP, BAJA and the like mark as not to be contacted every customer
    whose messages go to that address (`_opt_out_on_reply`).
    """
    spec = _channel(channel)
    if customer is None:
        customer = customer_for_address(channel, address)
    if customer is None:
        return None
    if (
        provider_message_id
        and Message.objects.filter(
            provider=provider, provider_message_id=provider_message_id
        ).exists()
    ):
        return None
    at = at or timezone.now()
    text = (body or "").strip()
    try:
        with transaction.atomic():
            interaction = services.record_interaction(
                customer=customer,
                kind=spec.kind,
                direction=Interaction.Direction.INBOUND,
                summary=spec.received % {"text": text[:200] or "…"},
                payload={"de": address, "mensaje": text, **({"nombre": name} if name else {})},
                occurred_at=at,
            )
            message = Message.objects.create(
                customer=customer,
                channel=spec.kind,
                direction=Message.Direction.INBOUND,
                status=Message.Status.RECEIVED,
                body=text,
                address=address[:254],
                provider=provider[:30],
                provider_message_id=provider_message_id[:120],
                interaction=interaction,
                created_at=at,
                due_at=at,
            )
    except IntegrityError:
        # The same delivery, recorded a moment ago by another worker.
        return None
    if is_opt_out(text):
        _opt_out_on_reply(customer, spec, (address or "").strip(), text)
    _tell_listeners([message])
    return message


def _opt_out_on_reply(sender: Customer, spec: MessageChannel, address: str, text: str) -> None:
    """Honour STOP from `address`: opt out every customer whose messages go there (two
    records of one person, a family's shared phone), each with an entry that says why.

    A customer who lists the number only as their second phone gets an entry, not an
    opt-out: nothing is sent to it, so the STOP was not about their messages. `sender`
    (whose conversation has the message) is opted out also when the caller named them
    with an address they do not have.
    """
    holders = list(customers_at(spec.kind, address).order_by("pk"))
    held = {holder.pk for holder in holders}
    second = (
        []
        if spec.kind == EMAIL
        else list(
            # A merged record's second phone is the kept record's (customers_at).
            Customer.objects.filter(phone_secondary=address).resolved().exclude(pk__in=held)
        )
    )
    if sender.pk not in held and sender.pk not in {customer.pk for customer in second}:
        holders.append(sender)
    words = {
        "text": text[:40],
        "channel": spec.label,
        "address": address,
        "what": _address_name(spec),
        "other": sender.full_name,
    }
    for holder in holders:
        if holder.pk == sender.pk:
            summary = gettext(
                "El cliente pidió no ser contactado respondiendo «%(text)s» por %(channel)s."
            )
        else:
            summary = gettext(
                "Se recibió «%(text)s» por %(channel)s desde %(address)s, el %(what)s de este "
                "cliente (el mensaje quedó en la conversación de %(other)s, que también lo "
                "tiene): no recibirá más mensajes."
            )
        _opt_out(holder, summary % words, {"de": address})
    for customer in sorted(second, key=lambda customer: customer.pk):
        services.record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=gettext(
                "Se recibió «%(text)s» por %(channel)s desde %(address)s, el teléfono "
                "alternativo de este cliente: no se lo marcó «No contactar», porque los "
                "mensajes van a su celular. Si pidió no ser contactado, márquelo en su ficha."
            )
            % words,
            payload={"de": address},
        )


def opt_out_by_link(message: Message) -> bool:
    """The customer used the link of e-mail `message` to stop our messages
    (crm.unsubscribe): mark them «No contactar», saying which e-mail; return whether this
    did it (False when they already were)."""
    summary = gettext(
        "Pidió no recibir más mensajes con el enlace del correo «%(subject)s» del %(day)s: "
        "se lo marcó «No contactar»."
    ) % {
        "subject": message.subject or gettext("sin asunto"),
        "day": formats.date_format(timezone.localtime(message.created_at), "SHORT_DATE_FORMAT"),
    }
    return _opt_out(message.customer, summary, {"mensaje": message.pk, "a": message.address})


def _opt_out(customer: Customer, summary: str, payload: Mapping[str, Any]) -> bool:
    """Mark the customer as not to be contacted, with an entry that says why, unless they
    are already (read under the row's lock); return whether this did it."""
    with transaction.atomic():
        locked = Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk).first()
        if locked is None or locked.has_opted_out:
            return False
        services.set_contact_opt_out(customer=locked, opted_out=True)
        services.record_interaction(
            customer=locked, kind=Interaction.Kind.SYSTEM, summary=summary, payload=payload
        )
    customer.has_opted_out = True
    return True


def _opted_out_with_provider(spec: MessageChannel, address: str, notice: str) -> None:
    """The provider says `address` opted out with it (Twilio's STOP, error 21610): opt out
    every customer whose messages on `spec` go there."""
    for customer in customers_at(spec.kind, address).order_by("pk"):
        _opt_out(customer, notice, {"para": address})


def _provider_opt_out(provider: str, error: str) -> str:
    """Return the provider's sentence when a failed status's `error` is an opt-out, or ""."""
    if provider == sms.NAME:
        return sms.opt_out_notice(error)
    # WhatsApp's 131050 stops marketing only: the message fails, saying so (whatsapp.py).
    return ""


def _tell_origin(payload: Mapping[str, Any], outcome: Outcome) -> None:
    origin = payload.get("origin")
    if not origin:
        return
    handler = _outcome_handlers.get(origin["name"])
    if handler is None:
        # An origin may only name what sent the message (a flow step, for its figures).
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


# How an unexpected exception's record begins (integrations.errors.traceback_summary).
UNEXPECTED_ERROR = "Traceback (most recent call last)"


def _short(error: str) -> str:
    """Return the last line of an error (a traceback ends with the exception), shortened."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    text = lines[-1] if lines else gettext("error desconocido")
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


# Django's e-mail backends that deliver to nobody: the console and the void.
_LOGGING_EMAIL_BACKENDS = frozenset(
    {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
    }
)


def is_delivered(channel: str) -> bool:
    """Whether `channel`'s messages leave this machine (a provider is configured), or are
    only recorded ("registrado, no enviado"): what a screen warns of before sending."""
    if channel == EMAIL:
        return settings.EMAIL_BACKEND not in _LOGGING_EMAIL_BACKENDS
    if channel == SMS:
        return sms.is_configured()
    if channel == WHATSAPP:
        return whatsapp.is_configured()
    return True


def _send_email(payload: Mapping[str, Any]) -> channels.Delivery:
    body, headers = payload["body"], {}
    if payload.get("message"):
        # RFC 8058: a mail client's «Cancelar suscripción» posts to the link; the text's
        # foot has it for the others (crm.unsubscribe).
        link = unsubscribe.url_for(payload["message"])
        headers = {
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        body += "\n\n--\n" + gettext(
            "Si no desea recibir más mensajes nuestros, use este enlace: %(link)s"
        ) % {"link": link}
    email.send(payload["to"], payload["subject"], body, headers=headers)
    if settings.EMAIL_BACKEND in _LOGGING_EMAIL_BACKENDS:
        return channels.Delivery(provider=channels.LOG_PROVIDER, provider_message_id="")
    return channels.Delivery(provider="email", provider_message_id="")


def _send_sms(payload: Mapping[str, Any]) -> channels.Delivery:
    return sms.send(payload["to"], payload["body"])


def _send_whatsapp(payload: Mapping[str, Any]) -> channels.Delivery:
    template = payload.get("whatsapp_template")
    if template:
        return whatsapp.send_template(
            payload["to"],
            name=template["name"],
            language=template["language"],
            parameters=list(template.get("parameters") or []),
        )
    return whatsapp.send_text(payload["to"], payload["body"])


# The annotation `with_stored_phones` puts on customers: their phone as stored (E.164).
STORED_PHONE = "stored_phone"


def with_stored_phones(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """Read the customers' phones as the text stored (E.164, PHONENUMBER_DB_FORMAT), not as
    PhoneNumber objects: parsing 1,000 numbers costs a flow's batch 40 ms. For batches
    that only send: the phone field itself is deferred."""
    return customers.defer("phone").annotate(
        **{STORED_PHONE: Cast("phone", output_field=models.CharField())}
    )


def _phone(customer: Customer) -> str:
    stored = customer.__dict__.get(STORED_PHONE)
    if stored is not None:
        return stored
    # E.164 as stored. Neither str() nor truth (PhoneNumber.__len__ calls str()): they
    # check the number's validity again, a tenth of a flow's time for 100,000 customers.
    phone = customer.phone
    if isinstance(phone, PhoneNumber):
        return phone.as_e164 if phone.national_number else ""
    return str(phone or "")


register_channel(
    MessageChannel(
        kind=Interaction.Kind.EMAIL,
        address=lambda customer: customer.email,
        send=_send_email,
        queued=_("Correo en cola: %(subject)s"),
        sent=_("Correo enviado: %(subject)s"),
        logged=_("Correo registrado, no enviado (Correo no configurado): %(subject)s"),
        not_sent=_("Correo no enviado: %(subject)s"),
        failure=_("No se pudo enviar el correo «%(subject)s»: %(error)s"),
        label=_("Correo"),
        opted_out=_("Correo no enviado: %(subject)s. El cliente pidió no ser contactado."),
        no_address=_("Correo no enviado: %(subject)s. El cliente no tiene correo registrado."),
        received=_("Correo recibido: %(text)s"),
    )
)
register_channel(
    MessageChannel(
        kind=Interaction.Kind.SMS,
        address=_phone,
        send=_send_sms,
        queued=_("SMS en cola: %(subject)s"),
        sent=_("SMS enviado: %(subject)s"),
        logged=_("SMS registrado, no enviado (SMS no configurado): %(subject)s"),
        not_sent=_("SMS no enviado: %(subject)s"),
        failure=_("No se pudo enviar el SMS «%(subject)s»: %(error)s"),
        label=_("SMS"),
        opted_out=_("SMS no enviado: %(subject)s. El cliente pidió no ser contactado."),
        no_address=_("SMS no enviado: %(subject)s. El cliente no tiene celular registrado."),
        received=_("SMS recibido: %(text)s"),
    )
)
register_channel(
    MessageChannel(
        kind=Interaction.Kind.WHATSAPP,
        address=_phone,
        send=_send_whatsapp,
        queued=_("WhatsApp en cola: %(subject)s"),
        sent=_("WhatsApp enviado: %(subject)s"),
        logged=_("WhatsApp registrado, no enviado (WhatsApp no configurado): %(subject)s"),
        not_sent=_("WhatsApp no enviado: %(subject)s"),
        failure=_("No se pudo enviar el WhatsApp «%(subject)s»: %(error)s"),
        label=_("WhatsApp"),
        opted_out=_("WhatsApp no enviado: %(subject)s. El cliente pidió no ser contactado."),
        no_address=_("WhatsApp no enviado: %(subject)s. El cliente no tiene celular registrado."),
        received=_("WhatsApp recibido: %(text)s"),
    )
)
