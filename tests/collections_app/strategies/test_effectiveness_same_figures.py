"""The effectiveness report counts in fewer, cheaper queries and its figures stay the same.

`answered` was an Exists probed once per outbound message inside three separate counts
(per step, per agent, per channel); it is now one GROUP BY of the messages by (channel,
step, agent) plus one of the answered ones (a semi-join), summed three ways in Python. The
functions below are the former code, kept as the reference: on a data set with several
channels, steps and agents, replies before, at the edges of and after the window, messages
of other origins, promises and payments attributed and not, both give the same figures for
several periods and attribution days.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import (
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.utils import timezone

from collections_app.models import PaymentPromise
from collections_app.strategies import effectiveness
from collections_app.strategies.effectiveness import (
    DELIVERED,
    READ,
    SENT,
    ZERO,
    Funnel,
    _day_start,
    _flow_messages,
    _outbound,
)
from credits.models import Payment
from crm.models import Message
from integrations.channels import LOG_PROVIDER
from tests.collections_app.conftest import TODAY, pay
from tests.collections_app.strategies.test_effectiveness import (  # noqa: F401 (fixtures)
    SINCE,
    all_debtors,
    inbound,
    moment,
    outbound,
    promise,
    scene,
)
from tests.factories import CustomerFactory, UserFactory

# --- The former code (the reference) -------------------------------------------------------


def old_status_counts(window: timedelta) -> dict[str, Count]:
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


def old_step_funnels(start, end, window, days) -> dict[int, Funnel]:
    funnels: dict[int, Funnel] = defaultdict(Funnel)
    rows = (
        _flow_messages(start, end)
        .values("origin_id")
        .annotate(**old_status_counts(window))
        .order_by()
    )
    for row in rows:
        step_id = row.pop("origin_id")
        for name, value in row.items():
            setattr(funnels[step_id], name, value)
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


def old_agents(start, end, window) -> dict[int, tuple[int, int]]:
    counts = old_status_counts(window)
    replies = (
        _outbound(start, end)
        .filter(actor__isnull=False)
        .values("actor_id")
        .annotate(replies=counts["messages"], answered=counts["answered"])
        .order_by()
    )
    return {row["actor_id"]: (row["replies"], row["answered"]) for row in replies}


def old_channels(start, end, window) -> dict[str, Funnel]:
    rows = _outbound(start, end).values("channel").annotate(**old_status_counts(window)).order_by()
    figures = {}
    for row in rows:
        channel = row.pop("channel")
        figures[channel] = Funnel(**row)
    return figures


# --- The comparison ------------------------------------------------------------------------


def numbers(funnel: Funnel) -> tuple:
    return (
        funnel.messages,
        funnel.sent,
        funnel.logged,
        funnel.delivered,
        funnel.read,
        funnel.failed,
        funnel.answered,
        funnel.promises,
        funnel.payments,
        dict(funnel.collected),
    )


def old_figures(since: date, until: date, days: int) -> dict:
    start, end = _day_start(since), _day_start(until + timedelta(days=1))
    window = timedelta(days=days)
    return {
        "steps": {pk: numbers(f) for pk, f in old_step_funnels(start, end, window, days).items()},
        "agents": old_agents(start, end, window),
        "channels": {
            channel: numbers(f) for channel, f in old_channels(start, end, window).items()
        },
    }


def new_figures(since: date, until: date, days: int) -> dict:
    result = effectiveness.report(since=since, until=until, days=days)
    return {
        "steps": {s.step.pk: numbers(s.funnel) for row in result.flows for s in row.steps},
        "agents": {a.user.pk: (a.replies, a.answered) for a in result.agents if a.replies},
        "channels": {row.channel: numbers(row.funnel) for row in result.channels},
    }


@pytest.fixture
def more(scene, make_active_loan):  # noqa: F811 (the fixture, imported)
    """The scene plus email and logged messages, a second agent, replies on the edges of the
    window, an event message carrying a step's id, a promise after the period."""
    a, b, c = scene["a"], scene["b"], scene["c"]
    other_agent = UserFactory(username="otra", role="Cobranzas")
    d, e, f = (CustomerFactory(first_name=name) for name in ("Cinco", "Seis", "Siete"))
    loan_d = make_active_loan(customer=d)
    loan_e = make_active_loan(customer=e)

    sent = outbound(d, moment(2), Message.Status.SENT, step=a, channel=Message.Channel.EMAIL)
    inbound(d, sent.created_at)  # the same moment: not an answer
    inbound(d, sent.created_at + timedelta(days=7))  # exactly the window's end: an answer
    logged = outbound(e, moment(3), Message.Status.SENT, step=b)
    Message.objects.filter(pk=logged.pk).update(provider=LOG_PROVIDER)
    outbound(e, moment(3, 11), Message.Status.DELIVERED, step=c, actor=other_agent)
    inbound(e, moment(2))  # before: answers nothing
    inbound(e, moment(3, 12) + timedelta(days=1))  # a day and an hour after the first
    outbound(f, moment(7), Message.Status.READ, channel=Message.Channel.EMAIL, actor=other_agent)
    outbound(f, moment(8), Message.Status.FAILED, channel=Message.Channel.SMS, actor=other_agent)
    inbound(f, moment(20))  # answers f's messages with 13 or more days only
    event = outbound(f, moment(9), Message.Status.READ)
    Message.objects.filter(pk=event.pk).update(origin="collections.event", origin_id=a.pk)
    # The last day of the period, answered the next day (after a period ending on the 14th).
    outbound(d, moment(14, 20), Message.Status.DELIVERED, step=c)
    inbound(d, moment(15, 9))

    promise(e, loan_e, moment(4), created_by=other_agent)  # after c (e)
    promise(e, loan_e, moment(5))  # after c (e) as well
    promise(d, loan_d, moment(15, 12))  # after the period ending on the 14th
    pay(loan_d, "30.00", date(2026, 6, 9))  # a (d), 7 days later
    pay(loan_e, "20.00", date(2026, 6, 3))  # c (e), the same day
    pay(loan_e, "10.00", date(2026, 6, 1))  # before e's messages: not attributed
    return scene


