"""A message held by the policy is checked against the policy again when it goes out: a
holiday, a quiet weekday or longer quiet hours set while it waited hold it again (no attempt
counted, the timeline saying until when), and a daily limit lowered meanwhile refuses the
capped messages past it. One-time codes and what the customer asked for go out regardless."""

from datetime import UTC, datetime, time

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import messages
from crm.models import Interaction, Message, MessagePolicy
from integrations import outbox
from integrations.models import OutboxMessage

TIMEOUT = "tests.email_backends.TimeoutBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
TUESDAY = 1
# Monday 7 December 2026 in Lima (UTC−5): 21:00 and 22:00, inside 20:00–08:00.
MONDAY_NIGHT = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
MONDAY_LATER = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
# Tuesday 8 December, 08:00, 08:01 and 09:00 in Lima.
TUESDAY_MORNING = datetime(2026, 12, 8, 13, 0, tzinfo=UTC)
TUESDAY_0801 = datetime(2026, 12, 8, 13, 1, tzinfo=UTC)
TUESDAY_NINE = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)
# Wednesday 9 December, 08:00 in Lima.
WEDNESDAY_MORNING = datetime(2026, 12, 9, 13, 0, tzinfo=UTC)


@pytest.fixture
def rosa(customer):
    customer.email = "rosa@example.pe"
    customer.save()
    return customer


@pytest.fixture
def night(db, time_machine, settings):
    settings.EMAIL_BACKEND = LOCMEM
    time_machine.move_to(MONDAY_NIGHT, tick=False)
    MessagePolicy.objects.create(pk=1, quiet_start=time(20, 0), quiet_end=time(8, 0), daily_limit=3)
    return time_machine


def queue(customer, django_capture_on_commit_callbacks, **kwargs) -> messages.Sending:
    kwargs.setdefault("subject", "Recordatorio")
    with django_capture_on_commit_callbacks(execute=True):
        return messages.send_customer_message(
            customer=customer, channel=messages.EMAIL, body="Su cuota vence hoy.", **kwargs
        )


def change_policy(**fields) -> None:
    """What the policy's form does (collections_app.strategies.events.save_message_policy)."""
    policy = MessagePolicy.current()
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.save()


def outbox_message() -> OutboxMessage:
    return OutboxMessage.objects.get(destination=messages.DESTINATION)


def failure_entries(customer):
    return customer.interactions.filter(
        kind=Interaction.Kind.SYSTEM, summary__startswith="No se pudo enviar"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"quiet_dates": [["2026-12-08", "Inmaculada Concepción"]]},
        {"quiet_weekdays": [TUESDAY]},
    ],
    ids=["holiday", "quiet-weekday"],
)
def test_a_day_without_messages_declared_after_holding_holds_it_again(
    change, rosa, night, django_capture_on_commit_callbacks
):
    sending = queue(rosa, django_capture_on_commit_callbacks)
    assert sending.held_until == TUESDAY_MORNING
    night.move_to(MONDAY_LATER)
    change_policy(**change)
    night.move_to(TUESDAY_0801)

    outbox.deliver_due_messages()

    assert mail.outbox == []
    held = outbox_message()
    assert (held.status, held.attempts) == (OutboxMessage.Status.QUEUED, 0)
    assert held.next_attempt_at == WEDNESDAY_MORNING
    assert held.last_error == (
        "Retenido hasta el miércoles 9/12 a las 08:00 por la política de mensajes."
    )
    entry = sending.interaction
    entry.refresh_from_db()
    # The entry said «retenido hasta las 08:00»: it now says the new time, and nothing else.
    assert entry.summary == (
        "Correo en cola: Recordatorio "
        "(retenido hasta el miércoles 9/12 a las 08:00 por los días sin mensajes)"
    )
    delivery = entry.payload["delivery"]
    assert delivery["status"] == "queued"
    assert datetime.fromisoformat(delivery["held_until"]) == WEDNESDAY_MORNING
    assert Message.objects.get(interaction=entry).due_at == WEDNESDAY_MORNING
    assert not failure_entries(rosa).exists()

    night.move_to(WEDNESDAY_MORNING)
    outbox.deliver_due_messages()

    assert len(mail.outbox) == 1
    sent = outbox_message()
    assert (sent.status, sent.attempts, sent.last_error) == (OutboxMessage.Status.SENT, 1, "")
    entry.refresh_from_db()
    assert entry.summary == "Correo enviado: Recordatorio"


def test_longer_quiet_hours_hold_a_held_message_until_they_end(
    rosa, night, django_capture_on_commit_callbacks
):
    sending = queue(rosa, django_capture_on_commit_callbacks)
    night.move_to(MONDAY_LATER)
    change_policy(quiet_end=time(9, 0))
    night.move_to(TUESDAY_0801)

    outbox.deliver_due_messages()

    assert mail.outbox == []
    held = outbox_message()
    assert (held.status, held.attempts, held.next_attempt_at) == (
        OutboxMessage.Status.QUEUED,
        0,
        TUESDAY_NINE,
    )
    entry = sending.interaction
    entry.refresh_from_db()
    assert entry.summary == (
        "Correo en cola: Recordatorio (retenido hasta las 09:00 por el horario de silencio)"
    )

    night.move_to(TUESDAY_NINE)
    outbox.deliver_due_messages()

    assert len(mail.outbox) == 1


