"""Writes of the conversations inbox: each customer's conversation kept current as messages
are recorded, and what agents do with it (read, assign, label, reply).

`on_messages` is the listener `crm.messages` calls with every batch of Message rows it
writes, in the same transaction (a flow's batch is a thousand). A reply goes out through
`crm.messages.send_customer_message` like every other message, which writes its timeline
entry and its Message, and so comes back here through the listener.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateTimeField,
    F,
    Func,
    PositiveIntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from collections_app.conversations import selectors
from collections_app.models import Conversation, ConversationLabel, MessageTemplate
from collections_app.strategies import templating, variables
from crm import messages as customer_messages
from crm import services as crm_services
from crm.models import Customer, Interaction, Message
from lib import people, repeats

# How much of a message the inbox row shows (Conversation.last_message_preview's size).
PREVIEW_CHARS = 200
# The longest reply an agent may write (a template's text holds as much).
REPLY_CHARS = 4000
SUBJECT_CHARS = 200
# A reply's timeline sentence quotes this much of an SMS or a WhatsApp ("SMS en cola: …").
EXCERPT_CHARS = 60
# WhatsApp takes free text only within 24 hours of the customer's last message there;
# after that, only a template Meta approved.
WHATSAPP_WINDOW = datetime.timedelta(hours=24)
# Channels a customer writes on to be answered; what they did on the bot or the portal
# shows in the inbox (unread) but waits for no answer.
CONVERSATIONAL = frozenset(selectors.REPLY_CHANNELS)

OPTED_OUT = gettext_lazy("No enviado: el cliente pidió no ser contactado")


# --- The listener ------------------------------------------------------------------------


def on_messages(messages: Sequence[Message]) -> None:
    """Keep the conversations of these messages' customers current.

    Two statements whatever the number of messages: an insert of the missing
    conversations that skips the ones that exist, and one update of them all. Counters
    are added to with F() and the last message replaces the stored one only when it is
    not older, so two calls for the same customer at once (a flow and a reply) both
    count, and the newest wins.
    """
    if not messages:
        return
    by_customer: dict[int, list[Message]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: (m.created_at, m.pk or 0)):
        by_customer[message.customer_id].append(message)
    _insert_missing(list(by_customer))
    Conversation.objects.filter(_among(list(by_customer))).update(
        **_last_message(by_customer), **_counters(by_customer)
    )


def _insert_missing(customer_ids: list[int]) -> None:
    """Insert an empty conversation for each customer without one (one statement).

    INSERT … SELECT … ON CONFLICT DO NOTHING, not bulk_create: SQLite's bulk_create
    splits a thousand rows into a dozen statements (999 parameters each), and a
    conversation inserted meanwhile by another transaction is skipped, not an error.
    Its last_message_at is the database's clock (a parameter would need a cast that
    differs between PostgreSQL and SQLite); the update below replaces it.
    """
    quote = connection.ops.quote_name
    conversation = Conversation._meta
    customer = Customer._meta
    columns = ", ".join(
        quote(name)
        for name in (
            conversation.get_field("customer").column,
            "last_message_at",
            "last_message_preview",
            "last_channel",
            "last_direction",
            "unread_count",
            "message_count",
        )
    )
    customer_pk = quote(customer.pk.column)
    if _arrays():
        among, params = f"{customer_pk} = ANY(%s::bigint[])", [customer_ids]
    else:
        among, params = f"{customer_pk} IN ({', '.join(['%s'] * len(customer_ids))})", customer_ids
    # Names from the models' metadata, never input; the ids are parameters.
    sql = (
        f"INSERT INTO {quote(conversation.db_table)} ({columns}) "  # noqa: S608
        f"SELECT {customer_pk}, CURRENT_TIMESTAMP, '', '', '', 0, 0 "
        f"FROM {quote(customer.db_table)} WHERE {among} "
        f"ON CONFLICT ({quote(conversation.get_field('customer').column)}) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _last_message(by_customer: dict[int, list[Message]]) -> dict[str, Case]:
    """Return the update that makes each customer's newest message of the batch their
    conversation's last one, unless a newer one is stored already. A row with no message
    counted yet (just inserted, or saved by an assignment) takes it whatever its time."""
    latest = {customer_id: found[-1] for customer_id, found in by_customer.items()}
    at = _per_customer(
        {c: m.created_at for c, m in latest.items()}, DateTimeField(), of_every_row=True
    )
    # Every assignment of the UPDATE reads the row as it was: message_count before counting.
    takes = Q(message_count=0) | Q(last_message_at__lte=at)
    fields = {
        "last_message_at": at,
        "last_message_preview": _per_customer(
            {c: preview_of(m) for c, m in latest.items()},
            CharField(max_length=PREVIEW_CHARS),
            of_every_row=True,
        ),
        "last_channel": _per_customer(
            {c: m.channel for c, m in latest.items()}, CharField(), of_every_row=True
        ),
        "last_direction": _per_customer(
            {c: m.direction for c, m in latest.items()}, CharField(), of_every_row=True
        ),
    }
    return {
        name: Case(
            When(takes, then=value),
            default=F(name),
            output_field=Conversation._meta.get_field(name),
        )
        for name, value in fields.items()
    }


def preview_of(message: Message) -> str:
    """Return what the inbox row shows of a message: an e-mail's subject says what it is
    about; a message kept secret (a one-time code) has no text, only its subject."""
    if (message.channel == Message.Channel.EMAIL and message.subject) or not message.body:
        text = message.subject
    else:
        text = message.body
    return " ".join((text or "").split())[:PREVIEW_CHARS]


def _counters(by_customer: dict[int, list[Message]]) -> dict[str, Combinable]:
    """Return the update that adds each customer's messages to their counters and notes
    what they wrote and since when it waits for an answer."""
    counts: dict[int, int] = {}
    unread: dict[int, int] = {}
    last_inbound: dict[int, datetime.datetime] = {}
    last_whatsapp: dict[int, datetime.datetime] = {}
    waiting: dict[int, tuple[str, datetime.datetime | None]] = {}
    for customer_id, found in by_customer.items():
        counts[customer_id] = len(found)
        inbound = [m for m in found if m.direction == Message.Direction.INBOUND]
        if inbound:
            unread[customer_id] = len(inbound)
            last_inbound[customer_id] = inbound[-1].created_at
        whatsapp = [m for m in inbound if m.channel == Message.Channel.WHATSAPP]
        if whatsapp:
            last_whatsapp[customer_id] = whatsapp[-1].created_at
        state = _awaiting(found)
        if state is not None:
            waiting[customer_id] = state
    updates: dict[str, Combinable] = {
        "message_count": F("message_count")
        + _per_customer(counts, PositiveIntegerField(), of_every_row=True)
    }
    if unread:
        updates["unread_count"] = _added("unread_count", unread)
    if last_inbound:
        updates["last_inbound_at"] = _later("last_inbound_at", last_inbound)
    if last_whatsapp:
        updates["last_whatsapp_inbound_at"] = _later("last_whatsapp_inbound_at", last_whatsapp)
    if waiting:
        updates["awaiting_reply_since"] = _awaiting_since(waiting)
    return updates


# What a customer's messages do to "waiting for an answer since" (see _awaiting).
KEEP = "keep"
SET = "set"


def _awaiting(found: list[Message]) -> tuple[str, datetime.datetime | None] | None:
    """Say what a customer's messages (oldest first) do to "waiting for an answer since".

    None: nothing; (KEEP, t): since t unless it waited already; (SET, t): since t, or
    nothing waits (t None) when an agent answered after the customer's last message.
    """
    state: tuple[str, datetime.datetime | None] | None = None
    for message in found:
        if message.direction == Message.Direction.INBOUND:
            if message.channel not in CONVERSATIONAL:
                continue
            if state is None:
                state = (KEEP, message.created_at)
            elif state == (SET, None):
                state = (SET, message.created_at)
        elif message.actor_id is not None:
            # An agent answered: whatever the customer wrote before is answered.
            state = (SET, None)
    return state


def _added(field: str, numbers: dict[int, int]) -> Combinable:
    """Return `field` plus each customer's number (none: plus 0)."""
    return F(field) + Coalesce(_per_customer(numbers, PositiveIntegerField()), Value(0))


