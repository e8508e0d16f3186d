"""Choosing a payment gateway, the in-memory fake, and the Clear client.

Clear has no public API documentation: its tests check the contract written in
integrations/clear.py's docstring, which is what the integration expects of it.
"""

import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import requests
import responses

from integrations import clear, fakes, mercadopago, payment_gateways
from integrations.errors import (
    ProviderError,
    SignatureError,
    TemporaryProviderError,
    UnhandledEvent,
)
from integrations.payment_gateways import Checkout, CheckoutRequest, GatewayPayment

CLEAR_URL = "https://api.clear.example/v1"
CLEAR_KEY = "clear-api-key"
CLEAR_SECRET = "clear-webhook-secret"


@pytest.fixture(autouse=True)
def unconfigured(settings):
    """No gateway has credentials and the fake is off, unless a test says otherwise."""
    settings.PAYMENT_GATEWAYS_FAKE = False
    settings.MERCADOPAGO_ACCESS_TOKEN = ""
    settings.MERCADOPAGO_WEBHOOK_SECRET = ""
    settings.MERCADOPAGO_SANDBOX = False
    settings.MERCADOPAGO_STATEMENT_DESCRIPTOR = ""
    settings.CLEAR_API_URL = ""
    settings.CLEAR_API_KEY = ""
    settings.CLEAR_WEBHOOK_SECRET = ""
    settings.TIME_ZONE = "America/Lima"
    fakes.reset()
    yield settings
    fakes.reset()


@pytest.fixture
def clear_configured(unconfigured):
    unconfigured.CLEAR_API_URL = CLEAR_URL + "/"
    unconfigured.CLEAR_API_KEY = CLEAR_KEY
    unconfigured.CLEAR_WEBHOOK_SECRET = CLEAR_SECRET
    return unconfigured


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
        "notification_url": "https://cartera.example.com/webhooks/clear/",
        "back_url": "https://cartera.example.com/pagos/retorno/",
        "idempotency_key": "payment-link-3-attempt-1",
        **overrides,
    }
    return CheckoutRequest(**arguments)


def a_payment(**overrides) -> GatewayPayment:
    arguments = {
        "provider_payment_id": "1320880017",
        "reference": "PL-2321-0003",
        "status": payment_gateways.APPROVED,
        "amount": Decimal("1234.50"),
        "currency": "ARS",
        "paid_on": date(2025, 3, 10),
        "raw": {},
        **overrides,
    }
    return GatewayPayment(**arguments)


# --- Choosing a gateway ------------------------------------------------------------------


def test_an_unknown_gateway_is_refused():
    with pytest.raises(ProviderError, match="No existe la pasarela de pago «paypal»"):
        payment_gateways.gateway("paypal")


def test_an_unknown_gateway_is_refused_under_the_fake_too(unconfigured):
    unconfigured.PAYMENT_GATEWAYS_FAKE = True

    with pytest.raises(ProviderError):
        payment_gateways.gateway("paypal")


def test_a_gateway_without_credentials_is_refused_in_spanish():
    with pytest.raises(ProviderError, match="MercadoPago no está configurado"):
        payment_gateways.gateway("mercadopago")
    with pytest.raises(ProviderError) as raised:
        payment_gateways.gateway("clear")

    assert str(raised.value) == "Clear no está configurado."


def test_clear_needs_both_its_url_and_its_key(unconfigured):
    unconfigured.CLEAR_API_KEY = CLEAR_KEY

    with pytest.raises(ProviderError, match="Clear no está configurado"):
        payment_gateways.gateway("clear")


def test_a_configured_gateway_is_its_provider_module(clear_configured):
    clear_configured.MERCADOPAGO_ACCESS_TOKEN = "APP_USR-tests"

    assert isinstance(payment_gateways.gateway("mercadopago"), mercadopago.MercadoPagoGateway)
    gateway = payment_gateways.gateway("clear")
    assert isinstance(gateway, clear.ClearGateway)
    assert (gateway.name, gateway.label) == ("clear", "Clear")


