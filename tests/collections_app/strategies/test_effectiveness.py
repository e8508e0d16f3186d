"""Effectiveness: per flow and step, agent and channel, with concrete numbers.

The messages are rows as crm.messages stores them (status moved by the providers'
callbacks), written directly so each one's moment is the test's to choose. TODAY is 15
June 2026; the default period is the 30 days up to it, with 7 days of attribution.
"""

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains

from collections_app.models import PaymentPromise
from collections_app.strategies import effectiveness, flows
from collections_app.strategies import tasks as strategy_tasks
from credits.models import Payment
from crm.models import Message
from tests.collections_app.conftest import TODAY, pay
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import make_flow, whole_portfolio
from tests.credits.conftest import LIMA
from tests.factories import CustomerFactory

SINCE = date(2026, 5, 17)


def moment(day: int, hour: int = 10, month: int = 6) -> datetime:
    return datetime.combine(date(2026, month, day), time(hour), tzinfo=LIMA)


def outbound(customer, at, status, *, step=None, channel=Message.Channel.SMS, actor=None):
    return Message.objects.create(
        customer=customer,
        channel=channel,
        direction=Message.Direction.OUTBOUND,
        status=status,
        body="…",
        origin=flows.ORIGIN if step else "",
        origin_id=step.pk if step else None,
        actor=actor,
        created_at=at,
        due_at=at,
    )


def inbound(customer, at, channel=Message.Channel.WHATSAPP):
    return Message.objects.create(
        customer=customer,
        channel=channel,
        direction=Message.Direction.INBOUND,
        status=Message.Status.RECEIVED,
        body="Ok, pago mañana",
        created_at=at,
        due_at=at,
    )


def promise(customer, loan, at, *, created_by=None):
    return PaymentPromise.objects.create(
        customer=customer,
        receivable_kind="loan",
        receivable_id=loan.pk if loan else 1,
        receivable_code=loan.payment_code if loan else "X",
        amount=Decimal("100.00"),
        promised_on=TODAY,
        created_at=at,
        created_by=created_by,
    )


@pytest.fixture
def all_debtors(db):
    return whole_portfolio()


@pytest.fixture
def scene(all_debtors, make_active_loan, cobranzas):
    """Two flows: «Recordatorios» (−3 SMS, 0 WhatsApp) and «Mora» (+5 SMS); four debtors."""
    sms = make_template(name="Aviso SMS", body="Hola {nombre}")
    whatsapp = make_template(
        name="Aviso WhatsApp",
        channel="whatsapp",
        body="Hola {nombre}",
        whatsapp_name="aviso",
    )
    reminders = make_flow(all_debtors, [(-3, sms), (0, whatsapp)], name="Recordatorios")
    late = make_flow(all_debtors, [(5, sms)], name="Mora")
    a, b = reminders.steps.order_by("day_offset")
    c = late.steps.get()
    c1, c2, c3, c4 = (CustomerFactory(first_name=name) for name in ("Uno", "Dos", "Tres", "Cuatro"))
    loan1 = make_active_loan(customer=c1)
    loan2 = make_active_loan(customer=c2)

    outbound(c1, moment(1), Message.Status.READ, step=a)
    outbound(c2, moment(1), Message.Status.DELIVERED, step=a)
    outbound(c3, moment(1), Message.Status.FAILED, step=a)
    outbound(c4, moment(1), Message.Status.SENT, step=a)
    outbound(c1, moment(1, month=5), Message.Status.READ, step=a)  # before the period
    outbound(c1, moment(4), Message.Status.READ, step=b, channel=Message.Channel.WHATSAPP)
    outbound(c2, moment(4), Message.Status.QUEUED, step=b, channel=Message.Channel.WHATSAPP)
    outbound(c3, moment(10), Message.Status.DELIVERED, step=c)
    # An agent's reply from the inbox.
    outbound(
        c2,
        moment(5),
        Message.Status.DELIVERED,
        channel=Message.Channel.WHATSAPP,
        actor=cobranzas,
    )

    inbound(c1, moment(5, 12))  # answers A and B (c1)
    inbound(c2, moment(6, 9))  # answers A and B (c2), and the agent

    promise(c1, loan1, moment(6, 12))  # after B (c1)
    promise(c3, None, moment(12))  # after C (c3)
    promise(c2, loan2, moment(5, 12), created_by=cobranzas)  # after B (c2)
    promise(c4, None, moment(12))  # A (c4) was 11 days before: not attributed

    pay(loan1, "100.00", date(2026, 6, 6))  # after B (c1)
    pay(loan2, "50.00", date(2026, 6, 3))  # after A (c2)
    annulled = pay(loan2, "70.00", date(2026, 6, 4))
    Payment.objects.filter(pk=annulled.pk).update(status=Payment.Status.ANNULLED)
    return {"a": a, "b": b, "c": c, "reminders": reminders, "late": late, "agent": cobranzas}


