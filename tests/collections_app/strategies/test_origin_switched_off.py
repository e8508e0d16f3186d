"""A message waiting in the outbox is still subject to what sent it: an event setting or a
flow switched off while quiet hours held its message overnight does not send it in the
morning. It ends not sent, at once (refused, not retried as a provider's failure), with the
timeline saying why; one still on goes out, and messages of no origin are not asked."""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collections_app.models import EventSetting, MessageTemplate
from collections_app.strategies import events, flows
from crm import messages
from crm.models import Interaction, Message
from integrations import outbox
from integrations.models import OutboxMessage
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies import flow_fixtures
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.test_events import BODIES, happen
from tests.credits.conftest import LIMA

PROMISE = EventSetting.Event.PROMISE
# TODAY (Monday 15 June 2026) in Lima: the event at 21:00, inside the quiet hours
# (20:00–08:00), and the setting switched off at 22:00; the message is due Tuesday 08:00.
EVENING = datetime.combine(TODAY, time(21, 0), tzinfo=LIMA)
LATER = datetime.combine(TODAY, time(22, 0), tzinfo=LIMA)
MORNING = datetime.combine(TODAY + timedelta(days=1), time(8, 0), tzinfo=LIMA)
AFTER_MORNING = MORNING + timedelta(minutes=1)
EVENT_OFF = (
    "El evento «Compromiso de pago» de cartera vigente se desactivó después de poner el "
    "mensaje en cola: no se envió."
)
FLOW_OFF = "El flujo «Recordatorios» se desactivó después de poner el mensaje en cola: no se envió."


@pytest.fixture(autouse=True)
def _listening():
    events.connect()


@pytest.fixture
def promise_setting(db):
    template = make_template(
        name="Compromiso registrado",
        channel=MessageTemplate.Channel.EMAIL,
        subject="Compromiso registrado",
        body=BODIES[PROMISE],
    )
    return EventSetting.objects.create(portfolio="vigente", event=PROMISE, template=template)


def promise_held_overnight(setting, debtor, loan, agent, capture) -> Message:
    """The debtor promises at 21:00: the setting's e-mail is queued, held until 08:00."""
    with time_machine.travel(EVENING, tick=False):
        happen(PROMISE, debtor, loan, agent, capture)
    (message,) = Message.objects.filter(origin=events.ORIGIN, origin_id=setting.pk)
    assert outbox_row(message).next_attempt_at == MORNING
    return message


def switch_event(setting, *, is_active: bool) -> None:
    """What the events screen saves: only this setting changes."""
    choices = [
        events.Choice(
            portfolio=s.portfolio,
            event=s.event,
            template=s.template,
            is_active=is_active if s.pk == setting.pk else s.is_active,
        )
        for s in events.current_settings().values()
    ]
    with time_machine.travel(LATER, tick=False):
        events.save_event_settings(choices=choices)


def deliver_in_the_morning() -> None:
    with time_machine.travel(AFTER_MORNING, tick=False):
        outbox.deliver_due_messages()


def outbox_row(message: Message) -> OutboxMessage:
    return OutboxMessage.objects.get(destination=messages.DESTINATION, payload__message=message.pk)


def emails_to(address: str) -> list:
    return [email for email in mail.outbox if address in email.to]


def failure_entries(customer) -> list[str]:
    return list(
        customer.interactions.filter(
            kind=Interaction.Kind.SYSTEM, summary__startswith="No se pudo enviar"
        ).values_list("summary", flat=True)
    )


def test_an_event_switched_off_while_its_message_waits_does_not_send_it(
    quiet_nights,
    promise_setting,
    loan,
    debtor_by_email,
    cobranzas,
    django_capture_on_commit_callbacks,
):
    message = promise_held_overnight(
        promise_setting, debtor_by_email, loan, cobranzas, django_capture_on_commit_callbacks
    )
    # A worker that delivered another of its messages keeps the settings as they were.
    assert events.still_wanted(promise_setting.pk) == ""
    switch_event(promise_setting, is_active=False)

    deliver_in_the_morning()

    assert emails_to("rosa@example.pe") == []
    row = outbox_row(message)
    # Refused for good at the first attempt: not retried as a provider failing.
    assert (row.status, row.attempts, row.last_error) == (OutboxMessage.Status.FAILED, 1, EVENT_OFF)
    message.refresh_from_db()
    assert (message.status, message.error) == (Message.Status.FAILED, EVENT_OFF)
    message.interaction.refresh_from_db()
    assert message.interaction.summary == "Correo no enviado: Compromiso registrado"
    assert failure_entries(debtor_by_email) == [
        f"No se pudo enviar el correo «Compromiso registrado»: {EVENT_OFF}"
    ]


def test_an_event_still_on_sends_its_held_message_in_the_morning(
    quiet_nights,
    promise_setting,
    loan,
    debtor_by_email,
    cobranzas,
    django_capture_on_commit_callbacks,
):
    message = promise_held_overnight(
        promise_setting, debtor_by_email, loan, cobranzas, django_capture_on_commit_callbacks
    )
    # Switched off and on again overnight: on when the message goes.
    switch_event(promise_setting, is_active=False)
    switch_event(promise_setting, is_active=True)

    deliver_in_the_morning()

    assert len(emails_to("rosa@example.pe")) == 1
    assert outbox_row(message).status == OutboxMessage.Status.SENT
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert failure_entries(debtor_by_email) == []


