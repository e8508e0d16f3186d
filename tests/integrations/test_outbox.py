import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import requests
import responses
from django.core.exceptions import ImproperlyConfigured

from integrations import http, outbox
from integrations.errors import ProviderError, TemporaryProviderError
from integrations.models import OutboxMessage

NOW = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
LEADS_URL = "https://provider.example/api/v4/leads"


def update_lead(payload: dict) -> None:
    """A sender the way a provider module writes one: through integrations.http."""
    with http.session() as client:
        http.request(client, "PATCH", LEADS_URL, json=payload)


@pytest.fixture
def http_sender(destination):
    outbox.register_sender(destination, update_lead)
    yield update_lead
    outbox.unregister_sender(destination)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def queued(destination: str, **fields) -> OutboxMessage:
    return OutboxMessage.objects.create(destination=destination, payload={"id": 7}, **fields)


def test_it_sends_a_message_once_the_transaction_commits(
    db, destination, sender, frozen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue_message(destination=destination, payload={"lead_id": 7})
        assert sender.sent == []

    message.refresh_from_db()
    assert sender.sent == [{"lead_id": 7}]
    assert message.status == OutboxMessage.Status.SENT
    assert message.sent_at == NOW
    assert message.attempts == 1


def test_it_sends_a_message_whose_prompt_delivery_was_lost_on_the_next_sweep(
    db, destination, sender
):
    # Without capturing on_commit callbacks, the prompt delivery task never runs.
    outbox.enqueue_message(destination=destination, payload={"lead_id": 7})

    outbox.deliver_due_messages()

    assert sender.sent == [{"lead_id": 7}]


def test_it_returns_the_existing_message_for_a_dedupe_key_already_used(
    db, destination, sender, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = outbox.enqueue_message(
            destination=destination, payload={"lead_id": 7}, dedupe_key="lead-7-won"
        )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = outbox.enqueue_message(
            destination=destination, payload={"lead_id": 7}, dedupe_key="lead-7-won"
        )

    assert second.pk == first.pk
    assert callbacks == []
    assert OutboxMessage.objects.count() == 1
    assert sender.sent == [{"lead_id": 7}]


def test_it_writes_as_many_messages_as_asked_without_a_dedupe_key(db, destination):
    outbox.enqueue_message(destination=destination, payload={"lead_id": 7})
    outbox.enqueue_message(destination=destination, payload={"lead_id": 7})

    assert OutboxMessage.objects.count() == 2


def test_it_retries_temporary_failures_with_backoff_and_sends_once_the_provider_is_back(
    db, destination, http_sender, frozen, settings, django_capture_on_commit_callbacks
):
    max_backoff = timedelta(seconds=settings.OUTBOX_BACKOFF_MAX_SECONDS)
    with responses.RequestsMock() as provider:
        provider.add(responses.PATCH, LEADS_URL, status=503)
        provider.add(responses.PATCH, LEADS_URL, body=requests.ConnectTimeout("timed out"))
        provider.add(responses.PATCH, LEADS_URL, status=429)
        provider.add(responses.PATCH, LEADS_URL, status=200, json={"id": 7})
        with django_capture_on_commit_callbacks(execute=True):
            message = outbox.enqueue_message(destination=destination, payload={"id": 7})

        waits = []
        clock = NOW
        for _ in range(3):
            message.refresh_from_db()
            assert message.status == OutboxMessage.Status.QUEUED
            waits.append(message.next_attempt_at - clock)
            assert outbox.deliver_due_messages() == 0  # not due yet
            clock += max_backoff
            frozen.move_to(clock, tick=False)
            outbox.deliver_due_messages()
        frozen.shift(max_backoff)
        assert outbox.deliver_due_messages() == 0

        assert len(provider.calls) == 4
        assert json.loads(provider.calls[-1].request.body) == {"id": 7}
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert message.attempts == 4
    for attempts, wait in enumerate(waits, start=1):
        ceiling = settings.OUTBOX_BACKOFF_BASE_SECONDS * 2**attempts
        assert timedelta(seconds=1) <= wait <= timedelta(seconds=ceiling)


def test_it_fails_a_message_at_once_when_the_provider_refuses_it(
    db, destination, http_sender, django_capture_on_commit_callbacks
):
    with responses.RequestsMock() as provider:
        provider.add(responses.PATCH, LEADS_URL, status=400, json={"detail": "bad status_id"})
        with django_capture_on_commit_callbacks(execute=True):
            message = outbox.enqueue_message(destination=destination, payload={"id": 7})

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert message.attempts == 1
    assert "HTTP 400" in message.last_error
    assert "bad status_id" in message.last_error


def test_it_fails_a_message_that_reaches_the_max_attempts(
    db, destination, sender, frozen, settings
):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    sender.errors = [TemporaryProviderError("HTTP 503")] * 5
    message = queued(destination, next_attempt_at=NOW)

    for _ in range(5):
        outbox.deliver_due_messages()
        frozen.shift(settings.OUTBOX_BACKOFF_MAX_SECONDS)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert message.attempts == 3
    assert message.last_error == "HTTP 503"
    assert sender.sent == []


def test_it_keeps_the_backoff_between_one_second_and_its_ceiling(settings):
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 30
    settings.OUTBOX_BACKOFF_MAX_SECONDS = 3600

    waits = [outbox.backoff_seconds(attempts) for attempts in range(1, 20) for _ in range(50)]

    assert min(waits) >= 1
    assert max(waits) <= 3600
    assert all(outbox.backoff_seconds(1) <= 60 for _ in range(50))


def test_it_retries_an_unexpected_sender_error_like_a_temporary_one(
    db, destination, sender, frozen
):
    sender.errors = [KeyError("status_id")]
    message = queued(destination, next_attempt_at=NOW)

    outbox.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.QUEUED
    assert message.next_attempt_at > NOW
    assert "KeyError: 'status_id'" in message.last_error


def test_it_fails_a_message_for_a_destination_nobody_sends(db, frozen):
    message = queued("nowhere.update", next_attempt_at=NOW)

    outbox.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert message.last_error == "No hay un remitente registrado para el destino «nowhere.update»."


def test_it_sends_a_failed_message_again_when_retried(
    db, destination, sender, frozen, django_capture_on_commit_callbacks
):
    sender.errors = [ProviderError("HTTP 400")]
    message = queued(destination, next_attempt_at=NOW)
    outbox.deliver_message(message_id=message.pk)

    with django_capture_on_commit_callbacks(execute=True):
        retried = outbox.retry_message(message=message)

    message.refresh_from_db()
    assert retried is True
    assert message.status == OutboxMessage.Status.SENT
    assert message.attempts == 1
    assert sender.sent == [{"id": 7}]


def test_it_does_not_retry_a_message_that_did_not_fail(
    db, destination, sender, django_capture_on_commit_callbacks
):
    message = queued(destination)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        retried = outbox.retry_message(message=message)

    assert retried is False
    assert callbacks == []


def test_it_does_nothing_when_asked_to_deliver_a_sent_message_again(
    db, destination, sender, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox.enqueue_message(destination=destination, payload={"id": 7})

    outbox.deliver_message(message_id=message.pk)

    assert sender.sent == [{"id": 7}]


def test_it_does_not_send_a_message_before_its_next_attempt(db, destination, sender, frozen):
    message = queued(destination, next_attempt_at=NOW + timedelta(seconds=30))

    outbox.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.QUEUED
    assert sender.sent == []


def test_it_sends_the_due_messages_oldest_first_up_to_the_limit(db, destination, sender, frozen):
    for minutes in (3, 1, 2):
        OutboxMessage.objects.create(
            destination=destination,
            payload={"minutes": minutes},
            next_attempt_at=NOW - timedelta(minutes=minutes),
        )

    handed_over = []
    with mock.patch.object(
        outbox.queue, "send_now", lambda name, kwargs: handed_over.append((name, kwargs))
    ):
        tried = outbox.deliver_due_messages(limit=2)

    assert sender.sent == [{"minutes": 3}, {"minutes": 2}]
    # The rest of the backlog goes to the workers in one batch task, not one per message.
    newest = OutboxMessage.objects.get(payload__minutes=1)
    assert handed_over == [("integrations.deliver_messages", {"message_ids": [newest.pk]})]
    assert tried == 3


def test_it_requeues_a_message_stuck_in_sending_after_a_worker_died(
    db, destination, sender, frozen
):
    message = queued(destination, status=OutboxMessage.Status.SENDING, last_attempt_at=NOW)
    frozen.shift(timedelta(minutes=11))

    outbox.deliver_due_messages()

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert message.attempts == 2
    assert sender.sent == [{"id": 7}]


def test_it_leaves_a_message_that_is_still_being_sent_alone(db, destination, sender, frozen):
    message = queued(destination, status=OutboxMessage.Status.SENDING, last_attempt_at=NOW)
    frozen.shift(timedelta(minutes=2))

    outbox.deliver_due_messages()

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENDING
    assert sender.sent == []


def test_it_fails_a_stuck_message_that_has_no_attempts_left(
    db, destination, sender, frozen, settings
):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    message = queued(
        destination, status=OutboxMessage.Status.SENDING, attempts=2, last_attempt_at=NOW
    )
    frozen.shift(timedelta(minutes=11))

    outbox.deliver_due_messages()

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert message.attempts == 3
    assert sender.sent == []


# --- Telling the destination's owner what failed for good ---------------------------------


@pytest.fixture
def failures(destination, sender) -> list[OutboxMessage]:
    """The messages the destination's failure handler was told about, as it saw them."""
    told: list[OutboxMessage] = []
    outbox.register_sender(destination, sender, on_failure=told.append)
    return told


def test_it_tells_the_owner_when_the_provider_refuses_a_message(
    db, destination, sender, failures, frozen
):
    sender.errors = [ProviderError("HTTP 400: bad status_id")]
    message = queued(destination, next_attempt_at=NOW)

    outbox.deliver_message(message_id=message.pk)

    (told,) = failures
    assert told.pk == message.pk
    assert told.status == OutboxMessage.Status.FAILED
    assert told.last_error == "HTTP 400: bad status_id"


def test_it_tells_the_owner_when_the_last_attempt_fails(
    db, destination, sender, failures, frozen, settings
):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    sender.errors = [TemporaryProviderError("HTTP 503")] * 2
    message = queued(destination, next_attempt_at=NOW)

    outbox.deliver_message(message_id=message.pk)
    assert failures == []
    frozen.shift(settings.OUTBOX_BACKOFF_MAX_SECONDS)
    outbox.deliver_due_messages()

    (told,) = failures
    assert (told.pk, told.status, told.attempts) == (message.pk, OutboxMessage.Status.FAILED, 2)


def test_it_tells_the_owner_when_the_sweep_gives_up_on_a_stuck_message(
    db, destination, sender, failures, frozen, settings
):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    message = queued(
        destination, status=OutboxMessage.Status.SENDING, attempts=2, last_attempt_at=NOW
    )
    requeued = queued(
        destination, status=OutboxMessage.Status.SENDING, attempts=0, last_attempt_at=NOW
    )
    frozen.shift(timedelta(minutes=11))

    outbox.recover_stuck_messages()

    assert [m.pk for m in failures] == [message.pk]
    assert failures[0].last_error == "El envío se interrumpió antes de terminar."
    requeued.refresh_from_db()
    assert requeued.status == OutboxMessage.Status.QUEUED


def test_it_does_not_tell_the_owner_of_a_message_sent_or_to_be_retried(
    db, destination, sender, failures, frozen
):
    sender.errors = [TemporaryProviderError("HTTP 503")]
    retried = queued(destination, next_attempt_at=NOW)
    sent = queued(destination, next_attempt_at=NOW)

    outbox.deliver_message(message_id=retried.pk)
    outbox.deliver_message(message_id=sent.pk)

    assert failures == []


def test_it_keeps_a_message_failed_and_notes_it_when_the_owners_handler_breaks(
    db, destination, sender, frozen
):
    def broken_handler(message: OutboxMessage) -> None:
        OutboxMessage.objects.filter(pk=message.pk).update(destination="half-done")
        raise RuntimeError("timeline unavailable")

    outbox.register_sender(destination, sender, on_failure=broken_handler)
    sender.errors = [ProviderError("HTTP 400")]
    message = queued(destination, next_attempt_at=NOW)

    outbox.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert message.destination == destination  # the handler's writes were undone
    assert message.last_error.startswith("HTTP 400\n\nNo se pudo avisar del fallo:")
    assert "RuntimeError: timeline unavailable" in message.last_error


def test_it_refuses_a_second_failure_handler_for_a_destination(db, destination, sender, failures):
    with pytest.raises(ImproperlyConfigured):
        outbox.register_sender(destination, sender, on_failure=print)


@pytest.mark.parametrize(
    "retry_after", ["9" * 400, "99999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"]
)
def test_a_provider_asking_to_wait_for_ages_is_retried_within_a_day(
    db, destination, http_sender, frozen, retry_after
):
    # "9" * 400 seconds is infinity as a float: the retry plan raised, and the message
    # stayed "sending" until the sweep; years ahead, it waited for them.
    message = queued(destination, next_attempt_at=NOW)
    with responses.RequestsMock() as provider:
        provider.add(responses.PATCH, LEADS_URL, status=429, headers={"Retry-After": retry_after})

        outbox.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.QUEUED
    assert NOW < message.next_attempt_at <= NOW + timedelta(days=1)