PERIODS = [
    (SINCE, TODAY, 7),
    (SINCE, TODAY, 1),
    (SINCE, TODAY, 13),
    (SINCE, TODAY, 60),
    (date(2026, 6, 1), date(2026, 6, 4), 3),
    (date(2026, 6, 2), date(2026, 6, 14), 7),
    (date(2026, 6, 14), date(2026, 6, 14), 1),
    (date(2026, 4, 1), date(2026, 4, 30), 7),
]


@pytest.mark.parametrize(("since", "until", "days"), PERIODS)
def test_the_figures_are_those_of_the_former_queries(more, since, until, days):
    expected = old_figures(since, until, days)

    got = new_figures(since, until, days)

    assert got["channels"] == expected["channels"]
    assert got["agents"] == expected["agents"]
    # The report lists every step, with zeros for a step with no message.
    for pk, value in expected["steps"].items():
        if pk in got["steps"]:
            assert got["steps"][pk] == value, pk
    for pk, value in got["steps"].items():
        assert value == expected["steps"].get(pk, numbers(Funnel())), pk


def test_the_data_set_has_something_in_every_figure(more):
    """The comparison means something: each figure is non-zero somewhere."""
    figures = old_figures(SINCE, TODAY, 13)
    channels = figures["channels"]
    assert set(channels) == {"sms", "whatsapp", "email"}
    totals = [sum(row[i] for row in channels.values()) for i in range(7)]
    assert all(totals), totals
    steps = list(figures["steps"].values())
    assert sum(row[7] for row in steps) and sum(row[8] for row in steps)
    assert len(figures["agents"]) == 2
    assert all(answered for _, answered in figures["agents"].values())
    assert figures["steps"][more["a"].pk][9] == {"PEN": Decimal("80.00")}


def test_the_report_asks_eight_queries(more, django_assert_num_queries):
    with django_assert_num_queries(8):
        effectiveness.report(since=SINCE, until=TODAY, days=7)
