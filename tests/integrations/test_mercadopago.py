"""MercadoPago: Checkout Pro preferences, payments read back and the signed webhook door.

HTTP is faked with `responses` at MercadoPago's URLs: the official SDK's calls go through
integrations.http, so what the SDK sends is what these tests see. The fixtures under
fixtures/mercadopago/ follow the shapes of MercadoPago's documentation and SDK mocks.
"""

import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import responses
from django.test import RequestFactory

from integrations import mercadopago, payment_gateways, webhooks
from integrations.errors import (
    ProviderError,
    SignatureError,
    TemporaryProviderError,
    UnhandledEvent,
)
from integrations.models import WebhookEvent
from integrations.payment_gateways import CheckoutRequest, GatewayPayment

FIXTURES = Path(__file__).parent / "fixtures" / "mercadopago"
TOKEN = "APP_USR-6295877106812064-031012-tests"
SECRET = "mercadopago-webhook-secret"
PREFERENCES_URL = "https://api.mercadopago.com/checkout/preferences"
PAYMENT_ID = "1320880017"
PAYMENT_URL = f"https://api.mercadopago.com/v1/payments/{PAYMENT_ID}"
REQUEST_ID = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e"
TS = "1742505638683"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str):
    return json.loads(fixture_bytes(name))


@pytest.fixture(autouse=True)
def configured(settings):
    settings.PAYMENT_GATEWAYS_FAKE = False
    settings.MERCADOPAGO_ACCESS_TOKEN = TOKEN
    settings.MERCADOPAGO_WEBHOOK_SECRET = SECRET
    settings.MERCADOPAGO_SANDBOX = False
    settings.MERCADOPAGO_STATEMENT_DESCRIPTOR = ""
    settings.TIME_ZONE = "America/Lima"
    return settings


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


def checkout_request(**overrides) -> CheckoutRequest:
    arguments = {
        "reference": "PL-2321-0003",
        "title": "Cuota 3 de 12 - Préstamo 2321",
        "amount": Decimal("1234.50"),
        "currency": "ARS",
        "payer_email": "ana.perez@example.com",
        "expires_at": datetime(2025, 3, 10, 23, 59, 59, tzinfo=UTC),
        "notification_url": "https://cartera.example.com/webhooks/mercadopago/",
        "back_url": "https://cartera.example.com/pagos/retorno/",
        "idempotency_key": "payment-link-3-attempt-1",
        **overrides,
    }
    return CheckoutRequest(**arguments)


def create(**overrides):
    return mercadopago.create_checkout(checkout_request(**overrides))


# --- Checkout Pro preferences ------------------------------------------------------------


def test_it_creates_a_preference_for_the_amount_reference_and_expiry(api):
    api.add(responses.POST, PREFERENCES_URL, json=fixture_json("preference_create_response.json"))

    checkout = create()

    sent = api.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["x-idempotency-key"] == "payment-link-3-attempt-1"
    assert json.loads(sent.body) == {
        "items": [
            {
                "title": "Cuota 3 de 12 - Préstamo 2321",
                "quantity": 1,
                "unit_price": 1234.5,
                "currency_id": "ARS",
            }
        ],
        "payer": {"email": "ana.perez@example.com"},
        "external_reference": "PL-2321-0003",
        # Webhooks only, not also the legacy IPN (MercadoPago's webhooks page).
        "notification_url": "https://cartera.example.com/webhooks/mercadopago/?source_news=webhooks",
        "back_urls": {
            "success": "https://cartera.example.com/pagos/retorno/",
            "pending": "https://cartera.example.com/pagos/retorno/",
            "failure": "https://cartera.example.com/pagos/retorno/",
        },
        "auto_return": "approved",
        "expires": True,
        # 23:59:59 UTC, written as MercadoPago does, in settings.TIME_ZONE (Lima, -05:00).
        "expiration_date_to": "2025-03-10T18:59:59.000-05:00",
    }
    answer = fixture_json("preference_create_response.json")
    assert checkout == payment_gateways.Checkout(
        provider_id="202809963-920c288b-4ebb-40be-966f-700250fa5370",
        url=answer["init_point"],
        raw=answer,
    )