def test_a_retry_that_falls_in_the_quiet_hours_waits_for_morning_keeping_its_attempts(
    rosa, time_machine, settings, django_capture_on_commit_callbacks
):
    # Monday 19:50 in Lima: sent at once, the server does not answer.
    settings.EMAIL_BACKEND = TIMEOUT
    settings.OUTBOX_BACKOFF_MAX_SECONDS = 1200
    time_machine.move_to(datetime(2026, 12, 8, 0, 50, tzinfo=UTC), tick=False)
    MessagePolicy.objects.create(pk=1, quiet_start=time(20, 0), quiet_end=time(8, 0))
    sending = queue(rosa, django_capture_on_commit_callbacks)
    assert sending.held_until is None
    assert outbox_message().attempts == 1
    settings.EMAIL_BACKEND = LOCMEM
    # 20:15, past any retry planned.
    time_machine.move_to(datetime(2026, 12, 8, 1, 15, tzinfo=UTC))

    outbox.deliver_due_messages()

    assert mail.outbox == []
    held = outbox_message()
    assert (held.status, held.attempts, held.next_attempt_at) == (
        OutboxMessage.Status.QUEUED,
        1,
        TUESDAY_MORNING,
    )
    entry = sending.interaction
    entry.refresh_from_db()
    assert entry.summary == (
        "Correo en cola: Recordatorio (retenido hasta las 08:00 por el horario de silencio)"
    )


@pytest.mark.parametrize(
    "kind", [{"is_secret": True}, {"requested": True}], ids=["one-time-code", "requested"]
)
def test_a_one_time_code_or_a_requested_message_goes_out_on_a_day_without_messages(
    kind, rosa, night, django_capture_on_commit_callbacks
):
    # Monday 19:59: queued at once; the holiday is declared before the worker sends it.
    night.move_to(datetime(2026, 12, 8, 0, 59, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=False):
        messages.send_customer_message(
            customer=rosa, channel=messages.EMAIL, subject="Código", body="123456", **kind
        )
    change_policy(quiet_weekdays=[0, TUESDAY])
    night.move_to(MONDAY_NIGHT)

    outbox.deliver_due_messages()

    assert len(mail.outbox) == 1
    assert outbox_message().status == OutboxMessage.Status.SENT


def test_a_daily_limit_lowered_after_queueing_refuses_the_capped_messages_past_it(
    rosa, night, django_capture_on_commit_callbacks
):
    for subject in ("Aviso 1", "Aviso 2", "Aviso 3"):
        assert queue(rosa, django_capture_on_commit_callbacks, subject=subject, capped=True)
    night.move_to(MONDAY_LATER)
    change_policy(daily_limit=1)
    night.move_to(TUESDAY_0801)

    outbox.deliver_due_messages()

    assert [m.subject for m in mail.outbox] == ["Aviso 1"]
    statuses = dict(OutboxMessage.objects.values_list("payload__subject", "status").order_by("pk"))
    assert statuses == {
        "Aviso 1": OutboxMessage.Status.SENT,
        "Aviso 2": OutboxMessage.Status.FAILED,
        "Aviso 3": OutboxMessage.Status.FAILED,
    }
    assert sorted(failure_entries(rosa).values_list("summary", flat=True)) == [
        f"No se pudo enviar el correo «Aviso {n}»: El cliente ya alcanzó hoy el límite de "
        "mensajes por día (1) de la política de mensajes."
        for n in (2, 3)
    ]


def test_a_policy_unchanged_costs_the_delivery_no_query(
    rosa, night, django_capture_on_commit_callbacks, monkeypatch
):
    night.move_to(TUESDAY_MORNING)
    for subject in ("Uno", "Dos"):
        with django_capture_on_commit_callbacks(execute=False):
            messages.send_customer_message(
                customer=rosa, channel=messages.EMAIL, subject=subject, body="Hola"
            )
    first, second = OutboxMessage.objects.order_by("pk")
    messages._current_policy()  # what a worker has kept since its first delivery

    with CaptureQueriesContext(connection) as checked:
        outbox.deliver_message(message_id=first.pk)
    monkeypatch.setattr(messages, "_keep_policy", lambda *args: None)
    with CaptureQueriesContext(connection) as unchecked:
        outbox.deliver_message(message_id=second.pk)

    assert len(mail.outbox) == 2
    assert len(checked) == len(unchecked)


def test_capped_messages_of_days_the_worker_missed_count_toward_the_day_they_go_out(
    rosa, night, django_capture_on_commit_callbacks
):
    # Three days with the worker stopped: each day three capped e-mails were queued (the
    # limit), none went out. Before, all nine went out the morning it came back.
    for day in (9, 10, 11):
        night.move_to(datetime(2026, 12, day, 15, 0, tzinfo=UTC))
        for n in (1, 2, 3):
            with django_capture_on_commit_callbacks(execute=False):
                sending = messages.send_customer_message(
                    customer=rosa,
                    channel=messages.EMAIL,
                    subject=f"Aviso {day}-{n}",
                    body="Hola",
                    capped=True,
                )
            assert sending.is_queued
    night.move_to(datetime(2026, 12, 12, 14, 0, tzinfo=UTC))  # Saturday 09:00

    outbox.deliver_due_messages()

    assert [m.subject for m in mail.outbox] == ["Aviso 9-1", "Aviso 9-2", "Aviso 9-3"]
    assert OutboxMessage.objects.filter(status=OutboxMessage.Status.FAILED).count() == 6
    assert failure_entries(rosa).count() == 6
