"""The payment events, as a signal other apps listen to (the strategies send their messages).

`payment_event` is sent after the event's transaction commits, once per event, with:
- `event`: one of `Event`;
- `portfolio`: "vigente" or "castigada" (the events settings have a section for each);
- `customer_id`, `receivable_kind`, `receivable_id`;
- `instance`: the link, payment to verify, promise or agreement (None for an annulment);
- `payment_id`: the receivable's payment, when money moved.
A receiver that fails is logged, never raised into the event that already happened.
"""

import logging
from typing import Any

from django.db import models, transaction
from django.dispatch import Signal
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

payment_event = Signal()


class Event(models.TextChoices):
    PAYMENT = "payment", _("Pago")
    TO_VERIFY = "to_verify", _("Pago a verificar")
    VERIFIED = "verified", _("Pago verificado")
    REJECTED = "rejected", _("Pago no verificado")
    PROMISE = "promise", _("Compromiso de pago")
    PROMISE_KEPT = "promise_kept", _("Compromiso cumplido")
    PROMISE_BROKEN = "promise_broken", _("Compromiso incumplido")
    ANNULMENT = "annulment", _("Anulación de pago")
    LINK = "link", _("Link de pago")
    AGREEMENT = "agreement", _("Convenio de pago")
    CALLBACK = "callback", _("Pedido de llamada")


def send_on_commit(event: str, *, portfolio: str, customer_id: int, **details: Any) -> None:
    """Send `payment_event` once the current transaction commits (at once outside one)."""

    def send() -> None:
        for receiver, response in payment_event.send_robust(
            sender=Event, event=event, portfolio=portfolio, customer_id=customer_id, **details
        ):
            if isinstance(response, Exception):
                logger.error(
                    "payment_event receiver %r failed on %s", receiver, event, exc_info=response
                )

    transaction.on_commit(send)
