"""One outbox sweep at a time, and a sweep that stops sending once its time is up."""

from datetime import UTC, datetime, timedelta

import pytest

from integrations import outbox
from integrations.models import OutboxMessage

NOW = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def queue(destination: str, count: int) -> list[int]:
    return [
        OutboxMessage.objects.create(destination=destination, payload={"n": n}).pk
        for n in range(count)
    ]


def test_a_second_sweep_while_one_runs_returns_at_once_without_sending(db, destination, frozen):
    queue(destination, 3)
    sent, second = [], []

    def slow_provider(payload):
        if not second:
            # Beat's next sweep starts while this one is still sending.
            second.append(outbox.deliver_due_messages())
        sent.append(payload["n"])

    outbox.register_sender(destination, slow_provider)
    try:
        assert outbox.deliver_due_messages() == 3
    finally:
        outbox.unregister_sender(destination)

    assert second == [0]
    assert sent == [0, 1, 2]  # each once, all by the first sweep
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_the_next_sweep_runs_once_the_first_has_ended(db, destination, sender):
    queue(destination, 1)
    assert outbox.deliver_due_messages() == 1
    queue(destination, 1)

    assert outbox.deliver_due_messages() == 1
    assert len(sender.sent) == 2


def test_a_sweep_stops_sending_when_its_time_is_up_and_leaves_the_rest_queued(
    db, destination, frozen
):
    queue(destination, 4)
    sent = []

    def provider_taking_20_seconds(payload):
        frozen.shift(timedelta(seconds=20))
        sent.append(payload["n"])

    outbox.register_sender(destination, provider_taking_20_seconds)
    try:
        assert outbox.deliver_due_messages(seconds=45) == 3  # at 0, 20 and 40 s
        assert sent == [0, 1, 2]
        assert OutboxMessage.objects.filter(status="queued").count() == 1

        assert outbox.deliver_due_messages(seconds=45) == 1  # the next sweep
    finally:
        outbox.unregister_sender(destination)
    assert sent == [0, 1, 2, 3]
