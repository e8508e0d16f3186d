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
number of flows or of messages: no query per row.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_app.models import Flow, FlowStep, PaymentPromise
from collections_app.strategies import flows
from credits.models import Payment
from crm.models import Message
from integrations.channels import LOG_PROVIDER
from lib import people

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
    by_step = _step_funnels(start, end, window, days)
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
        agents=_agents(start, end, window),
        channels=_channels(start, end, window),
        total=total,
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _status_counts(window: timedelta) -> dict[str, Count]:
    """The counts of a group of outbound messages: by status, and answered in `window`."""
    answered = Message.objects.filter(
        customer_id=OuterRef("customer_id"),
        direction=Message.Direction.INBOUND,
        created_at__gt=OuterRef("created_at"),
        created_at__lte=OuterRef("created_at") + window,
    )
    return {
        "messages": Count("pk"),
        "sent": Count("pk", filter=Q(status__in=SENT) & ~Q(provider=LOG_PROVIDER)),
        "logged": Count("pk", filter=Q(status__in=SENT, provider=LOG_PROVIDER)),
        "delivered": Count("pk", filter=Q(status__in=DELIVERED)),
        "read": Count("pk", filter=Q(status__in=READ)),
        "failed": Count("pk", filter=Q(status=Message.Status.FAILED)),
        "answered": Count("pk", filter=Q(Exists(answered))),
    }


def _outbound(start: datetime, end: datetime) -> QuerySet[Message]:
    return Message.objects.filter(
        direction=Message.Direction.OUTBOUND, created_at__gte=start, created_at__lt=end
    )


def _flow_messages(start: datetime, end: datetime) -> QuerySet[Message]:
    return _outbound(start, end).filter(origin=flows.ORIGIN)


def _step_funnels(
    start: datetime, end: datetime, window: timedelta, days: int
) -> dict[int, Funnel]:
    """Return each step's funnel (three queries: messages, promises, payments)."""
    funnels: dict[int, Funnel] = defaultdict(Funnel)
    rows = (
        _flow_messages(start, end).values("origin_id").annotate(**_status_counts(window)).order_by()
    )
    for row in rows:
        step_id = row.pop("origin_id")
        for name, value in row.items():
            setattr(funnels[step_id], name, value)

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
        Payment.objects.filter(
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
    return funnels


def _agents(start: datetime, end: datetime, window: timedelta) -> list[AgentFigures]:
    """Return each agent's replies, answered replies and promises (three queries)."""
    counts = _status_counts(window)
    replies = (
        _outbound(start, end)
        .filter(actor__isnull=False)
        .values("actor_id")
        .annotate(replies=counts["messages"], answered=counts["answered"])
        .order_by()
    )
    promises = (
        PaymentPromise.objects.filter(
            created_by__isnull=False, created_at__gte=start, created_at__lt=end
        )
        .values("created_by_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    figures: dict[int, dict[str, int]] = defaultdict(dict)
    for row in replies:
        figures[row["actor_id"]].update(replies=row["replies"], answered=row["answered"])
    for row in promises:
        figures[row["created_by_id"]]["promises"] = row["n"]
    if not figures:
        return []
    users = get_user_model().objects.in_bulk(list(figures))
    rows = [AgentFigures(user=users[pk], **values) for pk, values in figures.items() if pk in users]
    return sorted(rows, key=lambda row: (-row.replies, -row.promises, row.name))


def _channels(start: datetime, end: datetime, window: timedelta) -> list[ChannelFigures]:
    """Return the funnel of every outbound message per channel, whoever sent it (one query)."""
    labels = dict(Message.Channel.choices)
    rows = _outbound(start, end).values("channel").annotate(**_status_counts(window)).order_by()
    figures = []
    for row in rows:
        channel = row.pop("channel")
        figures.append(ChannelFigures(channel, str(labels.get(channel, channel)), Funnel(**row)))
    return sorted(figures, key=lambda row: -row.funnel.messages)
