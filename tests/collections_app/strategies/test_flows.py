"""The flow runner: which installments a step picks, what it sends, counts and skips, once
a day, in chunks of one bulk send and one Celery task each."""

from datetime import time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from collections_app.models import FlowRun, MessageTemplate
from collections_app.strategies import flows
from credits.models import Installment
from crm import messages
from crm.models import Interaction, Message, MessagePolicy, Tag
from lib import queue
from tests.collections_app.conftest import TODAY, at, pay
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import debtor_due, make_flow, whole_portfolio
from tests.factories import CustomerFactory

BATCH_TASK = "integrations.deliver_messages"


@pytest.fixture
def all_debtors(db):
    return whole_portfolio()


@pytest.fixture
def sms(db):
    return make_template(
        name="Recordatorio",
        body="Hola {nombre}, su cuota de {cuota} vence el {fecha_vencimiento}. {link_pago}",
    )


def flow_messages(step) -> list[Message]:
    return list(
        Message.objects.filter(origin=flows.ORIGIN, origin_id=step.pk).order_by("customer_id")
    )


def tasks_sent(callbacks, name: str) -> int:
    """Count the Celery tasks a transaction's on-commit callbacks send, by name."""
    return sum(
        1
        for callback in callbacks
        if getattr(callback, "func", None) is queue.send_now and callback.args[0] == name
    )


# --- Which installments a step picks -----------------------------------------------------


def test_each_offset_picks_the_installments_due_on_its_day(all_debtors, sms):
    early = debtor_due(3, first_name="Ana")  # due in three days: the −3 step
    on_day = debtor_due(0, first_name="Beto")  # due today: step 0
    late = debtor_due(-5, first_name="Carla")  # five days late: step +5
    debtor_due(4, first_name="Dina")  # due in four days: no step
    flow = make_flow(all_debtors, [(-3, sms), (0, sms), (5, sms)])
    minus_three, zero, plus_five = flow.steps.order_by("day_offset")

    runs = flows.run_flows(TODAY)

    assert [(run.step_id, run.selected, run.queued) for run in runs] == [
        (minus_three.pk, 1, 1),
        (zero.pk, 1, 1),
        (plus_five.pk, 1, 1),
    ]
    assert [m.customer_id for m in flow_messages(minus_three)] == [early.customer_id]
    assert [m.customer_id for m in flow_messages(zero)] == [on_day.customer_id]
    assert [m.customer_id for m in flow_messages(plus_five)] == [late.customer_id]
    assert Message.objects.filter(origin=flows.ORIGIN).count() == 3


def test_the_message_speaks_of_the_installment_due_on_the_steps_day(all_debtors, sms):
    loan = debtor_due(3, first_name="Ana")
    flow = make_flow(all_debtors, [(-3, sms)])

    flows.run_step(flow.steps.get(), TODAY)

    message = Message.objects.get(origin=flows.ORIGIN)
    assert message.channel == Message.Channel.SMS
    assert message.body.startswith("Hola Ana, su cuota de S/ 945.60 vence el 18/06/2026. http")
    assert message.customer_id == loan.customer_id
    assert message.is_capped


def test_paid_superseded_and_other_days_installments_are_left_out(all_debtors, sms):
    paid = debtor_due(3)
    pay(paid, "945.60", TODAY)
    superseded = debtor_due(3)
    Installment.objects.filter(loan=superseded, number=1).update(is_superseded=True)
    other_day = debtor_due(2)
    flow = make_flow(all_debtors, [(-3, sms)])

    run = flows.run_step(flow.steps.get(), TODAY)

    assert (run.selected, run.queued) == (0, 0)
    assert not Message.objects.filter(
        customer__in=[paid.customer, superseded.customer, other_day.customer]
    ).exists()
    assert run.status == FlowRun.Status.DONE


def test_a_castigada_customer_gets_no_flow_message(all_debtors, sms):
    written_off = debtor_due(0)
    written_off.customer.tags.add(Tag.objects.create(name="Cartera castigada"))
    current = debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])

    run = flows.run_step(flow.steps.get(), TODAY)

    assert run.selected == 1
    assert [m.customer_id for m in flow_messages(flow.steps.get())] == [current.customer_id]


def test_a_customer_with_two_loans_due_that_day_gets_one_message_about_the_first(all_debtors, sms):
    first = debtor_due(0)
    debtor_due(0, customer=first.customer)
    flow = make_flow(all_debtors, [(0, sms)])

    run = flows.run_step(flow.steps.get(), TODAY)

    assert (run.selected, run.queued) == (1, 1)
    assert Message.objects.filter(customer=first.customer).count() == 1


