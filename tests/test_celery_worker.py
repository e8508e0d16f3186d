"""A real Celery worker consumes from the configured broker (files locally, Redis in CI)."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from integrations import outbox
from integrations.models import OutboxMessage


@pytest.fixture
def real_worker(transactional_db, settings):
    """Run a worker thread on the project's broker, with tasks no longer run inline."""
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.task_always_eager = True


def test_an_outbox_message_is_sent_by_a_real_worker_through_the_broker(real_worker):
    sent = []
    outbox.register_sender("test.worker", sent.append)
    try:
        message = outbox.enqueue_message(destination="test.worker", payload={"lead": 7})

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message.refresh_from_db()
            if message.status == OutboxMessage.Status.SENT:
                break
            time.sleep(0.2)
    finally:
        outbox.unregister_sender("test.worker")

    assert message.status == OutboxMessage.Status.SENT
    assert sent == [{"lead": 7}]
