"""A bot's or portal's entry in a conversation's thread writes its amounts as the customer's
360 timeline does (crm.display.amounts_in_text, on screen): «US$ 5,555.55», not the
«USD 5555.55» its sentence was stored with (the `amounts` filter of config/jinja2.py).
"""

from django.urls import reverse

from crm import services as crm_services
from crm.models import Interaction

NBSP = "\u00a0"


def test_the_thread_writes_an_entrys_amounts_as_money(agent_client, rosa):
    entry = crm_services.record_interaction(
        customer=rosa,
        kind=Interaction.Kind.PORTAL_VISIT,
        summary="Portal del cliente: abrió un link de pago (deuda total, USD 5555.55, PL-1)",
    )

    response = agent_client.get(reverse("collections_app:conversation_detail", args=[rosa.pk]))

    html = response.content.decode()
    assert f"deuda total, US${NBSP}5,555.55, PL-1" in html
    assert "USD 5555.55" not in html
    assert f'id="entry-{entry.pk}"' in html
