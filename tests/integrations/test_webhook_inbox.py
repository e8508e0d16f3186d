import io
import json
import threading
import time
from collections.abc import Mapping

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from integrations import services, webhooks
from integrations.errors import InvalidPayload, SignatureError, UnhandledEvent
from integrations.models import WebhookEvent

SECRET = "whsec-tests"
BODY = json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": {"uid": "bk-1"}}).encode()


def signed_request(body: bytes = BODY, signature: str | None = None, **headers: str):
    if signature is None:
        signature = webhooks.hmac_sha256_hex(SECRET, body)
    return RequestFactory().post(
        "/webhooks/tests/",
        data=body,
        content_type="application/json",
        headers={"X-Signature": signature, **headers},
    )


def verify(body: bytes, headers: Mapping[str, str]) -> None:
    webhooks.verify_hmac_sha256(SECRET, body, headers.get("X-Signature", ""))


@pytest.fixture
def endpoint(provider) -> webhooks.Endpoint:
    return webhooks.Endpoint(provider=provider, verify=verify, event_id=lambda data: "evt-1")


def test_it_stores_a_verified_event_and_processes_it_once_committed(
    db, endpoint, processor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = webhooks.receive(signed_request(), endpoint)

    event = WebhookEvent.objects.get()
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "stored", "id": event.pk}
    assert (event.provider, event.event_id) == (endpoint.provider, "evt-1")
    assert event.payload() == json.loads(BODY)
    assert event.status == WebhookEvent.Status.PROCESSED
    assert processor.calls == [event.pk]


def test_it_does_nothing_on_a_second_delivery_of_the_same_event(
    db, endpoint, processor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.receive(signed_request(), endpoint)
    first = WebhookEvent.objects.get()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = webhooks.receive(signed_request(), endpoint)

    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "duplicate", "id": first.pk}
    assert callbacks == []
    assert WebhookEvent.objects.count() == 1
    assert processor.calls == [first.pk]


def test_it_keeps_events_of_different_providers_with_the_same_id_apart(db, provider):
    webhooks.store_event(provider=provider, event_id="evt-1", body=BODY, headers={})

    _, created = webhooks.store_event(
        provider="another-provider", event_id="evt-1", body=BODY, headers={}
    )

    assert created is True
    assert WebhookEvent.objects.count() == 2


def test_it_stores_nothing_when_the_signature_does_not_match(db, endpoint, processor):
    request = signed_request(signature=webhooks.hmac_sha256_hex("another-secret", BODY))

    response = webhooks.receive(request, endpoint)

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
    assert processor.calls == []


def test_it_stores_nothing_when_the_signature_is_missing(db, endpoint):
    request = signed_request(signature="")

    response = webhooks.receive(request, endpoint)

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_it_stores_only_headers_that_carry_no_credentials(db, endpoint):
    request = signed_request(
        **{
            "User-Agent": "Tests/1.0",
            "X-Request-Id": "req-1",
            "Authorization": "Bearer secret-token",
            "Cookie": "sessionid=abc",
            "X-Api-Key": "secret-key",
            "X-Webhook-Secret": "shared-secret",
            "Accept-Language": "es",
        }
    )

    webhooks.receive(request, endpoint)

    assert WebhookEvent.objects.get().headers == {
        "content-type": "application/json",
        "user-agent": "Tests/1.0",
        "x-request-id": "req-1",
        "x-signature": webhooks.hmac_sha256_hex(SECRET, BODY),
    }


def test_it_stores_a_body_that_is_not_utf8_with_replacement_characters(db, provider):
    event, _ = webhooks.store_event(
        provider=provider, event_id="evt-1", body=b'{"name": "Mu\xf1oz"}', headers={}
    )

    assert event.raw_body == '{"name": "Mu\ufffdoz"}'


def test_it_refuses_an_event_without_an_id(db, provider):
    with pytest.raises(ValueError):
        webhooks.store_event(provider=provider, event_id="", body=BODY, headers={})


def test_it_refuses_a_body_that_is_not_a_json_object_as_payload():
    event = WebhookEvent(raw_body="[1, 2]")

    with pytest.raises(ValueError):
        event.payload()


def test_it_accepts_the_hmac_sha256_hex_signature_of_the_body_in_any_case():
    signature = webhooks.hmac_sha256_hex(SECRET, BODY).upper()

    webhooks.verify_hmac_sha256(SECRET, BODY, signature)


def test_it_rejects_a_signature_of_a_different_body():
    signature = webhooks.hmac_sha256_hex(SECRET, BODY)

    with pytest.raises(SignatureError):
        webhooks.verify_hmac_sha256(SECRET, BODY + b" ", signature)


