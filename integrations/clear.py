"""Clear: the second payment gateway the collection bot offers, as a hosted-checkout client.

No public documentation of a payment platform called Clear (payment links or a hosted
checkout, in Argentina or elsewhere in Latin America) could be found. This module is
therefore a client for the contract below, which is what the integration expects: once
Clear's real API is known, map it onto these calls (or put a small adapter in front of
it) and only this module changes.

Settings: CLEAR_API_URL (base URL, no trailing path), CLEAR_API_KEY, CLEAR_WEBHOOK_SECRET.

Every call sends `Authorization: Bearer <CLEAR_API_KEY>` and JSON. Amounts travel as
decimal strings with two decimals ("1234.50"), moments as ISO 8601 with an offset.

1. Create a payment link: `POST {CLEAR_API_URL}/payment-links`, with header
   `Idempotency-Key: <key>` (the same key gives back the same link) and body

       {"reference": "<ours, unique>", "title": "Cuota 3 de 12", "amount": "1234.50",
        "currency": "ARS", "payer_email": "ana@example.com",   # absent when unknown
        "expires_at": "2025-03-10T23:59:59-03:00",
        "notification_url": "https://…/webhooks/clear/", "return_url": "https://…"}

   answered 200 or 201 with at least `{"id": "<link id>", "url": "https://…"}`.

2. Read a payment: `GET {CLEAR_API_URL}/payments/{id}`, answered 200 with

       {"id": "<payment id>", "reference": "<the link's reference>",
        "status": "approved" | "pending" | "rejected" | "cancelled" | "refunded"
                  | "charged_back",
        "amount": "1234.50", "currency": "ARS",
        "paid_at": "2025-03-10T14:02:11-03:00" | null}

   Errors: 4xx refuses for good, 429 and 5xx are temporary (integrations.http).

3. Notify a payment: `POST <notification_url>` with header
   `X-Clear-Signature: <hex HMAC-SHA256 of the raw body under CLEAR_WEBHOOK_SECRET>` and
   body `{"id": "<notification id>", "type": "payment", "data": {"id": "<payment id>"}}`;
   the same notification is resent with the same id until it is answered 200.
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext

from integrations import http, payloads, payment_gateways, webhooks
from integrations.errors import ProviderError, UnhandledEvent
from integrations.payment_gateways import Checkout, CheckoutRequest, GatewayPayment

NAME = "clear"
LABEL = "Clear"

# No public API documentation of Clear was found: these paths are the contract in this
# module's docstring, relative to settings.CLEAR_API_URL.
PAYMENT_LINKS_PATH = "/payment-links"
PAYMENT_PATH = "/payments/{payment_id}"

IDEMPOTENCY_HEADER = "Idempotency-Key"
# The hex HMAC-SHA256 of the raw body under CLEAR_WEBHOOK_SECRET (the contract, point 3).
SIGNATURE_HEADER = "X-Clear-Signature"

# The statuses the contract allows are ours already.
STATUSES = frozenset(payment_gateways.STATUSES)
PAYMENT_TYPE = "payment"


class ClearGateway:
    """The payment_gateways.Gateway of Clear (the contract in this module's docstring)."""

    name = NAME
    label = LABEL

    def __init__(self) -> None:
        if not self.is_configured():
            raise ProviderError(gettext("Clear no está configurado."))

    @classmethod
    def is_configured(cls) -> bool:
        """Whether the API's URL and key are set."""
        return bool(settings.CLEAR_API_URL and settings.CLEAR_API_KEY)

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        return create_checkout(request)

    def fetch_payment(self, provider_payment_id: str) -> GatewayPayment:
        return fetch_payment(provider_payment_id)


def create_checkout(request: CheckoutRequest) -> Checkout:
    """Create a payment link for `request` and return its id and URL."""
    if not request.idempotency_key:
        raise ValueError("A Clear payment link needs an idempotency key.")
    answer = _call(
        "POST",
        PAYMENT_LINKS_PATH,
        json=payment_link_data(request),
        headers={IDEMPOTENCY_HEADER: request.idempotency_key},
    )
    link_id = _text(answer.get("id"))
    url = _text(answer.get("url"))
    if not link_id or not url.startswith("https://"):
        raise ProviderError(payment_gateways.unexpected_answer(LABEL, answer))
    return Checkout(provider_id=link_id, url=url, raw=answer)


def payment_link_data(request: CheckoutRequest) -> dict[str, Any]:
    """Return the body of POST /payment-links for `request`."""
    amount = payment_gateways.checked_amount(request.amount)
    expires_at = payment_gateways.require_aware(request.expires_at, "expires_at")
    data: dict[str, Any] = {
        "reference": request.reference,
        "title": request.title,
        "amount": str(amount),
        "currency": request.currency,
        "expires_at": expires_at.astimezone(ZoneInfo(settings.TIME_ZONE)).isoformat(),
        "notification_url": request.notification_url,
        "return_url": request.back_url,
    }
    if request.payer_email:
        data["payer_email"] = request.payer_email
    return data


def fetch_payment(provider_payment_id: str) -> GatewayPayment:
    """Read a payment by Clear's id and return it in our terms."""
    payment_id = str(provider_payment_id).strip()
    if not payment_id:
        raise ProviderError(gettext("Falta el id del pago de Clear."))
    answer = _call("GET", PAYMENT_PATH.format(payment_id=quote(payment_id, safe="")))
    return read_payment(answer)


def read_payment(payment: Mapping[str, Any]) -> GatewayPayment:
    """Read a payment object of the contract (point 2) into a GatewayPayment."""
    payment_id = _text(payment.get("id"))
    status = payment.get("status")
    currency = _text(payment.get("currency"))
    if not payment_id or status not in STATUSES or not currency:
        raise ProviderError(payment_gateways.unexpected_answer(LABEL, dict(payment)))
    return GatewayPayment(
        provider_payment_id=payment_id,
        reference=_text(payment.get("reference")),
        status=status,
        amount=payment_gateways.read_amount(payment.get("amount"), LABEL),
        currency=currency,
        paid_on=payment_gateways.read_paid_on(payment.get("paid_at"), LABEL, "paid_at"),
        raw=dict(payment),
    )


def verify_webhook(body: bytes, headers: Mapping[str, str]) -> None:
    """Raise SignatureError unless X-Clear-Signature is the body's HMAC under our secret."""
    secret = settings.CLEAR_WEBHOOK_SECRET
    webhooks.verify_hmac_sha256(secret, body, payloads.header(headers, SIGNATURE_HEADER))


def event_id(data: Mapping[str, Any]) -> str:
    """Return the inbox's id of a payment notification: `payment:<data.id>:<id>`.

    UnhandledEvent for another type; ValueError without a payment id or notification id.
    """
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError("The Clear notification has no type.")
    if kind != PAYMENT_TYPE:
        raise UnhandledEvent(f"Unsupported Clear notification type {kind!r}.")
    notification_id = _text(data.get("id"))
    if not notification_id:
        raise ValueError("The Clear notification has no id.")
    return f"{PAYMENT_TYPE}:{payment_id_of(data)}:{notification_id}"


def payment_id_of(data: Mapping[str, Any]) -> str:
    """Return the id of the payment a notification is about (its data.id); else ValueError."""
    inner = data.get("data")
    payment_id = _text(inner.get("id")) if isinstance(inner, dict) else ""
    if not payment_id:
        raise ValueError("The Clear notification has no data.id.")
    return payment_id


# The /webhooks/clear/ door: body HMAC, JSON object, payment notifications only.
WEBHOOK = webhooks.Endpoint(provider=NAME, verify=verify_webhook, event_id=event_id)


def _call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    base_url = settings.CLEAR_API_URL
    api_key = settings.CLEAR_API_KEY
    if not base_url or not api_key:
        raise ProviderError(gettext("Clear no está configurado."))
    headers = {"Authorization": f"Bearer {api_key}", **kwargs.pop("headers", {})}
    with http.session() as client:
        response = http.request(
            client, method, base_url.rstrip("/") + path, headers=headers, **kwargs
        )
    try:
        answer = http.answer_json(response)
    except ValueError as exc:
        raise ProviderError(
            payment_gateways.unexpected_answer(LABEL, response.text[: http.ERROR_BODY_CHARS])
        ) from exc
    if not isinstance(answer, dict):
        raise ProviderError(payment_gateways.unexpected_answer(LABEL, answer))
    return answer


def _text(raw: Any) -> str:
    """A string or a number as text ("" for anything else): ids may come as either."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        return ""
    return str(raw).strip()
