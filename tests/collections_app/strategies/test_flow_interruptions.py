"""Flow runs a worker left halfway (OOM, SIGKILL, a deploy): taken up after the last customer
processed, each customer counted once, by "Ejecutar hoy" or by beat's sweep every 15
minutes, which also runs the steps left without a run and closes, saying why, the runs
that may not go on.

A worker's death is a SystemExit raised before a chunk: no `except Exception` catches it,
no `finally` of ours runs, as with a SIGKILL. The clock stays frozen at 12:00 on TODAY.
"""

from datetime import timedelta

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from collections_app.models import FlowRun
from collections_app.strategies import flows
from collections_app.strategies import tasks as strategy_tasks
from crm.models import Interaction, Message
from tests.collections_app.conftest import TODAY, at
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import debtor_due, make_flow, whole_portfolio

pytestmark = pytest.mark.django_db


@pytest.fixture
def all_debtors(db):
    return whole_portfolio()


@pytest.fixture
def sms(db):
    return make_template(name="Recordatorio", body="Hola {nombre}")


def later(minutes: int):
    """Move the frozen clock `minutes` on (back, if negative) from where it stands."""
    return time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=False)


def die_after(monkeypatch, chunks: int) -> None:
    """Make the worker die (SIGKILL) before its chunk number `chunks` + 1."""
    real = flows._send_chunk
    sent = []

    def send_chunk(*args, **kwargs):
        if len(sent) == chunks:
            raise SystemExit("SIGKILL")
        sent.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(flows, "_send_chunk", send_chunk)


def figures(run: FlowRun) -> tuple:
    return (run.status, run.selected, run.queued, run.skipped_opted_out)


def flow_messages(step) -> list[int]:
    return sorted(
        Message.objects.filter(origin=flows.ORIGIN, origin_id=step.pk).values_list(
            "customer_id", flat=True
        )
    )


def early_flow(segment, steps, **kwargs):
    """A flow saved and switched on at 08:00, before the day's run time."""
    with at(TODAY, 8):
        return make_flow(segment, steps, **kwargs)


# --- The cursor: each customer once ---------------------------------------------------------


def test_a_run_taken_up_after_a_dead_worker_counts_each_customer_once(
    all_debtors, sms, monkeypatch
):
    opted_out = debtor_due(0)
    opted_out.customer.has_opted_out = True
    opted_out.customer.save()
    second = debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])
    step = flow.steps.get()
    before = Interaction.objects.filter(customer=opted_out.customer).count()
    die_after(monkeypatch, 1)
    with pytest.raises(SystemExit):
        flows.run_step(step, TODAY, chunk_size=1)
    monkeypatch.undo()

    with later(60):
        run = flows.run_step(step, TODAY, chunk_size=1)

    skipped_entries = Interaction.objects.filter(customer=opted_out.customer).count() - before
    assert figures(run) == (FlowRun.Status.DONE, 2, 1, 1)
    assert skipped_entries == 1
    assert run.last_customer_id == second.customer_id
    assert flow_messages(step) == [second.customer_id]


def test_a_chunk_moves_the_cursor_with_its_counts(all_debtors, sms, monkeypatch):
    first, _second = debtor_due(0), debtor_due(0)
    step = make_flow(all_debtors, [(0, sms)]).steps.get()
    die_after(monkeypatch, 1)

    with pytest.raises(SystemExit):
        flows.run_step(step, TODAY, chunk_size=1)

    run = FlowRun.objects.get()
    assert (run.status, run.selected, run.queued, run.last_customer_id) == (
        FlowRun.Status.RUNNING,
        1,
        1,
        first.customer_id,
    )


def test_a_worker_thought_dead_that_wakes_up_sends_nothing_twice(all_debtors, sms, monkeypatch):
    """A's worker stalls 10 minutes before its second chunk; B takes the run up meanwhile,
    and dies before sending. A's chunk finds another attempt: it rolls back and A stops."""
    for _ in range(3):
        debtor_due(0)
    step = make_flow(all_debtors, [(0, sms)]).steps.get()
    real = flows._send_chunk
    calls = []

    def dies(*args, **kwargs):
        raise SystemExit("SIGKILL")

    def stalled_send_chunk(run, *args, **kwargs):
        calls.append(run.attempt)
        if len(calls) == 2:  # A, before its second chunk: asleep while B takes the run up
            monkeypatch.setattr(flows, "_send_chunk", dies)
            with later(10), pytest.raises(SystemExit):
                flows.run_step(step, TODAY, chunk_size=1)
        return real(run, *args, **kwargs)

    monkeypatch.setattr(flows, "_send_chunk", stalled_send_chunk)
    woken = flows.run_step(step, TODAY, chunk_size=1)
    monkeypatch.setattr(flows, "_send_chunk", real)

    # A stopped after its first chunk, leaving B's claim as it was.
    assert (woken.status, woken.attempt, woken.selected) == (FlowRun.Status.RUNNING, 2, 1)
    assert len(flow_messages(step)) == 1
    with later(30):
        flows.resume_runs()
    run = FlowRun.objects.get()
    assert run.attempt == 3
    assert figures(run) == (FlowRun.Status.DONE, 3, 3, 0)
    assert len(flow_messages(step)) == 3