def test_it_sends_the_amount_as_the_same_digits_never_a_rounded_float(api):
    api.add(responses.POST, PREFERENCES_URL, json=fixture_json("preference_create_response.json"))

    create(amount=Decimal("98765432.10"))

    body = api.calls[0].request.body
    assert '"unit_price": 98765432.1' in body
    assert Decimal(str(json.loads(body)["items"][0]["unit_price"])) == Decimal("98765432.10")


def test_it_leaves_out_an_unknown_payer_and_adds_the_statement_descriptor(api, configured):
    configured.MERCADOPAGO_STATEMENT_DESCRIPTOR = "CARTERA"
    api.add(responses.POST, PREFERENCES_URL, json=fixture_json("preference_create_response.json"))

    create(payer_email="")

    sent = json.loads(api.calls[0].request.body)
    assert "payer" not in sent
    assert sent["statement_descriptor"] == "CARTERA"


def test_it_leaves_out_a_notification_url_it_was_not_given(api):
    api.add(responses.POST, PREFERENCES_URL, json=fixture_json("preference_create_response.json"))

    create(notification_url="")

    assert "notification_url" not in json.loads(api.calls[0].request.body)


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        (
            "https://x.example/webhooks/mercadopago/",
            "https://x.example/webhooks/mercadopago/?source_news=webhooks",
        ),
        (
            "https://x.example/wh/?client=cartera",
            "https://x.example/wh/?client=cartera&source_news=webhooks",
        ),
        (
            "https://x.example/wh/?source_news=webhooks",
            "https://x.example/wh/?source_news=webhooks",
        ),
    ],
)
def test_the_notification_url_asks_for_webhooks_only(url, sent):
    assert mercadopago.webhooks_only(url) == sent


def test_it_gives_the_sandbox_url_in_sandbox_mode(api, configured):
    configured.MERCADOPAGO_SANDBOX = True
    api.add(responses.POST, PREFERENCES_URL, json=fixture_json("preference_create_response.json"))

    checkout = create()

    assert checkout.url.startswith("https://sandbox.mercadopago.com.ar/checkout/v1/redirect")


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": Decimal("10.005")},
        {"amount": Decimal("0.00")},
        {"amount": Decimal("-5.00")},
        {"amount": Decimal("NaN")},
        {"amount": 1234.5},
        {"expires_at": datetime(2025, 3, 10, 23, 59, 59)},  # naive on purpose
        {"idempotency_key": ""},
        {"idempotency_key": "k" * 65},
    ],
)
def test_it_refuses_a_request_it_must_not_send(api, overrides):
    with pytest.raises(ValueError):
        create(**overrides)

    assert len(api.calls) == 0


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_refusal_is_a_permanent_error(api, status):
    api.add(
        responses.POST,
        PREFERENCES_URL,
        status=status,
        json={"message": "invalid expiration_date_to", "error": "bad_request", "status": status},
    )

    with pytest.raises(ProviderError) as raised:
        create()

    assert not isinstance(raised.value, TemporaryProviderError)
    assert "invalid expiration_date_to" in str(raised.value)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize("status", [423, 424, 429, 500, 502, 503, 504])
def test_an_overload_or_outage_is_a_temporary_error_tried_once(api, status):
    api.add(responses.POST, PREFERENCES_URL, status=status, json={"message": "try later"})

    with pytest.raises(TemporaryProviderError):
        create()

    # The SDK would have retried 429 and 5xx three times; Celery retries here.
    assert len(api.calls) == 1


def test_a_429_passes_on_how_long_to_wait(api):
    api.add(responses.POST, PREFERENCES_URL, status=429, headers={"Retry-After": "30"}, json={})

    with pytest.raises(TemporaryProviderError) as raised:
        create()

    assert raised.value.retry_after == 30