def figures(funnel):
    return (
        funnel.messages,
        funnel.sent,
        funnel.delivered,
        funnel.read,
        funnel.failed,
        funnel.answered,
        funnel.promises,
        funnel.collected,
    )


def steps_of(result):
    return {step.step.pk: step.funnel for row in result.flows for step in row.steps}


def test_each_step_counts_its_messages_their_answers_promises_and_money(scene):
    result = effectiveness.report(since=SINCE, until=TODAY, days=7)

    by_step = steps_of(result)
    assert figures(by_step[scene["a"].pk]) == (4, 3, 2, 1, 1, 2, 0, {"PEN": Decimal("50.00")})
    assert figures(by_step[scene["b"].pk]) == (2, 1, 1, 1, 0, 2, 2, {"PEN": Decimal("100.00")})
    assert figures(by_step[scene["c"].pk]) == (1, 1, 1, 0, 0, 0, 1, {})


def test_a_flow_adds_up_its_steps_with_rates(scene):
    result = effectiveness.report(since=SINCE, until=TODAY, days=7)

    late, reminders = result.flows  # by name
    assert (late.flow.name, reminders.flow.name) == ("Mora", "Recordatorios")
    funnel = reminders.funnel
    assert figures(funnel) == (6, 4, 3, 2, 1, 4, 2, {"PEN": Decimal("150.00")})
    assert funnel.delivered_rate == Decimal("50.0")
    assert funnel.read_rate == Decimal("33.3")
    assert funnel.answered_rate == Decimal("66.7")
    assert funnel.promise_rate == Decimal("33.3")
    assert figures(result.total) == (7, 5, 4, 2, 1, 4, 3, {"PEN": Decimal("150.00")})


def test_agents_count_their_replies_the_answers_and_the_promises_they_registered(scene):
    result = effectiveness.report(since=SINCE, until=TODAY, days=7)

    [agent] = result.agents
    assert agent.user == scene["agent"]
    assert (agent.replies, agent.answered, agent.promises) == (1, 1, 1)
    assert agent.answered_rate == Decimal("100.0")


def test_channels_count_every_outbound_message_of_the_period(scene):
    result = effectiveness.report(since=SINCE, until=TODAY, days=7)

    by_channel = {row.channel: row.funnel for row in result.channels}
    assert set(by_channel) == {"sms", "whatsapp"}
    sms, whatsapp = by_channel["sms"], by_channel["whatsapp"]
    assert (sms.messages, sms.delivered, sms.read, sms.failed, sms.answered) == (5, 3, 1, 1, 2)
    assert (whatsapp.messages, whatsapp.delivered, whatsapp.answered) == (3, 2, 3)


def test_one_day_of_attribution_counts_only_what_came_within_a_day(scene):
    result = effectiveness.report(since=SINCE, until=TODAY, days=1)

    by_step = steps_of(result)
    assert [by_step[scene[k].pk].answered for k in "abc"] == [0, 0, 0]
    assert [by_step[scene[k].pk].promises for k in "abc"] == [0, 0, 0]
    assert result.total.collected == {}
    assert [(a.replies, a.answered) for a in result.agents] == [(1, 1)]


def test_a_period_before_the_messages_counts_none_of_them(scene):
    result = effectiveness.report(since=date(2026, 4, 1), until=date(2026, 4, 30), days=7)

    assert figures(result.total) == (0, 0, 0, 0, 0, 0, 0, {})
    assert result.channels == []


def test_the_report_costs_the_same_queries_however_many_flows_and_messages(
    scene, all_debtors, django_assert_num_queries
):
    with django_assert_num_queries(8):
        effectiveness.report(since=SINCE, until=TODAY, days=7)
    more = make_flow(all_debtors, [(1, scene["a"].template), (2, scene["a"].template)], name="Otro")
    for step in more.steps.all():
        for _ in range(3):
            outbound(CustomerFactory(), moment(8), Message.Status.READ, step=step)

    with django_assert_num_queries(8):
        effectiveness.report(since=SINCE, until=TODAY, days=7)


def test_the_chart_draws_the_funnel_of_each_flow(scene):
    result = effectiveness.report(since=SINCE, until=TODAY, days=7)

    chart = result.chart
    assert chart["type"] == "bar"
    assert chart["labels"] == ["Mora", "Recordatorios"]
    assert [dataset["data"] for dataset in chart["datasets"]] == [
        [1, 6],
        [1, 3],
        [0, 2],
        [0, 4],
        [1, 2],
    ]


