"""The calculator's "Quiero invertir" form: the prospect as a customer, the lead on the timeline."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm import services as crm_services
from crm.models import Channel, Customer, Interaction


@transaction.atomic
def record_investment_lead(*, data: Mapping[str, Any], summary: str, details: dict) -> Customer:
    """Register a web prospect who wants to invest, or note it on the customer they already are.

    An existing customer's data is left as it is: the form is public, and anyone who
    knows a document number could otherwise change that customer's contact details, so
    what was typed goes in the interaction instead.
    """
    channel, _created = Channel.objects.get_or_create(code="web", defaults={"name": "Web"})

    def existing() -> Customer | None:
        return Customer.objects.filter(
            document_type=data["document_type"], document_number=data["document_number"]
        ).first()

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
