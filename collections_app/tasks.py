"""Celery doors into the payment-event services; nothing in, counts out."""

from celery import shared_task

from collections_app import services


@shared_task(name="collections_app.expire_links")
def expire_links() -> int:
    expired = services.expire_links()
    # An agreement whose down payment's link ended unpaid a day ago frees its debt.
    services.lapse_agreements()
    return expired


@shared_task(name="collections_app.resolve_promises")
def resolve_promises() -> dict[str, int]:
    return services.resolve_promises()


# The portal's and the flows' tasks live with them; imported here so the worker registers them.
from collections_app.portal.tasks import request_code  # noqa: E402, F401
from collections_app.strategies.tasks import run_flow, run_flows  # noqa: E402, F401
