"""The rules every message to a customer obeys, on every channel: quiet hours, the daily
limit (atomic under parallel senders), consent; the bulk path for flows; delivery
statuses; replies from customers, STOP included."""

import threading
from datetime import UTC, datetime, time, timedelta
from unittest import mock

import pytest
from django.db import connection

from crm import messages
from crm.models import Customer, Interaction, Message, MessagePolicy
from integrations import channels
from integrations.models import OutboxMessage
from tests.factories import CustomerFactory

# 15:00 in Lima (UTC−5): outside the default quiet hours.
AFTERNOON = datetime(2026, 5, 4, 20, 0, tzinfo=UTC)
# 21:30 in Lima: inside 20:00–08:00.
NIGHT = datetime(2026, 5, 5, 2, 30, tzinfo=UTC)
# 07:59 in Lima: still inside.
DAWN = datetime(2026, 5, 5, 12, 59, tzinfo=UTC)
# 08:00 the next morning in Lima.
MORNING = datetime(2026, 5, 5, 13, 0, tzinfo=UTC)


@pytest.fixture
def policy(db, time_machine):
    """Quiet hours 20:00–08:00 and two messages a day, at 15:00 in Lima unless a test moves
    the clock: a test must not depend on the hour it runs at (in the evening, a batch
    expected to go out at once was held until morning)."""
    time_machine.move_to(AFTERNOON, tick=True)
    return MessagePolicy.objects.create(
        pk=1, quiet_start=time(20, 0), quiet_end=time(8, 0), daily_limit=2
    )


@pytest.fixture
def rosa(customer):
    return customer


def sms(customer, **kwargs) -> messages.Sending:
    kwargs.setdefault("subject", "Recordatorio")
    kwargs.setdefault("body", "Su cuota vence el 10/05.")
    return messages.send_customer_message(customer=customer, channel=messages.SMS, **kwargs)


# --- Quiet hours ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "held_until"),
    [
        (AFTERNOON, None),
        (NIGHT, MORNING),
        (DAWN, MORNING),
        (MORNING, None),
        # 20:00 sharp is quiet; 19:59 is not.
        (datetime(2026, 5, 5, 1, 0, tzinfo=UTC), MORNING),
        (datetime(2026, 5, 5, 0, 59, tzinfo=UTC), None),
    ],
)
def test_quiet_hours_span_midnight_in_local_time(moment, held_until):
    policy = MessagePolicy(quiet_start=time(20, 0), quiet_end=time(8, 0))
    assert messages.quiet_until(moment, policy) == held_until


def test_quiet_hours_within_a_day_and_none_when_start_equals_end():
    lunch = MessagePolicy(quiet_start=time(13, 0), quiet_end=time(15, 0))
    at_two = datetime(2026, 5, 4, 19, 0, tzinfo=UTC)  # 14:00 in Lima
    assert messages.quiet_until(at_two, lunch) == datetime(2026, 5, 4, 20, 0, tzinfo=UTC)
    assert messages.quiet_until(AFTERNOON, lunch) is None
    assert (
        messages.quiet_until(NIGHT, MessagePolicy(quiet_start=time(0), quiet_end=time(0))) is None
    )