# --- The page -------------------------------------------------------------------------------


def test_the_page_shows_the_last_30_days_with_7_days_of_attribution(client, scene):
    client.force_login(scene["agent"])

    response = client.get(reverse("collections_app:effectiveness"))

    assert response.status_code == 200
    report = response.context["report"]
    assert (report.since, report.until, report.days) == (SINCE, TODAY, 7)
    assertContains(response, f'id="effectiveness-step-{scene["b"].pk}"')
    assertContains(response, 'data-chart="flows-chart"')
    assertContains(response, "S/ 150.00")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"days": "0"}, "Los días de atribución van de 1 a 60."),
        ({"days": "61"}, "Los días de atribución van de 1 a 60."),
        ({"since": "2026-06-10", "until": "2026-06-01"}, "La fecha final es anterior a la"),
        ({"since": "2025-01-01", "until": "2026-06-01"}, "Elija un período de hasta 366 días."),
        ({"since": "fecha"}, "Escriba una fecha válida."),
    ],
)
def test_the_page_refuses_a_bad_period_with_a_clear_message(client, cobranzas, query, message):
    client.force_login(cobranzas)

    response = client.get(reverse("collections_app:effectiveness"), query)

    assert response.status_code == 200
    assertContains(response, message)
    assertContains(response, "se muestran los últimos 30 días")
    assert response.context["report"].days == 7


def test_the_page_is_for_collections_staff_only(client, outsider):
    client.force_login(outsider)

    assert client.get(reverse("collections_app:effectiveness")).status_code == 403


def test_a_message_written_to_the_log_is_counted_apart_never_as_sent(
    client, scene, all_debtors, cobranzas
):
    # Without a provider configured a message is written to the log: its status is "sent",
    # but it reached nobody. The report said it had been sent.
    a = scene["a"]
    for name in ("Cinco", "Seis"):
        logged = outbound(CustomerFactory(first_name=name), moment(2), Message.Status.SENT, step=a)
        Message.objects.filter(pk=logged.pk).update(provider="log")

    result = effectiveness.report(since=SINCE, until=TODAY, days=7)
    client.force_login(cobranzas)
    page = client.get(reverse("collections_app:effectiveness"))

    funnel = steps_of(result)[a.pk]
    assert (funnel.messages, funnel.sent, funnel.logged) == (6, 3, 2)
    assert result.total.logged == 2
    sms = next(row for row in result.channels if row.channel == Message.Channel.SMS)
    assert sms.funnel.logged == 2
    assertContains(page, "2 mensajes del período se registraron sin enviarse")
    assertContains(page, "y 2 registrados, no enviados")


# --- The kept report ------------------------------------------------------------------------


def test_the_page_shows_the_kept_report_with_its_time(client, scene):
    # At a million messages the report takes about 2 s: the page reads it kept, says when it
    # was computed, and «Recalcular ahora» computes it again.
    client.force_login(scene["agent"])
    first = client.get(reverse("collections_app:effectiveness"))
    outbound(CustomerFactory(first_name="Nuevo"), moment(3), Message.Status.SENT, step=scene["a"])

    kept = client.get(reverse("collections_app:effectiveness"))
    fresh = client.get(reverse("collections_app:effectiveness"), {"recalcular": "1"})

    step = scene["a"].pk
    assert steps_of(first.context["report"])[step].messages == 4
    assert steps_of(kept.context["report"])[step].messages == 4
    assert steps_of(fresh.context["report"])[step].messages == 5
    assertContains(kept, "se recalcula cada 5 minutos.")
    assertContains(kept, 'href="?recalcular=1"')


def test_a_period_asked_for_keeps_its_own_report(client, scene):
    client.force_login(scene["agent"])
    client.get(reverse("collections_app:effectiveness"))

    one_day = client.get(reverse("collections_app:effectiveness"), {"days": "1"})

    assert one_day.context["report"].days == 1
    assertContains(one_day, 'href="?days=1&amp;recalcular=1"')


def test_beat_keeps_the_report_the_page_opens_on(client, scene):
    assert strategy_tasks.refresh_effectiveness() == "2026-05-17..2026-06-15+7"
    client.force_login(scene["agent"])

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("collections_app:effectiveness"))

    assert response.status_code == 200
    assert not [q for q in queries if "crm_message" in q["sql"]]
    entry = settings.CELERY_BEAT_SCHEDULE["collections-refresh-effectiveness"]
    assert entry["task"] == strategy_tasks.refresh_effectiveness.name
