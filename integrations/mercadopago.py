"""MercadoPago: Checkout Pro payment links, payments read back, and their webhooks.

A payment link is a Checkout Pro *preference*: one item at our amount, our reference in
`external_reference`, an expiry, our webhook URL and where the payer comes back. The
payer pays on MercadoPago's page; MercadoPago makes a *payment*, which carries the
preference's `external_reference`, and notifies us: a webhook of type "payment" whose
`data.id` is the payment's id. A notification says only which payment changed, and only
its `data.id` is signed, so the processor reads the payment itself (`fetch_payment`).

The calls go through MercadoPago's official SDK (`mercadopago` on PyPI), with its HTTP
handed to integrations.http: our timeout, a single attempt (the SDK would retry 429 and
5xx three times by itself; Celery retries here, and records each attempt) and our two
errors, raised before the SDK sees the answer.
"""

import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import mercadopago
from django.conf import settings
from django.utils.translation import gettext
from mercadopago.config import RequestOptions
from mercadopago.http import HttpClient

from integrations import http, payloads, payment_gateways, webhooks
from integrations.errors import (
    InvalidPayload,
    ProviderError,
    SignatureError,
    TemporaryProviderError,
    UnhandledEvent,
)
from integrations.payment_gateways import Checkout, CheckoutRequest, GatewayPayment

NAME = "mercadopago"
LABEL = "MercadoPago"

# The SDK's own base URL (it takes no other); named here for the tests and the docs.
API_BASE_URL = "https://api.mercadopago.com"
# https://www.mercadopago.com.br/developers/en/reference/online-payments/checkout-pro/preferences/create-preference/post
# (its fields: .../docs/checkout-pro/checkout-customization/preferences; the expiry:
# https://www.mercadopago.com.br/developers/en/docs/checkout-pro/additional-settings/term-of-preference)
PREFERENCES_URL = API_BASE_URL + "/checkout/preferences"
# GET /v1/payments/{id}, the SDK's payment().get; its statuses:
# https://www.mercadopago.com.br/developers/en/docs/checkout-api-payments/response-handling/query-results
PAYMENT_URL = API_BASE_URL + "/v1/payments/{payment_id}"

# Creating the same preference twice with one key gives the first one back. The SDK
# sends a random key on every call unless given one, and accepts 1 to 64 characters
# (mercadopago/config/request_options.py).
IDEMPOTENCY_HEADER = "x-idempotency-key"
IDEMPOTENCY_KEY_MAX_CHARS = 64

# Besides 429 and 5xx, MercadoPago answers 423 while a call with the same idempotency key
# is still under way and 424 when one of its own services failed: both pass on a retry
# (the SDK's errors.exceptions calls them retryable).
_RETRYABLE_CLIENT_ERRORS = (423, 424)

# MercadoPago's payment statuses (PAYMENT_URL above), in ours. A partial refund leaves a
# payment "approved" (status_detail "partially_refunded", transaction_amount_refunded).
STATUSES = {
    "approved": payment_gateways.APPROVED,
    "pending": payment_gateways.PENDING,
    "in_process": payment_gateways.PENDING,
    # A dispute opened on an approved payment: its money is held until it is settled.
    "in_mediation": payment_gateways.PENDING,
    # Authorized but not captured: not money yet.
    "authorized": payment_gateways.PENDING,
    "rejected": payment_gateways.REJECTED,
    "cancelled": payment_gateways.CANCELLED,
    "refunded": payment_gateways.REFUNDED,
    "charged_back": payment_gateways.CHARGED_BACK,
}

