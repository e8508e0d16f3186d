"""After a stop, beat sends every missed daily job at once, at whatever hour it is: the
flows (09:00) could run before the loans' nightly (01:15) and at 03:00. They now wait for
09:00, run the nightly first when it has not run today, and {dias_atraso} is counted for
the day the message is written, not read from the last night's figure."""

from datetime import datetime, time, timedelta

import time_machine
from django.core.cache import cache

from collections_app.models import FlowRun
from collections_app.strategies import tasks as strategy_tasks
from collections_app.strategies import variables
from credits.models import Loan
from credits.services import nightly
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies import flow_fixtures
from tests.collections_app.strategies.conftest import FLOW_DUE_DATE, make_template
from tests.credits.conftest import LIMA


def test_days_past_due_in_a_message_are_todays_when_the_nightly_is_behind(flow_debtor):
    loan = flow_debtor.loans.get()
    recipient = variables.Recipient(flow_debtor, receivable_id=loan.pk, due_date=FLOW_DUE_DATE)
    three_days_later = TODAY + timedelta(days=3)

    # The nightly last ran on TODAY (5 days late then); nothing has run since.
    (values,) = variables.load_values([recipient], "vigente", three_days_later)

    assert Loan.objects.get(pk=loan.pk).days_past_due == 5
    assert values["dias_atraso"] == "8"


def _a_flow_and_its_debtor():
    template = make_template(name="Mora 5", body="Hola {nombre}: {dias_atraso} días de atraso.")
    flow = flow_fixtures.make_flow(flow_fixtures.whole_portfolio(), [(5, template)])
    flow_fixtures.debtor_due(-5)
    return flow


def test_the_flows_task_does_nothing_before_nine_in_the_morning(db):
    _a_flow_and_its_debtor()
    cache.clear()

    with time_machine.travel(datetime.combine(TODAY, time(3, 0), tzinfo=LIMA), tick=False):
        ran = strategy_tasks.run_flows()

    assert ran == 0
    assert not FlowRun.objects.exists()
    assert not nightly.ran(TODAY)


def test_the_flows_task_runs_the_nightly_first_when_it_has_not_run_today(db):
    _a_flow_and_its_debtor()
    loan = Loan.objects.get()
    Loan.objects.filter(pk=loan.pk).update(days_past_due=2)  # the figure of 3 nights ago
    cache.clear()

    with time_machine.travel(datetime.combine(TODAY, time(10, 0), tzinfo=LIMA), tick=False):
        ran = strategy_tasks.run_flows()

    assert ran == 1
    assert nightly.ran(TODAY)
    assert Loan.objects.get(pk=loan.pk).days_past_due == 5


def test_the_flows_task_does_not_run_the_nightly_twice(db, monkeypatch):
    _a_flow_and_its_debtor()
    cache.clear()
    calls = []
    monkeypatch.setattr(nightly.delinquency, "update_delinquency", lambda **kw: calls.append(kw))

    with time_machine.travel(datetime.combine(TODAY, time(1, 15), tzinfo=LIMA), tick=False):
        nightly.run()
    with time_machine.travel(datetime.combine(TODAY, time(9, 0), tzinfo=LIMA), tick=False):
        strategy_tasks.run_flows()
        strategy_tasks.resume_flows()

    assert calls == [{"today": TODAY}]
