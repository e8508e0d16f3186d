"""Messages to customers: queued with their timeline entry, sent by the outbox, failures shown."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from pytest_django.asserts import assertContains

from crm import messages
from crm.models import Customer, Interaction, Message
from integrations import email, outbox, tasks
from integrations.models import OutboxMessage
from tests.factories import CustomerFactory

NOW = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)
REFUSING = "tests.email_backends.RefusingBackend"
TIMEOUT = "tests.email_backends.TimeoutBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


class Boom(Exception):
    pass


@pytest.fixture
def rosa(customer):
    customer.email = "rosa@example.pe"
    customer.save()
    return customer


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def sending(customer, **kwargs) -> messages.Sending:
    kwargs.setdefault("channel", messages.EMAIL)
    kwargs.setdefault("subject", "Su cronograma")
    kwargs.setdefault("body", "Estimada Rosa: adjuntamos su cronograma.")
    return messages.send_customer_message(customer=customer, **kwargs)


def send(customer, **kwargs) -> Interaction | None:
    """Send, and return the message's timeline entry."""
    return sending(customer, **kwargs).interaction


def outbox_message() -> OutboxMessage:
    return OutboxMessage.objects.get(destination=messages.DESTINATION)


def failure_entries(customer):
    return customer.interactions.filter(
        kind=Interaction.Kind.SYSTEM, summary__startswith="No se pudo enviar el correo"
    )


# --- Queueing ------------------------------------------------------------------------------


def test_it_writes_the_timeline_entry_and_the_outbox_message_in_the_callers_transaction(
    rosa, asesor
):
    with transaction.atomic():
        entry = send(rosa, actor=asesor, payload={"gestion": 7})

    assert entry.kind == Interaction.Kind.EMAIL
    assert entry.direction == Interaction.Direction.OUTBOUND
    assert entry.summary == "Correo en cola: Su cronograma"
    assert entry.actor == asesor
    assert entry.payload == {
        "gestion": 7,
        "para": "rosa@example.pe",
        "mensaje": "Estimada Rosa: adjuntamos su cronograma.",
        messages.DELIVERY: {"status": messages.DeliveryStatus.QUEUED},
    }
    message = outbox_message()
    assert message.status == OutboxMessage.Status.QUEUED
    assert message.payload == {
        "interaction": entry.pk,
        "message": entry.message.pk,
        "channel": "email",
        "to": "rosa@example.pe",
        "subject": "Su cronograma",
        "body": "Estimada Rosa: adjuntamos su cronograma.",
    }


def test_it_leaves_neither_entry_nor_message_when_the_caller_rolls_back(rosa):
    with pytest.raises(Boom), transaction.atomic():
        send(rosa)
        raise Boom

    assert not rosa.interactions.exists()
    assert not OutboxMessage.objects.exists()