# Webhooks, "Validar origen de una notificación" (Spanish source of the page:
# github.com/mercadopago/devsite-docs, guides/additional-content/your-integrations/webhooks.es.md):
# https://www.mercadopago.com.ar/developers/es/docs/your-integrations/notifications/webhooks
# The header is `x-signature: ts=<ts>,v1=<hex>`; v1 is the hex HMAC-SHA256, under the
# application's secret key, of the template
#     id:[data.id_url];request-id:[x-request-id_header];ts:[ts_header];
# where data.id comes from the query string ("si el data.id_url es alfanumérico, deberá
# enviarse obligatoriamente en minúsculas"), x-request-id from its header and ts from
# x-signature; "si alguno de los valores ... no está presente en la notificación recibida,
# debes removerlo" (the value with its label and semicolon). MercadoPago's SDK checks it
# the same way (mercadopago/webhook/validator.py).
#
# No tolerance on `ts`: the docs only say one "may" be set, give no value, call ts
# milliseconds while their example (1704908010) is in seconds (the SDK reads seconds),
# and do not say whether a retry, sent up to hours later, is signed anew. Refusing a late
# retry would lose a payment's notification; accepting a replay costs nothing here, since
# the same body is the same inbox event and any event only has the processor read the
# payment again.
SIGNATURE_HEADER = "x-signature"
REQUEST_ID_HEADER = "x-request-id"
DATA_ID_PARAM = "data.id"
SIGNATURE_VERSION = "v1"

# Appended to our notification_url (see webhooks_only).
WEBHOOKS_ONLY_PARAM = ("source_news", "webhooks")

# The notifications a payment gets (payment.created, payment.updated).
PAYMENT_TYPE = "payment"


class MercadoPagoGateway:
    """The payment_gateways.Gateway of MercadoPago's Checkout Pro."""

    name = NAME
    label = LABEL

    def __init__(self) -> None:
        if not self.is_configured():
            raise ProviderError(
                gettext("MercadoPago no está configurado: falta MERCADOPAGO_ACCESS_TOKEN.")
            )

    @classmethod
    def is_configured(cls) -> bool:
        """Whether the access token is set."""
        return bool(settings.MERCADOPAGO_ACCESS_TOKEN)

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        return create_checkout(request)

    def fetch_payment(self, provider_payment_id: str) -> GatewayPayment:
        return fetch_payment(provider_payment_id)


def create_checkout(request: CheckoutRequest) -> Checkout:
    """Create a Checkout Pro preference for `request` and return its id and payment URL.

    The URL is the preference's `init_point`, or its `sandbox_init_point` under
    settings.MERCADOPAGO_SANDBOX.
    """
    key = request.idempotency_key
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_CHARS:
        raise ValueError(
            f"A MercadoPago idempotency key has 1 to {IDEMPOTENCY_KEY_MAX_CHARS} characters."
        )
    data = preference_data(request)
    options = RequestOptions(custom_headers={IDEMPOTENCY_HEADER: key}, max_retries=0)
    answer = _answer(_sdk().preference().create(data, options))
    url_field = "sandbox_init_point" if settings.MERCADOPAGO_SANDBOX else "init_point"
    preference_id = answer.get("id")
    url = answer.get(url_field)
    if (
        not isinstance(preference_id, str)
        or not preference_id
        or not isinstance(url, str)
        or not url.startswith("https://")
    ):
        raise ProviderError(payment_gateways.unexpected_answer(LABEL, answer))
    return Checkout(provider_id=preference_id, url=url, raw=answer)


