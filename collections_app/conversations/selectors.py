"""Reads of the conversations inbox: the list and its filters, one customer's thread, the
agents and labels offered, and the one access helper every view goes through.

Each read costs a fixed number of queries whatever the rows it shows: the inbox page
reads its rows with their customer and agent joined and their labels in one prefetch;
the thread reads a page of messages and a page of the bot's and the portal's entries.
"""

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext

from collections_app import selectors as collection_selectors
from collections_app.models import Conversation, ConversationLabel, Portfolio
from collections_app.strategies import segments
from crm import messages as customer_messages
from crm import selectors as crm_selectors
from crm.models import Customer, Interaction, Message
from integrations.channels import LOG_PROVIDER
from lib import former_people, people, search, small_tables

VIEW_CONVERSATION = "collections_app.view_conversation"
CHANGE_CONVERSATION = "collections_app.change_conversation"
# Who may be given a conversation: the people of these roles (crm.roles) whose role may
# answer one (change_conversation).
AGENT_GROUPS = ("Cobranzas", "Supervisor")

# The portfolio filter: everything, or the customers without or with the written-off tag.
ALL_PORTFOLIOS = "todo"
CURRENT = Portfolio.CURRENT.value
WRITTEN_OFF = Portfolio.WRITTEN_OFF.value
# The agent filter's values besides a person's id.
UNASSIGNED = "sin-asignar"
MINE = "mias"
# Held by someone who may no longer be given one: deactivated, or without the role.
HELD_BY_FORMER = "ya-no-atiende"

# The channels an agent may answer on, in the order the reply form offers them.
REPLY_CHANNELS = (customer_messages.WHATSAPP, customer_messages.SMS, customer_messages.EMAIL)
# What a thread shows at a time, from the newest; "ver anteriores" reads the page before.
THREAD_PAGE = 30
# The customer's timeline entries a thread shows besides their messages: what they did on
# the bot and the portal before those became messages too (crm.messages.record_activity).
THREAD_ENTRY_KINDS = (Interaction.Kind.BOT, Interaction.Kind.PORTAL_VISIT)
# What a thread shows of a message and its author (thread_items.jinja), read as plain
# values: not its delivery times, provider ids or the author's account, nor a model
# instance per message (with them, reading a 30-message page cost twice as much). In the
# order of ThreadMessage's fields, the author's three last.
THREAD_COLUMNS = (
    "pk",
    "channel",
    "direction",
    "status",
    "subject",
    "body",
    "error",
    "origin",
    "created_at",
    "due_at",
    "provider",
    "actor__username",
    "actor__first_name",
    "actor__last_name",
)

# What an inbox row shows of its conversation and customer (its agent and labels come from
# with_agents_and_labels): the customer's other columns (addresses, the search text) stay
# in the database, and their phones unparsed.
LIST_FIELDS = (
    "customer",
    "assigned_to_id",
    "last_message_at",
    "last_message_preview",
    "last_channel",
    "last_direction",
    "unread_count",
    "awaiting_reply_since",
    "message_count",
    "customer__first_name",
    "customer__last_name",
    "customer__document_type",
    "customer__document_number",
)


def is_written_off(customer_ref: str = "pk") -> Exists:
    """Return "the customer named by `customer_ref` carries the written-off tag", for an
    annotation (one EXISTS per row, over the tags' through table)."""
    return Exists(
        Customer.tags.through.objects.filter(
            customer_id=OuterRef(customer_ref), tag__name=segments.CASTIGADA_TAG
        )
    )


# --- Access ------------------------------------------------------------------------------


def conversation_for(user: AbstractBaseUser, customer_pk: int) -> Conversation:
    """Return the conversation of customer `customer_pk` if `user` may see it, else 404.

    A customer nobody wrote to yet has no row: they get an unsaved conversation (no pk),
    which the services save when an agent assigns or labels it. Its customer carries
    `is_castigada`.
    """
    if not collection_selectors.may_work(user, VIEW_CONVERSATION):
        raise Http404
    # The customer with their conversation in one query (its agent, where a page shows
    # it, from the people's copy: agent_and_labels).
    customer = get_object_or_404(
        crm_selectors.customers_visible_to(user)
        .select_related("conversation")
        .annotate(is_castigada=is_written_off("pk")),
        pk=customer_pk,
    )
    try:
        conversation = customer.conversation
    except Conversation.DoesNotExist:
        conversation = Conversation(customer=customer)
    conversation.customer = customer  # the annotated instance
    return conversation