# --- The sweep ------------------------------------------------------------------------------


def test_the_sweep_takes_up_a_run_of_today_without_progress(all_debtors, sms, monkeypatch):
    for _ in range(3):
        debtor_due(0)
    step = make_flow(all_debtors, [(0, sms)]).steps.get()
    die_after(monkeypatch, 1)
    with pytest.raises(SystemExit):
        flows.run_step(step, TODAY, chunk_size=1)
    monkeypatch.undo()

    with later(flows.STALE_RUN.seconds // 60 + 1):
        runs = strategy_tasks.resume_flows()

    run = FlowRun.objects.get()
    assert runs == 1
    assert figures(run) == (FlowRun.Status.DONE, 3, 3, 0)
    assert run.attempt == 2
    assert len(flow_messages(step)) == 3


def test_the_sweep_leaves_a_run_making_progress_to_its_worker(all_debtors, sms):
    debtor_due(0)
    step = make_flow(all_debtors, [(0, sms)]).steps.get()
    FlowRun.objects.create(step=step, run_on=TODAY, heartbeat_at=timezone.now())

    with later(flows.STALE_RUN.seconds // 60 - 1):
        flows.resume_runs()

    run = FlowRun.objects.get()
    assert (run.status, run.attempt, run.selected) == (FlowRun.Status.RUNNING, 1, 0)
    assert not Message.objects.exists()


def test_the_sweep_runs_the_steps_a_dead_morning_run_never_reached(all_debtors, sms, monkeypatch):
    debtor_due(0)
    debtor_due(-5)
    first = early_flow(all_debtors, [(0, sms)], name="A").steps.get()
    second = early_flow(all_debtors, [(5, sms)], name="B").steps.get()
    die_after(monkeypatch, 0)
    with at(TODAY, 9), pytest.raises(SystemExit):
        flows.run_flows(TODAY)  # dies in the first step: the second gets no run
    monkeypatch.undo()
    assert list(FlowRun.objects.values_list("step_id", flat=True)) == [first.pk]

    with at(TODAY, 9), later(15):
        flows.resume_runs()

    runs = {run.step_id: figures(run) for run in FlowRun.objects.all()}
    assert runs == {
        first.pk: (FlowRun.Status.DONE, 1, 1, 0),
        second.pk: (FlowRun.Status.DONE, 1, 1, 0),
    }


def test_the_sweep_runs_no_step_before_the_days_run_time(all_debtors, sms):
    debtor_due(0)
    early_flow(all_debtors, [(0, sms)])

    with at(TODAY, 8):
        assert flows.resume_runs() == []

    assert not FlowRun.objects.exists()


def test_a_flow_switched_on_after_the_run_time_waits_for_tomorrow(all_debtors, sms):
    debtor_due(0)
    make_flow(all_debtors, [(0, sms)])  # at 12:00, after 09:00

    with later(15):
        assert flows.resume_runs() == []

    assert not FlowRun.objects.exists()


def test_a_past_days_stale_run_is_closed_as_failed_saying_its_day_is_gone(all_debtors, sms):
    step = make_flow(all_debtors, [(0, sms)]).steps.get()
    yesterday = TODAY - timedelta(days=1)
    with at(yesterday, 9):
        FlowRun.objects.create(
            step=step, run_on=yesterday, heartbeat_at=timezone.now(), selected=4, queued=4
        )

    flows.resume_runs()

    run = FlowRun.objects.get(run_on=yesterday)
    assert (run.status, run.selected, run.queued) == (FlowRun.Status.FAILED, 4, 4)
    assert run.error == (
        "La ejecución se interrumpió (el proceso en segundo plano se detuvo) y su día ya "
        "pasó: no se reanudará. Los clientes que faltaban no recibieron este paso ese día."
    )
    assert run.finished_at == timezone.now()
    assert not Message.objects.filter(origin=flows.ORIGIN).exists()


def test_a_stale_run_of_a_switched_off_flow_is_closed_as_failed(all_debtors, sms):
    debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])
    with later(-60):
        FlowRun.objects.create(step=flow.steps.get(), run_on=TODAY, heartbeat_at=timezone.now())
    flows.set_active(flow=flow, is_active=False, actor=None)

    flows.resume_runs()

    run = FlowRun.objects.get()
    assert run.status == FlowRun.Status.FAILED
    assert "el flujo ya está desactivado: no se reanudará" in run.error
    assert not Message.objects.exists()