def preference_data(request: CheckoutRequest) -> dict[str, Any]:
    """Return the preference MercadoPago is asked to create for `request`."""
    amount = payment_gateways.checked_amount(request.amount)
    expires_at = payment_gateways.require_aware(request.expires_at, "expires_at")
    data: dict[str, Any] = {
        "items": [
            {
                "title": request.title,
                "quantity": 1,
                "unit_price": _json_number(amount),
                "currency_id": request.currency,
            }
        ],
        "external_reference": request.reference,
        # One page of ours for every outcome: it reads MercadoPago's query parameters
        # (status, payment_id, external_reference...).
        "back_urls": {
            "success": request.back_url,
            "pending": request.back_url,
            "failure": request.back_url,
        },
        # Back to our page as soon as the payment is approved, without a click.
        "auto_return": "approved",
        "expires": True,
        "expiration_date_to": _mercadopago_datetime(expires_at),
    }
    if request.notification_url:
        # It takes precedence over the URL set in "Tus integraciones" (the webhooks page).
        # SDK 3.6 warns that it is deprecated in favour of that URL, which the docs still
        # offer both ways: set the same URL there too, where the secret key comes from.
        data["notification_url"] = webhooks_only(request.notification_url)
    if request.payer_email:
        data["payer"] = {"email": request.payer_email}
    descriptor = settings.MERCADOPAGO_STATEMENT_DESCRIPTOR
    if descriptor:
        # What the payer's card statement shows.
        data["statement_descriptor"] = descriptor
    return data


def webhooks_only(url: str) -> str:
    """Return a notification URL that asks for Webhooks only, not also the legacy IPN.

    "Para recibir exclusivamente Webhooks y no IPN, agrega el parámetro
    source_news=webhooks a la notification_url" (the webhooks page above). IPN calls
    cannot be verified, so they would only be refused.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name == WEBHOOKS_ONLY_PARAM[0] for name, _ in query):
        return url
    return urlunsplit(parts._replace(query=urlencode([*query, WEBHOOKS_ONLY_PARAM])))


def fetch_payment(provider_payment_id: str) -> GatewayPayment:
    """Read a payment by MercadoPago's id (a number) and return it in our terms."""
    payment_id = str(provider_payment_id).strip()
    if not payment_id.isascii() or not payment_id.isdigit():
        raise ProviderError(
            gettext("«%(id)s» no es un id de pago de MercadoPago.") % {"id": provider_payment_id}
        )
    return read_payment(_answer(_sdk().payment().get(payment_id)))


def read_payment(payment: Mapping[str, Any]) -> GatewayPayment:
    """Read MercadoPago's payment object (GET /v1/payments/{id}) into a GatewayPayment."""
    raw_id = payment.get("id")
    raw_status = payment.get("status")
    status = STATUSES.get(raw_status) if isinstance(raw_status, str) else None
    currency = payment.get("currency_id")
    if (
        isinstance(raw_id, bool)
        or not isinstance(raw_id, int | str)
        or not str(raw_id).strip()
        or status is None
        or not isinstance(currency, str)
        or not currency
    ):
        raise ProviderError(payment_gateways.unexpected_answer(LABEL, dict(payment)))
    reference = payment.get("external_reference")
    amount = payment_gateways.read_amount(payment.get("transaction_amount"), LABEL)
    # What its refunds gave back so far (0 without any); `transaction_amount` stays what
    # was paid. A partial refund leaves the status "approved" (see STATUSES).
    raw_refunded = payment.get("transaction_amount_refunded")
    refunded = (
        payment_gateways.read_amount(raw_refunded, LABEL)
        if raw_refunded is not None
        else payment_gateways.ZERO
    )
    if refunded < 0:
        raise ProviderError(payment_gateways.unexpected_answer(LABEL, dict(payment)))
    # More than was paid cannot go back: all of it did.
    refunded = min(refunded, amount)
    return GatewayPayment(
        provider_payment_id=str(raw_id).strip(),
        reference=reference.strip() if isinstance(reference, str) else "",
        status=status,
        amount=amount,
        currency=currency,
        paid_on=payment_gateways.read_paid_on(payment.get("date_approved"), LABEL, "date_approved"),
        raw=dict(payment),
        refunded=refunded,
    )


