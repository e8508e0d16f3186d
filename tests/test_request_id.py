"""Each request has an id, sent back in X-Request-ID and written on its log lines."""

import io
import logging
import re
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.urls import reverse

from config.celery import app
from integrations import outbox
from integrations.models import OutboxMessage
from lib import request_context


@pytest.fixture
def console():
    """The console handler settings.LOGGING configured, writing into a string for the test."""
    handler = next(
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, request_context.RequestContextFilter) for f in handler.filters)
    )
    root = logging.getLogger()
    # A test worker started earlier in the session leaves the root logger at its own level.
    level = root.level
    root.setLevel(logging.INFO)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)
    root.setLevel(level)


def test_it_sends_back_the_id_the_proxy_gave(client, db):
    response = client.get("/healthz", headers={"X-Request-ID": "7f9c2ba4e88f827d61604550760585b4"})

    assert response["X-Request-ID"] == "7f9c2ba4e88f827d61604550760585b4"


def test_it_gives_each_request_without_one_a_new_id(client, db):
    ids = [client.get("/healthz")["X-Request-ID"] for _ in range(2)]

    assert ids[0] != ids[1]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)


@pytest.mark.parametrize(
    "given", ["x" * 129, "abc\r\nSet-Cookie: a=b", "<script>alert(1)</script>", "a b"]
)
def test_it_replaces_an_id_that_could_forge_a_log_line_or_a_header(client, db, given):
    response = client.get("/healthz", headers={"X-Request-ID": given})

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_a_line_about_a_request_names_its_id_and_the_signed_in_user(client, asesor, console):
    client.force_login(asesor)
    url = reverse("credits:investor_list")

    client.get(url, headers={"X-Request-ID": "req-403"})

    assert (
        f"django.request [request_id=req-403 user_id={asesor.pk}] "
        f"Forbidden (Permission denied): {url}"
    ) in console.getvalue()


def test_a_line_logged_inside_a_view_names_the_request(client, db, console, settings):
    settings.CALCOM_WEBHOOK_SECRET = "calcom-secret"

    client.post(
        reverse("crm:calcom_webhook"),
        b"{}",
        content_type="application/json",
        headers={"X-Request-ID": "req-hook"},
    )

    assert (
        "integrations.webhooks [request_id=req-hook user_id=-] calcom webhook refused"
    ) in console.getvalue()


def test_a_line_outside_any_request_says_so(console):
    logging.getLogger("cartera.test").warning("beat ran")

    assert "cartera.test [request_id=- user_id=-] beat ran" in console.getvalue()


@pytest.fixture
def real_worker(transactional_db):
    """Run a worker thread on the project's broker, with tasks no longer run inline."""
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.task_always_eager = True


def test_a_task_sent_during_a_request_runs_under_that_requests_id(real_worker):
    seen = []
    outbox.register_sender(
        "test.request_id",
        lambda payload: seen.append(request_context.current_request_id()),
    )
    try:
        with request_context.bound(request_id="req-task"):
            message = outbox.enqueue_message(destination="test.request_id", payload={})

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message.refresh_from_db()
            if message.status == OutboxMessage.Status.SENT:
                break
            time.sleep(0.2)
    finally:
        outbox.unregister_sender("test.request_id")

    assert seen == ["req-task"]
    assert request_context.current_request_id() is None