def test_the_configured_names_are_the_gateways_with_credentials(unconfigured):
    assert payment_gateways.configured_names() == []

    unconfigured.CLEAR_API_URL = CLEAR_URL
    unconfigured.CLEAR_API_KEY = CLEAR_KEY
    assert payment_gateways.configured_names() == ["clear"]

    unconfigured.MERCADOPAGO_ACCESS_TOKEN = "APP_USR-tests"
    assert payment_gateways.configured_names() == ["mercadopago", "clear"]


def test_under_the_fake_every_gateway_is_configured(unconfigured):
    unconfigured.PAYMENT_GATEWAYS_FAKE = True

    assert payment_gateways.configured_names() == ["mercadopago", "clear"]


# --- The fake ----------------------------------------------------------------------------


@pytest.fixture
def faked(unconfigured):
    unconfigured.PAYMENT_GATEWAYS_FAKE = True
    return unconfigured


def test_the_fake_is_one_instance_per_name_in_a_process(faked):
    first = payment_gateways.gateway("mercadopago")

    assert isinstance(first, fakes.FakeGateway)
    assert payment_gateways.gateway("mercadopago") is first
    assert payment_gateways.gateway("clear") is not first
    assert (first.name, first.label) == ("mercadopago", "MercadoPago")
    assert payment_gateways.gateway("clear").label == "Clear"


def test_the_fake_records_each_checkout_and_gives_its_url(faked):
    gateway = payment_gateways.gateway("clear")
    request = checkout_request()

    checkout = gateway.create_checkout(request)

    assert gateway.checkouts == [request]
    assert checkout == Checkout(
        provider_id="fake-clear-PL-2321-0003",
        url="https://fake-gateway.invalid/clear/checkout/PL-2321-0003",
        raw={
            "id": "fake-clear-PL-2321-0003",
            "url": "https://fake-gateway.invalid/clear/checkout/PL-2321-0003",
        },
    )


def test_the_fake_reports_the_payments_a_test_sets(faked):
    gateway = payment_gateways.gateway("mercadopago")
    payment = a_payment()

    gateway.set_payment(payment)

    assert payment_gateways.gateway("mercadopago").fetch_payment("1320880017") is payment
    with pytest.raises(ProviderError):
        gateway.fetch_payment("404")
    with pytest.raises(ProviderError):
        payment_gateways.gateway("clear").fetch_payment("1320880017")


def test_reset_forgets_the_fakes_and_what_they_recorded(faked):
    gateway = payment_gateways.gateway("mercadopago")
    gateway.create_checkout(checkout_request())
    gateway.set_payment(a_payment())

    fakes.reset()

    fresh = payment_gateways.gateway("mercadopago")
    assert fresh is not gateway
    assert fresh.checkouts == []
    assert fresh.payments == {}


def test_the_fake_calls_no_provider(faked, api):
    payment_gateways.gateway("mercadopago").create_checkout(checkout_request())

    assert len(api.calls) == 0


# --- Helpers every gateway uses ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        (58.8, Decimal("58.80")),
        (0.1 + 0.2, Decimal("0.30")),
        (1234, Decimal("1234.00")),
        ("1234.5", Decimal("1234.50")),
        (98765432.1, Decimal("98765432.10")),
    ],
)
def test_amounts_are_read_as_decimal_cents_through_their_text(raw, amount):
    assert payment_gateways.read_amount(raw, "Tests") == amount


@pytest.mark.parametrize("raw", [None, True, "mil", "NaN", "Infinity", [], {}, "1e40", 1e300])
def test_an_amount_that_is_no_number_is_a_permanent_error(raw):
    with pytest.raises(ProviderError, match="Tests respondió algo inesperado"):
        payment_gateways.read_amount(raw, "Tests")


@pytest.mark.parametrize(
    "raw", ["ayer", "2025-03-10T10:00:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"]
)
def test_a_payment_day_that_is_no_moment_of_ours_is_a_permanent_error(raw):
    # Without an offset it could be any day; at the ends of the calendar, none in Lima.
    with pytest.raises(ProviderError, match="Tests respondió algo inesperado"):
        payment_gateways.read_paid_on(raw, "Tests", "paid_at")