@pytest.mark.parametrize(
    "error", [requests.ReadTimeout("read timed out"), requests.ConnectionError("refused")]
)
def test_no_answer_is_a_temporary_error(api, error):
    api.add(responses.POST, PREFERENCES_URL, body=error)

    with pytest.raises(TemporaryProviderError):
        create()

    assert len(api.calls) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"body": "<html>Bad gateway page</html>"},
        {"json": {"id": "202809963-920c288b"}},
        {"json": {"id": "", "init_point": "https://www.mercadopago.com.ar/checkout"}},
        {"json": {"id": "pref-1", "init_point": "javascript:alert(1)"}},
        {"json": [1, 2]},
    ],
)
def test_an_answer_without_a_preference_is_a_permanent_error(api, answer):
    api.add(responses.POST, PREFERENCES_URL, **answer)

    with pytest.raises(ProviderError, match="MercadoPago respondió algo inesperado") as raised:
        create()

    assert not isinstance(raised.value, TemporaryProviderError)


def test_it_calls_nothing_without_an_access_token(api, configured):
    configured.MERCADOPAGO_ACCESS_TOKEN = ""

    with pytest.raises(ProviderError, match="MercadoPago no está configurado"):
        create()
    with pytest.raises(ProviderError, match="MercadoPago no está configurado"):
        mercadopago.fetch_payment(PAYMENT_ID)

    assert len(api.calls) == 0


# --- Payments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "paid_on", "refunded"),
    [
        ("payment_approved.json", payment_gateways.APPROVED, date(2025, 3, 10), "0.00"),
        ("payment_pending.json", payment_gateways.PENDING, None, "0.00"),
        ("payment_rejected.json", payment_gateways.REJECTED, None, "0.00"),
        ("payment_refunded.json", payment_gateways.REFUNDED, date(2025, 3, 10), "1234.50"),
        ("payment_charged_back.json", payment_gateways.CHARGED_BACK, date(2025, 3, 10), "0.00"),
    ],
)
def test_it_reads_a_payment_in_our_terms(api, name, status, paid_on, refunded):
    answer = fixture_json(name)
    api.add(responses.GET, f"https://api.mercadopago.com/v1/payments/{answer['id']}", json=answer)

    payment = mercadopago.fetch_payment(str(answer["id"]))

    assert api.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert payment == GatewayPayment(
        provider_payment_id=str(answer["id"]),
        reference="PL-2321-0003",
        status=status,
        amount=Decimal("1234.50"),
        currency="ARS",
        paid_on=paid_on,
        raw=answer,
        refunded=Decimal(refunded),
    )
    assert isinstance(payment.amount, Decimal)


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        ("approved", payment_gateways.APPROVED),
        ("pending", payment_gateways.PENDING),
        ("in_process", payment_gateways.PENDING),
        ("in_mediation", payment_gateways.PENDING),
        ("authorized", payment_gateways.PENDING),
        ("rejected", payment_gateways.REJECTED),
        ("cancelled", payment_gateways.CANCELLED),
        ("refunded", payment_gateways.REFUNDED),
        ("charged_back", payment_gateways.CHARGED_BACK),
    ],
)
def test_it_maps_every_status_of_mercadopago_to_ours(theirs, ours):
    payment = mercadopago.read_payment({**fixture_json("payment_approved.json"), "status": theirs})

    assert payment.status == ours


def test_the_day_paid_is_the_day_in_the_configured_time_zone(configured):
    approved = fixture_json("payment_approved.json")  # 2025-03-11T01:30:01-03:00

    assert mercadopago.read_payment(approved).paid_on == date(2025, 3, 10)  # Lima, -05:00
    configured.TIME_ZONE = "America/Argentina/Buenos_Aires"
    assert mercadopago.read_payment(approved).paid_on == date(2025, 3, 11)


def test_an_amount_is_read_as_decimal_cents():
    payment = mercadopago.read_payment(
        {**fixture_json("payment_approved.json"), "transaction_amount": 0.1 + 0.2}
    )

    assert payment.amount == Decimal("0.30")