def test_it_rejects_a_signature_with_non_ascii_characters():
    with pytest.raises(SignatureError):
        webhooks.verify_hmac_sha256(SECRET, BODY, "ñ" * 64)


def test_it_rejects_every_signature_when_no_secret_is_configured():
    signature = webhooks.hmac_sha256_hex("", BODY)

    with pytest.raises(SignatureError):
        webhooks.verify_hmac_sha256("", BODY, signature)


@pytest.mark.django_db(transaction=True)
def test_a_receipt_is_one_insert_and_a_duplicate_one_more_read(provider, monkeypatch):
    # What a provider waits for costs one round trip and asking for a drain; the task
    # does the rest.
    sent = []
    monkeypatch.setattr(
        webhooks.queue, "send_now", lambda name, kwargs, countdown=None: sent.append(name)
    )
    with CaptureQueriesContext(connection) as first:
        event, created = webhooks.store_event(
            provider=provider, event_id="e", body=BODY, headers={}
        )
    with CaptureQueriesContext(connection) as again:
        _, again_created = webhooks.store_event(
            provider=provider, event_id="e", body=BODY, headers={"x-a": "b"}
        )

    assert created and not again_created
    assert [q["sql"].split()[0] for q in first.captured_queries] == ["INSERT"]
    assert "ON CONFLICT" in first.captured_queries[0]["sql"]
    assert [q["sql"].split()[0] for q in again.captured_queries] == ["INSERT", "SELECT"]
    stored = WebhookEvent.objects.get()
    assert (stored.pk, stored.headers, stored.raw_body) == (event.pk, {}, BODY.decode())
    assert sent == ["integrations.process_received_events"]


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_receipts_asks_for_one_drain_which_takes_them_all_in_order(
    provider, processor, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        webhooks.queue,
        "send_now",
        lambda name, kwargs, countdown=None: sent.append((name, kwargs, countdown)),
    )
    clock = [1000.0]
    monkeypatch.setattr(webhooks.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(webhooks.queue, "runs_inline", lambda: False)  # as with a worker
    drain = ("integrations.process_received_events", {}, None)
    recheck = ("integrations.process_received_events", {"recheck": False}, 2.0)
    for n in range(5):
        webhooks.store_event(provider=provider, event_id=f"e{n}", body=BODY, headers={})
    assert sent == [drain]

    services.process_received_events(batch=2)  # the task, as a worker runs it

    events = list(WebhookEvent.objects.order_by("pk"))
    assert processor.calls == [e.pk for e in events]
    assert {e.status for e in events} == {WebhookEvent.Status.PROCESSED}
    # The drain sends its re-check: a receipt from a process that asked less than a second
    # ago does not ask again, and may commit just after the drain's last read.
    assert sent == [drain, recheck]
    clock[0] += 0.5
    webhooks.store_event(provider=provider, event_id="skipped", body=BODY, headers={})
    assert sent == [drain, recheck]
    services.process_received_events(recheck=False)  # the re-check, as a worker runs it
    skipped = WebhookEvent.objects.get(event_id="skipped")
    assert skipped.status == WebhookEvent.Status.PROCESSED
    assert sent == [drain, recheck]  # a re-check sends no other
    # A second after its last ask, the process asks again: the drain freed the key.
    clock[0] += webhooks.DRAIN_ASK_SECONDS
    webhooks.store_event(provider=provider, event_id="later", body=BODY, headers={})
    assert sent == [drain, recheck, drain]


@pytest.mark.django_db(transaction=True)
def test_a_process_asks_again_while_its_key_is_still_set_only_after_a_second(provider, monkeypatch):
    # The memo only spares the round trip: a set key still means no second task.
    sent = []
    monkeypatch.setattr(
        webhooks.queue, "send_now", lambda name, kwargs, countdown=None: sent.append(name)
    )
    asks = []
    add = webhooks.cache.add
    monkeypatch.setattr(webhooks.cache, "add", lambda *a, **k: asks.append(1) or add(*a, **k))
    clock = [50.0]
    monkeypatch.setattr(webhooks.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(webhooks.queue, "runs_inline", lambda: False)  # as with a worker
    for n in range(4):
        webhooks.store_event(provider=provider, event_id=f"e{n}", body=BODY, headers={})
        clock[0] += 0.4
    # Asked at 50.0 and again at 51.2 (the key still set: no second task).
    assert (len(asks), sent) == (2, ["integrations.process_received_events"])


@pytest.mark.django_db(transaction=True)
def test_it_stores_and_processes_a_concurrent_double_delivery_once(provider, processor):
    first_inserted = threading.Event()
    results: list[bool] = []

    def deliver_first() -> None:
        try:
            # Hold the first insert uncommitted while the second delivery races it. On
            # PostgreSQL the second INSERT waits on the unique index, then loses; SQLite
            # makes the second transaction wait for the first to commit, then finds it.
            with transaction.atomic():
                _, created = webhooks.store_event(
                    provider=provider, event_id="evt-1", body=BODY, headers={}
                )
                first_inserted.set()
                time.sleep(0.5)
            results.append(created)
        finally:
            connection.close()

    def deliver_second() -> None:
        try:
            first_inserted.wait(timeout=5)
            _, created = webhooks.store_event(
                provider=provider, event_id="evt-1", body=BODY, headers={}
            )
            results.append(created)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_first), threading.Thread(target=deliver_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [False, True]
    assert WebhookEvent.objects.filter(provider=provider, event_id="evt-1").count() == 1
    assert len(processor.calls) == 1
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


# --- The door's steps, in order: size, signature, parsing, the provider's reading --------


class UnreadableStream:
    """A request body that fails the test if anything reads it."""

    def read(self, *args) -> bytes:
        raise AssertionError("The body was read.")

    def readline(self, *args) -> bytes:
        raise AssertionError("The body was read.")


def nested(levels: int) -> dict:
    data: dict = {"leaf": True}
    for _ in range(levels - 1):
        data = {"child": data}
    return data


def test_it_refuses_a_body_declared_over_the_limit_without_reading_it(db, endpoint, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    request = RequestFactory().generic(
        "POST",
        "/webhooks/tests/",
        content_type="application/json",
        **{"CONTENT_LENGTH": "1025", "wsgi.input": UnreadableStream()},
    )

    response = webhooks.receive(request, endpoint)

    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_it_refuses_a_body_longer_than_the_limit_when_no_length_was_declared(
    db, endpoint, settings
):
    # A chunked request under ASGI: no Content-Length, the body counts.
    settings.WEBHOOK_MAX_BODY_BYTES = len(BODY) - 1
    scope = {"type": "http", "method": "POST", "path": "/webhooks/tests/", "headers": []}
    request = ASGIRequest(scope, io.BytesIO(BODY))
    request.META["HTTP_X_SIGNATURE"] = webhooks.hmac_sha256_hex(SECRET, BODY)

    response = webhooks.receive(request, endpoint)

    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_it_refuses_a_body_over_djangos_own_upload_limit_as_too_large(db, endpoint, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(BODY) - 1

    response = webhooks.receive(signed_request(), endpoint)

    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_it_accepts_a_body_of_exactly_the_limit(db, endpoint, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = len(BODY)

    response = webhooks.receive(signed_request(), endpoint)

    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_it_checks_the_size_before_the_signature(db, endpoint, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = len(BODY) - 1

    response = webhooks.receive(signed_request(signature=""), endpoint)

    assert response.status_code == 413


@pytest.mark.parametrize("length", ["many", "-1"])
def test_it_refuses_a_content_length_that_is_not_one(db, endpoint, length):
    request = signed_request()
    request.META["CONTENT_LENGTH"] = length

    response = webhooks.receive(request, endpoint)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_it_checks_the_signature_before_reading_the_body(db, endpoint):
    body = b"not json"

    response = webhooks.receive(signed_request(body, signature="0" * 64), endpoint)

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe\xfa", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"amount": NaN}', "not JSON"),
        (json.dumps(nested(33)).encode(), "deeper than 32"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "deeper than 32"),
    ],
)
def test_it_answers_400_with_the_reason_to_a_signed_body_it_cannot_parse(
    db, endpoint, processor, body, reason
):
    response = webhooks.receive(signed_request(body), endpoint)

    assert response.status_code == 400
    assert reason in json.loads(response.content)["detail"]
    assert not WebhookEvent.objects.exists()
    assert processor.calls == []


def test_it_accepts_a_body_nested_as_deep_as_the_limit(db, endpoint):
    body = json.dumps(nested(webhooks.MAX_DEPTH)).encode()

    response = webhooks.receive(signed_request(body), endpoint)

    assert response.status_code == 200


def test_it_answers_200_and_stores_nothing_for_an_event_not_acted_on(db, provider):
    def unhandled(data: dict) -> str:
        raise UnhandledEvent("A test event.")

    endpoint = webhooks.Endpoint(provider=provider, verify=verify, event_id=unhandled)

    response = webhooks.receive(signed_request(), endpoint)

    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ignored"}
    assert not WebhookEvent.objects.exists()


def test_it_answers_400_with_a_short_reason_when_the_provider_cannot_read_the_data(db, provider):
    def malformed(data: dict) -> str:
        raise ValueError("No uid: " + "x" * 1000)

    endpoint = webhooks.Endpoint(provider=provider, verify=verify, event_id=malformed)

    response = webhooks.receive(signed_request(), endpoint)

    assert response.status_code == 400
    detail = json.loads(response.content)["detail"]
    assert detail.startswith("No uid: ")
    assert len(detail) <= 200
    assert not WebhookEvent.objects.exists()


def test_it_answers_403_when_the_provider_finds_a_sender_that_is_not_ours(db, provider):
    def foreign(data: dict) -> str:
        raise SignatureError("Another account.")

    endpoint = webhooks.Endpoint(provider=provider, verify=None, event_id=foreign)

    response = webhooks.receive(signed_request(), endpoint)

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("event_id", ["", "x" * 256])
def test_it_refuses_an_event_id_the_inbox_cannot_keep(db, provider, event_id):
    endpoint = webhooks.Endpoint(provider=provider, verify=verify, event_id=lambda data: event_id)

    response = webhooks.receive(signed_request(), endpoint)

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_it_hands_the_provider_the_parsed_body(db, provider):
    seen: list = []

    def event_id(data: dict) -> str:
        seen.append(data)
        return data["payload"]["uid"]

    endpoint = webhooks.Endpoint(provider=provider, verify=verify, event_id=event_id)

    webhooks.receive(signed_request(), endpoint)

    assert seen == [json.loads(BODY)]
    assert WebhookEvent.objects.get().event_id == "bk-1"


# --- The form parser (Kommo's PHP-style keys) --------------------------------------------


def test_expand_form_builds_nested_dicts_from_php_style_keys():
    data = webhooks.expand_form(
        [
            ("leads[status][0][id]", "1"),
            ("leads[status][0][custom_fields][0][values][0][value]", "Facebook"),
            ("leads[status][1][id]", "2"),
            ("account[subdomain]", "cartera"),
        ]
    )

    assert data["leads"]["status"]["0"]["id"] == "1"
    assert data["leads"]["status"]["0"]["custom_fields"]["0"]["values"]["0"]["value"] == "Facebook"
    assert data["leads"]["status"]["1"] == {"id": "2"}
    assert data["account"] == {"subdomain": "cartera"}


def test_it_reads_a_form_into_its_fields_and_their_nested_data():
    form = webhooks.parse_form(b"a%5Bb%5D=1&a%5Bc%5D=&d=Rosa+Huam%C3%A1n&")

    assert form.fields == (("a[b]", "1"), ("a[c]", ""), ("d", "Rosa Huamán"))
    assert form.data == {"a": {"b": "1", "c": ""}, "d": "Rosa Huamán"}


def test_every_webhook_door_leaves_nul_characters_out_of_the_texts():
    """PostgreSQL's text refuses NUL: kept, an SMS or a lead failed on every retry."""
    form = webhooks.parse_form(b"Body=hola%00+mundo&lead%5Bna%00me%5D=Rosa%00")
    body = b'{"text": "hola\\u0000", "items": [{"n\\u0000": "Rosa\\u0000"}]}'
    event = WebhookEvent(provider="x", event_id="1", raw_body=body.decode())

    assert form.fields == (("Body", "hola mundo"), ("lead[name]", "Rosa"))
    assert form.data == {"Body": "hola mundo", "lead": {"name": "Rosa"}}
    expected = {"text": "hola", "items": [{"n": "Rosa"}]}
    assert webhooks.parse_json_object(body) == expected
    assert event.payload() == expected


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "no form fields"),
        (b"&&", "no form fields"),
        (b"not a form", "not form-encoded"),
        (b'{"account": {"subdomain": "cartera"}}', "not form-encoded"),
        (b"\xff\xfe=1", "not UTF-8"),
        (b"a" + b"%5Bx%5D" * 32 + b"=1", "deeper than 32"),
        (b"&".join(b"f%d=1" % n for n in range(5001)), "more than 5000"),
    ],
)
def test_it_refuses_a_body_that_is_not_a_reasonable_form(body, reason):
    with pytest.raises(InvalidPayload, match=reason):
        webhooks.parse_form(body)


def test_it_accepts_a_form_key_as_deep_as_the_limit_and_as_many_fields_as_the_cap():
    deep = b"a" + b"%5Bx%5D" * (webhooks.MAX_DEPTH - 1) + b"=1"
    many = b"&".join(b"f%d=1" % n for n in range(webhooks.MAX_FORM_FIELDS - 1))

    form = webhooks.parse_form(deep + b"&" + many)

    assert len(form.fields) == webhooks.MAX_FORM_FIELDS
