"""The calculator's forms: "Quiero invertir" (the prospect as a customer, the lead on the
timeline) and "Quiero un crédito" (handed to whoever takes credit leads).

Credit applications belong to the gestiones app, above this one: it registers the
receiver of credit leads (`register_credit_lead_receiver`) from its `AppConfig.ready`,
so the calculator never imports it.
"""

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm import services as crm_services
from crm.models import Channel, Customer, Interaction
from lib.registry import Registry


@dataclass(frozen=True)
class CreditLeadReceipt:
    """What became of a credit lead, as far as the prospect may be told."""

    # A confirmation message to the applicant is queued (not necessarily sent yet).
    is_confirmation_queued: bool


# (source=, data=, received_at=) -> CreditLeadReceipt; raises ValidationError on bad data.
CreditLeadReceiver = Callable[..., CreditLeadReceipt]

CALCULATOR = "calculator"
_RECEIVER = "credit_lead"
_receivers: Registry[CreditLeadReceiver] = Registry("A credit lead receiver")


def register_credit_lead_receiver(receiver: CreditLeadReceiver) -> None:
    """Make `receiver` take the calculator's credit leads (one for the whole project)."""
    _receivers.register(_RECEIVER, receiver)


def unregister_credit_lead_receiver() -> None:
    """Forget the receiver (for tests)."""
    _receivers.unregister(_RECEIVER)


def receives_credit_leads() -> bool:
    """Tell whether anyone takes credit leads (the form is offered only then)."""
    return _receivers.get(_RECEIVER) is not None


def send_credit_lead(
    *, data: Mapping[str, Any], received_at: datetime.datetime
) -> CreditLeadReceipt:
    """Hand a "Quiero un crédito" lead to its receiver; ValidationError says what is wrong."""
    receiver = _receivers.get(_RECEIVER)
    if receiver is None:
        raise ValidationError(
            _("Por ahora no recibimos solicitudes de crédito en línea. Intente más tarde.")
        )
    return receiver(source=CALCULATOR, data=data, received_at=received_at)


@transaction.atomic
def record_investment_lead(*, data: Mapping[str, Any], summary: str, details: dict) -> Customer:
    """Register a web prospect who wants to invest, or note it on the customer they already are.

    An existing customer's data is left as it is: the form is public, and anyone who
    knows a document number could otherwise change that customer's contact details, so
    what was typed goes in the interaction instead.
    """
    channel, _created = Channel.objects.get_or_create(code="web", defaults={"name": "Web"})

    def existing() -> Customer | None:
        # A record merged into another answers as the kept one (crm.merge).
        return (
            Customer.objects.filter(
                document_type=data["document_type"], document_number=data["document_number"]
            )
            .resolved()
            .first()
        )

    customer = existing()
    if customer is None:
        try:
            customer = crm_services.create_customer(actor=None, data={**data, "channel": channel})
        except ValidationError:
            # The same person sent the form twice at once: the other request created them.
            customer = existing()
            if customer is None:
                raise
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.NOTE,
        channel=channel,
        direction=Interaction.Direction.INBOUND,
        summary=summary,
        payload={
            _("nombre indicado"): f"{data['first_name']} {data['last_name']}".strip(),
            _("correo indicado"): data.get("email") or "—",
            _("celular indicado"): str(data.get("phone") or "—"),
            _("autoriza que lo contacten"): _("sí"),
            **details,
        },
    )
    return customer