def test_it_sends_nothing_before_the_commit(rosa, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(rosa)
        assert mail.outbox == []

    assert len(mail.outbox) == 1


def test_it_queues_nothing_for_a_customer_without_an_email_and_says_so(customer):
    result = sending(customer)

    assert result.status == messages.SendStatus.NO_ADDRESS
    assert not OutboxMessage.objects.exists()
    (entry,) = customer.interactions.all()
    assert entry == result.interaction
    assert entry.kind == Interaction.Kind.SYSTEM
    assert entry.summary == (
        "Correo no enviado: Su cronograma. El cliente no tiene correo registrado."
    )


def test_a_message_queued_is_contact_and_one_not_sent_is_not(customer):
    luis = CustomerFactory(email="luis@example.pe")
    Customer.objects.filter(pk__in=[customer.pk, luis.pk]).update(last_interaction_at=None)

    sending(customer)  # no e-mail: not sent
    sending(luis)

    customer.refresh_from_db()
    luis.refresh_from_db()
    assert customer.last_interaction_at is None
    assert luis.last_interaction_at is not None


def test_it_queues_a_message_once_for_a_dedupe_key_already_used(rosa):
    first = send(rosa, dedupe_key="survey-invitation:7")

    second = send(rosa, subject="Otra vez", dedupe_key="survey-invitation:7")

    assert second == first
    assert rosa.interactions.count() == 1
    assert OutboxMessage.objects.count() == 1


def test_it_refuses_a_channel_nobody_registered(rosa):
    with pytest.raises(ValueError, match="No message channel 'fax'"):
        send(rosa, channel="fax")


# --- Delivery ------------------------------------------------------------------------------


def test_it_marks_the_entry_sent_once_the_email_went_out(rosa, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        entry = send(rosa)

    (sent,) = mail.outbox
    assert (sent.to, sent.subject) == (["rosa@example.pe"], "Su cronograma")
    # The foot of every customer e-mail is the link to stop them (crm.unsubscribe).
    assert sent.body.startswith("Estimada Rosa: adjuntamos su cronograma.\n\n--\n")
    entry.refresh_from_db()
    assert entry.summary == "Correo enviado: Su cronograma"
    assert messages.delivery_status(entry) == messages.DeliveryStatus.SENT
    assert outbox_message().status == OutboxMessage.Status.SENT


def test_it_sends_once_when_the_delivery_task_runs_twice(rosa, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(rosa)

    tasks.deliver_message(outbox_message().pk)
    tasks.deliver_message(outbox_message().pk)

    assert len(mail.outbox) == 1


def test_it_does_not_send_again_when_the_worker_died_after_sending(
    rosa, frozen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send(rosa)
    # The worker sent and marked the entry, then died before the outbox recorded it.
    OutboxMessage.objects.update(status=OutboxMessage.Status.SENDING, last_attempt_at=NOW)
    frozen.shift(outbox.SENDING_TIMEOUT + timedelta(minutes=1))

    outbox.deliver_due_messages()

    assert len(mail.outbox) == 1
    assert outbox_message().status == OutboxMessage.Status.SENT


# --- Failures ------------------------------------------------------------------------------


def test_it_retries_a_temporary_failure_later_and_then_shows_it_sent(
    rosa, frozen, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = TIMEOUT
    with django_capture_on_commit_callbacks(execute=True):
        entry = send(rosa)
    message = outbox_message()
    assert (message.status, message.attempts) == (OutboxMessage.Status.QUEUED, 1)
    assert message.next_attempt_at > NOW
    entry.refresh_from_db()
    # "En cola" alone hid that the provider was refusing it for now.
    assert entry.summary == f"Correo en cola: Su cronograma. Se reintentará: {message.last_error}"
    queued = Message.objects.get(interaction=entry)
    assert (queued.status, queued.error) == (Message.Status.QUEUED, message.last_error)
    settings.EMAIL_BACKEND = LOCMEM
    frozen.shift(settings.OUTBOX_BACKOFF_MAX_SECONDS)

    outbox.deliver_due_messages()

    assert len(mail.outbox) == 1
    entry.refresh_from_db()
    assert entry.summary == "Correo enviado: Su cronograma"
    queued.refresh_from_db()
    assert (queued.status, queued.error) == (Message.Status.SENT, "")
    assert not failure_entries(rosa).exists()


def test_it_shows_a_refused_message_failed_in_the_outbox_and_on_the_timeline(
    rosa, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = REFUSING
    with django_capture_on_commit_callbacks(execute=True):
        entry = send(rosa)

    message = outbox_message()
    assert message.status == OutboxMessage.Status.FAILED
    assert "550 5.1.1 User unknown" in message.last_error
    entry.refresh_from_db()
    assert entry.summary == "Correo no enviado: Su cronograma"
    assert messages.delivery_status(entry) == messages.DeliveryStatus.FAILED
    (failure,) = failure_entries(rosa)
    assert failure.summary == (
        "No se pudo enviar el correo «Su cronograma»: El servidor de correo rechazó la "
        "dirección rosa@example.pe: 550 5.1.1 User unknown"
    )
    assert failure.payload["mensaje saliente"] == f"#{message.pk}"
    assert mail.outbox == []


def test_it_shows_a_message_failed_after_its_last_attempt(
    rosa, frozen, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    settings.EMAIL_BACKEND = TIMEOUT
    with django_capture_on_commit_callbacks(execute=True):
        entry = send(rosa)
    assert not failure_entries(rosa).exists()
    frozen.shift(settings.OUTBOX_BACKOFF_MAX_SECONDS)

    outbox.deliver_due_messages()

    assert outbox_message().status == OutboxMessage.Status.FAILED
    entry.refresh_from_db()
    assert entry.summary == "Correo no enviado: Su cronograma"
    (failure,) = failure_entries(rosa)
    assert failure.summary.endswith("El servidor de correo no respondió: timed out")


def test_it_shows_a_message_the_sweep_gave_up_on_as_failed(rosa, frozen, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    entry = send(rosa)
    # A worker claimed it on its last attempt and died mid-send.
    OutboxMessage.objects.update(
        status=OutboxMessage.Status.SENDING, attempts=2, last_attempt_at=NOW
    )
    frozen.shift(outbox.SENDING_TIMEOUT + timedelta(minutes=1))

    outbox.deliver_due_messages()

    entry.refresh_from_db()
    assert entry.summary == "Correo no enviado: Su cronograma"
    (failure,) = failure_entries(rosa)
    assert failure.summary.endswith(": El envío se interrumpió antes de terminar.")


def test_a_sender_that_broke_is_not_quoted_on_the_timeline(rosa, frozen, settings, monkeypatch):
    """Its exception's last line ("KeyError: 'body'") was the timeline's reason."""
    settings.OUTBOX_MAX_ATTEMPTS = 1

    def broken(to, subject, body, headers=None):
        raise KeyError("body")

    monkeypatch.setattr(email, "send", broken)
    send(rosa)

    outbox.deliver_due_messages()

    (failure,) = failure_entries(rosa)
    assert failure.summary.endswith(
        ": un error interno del envío (el detalle está en Mensajes salientes)"
    )
    assert "KeyError" in outbox_message().last_error


def test_it_keeps_a_message_sent_when_the_sweep_gives_up_on_its_finished_send(
    rosa, frozen, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_MAX_ATTEMPTS = 1
    with django_capture_on_commit_callbacks(execute=True):
        entry = send(rosa)
    # Sent and marked, and the worker died before the outbox recorded it.
    OutboxMessage.objects.update(status=OutboxMessage.Status.SENDING, last_attempt_at=NOW)
    frozen.shift(outbox.SENDING_TIMEOUT + timedelta(minutes=1))

    outbox.deliver_due_messages()

    entry.refresh_from_db()
    assert entry.summary == "Correo enviado: Su cronograma"
    assert not failure_entries(rosa).exists()


def test_it_shows_a_failed_message_retried_from_admin_and_sent_as_sent(
    rosa, admin_client, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = REFUSING
    with django_capture_on_commit_callbacks(execute=True):
        entry = send(rosa)
    settings.EMAIL_BACKEND = LOCMEM

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:integrations_outboxmessage_changelist"),
            {"action": "retry_messages", "_selected_action": [outbox_message().pk]},
        )

    assert outbox_message().status == OutboxMessage.Status.SENT
    assert [m.to for m in mail.outbox] == [["rosa@example.pe"]]
    entry.refresh_from_db()
    assert entry.summary == "Correo enviado: Su cronograma"
    # What happened before stays on the timeline.
    assert failure_entries(rosa).count() == 1


def test_it_shows_the_failure_on_the_customers_page(
    client, asesor, rosa, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = REFUSING
    with django_capture_on_commit_callbacks(execute=True):
        send(rosa)
    client.force_login(asesor)

    response = client.get(rosa.get_absolute_url())

    assertContains(response, "Correo no enviado: Su cronograma")
    assertContains(response, "No se pudo enviar el correo «Su cronograma»")


# --- Outcomes for the message's origin ----------------------------------------------------


@pytest.fixture
def outcomes():
    told: list[tuple[int, messages.Outcome]] = []
    messages.register_outcome_handler("tests.origin", lambda pk, o: told.append((pk, o)))
    yield told
    messages.unregister_outcome_handler("tests.origin")


def test_it_tells_the_origin_that_its_message_was_sent(
    rosa, outcomes, frozen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        entry = send(rosa, origin=("tests.origin", 42))

    assert outcomes == [(42, messages.Outcome(entry.pk, messages.DeliveryStatus.SENT, NOW))]


def test_it_tells_the_origin_that_its_message_failed_and_why(
    rosa, outcomes, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = REFUSING
    with django_capture_on_commit_callbacks(execute=True):
        send(rosa, origin=("tests.origin", 42))

    ((origin_id, outcome),) = outcomes
    assert (origin_id, outcome.is_sent) == (42, False)
    assert "550 5.1.1 User unknown" in outcome.error


# --- Saying only what happened -------------------------------------------------------------


def test_a_failed_message_retried_from_admin_and_sent_reads_sent_in_the_conversation(
    rosa, admin_client, settings, django_capture_on_commit_callbacks
):
    """The conversation kept "Fallido" and the old error while the timeline said sent."""
    settings.EMAIL_BACKEND = REFUSING
    with django_capture_on_commit_callbacks(execute=True):
        sent = sending(rosa)
    settings.EMAIL_BACKEND = LOCMEM
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:integrations_outboxmessage_changelist"),
            {"action": "retry_messages", "_selected_action": [outbox_message().pk]},
        )

    row = Message.objects.get(interaction=sent.interaction)
    assert (row.status, row.error) == (Message.Status.SENT, "")


def test_a_message_written_to_the_log_says_so_not_sent(
    customer, settings, django_capture_on_commit_callbacks
):
    """Without credentials the SMS goes to the log: it read "SMS enviado"."""
    settings.SMS_PROVIDER = ""
    settings.TWILIO_ACCOUNT_SID = ""
    with django_capture_on_commit_callbacks(execute=True):
        entry = send(customer, channel=messages.SMS, subject="Recordatorio", body="Hola")

    entry.refresh_from_db()
    assert entry.summary == "SMS registrado, no enviado (SMS no configurado): Recordatorio"
    assert entry.payload[messages.DELIVERY]["logged"] is True
    row = Message.objects.get(interaction=entry)
    assert row.provider == "log"


def test_an_email_to_the_console_backend_says_it_was_not_sent(
    rosa, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        entry = send(rosa)

    entry.refresh_from_db()
    assert entry.summary == "Correo registrado, no enviado (Correo no configurado): Su cronograma"


def test_a_phone_removed_after_queueing_gets_nothing_and_says_why(
    customer, settings, django_capture_on_commit_callbacks
):
    settings.SMS_PROVIDER = ""
    settings.TWILIO_ACCOUNT_SID = ""
    entry = send(customer, channel=messages.SMS, subject="Recordatorio", body="Hola")
    Customer.objects.filter(pk=customer.pk).update(phone="")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.deliver_message(outbox_message().pk)

    entry.refresh_from_db()
    assert messages.delivery_status(entry) == messages.DeliveryStatus.FAILED
    assert customer.interactions.filter(
        summary__contains="ya no tiene celular registrado: el mensaje no se envió"
    ).exists()


def test_an_email_changed_after_queueing_is_not_sent_to_the_old_address(
    rosa, django_capture_on_commit_callbacks
):
    entry = send(rosa)
    Customer.objects.filter(pk=rosa.pk).update(email="rosa.nueva@example.pe")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.deliver_message(outbox_message().pk)

    assert mail.outbox == []
    entry.refresh_from_db()
    assert messages.delivery_status(entry) == messages.DeliveryStatus.FAILED
    assert failure_entries(rosa).filter(summary__contains="(rosa@example.pe)").exists()


def test_a_delivery_failure_reported_later_is_told_to_what_sent_the_message(
    customer, settings, django_capture_on_commit_callbacks
):
    """A provider's 'undelivered' callback left the sender counting the message as sent."""
    settings.SMS_PROVIDER = ""
    settings.TWILIO_ACCOUNT_SID = ""
    told = []
    messages.register_outcome_handler(
        "prueba", lambda origin_id, outcome: told.append((origin_id, outcome.status, outcome.error))
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            entry = send(
                customer, channel=messages.SMS, subject="Aviso", body="Hola", origin=("prueba", 7)
            )
        row = Message.objects.get(interaction=entry)

        messages.record_status(
            provider=row.provider,
            provider_message_id=row.provider_message_id,
            status=Message.Status.FAILED,
            error="30003: apagado",
        )
    finally:
        messages.unregister_outcome_handler("prueba")

    assert told == [
        (7, messages.DeliveryStatus.SENT, ""),
        (7, messages.DeliveryStatus.FAILED, "30003: apagado"),
    ]
