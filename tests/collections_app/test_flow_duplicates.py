"""One flow reminder per customer, installment and day: two active flows whose segments
overlap (or two steps of one flow on the same day) send it once; the later one skips that
customer, counts it with the reason on its run, and writes nothing on their timeline."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains

from collections_app.models import FlowReminder, FlowRun, MessageTemplate
from collections_app.strategies import flows, segments
from crm.models import Customer, Interaction, Message
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import debtor_due, make_flow, whole_portfolio

A = "Hola {nombre}, su cuota de {cuota} vence el {fecha_vencimiento}."
B = "{nombre}: su cuota {cuota} vence el {fecha_vencimiento}."


def _two_flows(*, channel_b=MessageTemplate.Channel.SMS):
    first = make_template(name="A", body=A)
    second = make_template(
        name="B",
        body=B,
        channel=channel_b,
        subject="Recordatorio" if channel_b == MessageTemplate.Channel.EMAIL else "",
    )
    make_flow(whole_portfolio(), [(-3, first)], name="Alfa")
    other = segments.save_segment(data={"name": "Todos otra vez"}, actor=None)
    make_flow(other, [(-3, second)], name="Beta")


def test_two_flows_send_one_reminder_for_one_installment(db):
    loan = debtor_due(3, first_name="Ana")
    alone = debtor_due(3, first_name="Beto")
    _two_flows()
    timeline_before = Interaction.objects.filter(customer_id=loan.customer_id).count()

    first, second = flows.run_flows(TODAY)

    sent = Message.objects.filter(customer_id=loan.customer_id, origin=flows.ORIGIN)
    assert [m.body for m in sent] == [f"Hola Ana, su cuota de {_cuota(sent)} vence el 18/06/2026."]
    assert Message.objects.filter(customer_id=alone.customer_id, origin=flows.ORIGIN).count() == 1
    # One timeline entry: the message; the skip writes none.
    assert Interaction.objects.filter(customer_id=loan.customer_id).count() == timeline_before + 1
    assert (first.queued, first.skipped_repeated) == (2, 0)
    assert (second.selected, second.queued, second.skipped_repeated) == (2, 0, 2)
    assert second.repeated_by == "«Alfa»"
    assert second.status == FlowRun.Status.DONE


def _cuota(sent) -> str:
    return sent[0].body.split("cuota de ")[1].split(" vence")[0]


def test_the_runs_screen_says_why_they_were_skipped(client, cobranzas, db):
    debtor_due(3, first_name="Ana")
    _two_flows()
    flows.run_flows(TODAY)
    client.force_login(cobranzas)
    second = FlowRun.objects.get(step__flow__name="Beta")

    response = client.get(reverse("collections_app:flow_detail", args=[second.step.flow_id]))

    assertContains(
        response, "1 omitido: ya recibió hoy un recordatorio de esta cuota por el flujo «Alfa»"
    )


def test_a_customer_the_first_flow_could_not_reach_gets_the_second(db):
    # No phone: the SMS flow skips Ana, the e-mail flow still reminds her.
    loan = debtor_due(3, first_name="Ana", phone="", email="ana@example.com")
    _two_flows(channel_b=MessageTemplate.Channel.EMAIL)

    first, second = flows.run_flows(TODAY)

    assert (first.skipped_no_address, first.queued) == (1, 0)
    assert (second.queued, second.skipped_repeated) == (1, 0)
    assert FlowReminder.objects.get(customer_id=loan.customer_id).run_id == second.pk


def test_another_installment_of_the_same_customer_is_not_a_repeat(db):
    loan = debtor_due(3, first_name="Ana")
    debtor_due(-5, customer=loan.customer)
    first = make_template(name="A", body=A)
    make_flow(whole_portfolio(), [(-3, first), (5, first)], name="Alfa")

    runs = flows.run_flows(TODAY)

    assert [run.queued for run in runs] == [1, 1]
    assert Message.objects.filter(customer_id=loan.customer_id).count() == 2


def test_the_repeat_check_costs_the_same_queries_for_one_or_many_customers(db):
    debtor_due(3, first_name="Ana")
    _two_flows()
    flows.run_flows(TODAY)
    one = _queries_of_second_run_with(0)
    many = _queries_of_second_run_with(12)
    assert many == one


def _queries_of_second_run_with(extra: int) -> int:
    for _ in range(extra):
        debtor_due(3)
    FlowRun.objects.all().delete()
    FlowReminder.objects.all().delete()
    Message.objects.all().delete()
    Customer.objects.update(has_opted_out=False)
    flows.run_flows(TODAY)  # the first flow claims everyone
    second = FlowRun.objects.get(step__flow__name="Beta")
    FlowRun.objects.filter(pk=second.pk).delete()
    step = second.step
    with CaptureQueriesContext(connection) as captured:
        run = flows.run_step(step, TODAY)
    assert run.skipped_repeated == extra + 1
    return len(captured)


def test_the_days_run_forgets_the_claims_of_days_before_yesterday(db):
    from datetime import timedelta

    loan = debtor_due(3, first_name="Ana")
    _two_flows()
    (first, _second) = flows.run_flows(TODAY)
    for days in (1, 2, 30):
        FlowReminder.objects.create(
            run=first,
            customer_id=loan.customer_id,
            loan=loan,
            due_date=TODAY,
            sent_on=TODAY - timedelta(days=days),
        )

    flows.run_flows(TODAY)

    days = set(FlowReminder.objects.values_list("sent_on", flat=True))
    assert days == {TODAY, TODAY - timedelta(days=1)}