def test_inactive_flows_do_not_run(all_debtors, sms):
    debtor_due(0)
    make_flow(all_debtors, [(0, sms)], is_active=False)

    assert flows.run_flows(TODAY) == []
    assert not Message.objects.exists()


# --- What it sends and counts ------------------------------------------------------------


def test_every_send_is_on_the_timeline_with_its_flow_and_step(all_debtors, sms):
    loan = debtor_due(-5)
    flow = make_flow(all_debtors, [(5, sms)], name="Mora temprana")

    flows.run_step(flow.steps.get(), TODAY)

    entry = Interaction.objects.get(customer=loan.customer, kind=Interaction.Kind.SMS)
    assert entry.direction == Interaction.Direction.OUTBOUND
    assert entry.summary == "SMS en cola: Recordatorio"
    assert entry.payload[flows.FLOW_PAYLOAD] == "Mora temprana"
    assert entry.payload[flows.STEP_PAYLOAD] == "+5"
    assert entry.payload["mensaje"].startswith("Hola ")


def test_an_opted_out_customer_is_counted_as_skipped(all_debtors, sms):
    debtor_due(0, has_opted_out=True)
    debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])

    run = flows.run_step(flow.steps.get(), TODAY)

    assert (run.selected, run.queued, run.skipped_opted_out) == (2, 1, 1)
    assert Message.objects.count() == 1


def test_a_customer_without_phone_is_counted_as_skipped(all_debtors, sms):
    debtor_due(0, phone="")
    flow = make_flow(all_debtors, [(0, sms)])

    run = flows.run_step(flow.steps.get(), TODAY)

    assert (run.selected, run.queued, run.skipped_no_address) == (1, 0, 1)


def test_the_daily_cap_is_counted(all_debtors, sms):
    policy = MessagePolicy.current()
    policy.daily_limit = 1
    policy.save()
    capped = debtor_due(0)
    messages.send_customer_message(
        customer=capped.customer, channel=messages.SMS, subject="Otro", body="Otro", capped=True
    )
    debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])

    run = flows.run_step(flow.steps.get(), TODAY)

    assert (run.selected, run.queued, run.skipped_capped) == (2, 1, 1)
    assert not Message.objects.filter(customer=capped.customer, origin=flows.ORIGIN).exists()


def test_quiet_hours_hold_the_messages_and_the_run_counts_them(all_debtors, sms):
    policy = MessagePolicy.current()
    policy.quiet_start, policy.quiet_end = time(20), time(8)
    policy.save()
    debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])

    with at(TODAY, 21):
        run = flows.run_step(flow.steps.get(), TODAY)

    assert (run.queued, run.held) == (1, 1)
    message = Message.objects.get(origin=flows.ORIGIN)
    assert timezone.localtime(message.due_at).hour == 8


# --- Once a day, and taken up again -------------------------------------------------------


def test_a_second_run_the_same_day_sends_nothing(
    all_debtors, sms, django_capture_on_commit_callbacks
):
    debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])
    step = flow.steps.get()
    first = flows.run_step(step, TODAY)

    with django_capture_on_commit_callbacks() as callbacks:
        second = flows.run_step(step, TODAY)

    assert second.pk == first.pk
    assert (second.selected, second.queued) == (1, 1)
    assert Message.objects.count() == 1
    assert callbacks == []


def test_the_next_day_runs_again(all_debtors, sms):
    loan = debtor_due(-5)
    make_flow(all_debtors, [(5, sms), (6, sms)])
    flows.run_flows(TODAY)

    with at(TODAY + timedelta(days=1)):
        runs = flows.run_flows(TODAY + timedelta(days=1))

    assert [(run.selected, run.queued) for run in runs] == [(0, 0), (1, 1)]
    assert Message.objects.filter(customer=loan.customer).count() == 2


def test_a_run_a_dead_worker_left_running_is_taken_up_after_its_last_customer(all_debtors, sms):
    reached = debtor_due(0)
    missed = debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])
    step = flow.steps.get()
    # The dead worker's state: its run still "running" an hour later, its first chunk sent.
    FlowRun.objects.create(
        step=step,
        run_on=TODAY,
        status=FlowRun.Status.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
        selected=1,
        queued=1,
        last_customer_id=reached.customer_id,
    )
    messages.send_customer_message(
        customer=reached.customer,
        channel=messages.SMS,
        subject="Recordatorio",
        body="…",
        origin=(flows.ORIGIN, step.pk),
    )

    run = flows.run_step(step, TODAY)

    assert (run.status, run.selected, run.queued) == (FlowRun.Status.DONE, 2, 2)
    assert [m.customer_id for m in flow_messages(step)] == [
        reached.customer_id,
        missed.customer_id,
    ]