# --- The inbox ---------------------------------------------------------------------------


def conversation_list(
    user: AbstractBaseUser,
    *,
    portfolio: str = CURRENT,
    channel: str = "",
    agent: str = "",
    label: ConversationLabel | None = None,
    unread: bool = False,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    q: str = "",
) -> QuerySet[Conversation]:
    """Return the conversations that meet the filters, the latest message first.

    `portfolio`: CURRENT (the default, as the seed asks), WRITTEN_OFF or ALL_PORTFOLIOS;
    `agent`: a person's id, MINE (the user's), UNASSIGNED or HELD_BY_FORMER (someone not
    among assignable_agents any more); `q` searches the customer's
    name, document, phone and e-mail.
    """
    # A portfolio's rows are all or none written off: the mark is a constant, and the tag's
    # EXISTS only a filter. Selected, PostgreSQL hashed every tagged customer for it on
    # each page view (about 1 ms with 5,000 of them).
    written_off = is_written_off("customer_id")
    if portfolio == CURRENT:
        conversations = Conversation.objects.filter(~written_off).annotate(
            is_castigada=Value(False)
        )
    elif portfolio == WRITTEN_OFF:
        conversations = Conversation.objects.filter(written_off).annotate(is_castigada=Value(True))
    else:
        conversations = Conversation.objects.annotate(is_castigada=written_off)
    if channel:
        # The channel of the conversation's last message, a column of its row, not "some
        # message on the channel": that is an EXISTS over the messages (a million rows)
        # for every conversation the page walks past before it has 25.
        conversations = conversations.filter(last_channel=channel)
    if agent == UNASSIGNED:
        conversations = conversations.filter(assigned_to__isnull=True)
    elif agent == MINE:
        conversations = conversations.filter(assigned_to=user)
    elif agent == HELD_BY_FORMER:
        conversations = conversations.filter(assigned_to__isnull=False).exclude(
            assigned_to__in=assignable_agents().values("pk")
        )
    elif agent:
        conversations = conversations.filter(assigned_to_id=int(agent))
    if label is not None:
        conversations = conversations.filter(labels=label)
    if unread:
        conversations = conversations.filter(unread_count__gt=0)
    # Bounds as instants rather than `__date`, so the index on last_message_at serves.
    if since is not None:
        conversations = conversations.filter(last_message_at__gte=_day_start(since))
    if until is not None:
        conversations = conversations.filter(
            last_message_at__lt=_day_start(until + datetime.timedelta(days=1))
        )
    conversations = (
        conversations.select_related("customer")
        .only(*LIST_FIELDS)
        .order_by("-last_message_at", "-id")
    )
    # The search last: lib.search.narrowed probes it over every other filter.
    condition = search.matches_all(q, field="customer__search_text")
    if condition:
        conversations = search.narrowed(conversations, condition)
    return conversations


def with_agents_and_labels(conversations: list[Conversation]) -> list[Conversation]:
    """Give a page of conversations their agent (`assigned_to`) and their labels
    (`label_list`, by name): the people and the labels from each process's copies of those
    small tables (lib.small_tables), the pairs in one plain query. A join and a prefetch
    cost the inbox about 1 ms more."""
    pairs = Conversation.labels.through.objects.filter(
        conversation_id__in=[conversation.pk for conversation in conversations]
    ).values_list("conversation_id", "conversationlabel_id")
    labels, agents = small_tables.rows(ConversationLabel, small_tables.people())
    found: dict[int, list[ConversationLabel]] = {}
    for conversation_id, label_id in pairs:
        if label_id in labels:  # one created since the copy was read shows on the next view
            found.setdefault(conversation_id, []).append(labels[label_id])
    small_tables.attach(conversations, assigned_to=agents)
    for conversation in conversations:
        conversation.label_list = sorted(found.get(conversation.pk, []), key=_label_order)
    return conversations