@pytest.mark.parametrize(
    "change",
    [
        {"status": "vanished"},
        {"status": None},
        {"transaction_amount": None},
        {"transaction_amount": True},
        {"currency_id": None},
        {"id": None},
        {"date_approved": "yesterday"},
        {"date_approved": "2025-03-11T01:30:01"},
    ],
)
def test_a_payment_it_cannot_read_is_a_permanent_error(change):
    with pytest.raises(ProviderError) as raised:
        mercadopago.read_payment({**fixture_json("payment_approved.json"), **change})

    assert not isinstance(raised.value, TemporaryProviderError)


def test_an_unknown_payment_is_a_permanent_error(api):
    api.add(responses.GET, PAYMENT_URL, status=404, json={"message": "Payment not found"})

    with pytest.raises(ProviderError) as raised:
        mercadopago.fetch_payment(PAYMENT_ID)

    assert not isinstance(raised.value, TemporaryProviderError)


def test_an_outage_while_reading_a_payment_is_temporary(api):
    api.add(responses.GET, PAYMENT_URL, status=503)

    with pytest.raises(TemporaryProviderError):
        mercadopago.fetch_payment(PAYMENT_ID)


@pytest.mark.parametrize("payment_id", ["", "abc", "12/../34", "１２３"])
def test_it_asks_nothing_for_an_id_that_is_not_a_payment_id(api, payment_id):
    with pytest.raises(ProviderError):
        mercadopago.fetch_payment(payment_id)

    assert len(api.calls) == 0


def test_the_gateway_class_is_the_module_behind_the_interface(api):
    api.add(responses.POST, PREFERENCES_URL, json=fixture_json("preference_create_response.json"))
    api.add(responses.GET, PAYMENT_URL, json=fixture_json("payment_approved.json"))

    gateway = payment_gateways.gateway("mercadopago")

    assert isinstance(gateway, mercadopago.MercadoPagoGateway)
    assert (gateway.name, gateway.label) == ("mercadopago", "MercadoPago")
    assert gateway.create_checkout(checkout_request()).provider_id.startswith("202809963-")
    assert gateway.fetch_payment(PAYMENT_ID).status == payment_gateways.APPROVED


# --- The webhook signature ---------------------------------------------------------------


def signature(data_id: str | None, request_id: str | None, ts: str, secret: str = SECRET) -> str:
    """Sign like MercadoPago: "id:<data.id>;request-id:<x-request-id>;ts:<ts>;", a part
    left out when its value is absent, HMAC-SHA256 in hex."""
    manifest = ""
    if data_id is not None:
        manifest += f"id:{data_id};"
    if request_id is not None:
        manifest += f"request-id:{request_id};"
    manifest += f"ts:{ts};"
    digest = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={digest}"


def signed_headers(data_id: str | None = PAYMENT_ID, **overrides) -> dict[str, str]:
    return {
        "x-signature": signature(data_id, REQUEST_ID, TS, **overrides),
        "x-request-id": REQUEST_ID,
    }


BODY = fixture_bytes("webhook_payment_updated.json")
QUERY = {"data.id": PAYMENT_ID, "type": "payment"}


def test_it_accepts_a_notification_signed_with_the_secret():
    mercadopago.verify_webhook(BODY, signed_headers(), QUERY)


def test_the_manifest_is_the_documented_one_to_the_character():
    assert (
        mercadopago.manifest(data_id=PAYMENT_ID, request_id=REQUEST_ID, ts=TS)
        == f"id:{PAYMENT_ID};request-id:{REQUEST_ID};ts:{TS};"
    )
    assert mercadopago.manifest(data_id="", request_id="", ts=TS) == f"ts:{TS};"


def test_it_reads_the_headers_in_any_case_and_the_header_parts_with_spaces():
    headers = signed_headers()
    ts_part, v1_part = headers["x-signature"].split(",")

    mercadopago.verify_webhook(
        BODY,
        {
            "X-Signature": f" {ts_part} , {v1_part.upper().replace('V1=', 'v1=')} ",
            "X-Request-Id": REQUEST_ID,
        },
        QUERY,
    )


def test_it_leaves_a_missing_request_id_out_of_the_manifest():
    headers = {"x-signature": signature(PAYMENT_ID, None, TS)}

    mercadopago.verify_webhook(BODY, headers, QUERY)


