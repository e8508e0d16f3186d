import json
import threading
import time
from collections.abc import Mapping

import pytest
from django.db import connection, transaction
from django.test import RequestFactory

from integrations import webhooks
from integrations.errors import SignatureError
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


def test_it_stores_a_verified_event_and_processes_it_once_committed(
    db, provider, processor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event, created = webhooks.receive(
            signed_request(), provider=provider, event_id="evt-1", verify=verify
        )

    event.refresh_from_db()
    assert created is True
    assert event.payload() == json.loads(BODY)
    assert event.status == WebhookEvent.Status.PROCESSED
    assert processor.calls == [event.pk]


def test_it_does_nothing_on_a_second_delivery_of_the_same_event(
    db, provider, processor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first, _ = webhooks.receive(
            signed_request(), provider=provider, event_id="evt-1", verify=verify
        )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second, created = webhooks.receive(
            signed_request(), provider=provider, event_id="evt-1", verify=verify
        )

    assert created is False
    assert second.pk == first.pk
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


def test_it_stores_nothing_when_the_signature_does_not_match(db, provider, processor):
    request = signed_request(signature=webhooks.hmac_sha256_hex("another-secret", BODY))

    with pytest.raises(SignatureError):
        webhooks.receive(request, provider=provider, event_id="evt-1", verify=verify)

    assert not WebhookEvent.objects.exists()
    assert processor.calls == []


def test_it_stores_nothing_when_the_signature_is_missing(db, provider):
    request = signed_request(signature="")

    with pytest.raises(SignatureError):
        webhooks.receive(request, provider=provider, event_id="evt-1", verify=verify)

    assert not WebhookEvent.objects.exists()


def test_it_stores_only_headers_that_carry_no_credentials(db, provider):
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

    event, _ = webhooks.receive(request, provider=provider, event_id="evt-1", verify=verify)

    assert event.headers == {
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