def agent_and_labels(conversation: Conversation) -> list[ConversationLabel]:
    """Give one conversation its agent from the process's copy of the people (no query)
    and return its labels by name (one query; for a single row the pairs' query of
    with_agents_and_labels costs more). A conversation not saved yet has none."""
    if conversation.pk is None:
        return []
    (agents,) = small_tables.rows(small_tables.people())
    small_tables.attach([conversation], assigned_to=agents)
    return list(conversation.labels.all())


def _label_order(label: ConversationLabel) -> tuple[str, int]:
    return (label.name, label.pk)


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def assignable_agents() -> QuerySet:
    """Return the people a conversation may be assigned to, by name."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            groups__name__in=AGENT_GROUPS,
            groups__permissions__codename="change_conversation",
            groups__permissions__content_type__app_label="collections_app",
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def agent_choices() -> list[tuple[int | str, str]]:
    """Return the inbox's agent filter: (id, name) of the people a conversation may be
    assigned to; then HELD_BY_FORMER; then those who still hold some but may no longer be
    given one (deactivated, or without the role), each marked why (former_agent_label).

    One flat list, as lib.lists caches choices (it keeps no groups): what follows
    HELD_BY_FORMER is the former agents (forms.ConversationFilterForm groups them).
    """
    return [
        *((person.pk, people.display_name(person)) for person in assignable_agents()),
        (HELD_BY_FORMER, gettext("Asignadas a alguien inactivo o sin el rol")),
        *((person.pk, former_agent_label(person)) for person in former_agents()),
    ]


def former_agents() -> QuerySet:
    """Return the people who hold a conversation but may no longer be given one, by name."""
    return former_people.former(
        assignable_agents(), Exists(Conversation.objects.filter(assigned_to=OuterRef("pk")))
    ).only("username", "first_name", "last_name", "is_active")


def holder_label(person: AbstractBaseUser) -> str:
    """Name who holds a conversation, marked when they may no longer be given one (one
    query)."""
    if assignable_agents().filter(pk=person.pk).exists():
        return people.display_name(person)
    return former_agent_label(person)


def former_agent_label(person: AbstractBaseUser) -> str:
    """Name someone who may no longer be given a conversation, saying why."""
    return former_people.former_label(person, no_role=gettext("sin el rol"))


def labels() -> QuerySet[ConversationLabel]:
    return ConversationLabel.objects.all()


# --- One conversation --------------------------------------------------------------------


_CHANNEL_LABELS = dict(Message.Channel.choices)
_STATUS_LABELS = dict(Message.Status.choices)


@dataclass(frozen=True)
class ThreadMessage:
    """A message as a thread shows it (a row of THREAD_COLUMNS)."""

    pk: int
    channel: str
    direction: str
    status: str
    subject: str
    body: str
    error: str
    origin: str
    created_at: datetime.datetime
    due_at: datetime.datetime
    provider: str  # "log": the channel is not configured, the message only logged
    actor_name: str  # "" when the system sent it

    @classmethod
    def from_row(cls, row: tuple) -> "ThreadMessage":
        *fields, username, first_name, last_name = row
        # As User.get_full_name(), else the username (lib.people.display_name).
        actor_name = f"{first_name or ''} {last_name or ''}".strip() or (username or "")
        return cls(*fields, actor_name=actor_name)

    @property
    def channel_label(self) -> str:
        return str(_CHANNEL_LABELS.get(self.channel, self.channel))

    @property
    def is_logged_only(self) -> bool:
        """Whether the message went to the log provider: its channel is not configured."""
        return self.provider == LOG_PROVIDER and self.status != Message.Status.FAILED

    @property
    def status_label(self) -> str:
        if self.is_logged_only:
            return gettext("Registrado, no enviado (canal no configurado)")
        if self.is_retrying:
            return gettext("En cola, se reintentará")
        return str(_STATUS_LABELS.get(self.status, self.status))

    @property
    def is_retrying(self) -> bool:
        """Whether the provider refused an attempt for now and another one is planned."""
        return self.status == Message.Status.QUEUED and bool(self.error)


@dataclass(frozen=True)
class ThreadItem:
    """One line of a thread: a message, or a timeline entry of the bot or the portal."""

    at: datetime.datetime
    message: ThreadMessage | None = None
    entry: Interaction | None = None

    @property
    def cursor(self) -> "Cursor":
        if self.message is not None:
            return Cursor(self.at, MESSAGE_RANK, self.message.pk)
        assert self.entry is not None
        return Cursor(self.at, ENTRY_RANK, self.entry.pk)


# A thread is ordered by (time, source, id): at the same instant an entry comes before a
# message, so the two lists merge into one order that a cursor can resume.
ENTRY_RANK = 0
MESSAGE_RANK = 1
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Cursor:
    """Where a thread's page ends: the items strictly before it come next."""

    at: datetime.datetime
    rank: int
    pk: int

    def __str__(self) -> str:
        micros = (self.at - _EPOCH) // datetime.timedelta(microseconds=1)
        return f"{micros}.{self.rank}.{self.pk}"

    @classmethod
    def parse(cls, text: str) -> "Cursor | None":
        """Read a cursor written by str(); None for anything else."""
        parts = (text or "").split(".")
        if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
            return None
        micros, rank, pk = (int(part) for part in parts)
        if rank not in (ENTRY_RANK, MESSAGE_RANK) or micros > 10**17 or pk > 2**63:
            return None
        return cls(_EPOCH + datetime.timedelta(microseconds=micros), rank, pk)

    def before(self, time_field: str, rank: int) -> Q:
        """Return "sorts before the cursor" for the rows of source `rank`."""
        earlier = Q(**{f"{time_field}__lt": self.at})
        if rank < self.rank:
            return earlier | Q(**{time_field: self.at})
        if rank == self.rank:
            return earlier | Q(**{time_field: self.at, "pk__lt": self.pk})
        return earlier


