"""Effectiveness: what the messages achieved, per flow and step, per agent and per channel.

For a period (the days the messages were written) and N days of attribution:

- sent, delivered, read, failed: where each message stands now (a read message was also
  delivered and sent: the providers' callbacks only move it forward); a message written to
  the log because its channel has no provider configured is counted apart (`logged`),
  never as sent;
- answered: messages the customer answered (an inbound message) within N days;
- promises and money collected: each promise to pay made (PaymentPromise created) and
  each payment applied to one of the customer's loans (credits Payment, received) goes to
  the latest flow message the customer got in the N days before it. Last touch: a debtor
  who got −3 and 0 and then paid counts once, for step 0, so a flow's total is the sum
  of its steps.

Every figure is aggregated in SQL, in a fixed number of queries whatever the period, the
number of flows or of messages: no query per row. The messages are counted once, by
(channel, step, agent), and those groups are summed per step, per agent and per channel.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.models import Flow, FlowStep, PaymentPromise
from collections_app.strategies import flows
from credits.models import Payment
from crm.models import Message
from integrations.channels import LOG_PROVIDER
from lib import people, precomputed

ZERO = Decimal("0.00")
PERCENT = Decimal("0.1")
# Statuses that mean a message left, reached the phone, was read (forward-only).
SENT = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)
DELIVERED = (Message.Status.DELIVERED, Message.Status.READ)
READ = (Message.Status.READ,)


def rate(part: int, whole: int) -> Decimal | None:
    """Return `part` as a percentage of `whole`, one decimal; None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(PERCENT, rounding=ROUND_HALF_UP)