def test_the_statuses_are_the_six_normalized_ones():
    assert payment_gateways.STATUSES == (
        "approved",
        "pending",
        "rejected",
        "cancelled",
        "refunded",
        "charged_back",
    )


# --- Clear -------------------------------------------------------------------------------


def clear_payment(**overrides) -> dict:
    return {
        "id": "pay_8hT2",
        "reference": "PL-2321-0003",
        "status": "approved",
        "amount": "1234.50",
        "currency": "ARS",
        "paid_at": "2025-03-11T01:30:01-03:00",
        **overrides,
    }


def test_clear_creates_a_payment_link(clear_configured, api):
    api.add(
        responses.POST,
        f"{CLEAR_URL}/payment-links",
        status=201,
        json={"id": "pl_42", "url": "https://pay.clear.example/pl_42"},
    )

    checkout = payment_gateways.gateway("clear").create_checkout(checkout_request())

    sent = api.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {CLEAR_KEY}"
    assert sent.headers["Idempotency-Key"] == "payment-link-3-attempt-1"
    assert json.loads(sent.body) == {
        "reference": "PL-2321-0003",
        "title": "Cuota 3 de 12 - Préstamo 2321",
        "amount": "1234.50",
        "currency": "ARS",
        "payer_email": "ana.perez@example.com",
        "expires_at": "2025-03-10T18:59:59-05:00",
        "notification_url": "https://cartera.example.com/webhooks/clear/",
        "return_url": "https://cartera.example.com/pagos/retorno/",
    }
    assert checkout == Checkout(
        provider_id="pl_42",
        url="https://pay.clear.example/pl_42",
        raw={"id": "pl_42", "url": "https://pay.clear.example/pl_42"},
    )


def test_clear_leaves_out_an_unknown_payer(clear_configured, api):
    api.add(responses.POST, f"{CLEAR_URL}/payment-links", json={"id": "pl_1", "url": "https://p/1"})

    clear.create_checkout(checkout_request(payer_email=""))

    assert "payer_email" not in json.loads(api.calls[0].request.body)


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": Decimal("1.001")},
        {"amount": Decimal("0")},
        {"expires_at": datetime(2025, 3, 10, 23, 59, 59)},  # naive on purpose
        {"idempotency_key": ""},
    ],
)
def test_clear_sends_nothing_it_must_not(clear_configured, api, overrides):
    with pytest.raises(ValueError):
        clear.create_checkout(checkout_request(**overrides))

    assert len(api.calls) == 0


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"status": 422, "json": {"error": "currency not supported"}}, ProviderError),
        ({"status": 401, "json": {"error": "bad key"}}, ProviderError),
        ({"status": 429, "json": {}}, TemporaryProviderError),
        ({"status": 500, "json": {}}, TemporaryProviderError),
        ({"body": requests.ConnectTimeout("timed out")}, TemporaryProviderError),
        ({"json": {"id": "pl_1"}}, ProviderError),
        ({"json": {"id": "pl_1", "url": "http://insecure.example/pl_1"}}, ProviderError),
        ({"json": ["pl_1"]}, ProviderError),
        ({"body": "<html>maintenance</html>"}, ProviderError),
    ],
)
def test_clear_turns_failures_into_our_errors(clear_configured, api, answer, error):
    api.add(responses.POST, f"{CLEAR_URL}/payment-links", **answer)

    with pytest.raises(ProviderError) as raised:
        clear.create_checkout(checkout_request())

    assert type(raised.value) is error


def test_clear_calls_nothing_unconfigured(api):
    with pytest.raises(ProviderError, match="Clear no está configurado"):
        clear.create_checkout(checkout_request())
    with pytest.raises(ProviderError, match="Clear no está configurado"):
        clear.fetch_payment("pay_8hT2")

    assert len(api.calls) == 0