def thread(
    customer: Customer, *, before: Cursor | None = None, size: int = THREAD_PAGE
) -> tuple[list[ThreadItem], Cursor | None]:
    """Return a page of the customer's thread, oldest first, and the cursor of the page
    before it (None when this page reaches the first item). Two queries."""
    found_messages = Message.objects.filter(customer=customer)
    # NOT EXISTS, so PostgreSQL walks the customer's timeline from the newest and stops at
    # a page (0.1 ms); `message__isnull` was a join over all their entries (2 ms).
    entries = Interaction.objects.filter(
        ~Exists(Message.objects.filter(interaction=OuterRef("pk"))),
        customer=customer,
        kind__in=THREAD_ENTRY_KINDS,
    )
    if before is not None:
        found_messages = found_messages.filter(before.before("created_at", MESSAGE_RANK))
        entries = entries.filter(before.before("occurred_at", ENTRY_RANK))
    page_messages = [
        ThreadMessage.from_row(row)
        for row in found_messages.order_by("-created_at", "-id").values_list(*THREAD_COLUMNS)[
            : size + 1
        ]
    ]
    items = [ThreadItem(at=message.created_at, message=message) for message in page_messages] + [
        ThreadItem(at=entry.occurred_at, entry=entry)
        for entry in entries.only("kind", "summary", "text", "occurred_at").order_by(
            "-occurred_at", "-id"
        )[: size + 1]
    ]
    items.sort(key=lambda item: _sort_key(item.cursor), reverse=True)
    page, more = items[:size], len(items) > size
    cursor = page[-1].cursor if more and page else None
    return list(reversed(page)), cursor


def _sort_key(cursor: Cursor) -> tuple[datetime.datetime, int, int]:
    return (cursor.at, cursor.rank, cursor.pk)


def reply_channels(customer: Customer) -> list[tuple[str, str]]:
    """Return the channels the customer has an address on, as (value, label)."""
    labels_by_value = dict(Message.Channel.choices)
    return [
        (channel, str(labels_by_value[channel]))
        for channel in REPLY_CHANNELS
        if customer_messages.address_for(customer, channel)
    ]