def test_a_run_that_keeps_dying_is_closed_after_its_last_attempt(all_debtors, sms):
    debtor_due(0)
    step = make_flow(all_debtors, [(0, sms)]).steps.get()
    with later(-60):
        FlowRun.objects.create(
            step=step, run_on=TODAY, heartbeat_at=timezone.now(), attempt=flows.MAX_ATTEMPTS
        )

    flows.resume_runs()

    run = FlowRun.objects.get()
    assert run.status == FlowRun.Status.FAILED
    assert run.error == (
        "La ejecución se intentó 3 veces sin terminar y no se reanuda sola. Use «Ejecutar "
        "hoy» para seguir desde el último cliente procesado."
    )
    assert not Message.objects.exists()
    # "Ejecutar hoy" still takes it up, after its last customer.
    assert flows.run_flow(step.flow, TODAY)[0].status == FlowRun.Status.DONE


def test_two_sweeps_at_once_do_nothing_twice(all_debtors, sms, monkeypatch):
    """A second sweep starts while the first is sending the first step: the stale run it
    finds is the first sweep's, fresh; the step left without a run is run once."""
    for _ in range(2):
        debtor_due(0)
        debtor_due(-5)
    first = early_flow(all_debtors, [(0, sms)], name="A").steps.get()
    second = early_flow(all_debtors, [(5, sms)], name="B").steps.get()
    with later(-60):
        FlowRun.objects.create(step=first, run_on=TODAY, heartbeat_at=timezone.now())
    real = flows._send_chunk
    inner = []

    def send_chunk(*args, **kwargs):
        if not inner:
            inner.append("started")
            inner.append(flows.resume_runs())
        return real(*args, **kwargs)

    monkeypatch.setattr(flows, "_send_chunk", send_chunk)

    flows.resume_runs()

    runs = {run.step_id: (run.attempt, *figures(run)) for run in FlowRun.objects.all()}
    assert runs == {
        first.pk: (2, FlowRun.Status.DONE, 2, 2, 0),
        second.pk: (1, FlowRun.Status.DONE, 2, 2, 0),
    }
    assert len(flow_messages(first)) == len(flow_messages(second)) == 2
    # The inner sweep ran the second step only: the first's run was the outer sweep's.
    assert [run.step_id for run in inner[1]] == [second.pk]


# --- What the screens and beat say ----------------------------------------------------------


def test_the_runs_list_says_a_stalled_run_resumes_by_itself(client, cobranzas, all_debtors, sms):
    flow = make_flow(all_debtors, [(0, sms)])
    with later(-60):
        FlowRun.objects.create(step=flow.steps.get(), run_on=TODAY, heartbeat_at=timezone.now())
    client.force_login(cobranzas)

    response = client.get(reverse("collections_app:flow_detail", args=[flow.pk]))

    assertContains(response, "Interrumpida")
    assertContains(response, "se reanudará solo en unos minutos, desde el último cliente")


@pytest.mark.parametrize(
    ("minutes_ago", "said"), [(60, "no enviará más mensajes"), (1, "en curso")]
)
def test_switching_off_a_flow_says_a_stalled_run_sends_no_more(
    client, cobranzas, all_debtors, sms, minutes_ago, said
):
    # A run whose worker died was said to "terminar de enviar sus mensajes".
    flow = make_flow(all_debtors, [(0, sms)])
    with later(-minutes_ago):
        FlowRun.objects.create(step=flow.steps.get(), run_on=TODAY, heartbeat_at=timezone.now())
    client.force_login(cobranzas)

    response = client.post(
        reverse("collections_app:flow_set_active", args=[flow.pk]),
        {"active": "0", "confirm": "yes"},
        follow=True,
    )

    assertContains(response, said)


def test_beat_sweeps_every_15_minutes_and_the_run_time_is_the_mornings_run():
    sweep = settings.CELERY_BEAT_SCHEDULE["collections-resume-flows"]
    morning = settings.CELERY_BEAT_SCHEDULE["collections-run-flows"]["schedule"]

    assert sweep["task"] == strategy_tasks.resume_flows.name
    assert sweep["schedule"] == crontab(minute="*/15")
    assert (morning.hour, morning.minute) == ({flows.RUN_AT.hour}, {flows.RUN_AT.minute})
