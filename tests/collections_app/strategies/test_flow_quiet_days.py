"""A day without messages (the message policy's weekdays and holidays): flows do not run on
it. Holding their messages to the next morning sent a «hoy vence» a day late, to debtors
who had paid since."""

from datetime import time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains

from collections_app.models import FlowRun
from collections_app.strategies import flows
from crm.models import Message, MessagePolicy
from tests.collections_app.conftest import TODAY, at
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import debtor_due, make_flow, whole_portfolio

pytestmark = pytest.mark.django_db


@pytest.fixture
def quiet_today(db):
    """TODAY is a holiday; no quiet hours, so nothing else holds a message."""
    return MessagePolicy.objects.create(
        pk=1,
        quiet_start=time(0),
        quiet_end=time(0),
        daily_limit=5,
        quiet_dates=[[TODAY.isoformat(), "Feriado"]],
    )


@pytest.fixture
def flow(quiet_today):
    debtor_due(0)
    debtor_due(-1)
    sms = make_template(name="Recordatorio", body="Hola {nombre}")
    with at(TODAY - timedelta(days=2), 8):
        return make_flow(whole_portfolio(), [(0, sms), (1, sms)])


def sent() -> int:
    return Message.objects.filter(origin=flows.ORIGIN).count()


def test_flows_do_not_run_on_a_day_without_messages(flow):
    with at(TODAY, 9):
        assert flows.run_flows() == []
    with at(TODAY, 12):
        assert flows.resume_runs() == []

    assert sent() == 0
    assert not FlowRun.objects.exists()


def test_the_next_day_runs_its_own_steps_only(flow):
    with at(TODAY, 9):
        flows.run_flows()
    with at(TODAY + timedelta(days=1), 9):
        runs = flows.run_flows()

    # Tomorrow: step 0 finds the installments due tomorrow (none), step +1 the one due today.
    assert [run.run_on for run in runs] == [TODAY + timedelta(days=1)] * 2
    assert sent() == 1


def test_run_today_is_refused_on_a_day_without_messages(client, cobranzas, flow):
    client.force_login(cobranzas)
    with at(TODAY, 10):
        with pytest.raises(ValidationError, match="Hoy es un día sin mensajes"):
            flows.request_run(flow=flow)
        response = client.post(
            reverse("collections_app:flow_run", args=[flow.pk]), {"confirm": "yes"}, follow=True
        )

    assertContains(response, "Hoy es un día sin mensajes")
    assert not FlowRun.objects.exists()
    flow.refresh_from_db()
    assert flow.run_requested_on is None