def test_clear_reads_a_payment(clear_configured, api):
    api.add(responses.GET, f"{CLEAR_URL}/payments/pay_8hT2", json=clear_payment())

    payment = payment_gateways.gateway("clear").fetch_payment("pay_8hT2")

    assert api.calls[0].request.headers["Authorization"] == f"Bearer {CLEAR_KEY}"
    assert payment == GatewayPayment(
        provider_payment_id="pay_8hT2",
        reference="PL-2321-0003",
        status=payment_gateways.APPROVED,
        amount=Decimal("1234.50"),
        currency="ARS",
        paid_on=date(2025, 3, 10),  # 01:30 in Buenos Aires is the 10th in Lima
        raw=clear_payment(),
    )


def test_clear_quotes_the_payment_id_in_the_path(clear_configured, api):
    api.add(responses.GET, f"{CLEAR_URL}/payments/a%2Fb", json=clear_payment(id="a/b"))

    assert clear.fetch_payment("a/b").provider_payment_id == "a/b"


@pytest.mark.parametrize("status", payment_gateways.STATUSES)
def test_clear_statuses_are_ours(status):
    assert clear.read_payment(clear_payment(status=status, paid_at=None)).status == status


@pytest.mark.parametrize(
    "change",
    [
        {"status": "paid"},
        {"id": ""},
        {"currency": None},
        {"amount": None},
        {"paid_at": "ayer"},
        {"paid_at": "2025-03-11T01:30:01"},
    ],
)
def test_a_clear_payment_it_cannot_read_is_a_permanent_error(change):
    with pytest.raises(ProviderError) as raised:
        clear.read_payment(clear_payment(**change))

    assert not isinstance(raised.value, TemporaryProviderError)


def test_an_unknown_clear_payment_is_a_permanent_error(clear_configured, api):
    api.add(responses.GET, f"{CLEAR_URL}/payments/nope", status=404, json={"error": "not found"})

    with pytest.raises(ProviderError) as raised:
        clear.fetch_payment("nope")

    assert not isinstance(raised.value, TemporaryProviderError)


CLEAR_BODY = json.dumps({"id": "evt_9", "type": "payment", "data": {"id": "pay_8hT2"}}).encode()


def clear_signature(body: bytes, secret: str = CLEAR_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_clear_accepts_a_body_signed_with_the_secret(clear_configured):
    clear.verify_webhook(CLEAR_BODY, {"x-clear-signature": clear_signature(CLEAR_BODY)})


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Clear-Signature": clear_signature(CLEAR_BODY, "another-secret")},
        {"X-Clear-Signature": clear_signature(CLEAR_BODY + b" ")},
        {"X-Clear-Signature": ""},
        {},
    ],
)
def test_clear_refuses_a_body_without_the_right_signature(clear_configured, headers):
    with pytest.raises(SignatureError):
        clear.verify_webhook(CLEAR_BODY, headers)


def test_clear_refuses_every_webhook_without_a_secret():
    with pytest.raises(SignatureError):
        clear.verify_webhook(CLEAR_BODY, {"X-Clear-Signature": clear_signature(CLEAR_BODY, "")})


def test_a_clear_notification_is_stored_under_its_payment_and_id():
    data = json.loads(CLEAR_BODY)

    assert clear.event_id(data) == "payment:pay_8hT2:evt_9"
    assert clear.payment_id_of(data) == "pay_8hT2"
    assert clear.WEBHOOK.provider == "clear"
    assert clear.WEBHOOK.verify is clear.verify_webhook


def test_clear_notifications_about_other_things_are_not_ours():
    with pytest.raises(UnhandledEvent):
        clear.event_id({**json.loads(CLEAR_BODY), "type": "payment_link.expired"})


@pytest.mark.parametrize("change", [{"type": None}, {"id": None}, {"data": {}}, {"data": None}])
def test_a_malformed_clear_notification_is_refused(change):
    with pytest.raises(ValueError) as raised:
        clear.event_id({**json.loads(CLEAR_BODY), **change})

    assert not isinstance(raised.value, UnhandledEvent)
