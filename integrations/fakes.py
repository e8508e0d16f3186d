"""In-memory stand-ins for tests and the demo."""

from typing import Any
from urllib.parse import quote

from django.utils.module_loading import import_string

from integrations import payment_gateways
from integrations.errors import ProviderError
from integrations.payment_gateways import Checkout, CheckoutRequest, GatewayPayment


class RecordingSender:
    """An outbox sender that records payloads instead of calling a provider.

    Give it errors to raise first, one per call, to script an outage:
    `RecordingSender(TemporaryProviderError("503"))` fails once, then records.
    """

    def __init__(self, *errors: Exception) -> None:
        self.sent: list[dict[str, Any]] = []
        self.errors = list(errors)

    def __call__(self, payload: dict[str, Any]) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(payload)


class FakeGateway:
    """An in-memory payment gateway (payment_gateways.Gateway) for tests and the demo.

    It records every checkout asked of it and answers with a URL under fake-gateway.invalid;
    a test sets the payments it should report with `set_payment`. Under
    settings.PAYMENT_GATEWAYS_FAKE, payment_gateways.gateway(name) gives the one instance
    per name that `fake_gateway` keeps; `reset()` forgets them.
    """

    def __init__(self, name: str, label: str = "") -> None:
        self.name = name
        self.label = label or name
        self.checkouts: list[CheckoutRequest] = []
        self.payments: dict[str, GatewayPayment] = {}
        # Raised by the next checkouts, one each: an outage scripted by a test or the demo.
        self.errors: list[Exception] = []

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        if self.errors:
            raise self.errors.pop(0)
        self.checkouts.append(request)
        url = f"https://fake-gateway.invalid/{self.name}/checkout/{quote(request.reference)}"
        provider_id = f"fake-{self.name}-{request.reference}"
        return Checkout(provider_id=provider_id, url=url, raw={"id": provider_id, "url": url})

    def set_payment(self, payment: GatewayPayment) -> None:
        """Make fetch_payment report `payment` under its provider_payment_id."""
        self.payments[payment.provider_payment_id] = payment

    def fetch_payment(self, provider_payment_id: str) -> GatewayPayment:
        try:
            return self.payments[str(provider_payment_id)]
        except KeyError:
            raise ProviderError(
                f"The fake {self.name} gateway has no payment {provider_payment_id!r}."
            ) from None


_gateways: dict[str, FakeGateway] = {}


def fake_gateway(name: str) -> FakeGateway:
    """Return this process's fake gateway called `name`, made on first use."""
    gateway = _gateways.get(name)
    if gateway is None:
        path = payment_gateways.GATEWAYS.get(name)
        label = import_string(path).label if path else name
        gateway = _gateways.setdefault(name, FakeGateway(name, label))
    return gateway


def reset() -> None:
    """Forget the fake gateways and what they recorded (for tests)."""
    _gateways.clear()
