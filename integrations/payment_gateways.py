"""Payment gateways: the small interface every one implements, and the choice among them.

A gateway does two things, knowing nothing of loans: it makes a hosted checkout (a link
the payer opens to pay an amount we fixed) and reads a payment back by the gateway's id,
in our normalized states. The domain app keeps its own reference on the checkout
(`CheckoutRequest.reference`), which comes back on the payment (`GatewayPayment.reference`).

    link = payment_gateways.gateway("mercadopago").create_checkout(CheckoutRequest(...))
    payment = payment_gateways.gateway("mercadopago").fetch_payment("1234567890")

With settings.PAYMENT_GATEWAYS_FAKE every name gives the in-memory fake
(integrations.fakes.FakeGateway), one per name in a process, for the tests and the demo.

The gateways are named below by dotted path and loaded when asked for, the way Django
names its e-mail backends: each provider module imports this one for the types, and
this one imports no provider.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from integrations import http
from integrations.errors import ProviderError

# Normalized payment states.
APPROVED = "approved"
PENDING = "pending"
REJECTED = "rejected"
CANCELLED = "cancelled"
REFUNDED = "refunded"
CHARGED_BACK = "charged_back"
STATUSES = (APPROVED, PENDING, REJECTED, CANCELLED, REFUNDED, CHARGED_BACK)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Every gateway the collection bot may offer, in the order it offers them.
GATEWAYS = {
    "mercadopago": "integrations.mercadopago.MercadoPagoGateway",
    "clear": "integrations.clear.ClearGateway",
}
# The stand-in every name gives under settings.PAYMENT_GATEWAYS_FAKE.
FAKE_GATEWAY = "integrations.fakes.fake_gateway"


@dataclass(frozen=True, kw_only=True)
class CheckoutRequest:
    """What a hosted checkout charges, and where it reports back."""

    # Our payment link's unique reference: it comes back on the payment.
    reference: str
    # What the payer sees.
    title: str
    # Two decimals, fixed by us; the payer cannot change it.
    amount: Decimal
    # ISO 4217 code ("ARS").
    currency: str
    # The payer's e-mail, to fill in the checkout; may be "".
    payer_email: str
    # When the link stops taking payments (aware).
    expires_at: datetime
    # Our /webhooks/<provider>/ absolute URL.
    notification_url: str
    # Where the payer comes back after paying, or failing to (with the gateway's parameters).
    back_url: str
    # The same key makes the same checkout once, however many times the call is retried.
    idempotency_key: str


@dataclass(frozen=True)
class Checkout:
    """A hosted checkout made: the gateway's id for it and the URL to send the payer to."""

    provider_id: str
    url: str
    raw: dict


@dataclass(frozen=True)
class GatewayPayment:
    """A payment as the gateway reports it, in our terms."""

    provider_payment_id: str
    # The CheckoutRequest.reference of the checkout it paid ("" when none came back).
    reference: str
    # One of STATUSES.
    status: str
    amount: Decimal
    currency: str
    # The day (settings.TIME_ZONE) the gateway approved it; None until it has.
    paid_on: date | None
    raw: dict
    # Of `amount`, what the gateway has given back to the payer so far. A payment refunded
    # in part stays APPROVED with this above zero; one refunded whole is REFUNDED.
    refunded: Decimal = ZERO


class Gateway(Protocol):
    """A payment gateway: hosted checkouts and payments read back."""

    # The name in settings, URLs and the inbox ("mercadopago").
    name: str
    # The name people read ("MercadoPago").
    label: str

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """Make a hosted checkout for `request`; raise ProviderError or its temporary kind."""
        ...

    def fetch_payment(self, provider_payment_id: str) -> GatewayPayment:
        """Read a payment by the gateway's id; raise ProviderError or its temporary kind."""
        ...


def gateway(name: str) -> Gateway:
    """Return the gateway called `name`; raise ProviderError when it is unknown or unset."""
    path = GATEWAYS.get(name)
    if path is None:
        raise ProviderError(gettext("No existe la pasarela de pago «%(name)s».") % {"name": name})
    if settings.PAYMENT_GATEWAYS_FAKE:
        return import_string(FAKE_GATEWAY)(name)
    # The gateway's constructor raises ProviderError when its credentials are missing.
    return import_string(path)()


def configured_names() -> list[str]:
    """Return the gateways usable now: credentials present, or every one under the fake."""
    if settings.PAYMENT_GATEWAYS_FAKE:
        return list(GATEWAYS)
    return [name for name, path in GATEWAYS.items() if import_string(path).is_configured()]


# Helpers for the gateway modules.


def checked_amount(amount: Decimal) -> Decimal:
    """Return a checkout's amount, refusing one that is not a positive Decimal of cents."""
    if (
        not isinstance(amount, Decimal)
        or not amount.is_finite()
        or amount <= 0
        or amount != amount.quantize(CENT)
    ):
        raise ValueError(f"A checkout amount must be a positive Decimal in cents: {amount!r}.")
    return amount.quantize(CENT)


def read_amount(raw: Any, provider: str) -> Decimal:
    """Return an amount a gateway sent (a JSON number or its digits) as Decimal cents.

    Through str(), never float arithmetic: 58.8 reads as Decimal("58.80").
    """
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ProviderError(unexpected_answer(provider, raw))
    try:
        amount = Decimal(str(raw).strip())
        if not amount.is_finite():
            raise ProviderError(unexpected_answer(provider, raw))
        # Beyond the context's 28 digits (1e40) the rounding itself fails.
        return amount.quantize(CENT)
    except ArithmeticError as exc:
        raise ProviderError(unexpected_answer(provider, raw)) from exc


def local_date(moment: datetime) -> date:
    """Return the day an aware moment falls on in settings.TIME_ZONE."""
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def read_paid_on(raw: Any, provider: str, field: str) -> date | None:
    """Return the local day of a moment a gateway sent (ISO 8601 with an offset), or None."""
    if raw is None or raw == "":
        return None
    try:
        moment = parse_datetime(raw) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise ProviderError(unexpected_answer(provider, {field: raw}))
    try:
        return local_date(moment)
    except OverflowError as exc:  # the first or last day of year 1 or 9999, moved
        raise ProviderError(unexpected_answer(provider, {field: raw})) from exc


def require_aware(moment: datetime, field: str) -> datetime:
    """Return `moment`, refusing a naive one: a gateway needs to know which hour it means."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"{field} must be an aware datetime.")
    return moment


def unexpected_answer(provider: str, answer: Any) -> str:
    """The message of a ProviderError for an answer a gateway should never give."""
    return gettext("%(provider)s respondió algo inesperado: %(answer)s") % {
        "provider": provider,
        "answer": str(answer)[: http.ERROR_BODY_CHARS],
    }