def test_it_lower_cases_an_alphanumeric_data_id():
    order_id = "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3"
    body = json.dumps({"type": "order", "action": "order.processed", "data": {"id": order_id}})
    query = {"data.id": order_id, "type": "order"}

    mercadopago.verify_webhook(body.encode(), signed_headers(order_id.lower()), query)
    with pytest.raises(SignatureError):
        mercadopago.verify_webhook(body.encode(), signed_headers(order_id), query)


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        pytest.param(signed_headers(secret="another-secret"), QUERY, id="wrong-secret"),
        pytest.param(signed_headers(data_id="1320880018"), QUERY, id="signed-for-another-id"),
        pytest.param(signed_headers(), {**QUERY, "data.id": "1320880018"}, id="tampered-data-id"),
        pytest.param(signed_headers(), {"type": "payment"}, id="data-id-left-out"),
        pytest.param({**signed_headers(), "x-request-id": "another"}, QUERY, id="other-request"),
        pytest.param({"x-request-id": REQUEST_ID}, QUERY, id="no-signature"),
        pytest.param({**signed_headers(), "x-signature": ""}, QUERY, id="empty-signature"),
        pytest.param(
            {**signed_headers(), "x-signature": f"ts={TS}"}, QUERY, id="signature-without-v1"
        ),
        pytest.param(
            {**signed_headers(), "x-signature": signed_headers()["x-signature"].split(",")[1]},
            QUERY,
            id="signature-without-ts",
        ),
        pytest.param(
            {**signed_headers(), "x-signature": "ts=later,v1=" + "0" * 64},
            QUERY,
            id="ts-not-a-number",
        ),
        pytest.param({**signed_headers(), "x-signature": "garbage"}, QUERY, id="garbage"),
        pytest.param(
            {**signed_headers(), "x-signature": f"ts={TS},v1=" + "ñ" * 64}, QUERY, id="non-ascii"
        ),
    ],
)
def test_it_refuses_a_notification_not_signed_for_what_it_says(headers, query):
    with pytest.raises(SignatureError):
        mercadopago.verify_webhook(BODY, headers, query)


def test_it_refuses_a_signed_query_with_a_body_about_another_payment():
    body = json.dumps({**json.loads(BODY), "data": {"id": "999"}}).encode()

    with pytest.raises(SignatureError, match="not the signed one"):
        mercadopago.verify_webhook(body, signed_headers(), QUERY)


def test_it_refuses_every_notification_without_a_secret(configured):
    configured.MERCADOPAGO_WEBHOOK_SECRET = ""

    with pytest.raises(SignatureError):
        mercadopago.verify_webhook(BODY, signed_headers(secret=""), QUERY)


# --- Reading notifications ---------------------------------------------------------------


def test_a_payment_notification_is_stored_under_its_payment_action_and_id():
    data = fixture_json("webhook_payment_updated.json")

    assert mercadopago.event_id(data) == "payment:1320880017:payment.updated:119780154062"
    assert mercadopago.payment_id_of(data) == "1320880017"


def test_the_same_notification_twice_has_one_id_and_two_notifications_two():
    updated = fixture_json("webhook_payment_updated.json")
    created = fixture_json("webhook_payment_created.json")

    assert mercadopago.event_id(updated) == mercadopago.event_id(json.loads(json.dumps(updated)))
    assert mercadopago.event_id(created) != mercadopago.event_id(updated)


@pytest.mark.parametrize("kind", ["merchant_order", "topic_merchant_order_wh", "chargebacks"])
def test_notifications_about_other_things_are_not_ours(kind):
    with pytest.raises(UnhandledEvent):
        mercadopago.event_id({**fixture_json("webhook_payment_updated.json"), "type": kind})


@pytest.mark.parametrize(
    "change",
    [
        {"type": None},
        {"data": None},
        {"data": {}},
        {"data": {"id": ""}},
        {"data": {"id": "ORD01"}},
        {"data": {"id": True}},
        {"action": None},
        {"id": None},
        {"id": ""},
    ],
)
def test_a_malformed_payment_notification_is_refused(change):
    with pytest.raises(ValueError) as raised:
        mercadopago.event_id({**fixture_json("webhook_payment_updated.json"), **change})

    assert not isinstance(raised.value, UnhandledEvent)