def test_a_message_at_night_is_held_until_morning_and_says_so(
    policy, rosa, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(NIGHT, tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        sending = sms(rosa)

    assert sending.is_queued and sending.held_until == MORNING
    assert sending.message.status == Message.Status.QUEUED
    assert sending.message.due_at == MORNING
    outbox = OutboxMessage.objects.get()
    assert outbox.next_attempt_at == MORNING
    assert outbox.status == OutboxMessage.Status.QUEUED  # not sent at night
    assert "retenido hasta las 08:00" in sending.interaction.summary


def test_a_one_time_code_is_never_held(policy, rosa, time_machine):
    time_machine.move_to(NIGHT, tick=False)
    sending = sms(rosa, is_secret=True)

    assert sending.held_until is None
    assert OutboxMessage.objects.get().next_attempt_at == NIGHT


# --- Daily limit ---------------------------------------------------------------------------


def test_capped_messages_stop_at_the_daily_limit_with_a_timeline_entry(policy, rosa):
    results = [sms(rosa, capped=True) for _ in range(3)]

    assert [r.status for r in results] == ["queued", "queued", "capped"]
    assert Message.objects.filter(customer=rosa).count() == 2
    skipped = results[2].interaction
    assert skipped.kind == Interaction.Kind.SYSTEM
    assert "ya recibió los mensajes del día" in skipped.summary


def test_a_capped_message_that_failed_leaves_its_place_for_another(policy, rosa):
    # The limit is what the customer receives in a day: a message the provider refused
    # never reached them (the delivery check at sending does not count it either).
    first, _second = sms(rosa, capped=True), sms(rosa, capped=True)
    Message.objects.filter(pk=first.message.pk).update(status=Message.Status.FAILED)

    assert sms(rosa, capped=True).is_queued
    assert sms(rosa, capped=True).status == messages.SendStatus.CAPPED


def test_answers_are_not_capped_and_the_limit_starts_again_the_next_day(policy, rosa, time_machine):
    time_machine.move_to(AFTERNOON, tick=False)
    sms(rosa, capped=True)
    sms(rosa, capped=True)
    assert sms(rosa).is_queued  # not capped: e.g. the answer to a promise
    assert sms(rosa, capped=True).status == messages.SendStatus.CAPPED

    time_machine.move_to(MORNING + timedelta(hours=2), tick=False)
    assert sms(rosa, capped=True).is_queued


@pytest.mark.django_db(transaction=True)
def test_parallel_senders_never_exceed_the_daily_limit():
    """Eight threads, each its own connection, race for the customer's two places."""
    MessagePolicy.objects.create(pk=1, quiet_start=time(0), quiet_end=time(0), daily_limit=2)
    rosa = CustomerFactory()
    start = threading.Barrier(8)
    statuses, errors = [], []

    def send():
        try:
            start.wait(timeout=30)
            statuses.append(sms(Customer.objects.get(pk=rosa.pk), capped=True).status)
        except Exception as exc:  # a deadlock or a lock timeout would land here
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sorted(statuses) == ["capped"] * 6 + ["queued"] * 2
    assert Message.objects.filter(customer=rosa, is_capped=True).count() == 2


# --- Consent -------------------------------------------------------------------------------


def test_an_opted_out_customer_gets_no_sms_and_the_timeline_says_why(policy, rosa):
    rosa.has_opted_out = True
    rosa.save()

    sending = sms(rosa)

    assert sending.is_opted_out
    assert not Message.objects.exists() and not OutboxMessage.objects.exists()
    assert "pidió no ser contactado" in sending.interaction.summary


def test_a_customer_without_a_phone_gets_no_whatsapp(policy, rosa):
    rosa.phone = ""
    rosa.save()

    sending = messages.send_customer_message(
        customer=rosa, channel=messages.WHATSAPP, subject="Hola", body="Hola"
    )

    assert sending.status == messages.SendStatus.NO_ADDRESS
    assert "no tiene celular registrado" in sending.interaction.summary


# --- The bulk path -------------------------------------------------------------------------


def test_a_batch_is_a_few_statements_and_one_task(policy, django_assert_max_num_queries):
    customers = CustomerFactory.create_batch(40)
    customers[0].has_opted_out = True
    customers[0].save()
    customers[1].phone = ""
    customers[1].save()
    outgoing = [
        messages.Outgoing(customer=c, subject="Recordatorio", body=f"Hola {c.first_name}")
        for c in customers
    ]
    with (
        mock.patch("lib.queue.enqueue") as enqueue,
        django_assert_max_num_queries(14),
    ):
        results = messages.send_customer_messages(
            outgoing, channel=messages.SMS, origin=("collections.flow_step", 7), capped=True
        )

    assert [r.status for r in results[:3]] == ["opted_out", "no_address", "queued"]
    assert Message.objects.filter(origin="collections.flow_step", origin_id=7).count() == 38
    assert OutboxMessage.objects.count() == 38
    (call,) = enqueue.call_args_list
    assert call.args == ("integrations.deliver_messages",)
    assert len(call.kwargs["message_ids"]) == 38
    third = results[2]
    assert third.message.interaction_id == third.interaction_id
    entry = Interaction.objects.get(pk=third.interaction_id)
    assert entry.payload["mensaje"] == f"Hola {customers[2].first_name}"
    assert entry.summary == "SMS en cola: Recordatorio"
    assert customers[0].interactions.get().kind == Interaction.Kind.SYSTEM


def test_a_batch_respects_the_daily_limit_and_quiet_hours(policy, rosa, time_machine):
    time_machine.move_to(NIGHT, tick=False)
    sms(rosa, capped=True)
    sms(rosa, capped=True)
    other = CustomerFactory()

    results = messages.send_customer_messages(
        [messages.Outgoing(rosa, "R", "x"), messages.Outgoing(other, "R", "y")],
        channel=messages.SMS,
        capped=True,
    )

    assert [r.status for r in results] == ["capped", "queued"]
    assert results[1].held_until == MORNING
    assert OutboxMessage.objects.filter(next_attempt_at=MORNING).count() == 3


def test_a_batch_goes_out_through_the_provider(policy, django_capture_on_commit_callbacks):
    customers = CustomerFactory.create_batch(3)
    with django_capture_on_commit_callbacks(execute=True):
        messages.send_customer_messages(
            [messages.Outgoing(c, "R", "Hola") for c in customers], channel=messages.SMS
        )

    # No SMS provider configured: the log provider takes them, and they show as sent.
    assert set(Message.objects.values_list("status", "provider")) == {("sent", "log")}
    assert all(m.provider_message_id.startswith("log-") for m in Message.objects.all())


# --- Delivery statuses ---------------------------------------------------------------------


@pytest.fixture
def sent_sms(policy, rosa, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sending = sms(rosa)
    message = sending.message
    message.refresh_from_db()
    Message.objects.filter(pk=message.pk).update(provider="twilio", provider_message_id="SM1")
    return message


def status(value, **kwargs):
    return messages.record_status(
        provider="twilio", provider_message_id="SM1", status=value, **kwargs
    )


def test_statuses_only_move_forward(sent_sms):
    at = datetime(2026, 5, 4, 21, 0, tzinfo=UTC)
    assert status("delivered", at=at).delivered_at == at
    assert status("sent").status == "delivered"  # late: ignored
    read = status("read")
    assert read.status == "read" and read.read_at
    assert status("failed").status == "read"  # after reading, no failure
    entry = Interaction.objects.get(pk=read.interaction_id)
    assert entry.payload[messages.DELIVERY]["status"] == "read"


def test_a_failure_reported_by_the_provider_shows_on_the_timeline(sent_sms, rosa):
    failed = status("failed", error="30003 Unreachable destination handset")

    assert failed.status == "failed" and failed.failed_at
    assert failed.error == "30003 Unreachable destination handset"
    entry = Interaction.objects.get(pk=failed.interaction_id)
    assert entry.summary == "SMS no enviado: Recordatorio"
    assert rosa.interactions.filter(summary__contains="30003 Unreachable").exists()


def test_a_status_for_an_unknown_message_is_none(db):
    assert status("delivered") is None


def test_the_providers_answer_never_moves_a_status_back(sent_sms):
    status("delivered")
    messages._mark_message(
        sent_sms.pk,
        messages.DeliveryStatus.SENT,
        AFTERNOON,
        answer=channels.Delivery("twilio", "SM1"),
    )
    sent_sms.refresh_from_db()
    assert sent_sms.status == "delivered"


# --- Replies -------------------------------------------------------------------------------


def inbound(body="Pagaré el viernes", sender=None, message_id="SMin1", **kwargs):
    return messages.record_inbound(
        channel=messages.SMS,
        provider="twilio",
        provider_message_id=message_id,
        address=sender,
        body=body,
        **kwargs,
    )


def test_a_reply_is_found_by_phone_and_recorded_once(rosa):
    listener = mock.Mock()
    messages.register_message_listener(listener)
    try:
        message = inbound(sender=str(rosa.phone))
        again = inbound(sender=str(rosa.phone))
    finally:
        messages.unregister_message_listener(listener)

    assert message.customer == rosa and message.direction == "inbound"
    assert message.status == "received"
    assert again is None
    assert Message.objects.count() == 1
    listener.assert_called_once_with([message])
    entry = message.interaction
    assert entry.direction == Interaction.Direction.INBOUND
    assert entry.summary == "SMS recibido: Pagaré el viernes"


def test_a_reply_from_an_unknown_number_records_nothing(db):
    assert inbound(sender="+51900000000") is None
    assert not Message.objects.exists()


@pytest.mark.parametrize("word", ["STOP", "baja", " Baja. ", "Darme de baja", "NO MOLESTAR"])
def test_stop_or_baja_marks_the_customer_not_to_be_contacted(rosa, word):
    inbound(body=word, sender=str(rosa.phone))

    rosa.refresh_from_db()
    assert rosa.has_opted_out
    assert rosa.interactions.filter(summary__contains="pidió no ser contactado").exists()
    assert sms(rosa).is_opted_out


@pytest.mark.parametrize("text", ["no quiero darme de baja todavía", "stopped", "pago", "Cancelar"])
def test_other_words_do_not_opt_out(text):
    assert not messages.is_opt_out(text)


def test_bot_and_portal_activity_shows_as_inbound_messages(rosa):
    entry = rosa.interactions.create(
        kind=Interaction.Kind.BOT, summary="Bot de cobranza: compromiso de pago"
    )
    message = messages.record_activity(interaction=entry, channel="bot")

    assert (message.channel, message.direction, message.body) == (
        "bot",
        "inbound",
        "Bot de cobranza: compromiso de pago",
    )
    with pytest.raises(ValueError):
        messages.record_activity(interaction=entry, channel="sms")