@dataclass
class Funnel:
    """Messages and what followed them; `collected` is money by currency."""

    messages: int = 0
    sent: int = 0
    logged: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    answered: int = 0
    promises: int = 0
    payments: int = 0
    collected: dict[str, Decimal] = field(default_factory=dict)

    def add(self, other: "Funnel") -> None:
        for name in ("messages", "sent", "logged", "delivered", "read", "failed", "answered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.promises += other.promises
        self.payments += other.payments
        for currency, amount in other.collected.items():
            self.collected[currency] = self.collected.get(currency, ZERO) + amount

    @property
    def delivered_rate(self) -> Decimal | None:
        return rate(self.delivered, self.messages)

    @property
    def read_rate(self) -> Decimal | None:
        return rate(self.read, self.messages)

    @property
    def failed_rate(self) -> Decimal | None:
        return rate(self.failed, self.messages)

    @property
    def answered_rate(self) -> Decimal | None:
        return rate(self.answered, self.messages)

    @property
    def promise_rate(self) -> Decimal | None:
        return rate(self.promises, self.messages)

    @property
    def collected_items(self) -> list[tuple[str, Decimal]]:
        return sorted(self.collected.items())


@dataclass
class StepFigures:
    step: FlowStep
    funnel: Funnel

    @property
    def label(self) -> str:
        return flows.offset_label(self.step.day_offset)


@dataclass
class FlowFigures:
    flow: Flow
    steps: list[StepFigures]
    funnel: Funnel


@dataclass
class AgentFigures:
    """An agent's replies from the inbox, those answered, and the promises they registered."""

    user: Any
    replies: int = 0
    answered: int = 0
    promises: int = 0

    @property
    def name(self) -> str:
        return people.display_name(self.user)

    @property
    def answered_rate(self) -> Decimal | None:
        return rate(self.answered, self.replies)


@dataclass
class ChannelFigures:
    channel: str
    label: str
    funnel: Funnel


@dataclass
class Report:
    since: date
    until: date
    days: int
    flows: list[FlowFigures]
    agents: list[AgentFigures]
    channels: list[ChannelFigures]
    total: Funnel

    @property
    def chart(self) -> dict[str, Any]:
        """The funnel per flow as charts.js draws it (a bar per figure, flows along x)."""
        figures = [
            (_("Mensajes"), "messages", "secondary"),
            (_("Entregados"), "delivered", "primary"),
            (_("Leídos"), "read", "info"),
            (_("Respondidos"), "answered", "success"),
            (_("Compromisos"), "promises", "warning"),
        ]
        return {
            "type": "bar",
            "labels": [row.flow.name for row in self.flows],
            "datasets": [
                {
                    "label": label,
                    "data": [getattr(row.funnel, name) for row in self.flows],
                    "color": color,
                }
                for label, name, color in figures
            ],
            "options": {"yLabel": _("Mensajes")},
        }


def report(*, since: date, until: date, days: int) -> Report:
    """Return the figures of the messages written from `since` to `until` (local days),
    with `days` of attribution."""
    start, end = _day_start(since), _day_start(until + timedelta(days=1))
    window = timedelta(days=days)
    flow_rows = list(
        Flow.objects.select_related("segment")
        .prefetch_related(
            Prefetch(
                "steps",
                queryset=FlowStep.objects.select_related("template").order_by("day_offset", "pk"),
            )
        )
        .order_by("name", "pk")
    )
    groups = _message_groups(start, end, window)
    by_step = _sum_by(groups, STEP)
    _attribute(by_step, start, end, window, days)
    figures = []
    total = Funnel()
    for flow in flow_rows:
        steps = [StepFigures(step, by_step.get(step.pk, Funnel())) for step in flow.steps.all()]
        funnel = Funnel()
        for step in steps:
            funnel.add(step.funnel)
        total.add(funnel)
        figures.append(FlowFigures(flow, steps, funnel))
    return Report(
        since=since,
        until=until,
        days=days,
        flows=figures,
        agents=_agents(groups, start, end),
        channels=_channels(groups),
        total=total,
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# The counts of a group of outbound messages, by where each one stands now.
STATUS_COUNTS = {
    "messages": Count("pk"),
    "sent": Count("pk", filter=Q(status__in=SENT) & ~Q(provider=LOG_PROVIDER)),
    "logged": Count("pk", filter=Q(status__in=SENT, provider=LOG_PROVIDER)),
    "delivered": Count("pk", filter=Q(status__in=DELIVERED)),
    "read": Count("pk", filter=Q(status__in=READ)),
    "failed": Count("pk", filter=Q(status=Message.Status.FAILED)),
}
# A group's key: (channel, flow step or None, agent or None).
GroupKey = tuple[str, int | None, int | None]
CHANNEL, STEP, AGENT = 0, 1, 2


def _outbound(start: datetime, end: datetime) -> QuerySet[Message]:
    return Message.objects.filter(
        direction=Message.Direction.OUTBOUND, created_at__gte=start, created_at__lt=end
    )


def _flow_messages(start: datetime, end: datetime) -> QuerySet[Message]:
    return _outbound(start, end).filter(origin=flows.ORIGIN)


def _message_groups(start: datetime, end: datetime, window: timedelta) -> dict[GroupKey, Funnel]:
    """Return the funnel of the period's outbound messages by (channel, step, agent), in
    two queries; the channels, the steps and the agents are each a sum of these groups.

    `answered` is its own query over the answered messages only: the database then joins
    the messages to the replies as a whole (a hash semi-join) instead of probing the
    replies once per message inside a count. The replies are also bounded by the period
    plus the window, which the join implies, so that older ones are never read.
    """
    groups: dict[GroupKey, Funnel] = defaultdict(Funnel)
    step = Case(When(origin=flows.ORIGIN, then=F("origin_id")), default=None)
    fields = ("channel", "step", "actor_id")
    rows = _outbound(start, end).annotate(step=step).values(*fields).annotate(**STATUS_COUNTS)
    for row in rows.order_by():
        key = (row.pop("channel"), row.pop("step"), row.pop("actor_id"))
        for name, value in row.items():
            setattr(groups[key], name, value)
    replies = Message.objects.filter(
        direction=Message.Direction.INBOUND, created_at__gt=start, created_at__lte=end + window
    ).filter(
        customer_id=OuterRef("customer_id"),
        created_at__gt=OuterRef("created_at"),
        created_at__lte=OuterRef("created_at") + window,
    )
    answered = (
        _outbound(start, end)
        .filter(Exists(replies))
        .annotate(step=step)
        .values(*fields)
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in answered:
        groups[(row["channel"], row["step"], row["actor_id"])].answered = row["n"]
    return groups


def _sum_by(groups: dict[GroupKey, Funnel], position: int) -> dict[Any, Funnel]:
    """Return the groups summed by one part of their key (those where it is not None)."""
    totals: dict[Any, Funnel] = defaultdict(Funnel)
    for key, funnel in groups.items():
        if key[position] is not None:
            totals[key[position]].add(funnel)
    return totals


def _attribute(
    funnels: dict[int, Funnel], start: datetime, end: datetime, window: timedelta, days: int
) -> None:
    """Add to each step's funnel the promises and payments it gets (two queries)."""
    # The latest flow message of the period the customer got up to `window` before.
    promise_touch = (
        _flow_messages(start, end)
        .filter(
            customer_id=OuterRef("customer_id"),
            created_at__lte=OuterRef("created_at"),
            created_at__gte=OuterRef("created_at") - window,
        )
        .order_by("-created_at", "-pk")
        .values("origin_id")[:1]
    )
    promises = (
        PaymentPromise.objects.filter(created_at__gte=start, created_at__lt=end + window)
        .annotate(step_id=Subquery(promise_touch))
        .filter(step_id__isnull=False)
        .values("step_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in promises:
        funnels[row["step_id"]].promises = row["n"]

    # A payment names a day, not a moment: messages of that day or of the `days` before.
    payment_touch = (
        _flow_messages(start, end)
        .filter(
            customer_id=OuterRef("loan__customer_id"),
            created_at__date__lte=OuterRef("received_on"),
            created_at__date__gte=ExpressionWrapper(
                OuterRef("received_on") - timedelta(days=days), output_field=DateField()
            ),
        )
        .order_by("-created_at", "-pk")
        .values("origin_id")[:1]
    )
    since, last = timezone.localdate(start), timezone.localdate(end) - timedelta(days=1)
    payments = (
        # Money received: a credit balance spent is the money of a payment counted before.
        Payment.objects.received()
        .filter(
            status=Payment.Status.APPLIED,
            received_on__gte=since,
            received_on__lte=last + timedelta(days=days),
        )
        .annotate(step_id=Subquery(payment_touch))
        .filter(step_id__isnull=False)
        .values("step_id", "loan__currency")
        .annotate(n=Count("pk"), amount=Sum("amount"))
        .order_by()
    )
    for row in payments:
        funnel = funnels[row["step_id"]]
        funnel.payments += row["n"]
        currency = row["loan__currency"]
        funnel.collected[currency] = funnel.collected.get(currency, ZERO) + row["amount"]


def _agents(groups: dict[GroupKey, Funnel], start: datetime, end: datetime) -> list[AgentFigures]:
    """Return each agent's replies, answered replies and promises (two queries)."""
    figures: dict[int, dict[str, int]] = defaultdict(dict)
    for actor_id, funnel in _sum_by(groups, AGENT).items():
        figures[actor_id].update(replies=funnel.messages, answered=funnel.answered)
    promises = (
        PaymentPromise.objects.filter(
            created_by__isnull=False, created_at__gte=start, created_at__lt=end
        )
        .values("created_by_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in promises:
        figures[row["created_by_id"]]["promises"] = row["n"]
    if not figures:
        return []
    users = get_user_model().objects.in_bulk(list(figures))
    rows = [AgentFigures(user=users[pk], **values) for pk, values in figures.items() if pk in users]
    return sorted(rows, key=lambda row: (-row.replies, -row.promises, row.name))


def _channels(groups: dict[GroupKey, Funnel]) -> list[ChannelFigures]:
    """Return the funnel of every outbound message per channel, whoever sent it."""
    labels = dict(Message.Channel.choices)
    figures = [
        ChannelFigures(channel, str(labels.get(channel, channel)), funnel)
        for channel, funnel in _sum_by(groups, CHANNEL).items()
    ]
    return sorted(figures, key=lambda row: (-row.funnel.messages, row.channel))


# --- Kept reports -----------------------------------------------------------------------------
#
# At a million messages a report takes about 2 s. The page shows a report kept for
# REFRESH_SECONDS with the time it was computed; beat computes the default period's (the
# last 30 days, what the page opens on) every REFRESH_SECONDS, so it is always kept.

REFRESH_SECONDS = 5 * 60
# Part of the key: reports kept by an older shape of `Report` are not read back.
_KEY = "collections:effectiveness:v1:{since}:{until}:{days}"


def kept_report(
    *, since: date, until: date, days: int, fresh: bool = False
) -> precomputed.Computed[Report]:
    """Return the report of the period kept in the last REFRESH_SECONDS, or (none kept, or
    `fresh`) compute it now and keep it."""
    return precomputed.read_or_compute(
        _KEY.format(since=since.isoformat(), until=until.isoformat(), days=days),
        partial(report, since=since, until=until, days=days),
        timeout=REFRESH_SECONDS,
        fresh=fresh,
    )


def keep_report(*, since: date, until: date, days: int) -> precomputed.Computed[Report]:
    """Compute the report of the period now and keep it until beat computes it again."""
    return precomputed.compute_and_keep(
        _KEY.format(since=since.isoformat(), until=until.isoformat(), days=days),
        partial(report, since=since, until=until, days=days),
        timeout=2 * REFRESH_SECONDS,
    )