def test_the_setting_check_costs_a_delivery_no_query(
    quiet_nights,
    promise_setting,
    loan,
    debtor_by_email,
    cobranzas,
    django_capture_on_commit_callbacks,
):
    by_event = promise_held_overnight(
        promise_setting, debtor_by_email, loan, cobranzas, django_capture_on_commit_callbacks
    )
    with (
        time_machine.travel(EVENING, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        plain = messages.send_customer_message(
            customer=debtor_by_email,
            channel=messages.EMAIL,
            subject="Compromiso registrado",
            body="Hola",
        )
    events.still_wanted(promise_setting.pk)  # what a worker keeps since its first delivery
    messages._current_policy()
    with (
        time_machine.travel(AFTER_MORNING, tick=False),
        CaptureQueriesContext(connection) as without_origin,
    ):
        outbox.deliver_message(message_id=outbox_row(plain.message).pk)

    with (
        time_machine.travel(AFTER_MORNING, tick=False),
        CaptureQueriesContext(connection) as with_origin,
    ):
        outbox.deliver_message(message_id=outbox_row(by_event).pk)

    assert len(emails_to("rosa@example.pe")) == 2
    # The setting is the process's copy; the event's promise is read by its pk, to know it
    # is still pending, and (held) to write the message again with its template.
    assert not any("collections_app_eventsetting" in query["sql"] for query in with_origin)
    promise_reads = sum("collections_app_paymentpromise" in q["sql"] for q in with_origin)
    template_reads = sum("collections_app_messagetemplate" in q["sql"] for q in with_origin)
    assert (promise_reads, template_reads) == (2, 1)
    assert len(with_origin) == len(without_origin) + 3


def test_the_written_off_section_says_which_event_was_switched_off(db):
    template = make_template(name="Castigada", portfolio="castigada", body=BODIES[PROMISE])
    setting = EventSetting.objects.create(
        portfolio="castigada", event=PROMISE, template=template, is_active=False
    )

    assert events.still_wanted(setting.pk) == (
        "El evento «Compromiso de pago» de cartera castigada se desactivó después de poner "
        "el mensaje en cola: no se envió."
    )


@pytest.fixture
def flow(db):
    template = make_template(
        name="Recordatorio por correo",
        channel=MessageTemplate.Channel.EMAIL,
        subject="Su cuota venció",
        body="Hola {nombre}, su cuota de {cuota} venció el {fecha_vencimiento}.",
    )
    return flow_fixtures.make_flow(flow_fixtures.whole_portfolio(), [(5, template)])


@pytest.fixture
def flow_message_held(quiet_nights, flow, django_capture_on_commit_callbacks) -> Message:
    """The flow runs at 21:00 (a run asked for late): its e-mail waits until 08:00."""
    flow_fixtures.debtor_due(-5, email="julia@example.com")
    with (
        time_machine.travel(EVENING, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        flows.run_flow(flow)
    (message,) = Message.objects.filter(origin=flows.ORIGIN)
    assert outbox_row(message).next_attempt_at == MORNING
    return message


def test_a_flow_switched_off_while_its_message_waits_does_not_send_it(flow, flow_message_held):
    with time_machine.travel(LATER, tick=False):
        flows.set_active(flow=flow, is_active=False, actor=None)

    deliver_in_the_morning()

    assert emails_to("julia@example.com") == []
    row = outbox_row(flow_message_held)
    assert (row.status, row.attempts, row.last_error) == (OutboxMessage.Status.FAILED, 1, FLOW_OFF)
    assert failure_entries(flow_message_held.customer) == [
        f"No se pudo enviar el correo «Su cuota venció»: {FLOW_OFF}"
    ]


def test_a_flow_deleted_while_its_message_waits_does_not_send_it(flow, flow_message_held):
    with time_machine.travel(LATER, tick=False):
        flows.delete_flow(flow=flow, actor=None)

    deliver_in_the_morning()

    assert emails_to("julia@example.com") == []
    row = outbox_row(flow_message_held)
    assert (row.status, row.last_error) == (
        OutboxMessage.Status.FAILED,
        "El flujo que envió este mensaje se eliminó después de ponerlo en cola: no se envió.",
    )


def test_a_flow_still_on_sends_its_held_message_at_one_query_more(flow, flow_message_held):
    with (
        time_machine.travel(AFTER_MORNING, tick=False),
        CaptureQueriesContext(connection) as checked,
    ):
        outbox.deliver_message(message_id=outbox_row(flow_message_held).pk)

    assert len(emails_to("julia@example.com")) == 1
    assert outbox_row(flow_message_held).status == OutboxMessage.Status.SENT
    assert sum("collections_app_flowstep" in query["sql"] for query in checked) == 1


def test_a_message_of_an_origin_without_a_check_is_not_asked(
    debtor_by_email, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sending = messages.send_customer_message(
            customer=debtor_by_email,
            channel=messages.EMAIL,
            subject="Aviso",
            body="Hola",
            origin=("tests.no_check", 1),
        )

    assert len(emails_to("rosa@example.pe")) == 1
    assert outbox_row(sending.message).status == OutboxMessage.Status.SENT