def test_the_webhook_door_checks_the_query_signature():
    assert mercadopago.WEBHOOK.provider == "mercadopago"
    assert mercadopago.WEBHOOK.verify is None
    assert mercadopago.WEBHOOK.verify_query is mercadopago.verify_webhook
    assert mercadopago.WEBHOOK.event_id is mercadopago.event_id


# --- The door, end to end (webhooks.receive with a query verifier) -----------------------


def notification(body: bytes = BODY, query: str = f"data.id={PAYMENT_ID}&type=payment", **headers):
    return RequestFactory().post(
        f"/webhooks/mercadopago/?{query}",
        data=body,
        content_type="application/json",
        headers=headers or signed_headers(),
    )


def test_a_signed_notification_is_stored_once(db):
    first = webhooks.receive(notification(), mercadopago.WEBHOOK)
    again = webhooks.receive(notification(), mercadopago.WEBHOOK)

    event = WebhookEvent.objects.get()
    assert (first.status_code, json.loads(first.content)) == (
        200,
        {"status": "stored", "id": event.pk},
    )
    assert json.loads(again.content) == {"status": "duplicate", "id": event.pk}
    assert event.event_id == "payment:1320880017:payment.updated:119780154062"
    assert event.headers["x-signature"] == signed_headers()["x-signature"]
    assert event.headers["x-request-id"] == REQUEST_ID


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        pytest.param(f"data.id={PAYMENT_ID}&type=payment", signed_headers(secret="x"), id="forged"),
        pytest.param("data.id=1320880018&type=payment", signed_headers(), id="tampered-query"),
        pytest.param("type=payment", signed_headers(), id="no-data-id"),
        pytest.param(
            f"data.id={PAYMENT_ID}&type=payment", {"x-request-id": REQUEST_ID}, id="unsigned"
        ),
        # A legacy IPN notification: its x-signature cannot be checked (MercadoPago's docs).
        pytest.param(f"topic=payment&id={PAYMENT_ID}", signed_headers(), id="ipn"),
    ],
)
def test_a_notification_not_signed_for_its_query_is_refused_and_nothing_stored(db, query, headers):
    response = webhooks.receive(notification(query=query, **headers), mercadopago.WEBHOOK)

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_a_signed_notification_about_something_else_is_answered_and_not_stored(db):
    body = json.dumps(
        {**json.loads(BODY), "type": "topic_merchant_order_wh", "data": {"id": PAYMENT_ID}}
    ).encode()

    response = webhooks.receive(notification(body=body), mercadopago.WEBHOOK)

    assert (response.status_code, json.loads(response.content)) == (200, {"status": "ignored"})
    assert not WebhookEvent.objects.exists()


def test_endpoints_without_a_query_verifier_are_not_asked_about_the_query(db):
    seen: list = []
    endpoint = webhooks.Endpoint(
        provider="tests-provider",
        verify=lambda body, headers: seen.append("verify"),
        event_id=lambda data: "evt-1",
    )

    response = webhooks.receive(notification(query="anything=1"), endpoint)

    assert response.status_code == 200
    assert seen == ["verify"]
    assert endpoint.verify_query is None


def test_the_query_verifier_gets_the_body_headers_and_query_after_verify(db):
    seen: list = []

    def verify_query(body, headers, query):
        seen.append((body, headers["X-Request-Id"], query.get("data.id")))
        raise SignatureError("no")

    endpoint = webhooks.Endpoint(
        provider="tests-provider",
        verify=lambda body, headers: seen.append("verify"),
        verify_query=verify_query,
        event_id=lambda data: "evt-1",
    )

    response = webhooks.receive(notification(), endpoint)

    assert response.status_code == 403
    assert seen == ["verify", (BODY, REQUEST_ID, PAYMENT_ID)]
    assert not WebhookEvent.objects.exists()
