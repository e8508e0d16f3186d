""" "Ejecutar hoy" whose task never ran (the broker lost it at the commit, or its worker
died first): the request stays on the flow, and beat's sweep (resume_runs) does the run.
The clock is frozen at 12:00 on TODAY; the flows below were edited at 11:00, after the
day's run time, the case the screen sends to «Ejecutar hoy»."""

from datetime import timedelta

import kombu.exceptions
import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from collections_app.models import Flow, FlowRun
from collections_app.strategies import flows
from crm.models import Message
from lib import queue
from tests.collections_app.conftest import TODAY, at
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import debtor_due, make_flow, whole_portfolio

pytestmark = pytest.mark.django_db


@pytest.fixture
def late_flow(db):
    """An active flow with one step (due today) and one debtor, edited at 11:00."""
    debtor_due(0)
    sms = make_template(name="Recordatorio", body="Hola {nombre}")
    with at(TODAY, 11):
        return make_flow(whole_portfolio(), [(0, sms)])


def broker_down(*args, **kwargs):
    raise kombu.exceptions.OperationalError("Error 111 connecting to redis:6379.")


def later(minutes: int):
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


def sent() -> int:
    return Message.objects.filter(origin=flows.ORIGIN).count()


def test_run_today_whose_task_the_broker_lost_is_run_by_the_next_sweep(
    client, cobranzas, late_flow, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(queue, "send_now", broker_down)
    monkeypatch.setattr(queue, "runs_inline", lambda: False)  # as in production
    client.force_login(cobranzas)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("collections_app:flow_run", args=[late_flow.pk]),
            {"confirm": "yes"},
            follow=True,
        )

    assertContains(response, "Ejecución de hoy en cola")
    assert not FlowRun.objects.exists()
    late_flow.refresh_from_db()
    assert late_flow.run_requested_on == TODAY
    with later(15):
        runs = flows.resume_runs()

    assert [(run.run_on, run.status, run.queued) for run in runs] == [
        (TODAY, FlowRun.Status.DONE, 1)
    ]
    assert sent() == 1
    late_flow.refresh_from_db()
    assert late_flow.run_requested_on is None
    # Answered: the next sweeps do nothing more.
    with later(30):
        assert flows.resume_runs() == []
    assert sent() == 1


def test_the_sweep_runs_a_request_made_before_the_days_run_time(late_flow):
    Flow.objects.filter(pk=late_flow.pk).update(run_requested_on=TODAY)

    with at(TODAY, 8):
        runs = flows.resume_runs()

    assert [run.status for run in runs] == [FlowRun.Status.DONE]
    assert sent() == 1


def test_a_request_of_another_day_or_of_a_switched_off_flow_is_not_run(late_flow):
    Flow.objects.filter(pk=late_flow.pk).update(run_requested_on=TODAY - timedelta(days=1))
    assert flows.resume_runs() == []
    Flow.objects.filter(pk=late_flow.pk).update(run_requested_on=TODAY, is_active=False)
    assert flows.resume_runs() == []
    assert sent() == 0


def test_the_task_answers_the_request_and_the_sweep_does_not_run_it_again(
    late_flow, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        flows.request_run(flow=late_flow)  # eager: the task runs at the commit

    late_flow.refresh_from_db()
    assert late_flow.run_requested_on is None
    assert flows.resume_runs() == []
    assert sent() == 1


def test_a_failed_run_is_taken_up_for_a_lost_request_but_not_past_its_attempts(late_flow):
    step = late_flow.steps.get()
    run = FlowRun.objects.create(
        step=step, run_on=TODAY, status=FlowRun.Status.FAILED, error="OperationalError: …"
    )
    Flow.objects.filter(pk=late_flow.pk).update(run_requested_on=TODAY)

    runs = flows.resume_runs()

    assert [(r.pk, r.status, r.attempt) for r in runs] == [(run.pk, FlowRun.Status.DONE, 2)]
    # One that already failed its last attempt waits for someone to click again.
    FlowRun.objects.filter(pk=run.pk).update(
        status=FlowRun.Status.FAILED, attempt=flows.MAX_ATTEMPTS
    )
    Flow.objects.filter(pk=late_flow.pk).update(run_requested_on=TODAY)
    assert flows.resume_runs() == []