def test_a_run_still_going_elsewhere_is_left_alone(all_debtors, sms):
    debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])
    step = flow.steps.get()
    FlowRun.objects.create(step=step, run_on=TODAY, status=FlowRun.Status.RUNNING)

    run = flows.run_step(step, TODAY)

    assert run.status == FlowRun.Status.RUNNING
    assert not Message.objects.exists()


def test_a_failed_run_is_taken_up_again(all_debtors, sms):
    debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])
    step = flow.steps.get()
    FlowRun.objects.create(
        step=step, run_on=TODAY, status=FlowRun.Status.FAILED, error="OperationalError: …"
    )

    run = flows.run_step(step, TODAY)

    assert (run.status, run.error, run.queued) == (FlowRun.Status.DONE, "", 1)


def test_a_step_whose_template_was_switched_off_sends_nothing_and_says_why(all_debtors, sms):
    # Saved before a template in use could no longer be switched off.
    debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])
    step = flow.steps.get()
    MessageTemplate.objects.filter(pk=sms.pk).update(is_active=False)

    run = flows.run_step(step, TODAY)

    assert (run.status, run.queued) == (FlowRun.Status.FAILED, 0)
    assert "«Recordatorio»" in run.error and "actívela o elija otra" in run.error
    assert not flow_messages(step)

    MessageTemplate.objects.filter(pk=sms.pk).update(is_active=True)
    run = flows.run_step(flow.steps.select_related("template").get(), TODAY)
    assert (run.status, run.queued) == (FlowRun.Status.DONE, 1)


# --- Chunks: one bulk send and one Celery task each ----------------------------------------


def test_one_celery_task_is_enqueued_per_chunk_not_per_message(
    all_debtors, sms, django_capture_on_commit_callbacks
):
    for _ in range(5):
        debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])

    with django_capture_on_commit_callbacks() as callbacks:
        run = flows.run_step(flow.steps.get(), TODAY, chunk_size=2)

    assert (run.selected, run.queued) == (5, 5)
    assert tasks_sent(callbacks, BATCH_TASK) == 3  # chunks of 2, 2 and 1
    assert tasks_sent(callbacks, "integrations.deliver_message") == 0


def test_the_chunk_queries_do_not_grow_with_its_size(all_debtors, sms):
    debtor_due(5)  # warms what is read once per process (the policy row, caches)
    for _ in range(2):
        debtor_due(0)
    for _ in range(6):
        debtor_due(-5)
    flow = make_flow(all_debtors, [(-5, sms), (0, sms), (5, sms)])
    warm, two, six = flow.steps.order_by("day_offset")
    flows.run_step(warm, TODAY)

    with CaptureQueriesContext(connection) as small:
        assert flows.run_step(two, TODAY).queued == 2
    with CaptureQueriesContext(connection) as large:
        assert flows.run_step(six, TODAY).queued == 6

    assert len(large) == len(small)


def test_the_runs_figures_add_up_over_chunks(all_debtors, sms):
    debtor_due(0, has_opted_out=True)
    for _ in range(4):
        debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])

    run = flows.run_step(flow.steps.get(), TODAY, chunk_size=2)

    assert (run.selected, run.queued, run.skipped_opted_out, run.held) == (5, 4, 1, 0)
    assert run.finished_at is not None


def test_the_batch_tasks_send_the_messages(all_debtors, sms, django_capture_on_commit_callbacks):
    debtor_due(0)
    flow = make_flow(all_debtors, [(0, sms)])

    with django_capture_on_commit_callbacks(execute=True):
        flows.run_step(flow.steps.get(), TODAY)

    message = Message.objects.get(origin=flows.ORIGIN)
    assert message.status == Message.Status.SENT


def test_a_customer_in_the_segment_without_installment_that_day_counts_nothing(all_debtors, sms):
    CustomerFactory()  # no loan at all
    debtor_due(10)
    flow = make_flow(all_debtors, [(0, sms)])

    run = flows.run_step(flow.steps.get(), TODAY)

    assert (run.selected, run.queued, run.status) == (0, 0, FlowRun.Status.DONE)