def _later(field: str, moments: dict[int, datetime.datetime]) -> Case:
    """Return each customer's moment where it is later than the stored one."""
    moment = _per_customer(moments, DateTimeField())
    return Case(
        When(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": moment}), then=moment),
        default=F(field),
        output_field=DateTimeField(),
    )


def _awaiting_since(waiting: dict[int, tuple[str, datetime.datetime | None]]) -> Case:
    how = _per_customer({c: state[0] for c, state in waiting.items()}, CharField())
    moment = _per_customer({c: state[1] for c, state in waiting.items()}, DateTimeField())
    return Case(
        When(Exact(how, SET), then=moment),
        # The customer waited already since earlier: that stays.
        When(Exact(how, KEEP), then=Coalesce(F("awaiting_reply_since"), moment)),
        default=F("awaiting_reply_since"),
        output_field=DateTimeField(),
    )


# --- Per-customer values in one statement --------------------------------------------------
# A thousand customers' values go into one UPDATE. On PostgreSQL each is an array
# parameter (one placeholder whatever the batch: psycopg splits a statement of thousands
# of placeholders, and Django prepares each value, in ~10 ms apiece); elsewhere a CASE
# with one WHEN per distinct value, and IN lists.


def _arrays() -> bool:
    return connection.vendor == "postgresql"


class _AnyOf(Func):
    """`expression = ANY(ids)`, the ids as one array parameter (PostgreSQL)."""

    output_field = BooleanField()

    def __init__(self, expression, ids: list[int]) -> None:
        super().__init__(expression)
        self.ids = ids

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"{sql} = ANY(%s::bigint[])", [*params, self.ids]


class _FromArrays(Func):
    """`values[array_position(ids, expression)]`: the row's value from two parallel arrays
    (PostgreSQL); NULL for a row whose id is not among them."""

    def __init__(self, expression, ids: list[int], values: list, output_field) -> None:
        super().__init__(expression, output_field=output_field)
        self.ids, self.values = ids, values

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        db_type = self.output_field.cast_db_type(connection)
        return (
            f"(%s::{db_type}[])[array_position(%s::bigint[], {sql})]",
            [self.values, self.ids, *params],
        )


def _among(customer_ids: list[int]) -> Q | _AnyOf:
    """Return "the row's customer is one of these"."""
    if _arrays():
        return _AnyOf(F("customer_id"), customer_ids)
    return Q(customer_id__in=customer_ids)


def _per_customer(
    values: dict[int, object], output_field, *, of_every_row: bool = False
) -> Func | Case | Value:
    """Return each row's value in `values`, by its customer (NULL for the others).

    `of_every_row`: `values` names every row the statement changes, so one value shared
    by all of them is written as that value.
    """
    distinct = set(values.values())
    if of_every_row and len(distinct) == 1:
        # A flow's thousand messages share their time, channel and direction.
        (value,) = distinct
        return Value(value, output_field=output_field)
    if _arrays():
        return _FromArrays(F("customer_id"), list(values), list(values.values()), output_field)
    groups: dict[object, list[int]] = defaultdict(list)
    for customer_id, value in values.items():
        groups[value].append(customer_id)
    return Case(
        *[
            When(customer_id__in=customer_ids, then=Value(value, output_field=output_field))
            for value, customer_ids in groups.items()
        ],
        output_field=output_field,
    )


# --- What agents do ----------------------------------------------------------------------


def mark_read(conversation: Conversation, actor: AbstractBaseUser) -> None:
    """Mark the conversation read (reading is no business event: no timeline entry)."""
    if conversation.pk is None or not conversation.unread_count:
        return
    Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(unread_count=0)
    conversation.unread_count = 0


def _saved(conversation: Conversation) -> Conversation:
    """Return the conversation saved: a customer nobody wrote to yet gets their row now."""
    if conversation.pk is not None:
        return conversation
    saved, _created = Conversation.objects.get_or_create(customer=conversation.customer)
    saved.customer = conversation.customer
    return saved


@transaction.atomic
def assign(
    conversation: Conversation,
    agent: AbstractBaseUser | None,
    actor: AbstractBaseUser,
) -> Conversation:
    """Give the conversation to `agent` (None: to nobody) and say so on the timeline."""
    if agent is not None:
        _refuse_unassignable(agent)
    conversation = _saved(conversation)
    _give(conversation, agent, actor)
    return conversation


@transaction.atomic
def reassign_many(
    conversations: QuerySet[Conversation],
    agent: AbstractBaseUser,
    actor: AbstractBaseUser,
) -> int:
    """Give every conversation of `conversations` to `agent`, each with its timeline entry
    as `assign` writes it; return how many changed hands (those already theirs did not)."""
    _refuse_unassignable(agent)
    moved = 0
    # Locked, so a conversation assigned meanwhile by someone else is read as it is now.
    for conversation in (
        conversations.exclude(assigned_to=agent)
        .select_related("customer")
        .select_for_update(of=("self",))
        .order_by("pk")
    ):
        moved += _give(conversation, agent, actor)
    return moved


def _refuse_unassignable(agent: AbstractBaseUser) -> None:
    if not selectors.assignable_agents().filter(pk=agent.pk).exists():
        raise ValidationError(
            {
                "agent": _(
                    "%(name)s no atiende conversaciones: elija a alguien de Cobranzas o "
                    "Supervisión."
                )
                % {"name": people.display_name(agent)}
            }
        )


def _give(
    conversation: Conversation, agent: AbstractBaseUser | None, actor: AbstractBaseUser
) -> bool:
    """Set the saved conversation's agent and write the timeline entry; False when it was
    theirs already."""
    agent_id = agent.pk if agent is not None else None
    if conversation.assigned_to_id == agent_id:
        return False
    Conversation.objects.filter(pk=conversation.pk).update(assigned_to=agent_id)
    conversation.assigned_to = agent
    if agent is None:
        summary = _("Conversación sin asignar")
    else:
        summary = _("Conversación asignada a %(name)s") % {"name": people.display_name(agent)}
    crm_services.record_interaction(
        customer=conversation.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=summary,
        actor=actor,
    )
    return True


@transaction.atomic
def set_labels(
    conversation: Conversation,
    labels: Iterable[ConversationLabel],
    actor: AbstractBaseUser,
) -> Conversation:
    """Put exactly `labels` on the conversation and say so on the timeline."""
    conversation = _saved(conversation)
    wanted = sorted(set(labels), key=lambda label: label.name)
    current = set(conversation.labels.values_list("pk", flat=True))
    if current == {label.pk for label in wanted}:
        return conversation
    conversation.labels.set(wanted)
    if wanted:
        summary = _("Etiquetas de la conversación: %(labels)s") % {
            "labels": ", ".join(label.name for label in wanted)
        }
    else:
        summary = _("Conversación sin etiquetas")
    crm_services.record_interaction(
        customer=conversation.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=summary,
        actor=actor,
    )
    return conversation


def whatsapp_window_closes_at(conversation: Conversation) -> datetime.datetime | None:
    """Return until when WhatsApp takes free text to the customer (None: not now)."""
    last = conversation.last_whatsapp_inbound_at
    if last is None:
        return None
    closes = last + WHATSAPP_WINDOW
    return closes if closes > timezone.now() else None


@transaction.atomic
def reply(
    conversation: Conversation,
    *,
    channel: str,
    body: str,
    subject: str = "",
    template: MessageTemplate | None = None,
    actor: AbstractBaseUser,
) -> customer_messages.Sending:
    """Answer the customer on `channel`, as `actor`: the text written, or `template`
    rendered for the customer.

    Refused, saying why: a customer who asked not to be contacted, a channel they have
    no address on, an e-mail without subject, and free text on WhatsApp more than 24
    hours after their last message there (only an approved template may go then).
    Not counted in the daily limit: it answers the customer.
    """
    customer = conversation.customer
    if channel not in selectors.REPLY_CHANNELS:
        raise ValidationError({"channel": _("Elija WhatsApp, SMS o correo.")})
    if Customer.objects.filter(pk=customer.pk, has_opted_out=True).exists():
        raise ValidationError(str(OPTED_OUT))
    if not customer_messages.address_for(customer, channel):
        raise ValidationError(
            {
                "channel": _("El cliente no tiene correo registrado.")
                if channel == customer_messages.EMAIL
                else _("El cliente no tiene celular registrado.")
            }
        )
    subject = (subject or "").strip()
    body = (body or "").strip()
    whatsapp_template = None
    window_open = whatsapp_window_closes_at(conversation) is not None
    if template is not None:
        if template.channel != channel or not template.is_active:
            raise ValidationError({"template": _("Elija una plantilla activa del mismo canal.")})
        recipient = variables.Recipient(customer=customer)
        today = timezone.localdate()
        blank = templating.blank_variables(template, recipient, today)
        if blank:
            incomplete = _(
                "La plantilla saldría incompleta: este cliente no tiene hoy %(names)s."
            ) % {"names": ", ".join("{" + name + "}" for name in blank)}
            if channel == customer_messages.WHATSAPP and not window_open:
                # Past the 24 hours free text is refused too: only another template goes.
                advice = _("Elija otra plantilla.")
            else:
                advice = _("Elija otra plantilla o escriba el mensaje.")
            raise ValidationError({"template": f"{incomplete} {advice}"})
        (rendered,) = templating.render_for(template, [recipient], today)
        subject, body = rendered.subject or subject, rendered.body
        whatsapp_template = rendered.whatsapp
        approved = whatsapp_template is not None and whatsapp_template.name
        if channel == customer_messages.WHATSAPP and not approved and not window_open:
            raise ValidationError(
                {
                    "template": _(
                        "La plantilla no tiene nombre aprobado en WhatsApp: fuera de las 24 "
                        "horas solo sale una plantilla aprobada."
                    )
                }
            )
    elif channel == customer_messages.WHATSAPP and not window_open:
        raise ValidationError(
            {
                "template": _(
                    "Pasaron más de 24 horas desde el último WhatsApp del cliente: WhatsApp "
                    "solo admite una plantilla aprobada. Elija una plantilla."
                )
            }
        )
    if not body:
        raise ValidationError({"body": _("Escriba el mensaje.")})
    if len(body) > REPLY_CHARS:
        raise ValidationError(
            {"body": _("Escriba como máximo %(n)s caracteres.") % {"n": REPLY_CHARS}}
        )
    if channel == customer_messages.SMS:
        # As an SMS template is bounded: 4,000 characters would travel in 26 or more parts.
        too_long = templating.body_problem(channel, body)
        if too_long:
            raise ValidationError({"body": too_long})
    if channel == customer_messages.EMAIL:
        if not subject:
            raise ValidationError({"subject": _("Escriba el asunto del correo.")})
        subject = subject[:SUBJECT_CHARS]
    else:
        # SMS and WhatsApp have no subject: the timeline's sentence quotes the text.
        subject = body if len(body) <= EXCERPT_CHARS else body[: EXCERPT_CHARS - 1] + "…"
    with transaction.atomic():
        # Under the customer's lock: the same reply sent twice at once finds the first.
        crm_services.lock_current_customer(customer.pk)
        _refuse_a_repeat(customer, channel, subject, body, actor)
        return customer_messages.send_customer_message(
            customer=customer,
            channel=channel,
            subject=subject,
            body=body,
            actor=actor,
            whatsapp_template=whatsapp_template,
        )


# The same text the same agent sent this customer on the same channel this recently is the
# reply form sent twice (a double click, the back button and send): the customer would get
# it twice.
REPLY_REPEAT_WINDOW = datetime.timedelta(minutes=10)


def _refuse_a_repeat(
    customer: Customer, channel: str, subject: str, body: str, actor: AbstractBaseUser
) -> None:
    actor = people.signed_in(actor)
    if actor is None:
        return
    twin = repeats.made_within(
        Message.objects.filter(
            customer=customer,
            channel=channel,
            direction=Message.Direction.OUTBOUND,
            subject=subject[:200],
            # As stored: «SMS sin tildes» wrote the SMS's "á" as "a".
            body=customer_messages.sms_text(body) if channel == customer_messages.SMS else body,
            actor=actor,
        ),
        REPLY_REPEAT_WINDOW,
    )
    if twin is None:
        return
    raise ValidationError(
        _(
            "Usted envió este mismo mensaje a %(name)s hace un momento (%(channel)s, a las "
            "%(time)s): no se envió otra vez. Si quiere enviarlo de nuevo, espere unos "
            "minutos o cambie el texto."
        )
        % {
            "name": customer.full_name,
            "channel": twin.get_channel_display(),
            "time": timezone.localtime(twin.created_at).strftime("%H:%M"),
        }
    )


def outcome_text(sending: customer_messages.Sending) -> str:
    """Say what became of a reply, in the words the agent reads after sending it."""
    if sending.is_queued:
        if sending.held_until is not None:
            return _("Retenido hasta las %(time)s por el horario de silencio") % {
                "time": timezone.localtime(sending.held_until).strftime("%H:%M")
            }
        return _("En cola")
    if sending.is_opted_out:
        return str(OPTED_OUT)
    if sending.status == customer_messages.SendStatus.NO_ADDRESS:
        return _("No enviado: el cliente no tiene dirección en ese canal")
    if sending.status == customer_messages.SendStatus.MERGED:
        return _("No enviado: este registro fue fusionado en otro del mismo cliente")
    return _("No enviado: el cliente ya recibió los mensajes del día")