def verify_webhook(body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
    """Raise SignatureError unless x-signature signs this notification's data.id.

    Checks MercadoPago's manifest (see SIGNATURE_HEADER above) under
    settings.MERCADOPAGO_WEBHOOK_SECRET. The signature does not cover the body, so a body
    whose data.id is not the signed one is refused too. MercadoPago's legacy IPN
    notifications (`?topic=payment&id=...`) carry an x-signature that cannot be checked,
    as its docs say, and are refused with them.
    """
    secret = settings.MERCADOPAGO_WEBHOOK_SECRET
    if not secret:
        # An empty key is one anyone can sign with: refuse rather than accept everything.
        raise SignatureError("No MercadoPago webhook secret is configured.")
    ts, signature = _signature_parts(payloads.header(headers, SIGNATURE_HEADER))
    data_id = signed_data_id(query)
    request_id = payloads.header(headers, REQUEST_ID_HEADER).strip()
    expected = webhooks.hmac_sha256_hex(
        secret, manifest(data_id=data_id, request_id=request_id, ts=ts).encode()
    )
    # Bytes, because compare_digest refuses str with non-ASCII characters.
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        raise SignatureError("The x-signature does not match the notification.")
    _check_body_id(body, data_id)


def manifest(*, data_id: str, request_id: str, ts: str) -> str:
    """Return the text MercadoPago signs; a value that is "" is left out with its label."""
    parts = [f"id:{data_id};" if data_id else "", f"request-id:{request_id};" if request_id else ""]
    return "".join(parts) + f"ts:{ts};"


def signed_data_id(query: Mapping[str, str]) -> str:
    """Return the query's data.id as the manifest takes it: lower-cased when alphanumeric."""
    return _normalized_id(query.get(DATA_ID_PARAM) or "")


def event_id(data: Mapping[str, Any]) -> str:
    """Return the inbox's id for a payment notification; refuse what is not one.

    UnhandledEvent for any type but "payment" (merchant_order, chargebacks...); ValueError
    for a payment notification without a payment id or a notification id.

    The id is `payment:<data.id>:<action>:<notification id>`. MercadoPago delivers a
    notification again, with its id, until we answer 200, so a repeat is stored once;
    every new notification about a payment (payment.created, then each payment.updated)
    has an id of its own and is stored, and each makes the processor read the payment's
    current state.
    """
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError("The MercadoPago notification has no type.")
    if kind != PAYMENT_TYPE:
        raise UnhandledEvent(f"Unsupported MercadoPago notification type {kind!r}.")
    payment_id = payment_id_of(data)
    action = data.get("action")
    if not isinstance(action, str) or not action.strip():
        raise ValueError("The MercadoPago notification has no action.")
    notification_id = data.get("id")
    if isinstance(notification_id, bool) or not isinstance(notification_id, int | str):
        raise ValueError("The MercadoPago notification has no id.")
    if not str(notification_id).strip():
        raise ValueError("The MercadoPago notification has no id.")
    return f"{PAYMENT_TYPE}:{payment_id}:{action.strip()}:{str(notification_id).strip()}"


def payment_id_of(data: Mapping[str, Any]) -> str:
    """Return the id of the payment a notification is about (its data.id); else ValueError."""
    payment_id = _body_data_id(data)
    if payment_id is None:
        raise ValueError("The MercadoPago notification has no data.id.")
    if not payment_id.isascii() or not payment_id.isdigit():
        raise ValueError(
            f"The MercadoPago notification's data.id is not a payment id: {payment_id!r}."
        )
    return payment_id


# The /webhooks/mercadopago/ door: x-signature over the query's data.id, JSON object,
# payment notifications only.
WEBHOOK = webhooks.Endpoint(
    provider=NAME, verify=None, verify_query=verify_webhook, event_id=event_id
)


class _Transport(HttpClient):
    """The SDK's HTTP client, through integrations.http: our session, one attempt, our errors.

    The SDK calls `request` for every method and reads `{"status", "response"}` back.
    """

    def request(
        self,
        method: str,
        url: str,
        maxretries: int | None = None,
        retry_on: list[int] | None = None,
        backoff_factor: float | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        # The SDK's 60-second timeout and its retries give way to ours (http.DEFAULT_TIMEOUT).
        kwargs.pop("timeout", None)
        with http.session() as client, http.translate_errors():
            response = client.request(method, url, **kwargs)
        try:
            http.raise_for_response(response)
        except TemporaryProviderError:
            raise
        except ProviderError as exc:
            if response.status_code in _RETRYABLE_CLIENT_ERRORS:
                raise TemporaryProviderError(
                    *exc.args, retry_after=http.retry_after_seconds(response)
                ) from exc
            raise
        if response.status_code == 204 or not response.content:
            return {"status": response.status_code, "response": None}
        try:
            answer = http.answer_json(response)
        except ValueError as exc:
            raise ProviderError(
                payment_gateways.unexpected_answer(LABEL, response.text[: http.ERROR_BODY_CHARS])
            ) from exc
        return {"status": response.status_code, "response": answer}


def _sdk() -> mercadopago.SDK:
    token = settings.MERCADOPAGO_ACCESS_TOKEN
    if not token:
        raise ProviderError(
            gettext("MercadoPago no está configurado: falta MERCADOPAGO_ACCESS_TOKEN.")
        )
    return mercadopago.SDK(
        token, http_client=_Transport(), request_options=RequestOptions(max_retries=0)
    )


def _answer(result: Mapping[str, Any]) -> dict[str, Any]:
    """Return the JSON object of an SDK result; the transport has raised for any error."""
    status = result.get("status")
    answer = result.get("response")
    if not isinstance(status, int) or not 200 <= status < 300 or not isinstance(answer, dict):
        raise ProviderError(payment_gateways.unexpected_answer(LABEL, answer))
    return answer


def _json_number(amount: Any) -> float:
    """Return the amount as the JSON number the SDK sends, the same digits as the Decimal.

    The SDK encodes the body with json, which has no Decimal; a float of up to 15 digits
    prints back as exactly those digits, which this checks.
    """
    number = float(amount)
    if payment_gateways.read_amount(repr(number), LABEL) != amount:
        raise ValueError(f"{amount} has too many digits to send as a JSON number.")
    return number


def _mercadopago_datetime(moment: datetime) -> str:
    # As MercadoPago writes them: "2025-03-10T23:59:59.000-03:00".
    local = moment.astimezone(ZoneInfo(settings.TIME_ZONE))
    return local.isoformat(timespec="milliseconds")


def _signature_parts(header: str) -> tuple[str, str]:
    """Return (ts, v1) of an x-signature header; SignatureError when either is missing."""
    if not header.strip():
        raise SignatureError(f"The request has no {SIGNATURE_HEADER} header.")
    values: dict[str, str] = {}
    for part in header.split(","):
        key, _, value = part.partition("=")
        values.setdefault(key.strip().lower(), value.strip())
    ts = values.get("ts", "")
    signature = values.get(SIGNATURE_VERSION, "")
    if not ts.isascii() or not ts.isdigit() or not signature:
        raise SignatureError(f"The {SIGNATURE_HEADER} header is not ts=…,v1=….")
    return ts, signature


def _check_body_id(body: bytes, signed_id: str) -> None:
    """Refuse a body naming another resource than the signed data.id."""
    try:
        data = webhooks.parse_json_object(body)
    except InvalidPayload:
        return  # the parse step answers it with 400
    body_id = _body_data_id(data)
    if body_id is None:
        return  # event_id answers it
    if _normalized_id(body_id) != signed_id:
        raise SignatureError("The body's data.id is not the signed one.")


def _body_data_id(data: Mapping[str, Any]) -> str | None:
    inner = data.get("data")
    raw = inner.get("id") if isinstance(inner, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip():
        return None
    return str(raw).strip()


def _normalized_id(value: str) -> str:
    value = value.strip()
    # "If data.id_url is alphanumeric, it must be lower-cased" (MercadoPago's docs): an
    # order id such as ORD01JQ4S4KY8HWQ6NA5PXB65B3D3; payment ids are digits anyway.
    return value.lower() if value.isascii() and value.isalnum() else value
