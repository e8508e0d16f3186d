"""After an order or an outcome the agent reads what happened to the Kommo update, no promise."""

from django.contrib.messages import get_messages
from django.urls import reverse

from callcenter.models import QueueSettings
from tests.callcenter.conftest import make_product


def _sell(client, lead) -> list[str]:
    product = make_product(stock=2)
    client.post(
        reverse("callcenter:cart_add", args=[lead.pk]), {"product": product.pk, "quantity": 1}
    )
    response = client.post(reverse("callcenter:order_confirm", args=[lead.pk]), {"notes": ""})
    assert response.status_code == 302
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_says_kommo_is_not_configured_when_there_is_no_token(client, agente, held_lead):
    client.force_login(agente)

    said = " ".join(_sell(client, held_lead))

    assert "Kommo no está configurado: el cambio de etapa no se envió" in said
    assert "pasará" not in said


def test_it_says_the_update_is_queued_for_kommo_when_kommo_is_configured(
    client, agente, held_lead, settings
):
    settings.KOMMO_TOKEN = "long-lived-token"
    client.force_login(agente)

    said = " ".join(_sell(client, held_lead))

    # The outbox sends it after the commit, with retries: at this moment it is queued.
    assert "Cambio de etapa en cola para Kommo." in said
    assert "pasará" not in said


def test_it_says_kommo_is_not_updated_when_no_sale_stage_is_configured(
    client, agente, held_lead, settings
):
    settings.KOMMO_TOKEN = "long-lived-token"
    QueueSettings.objects.filter(pk=1).update(sold_status_id=None)
    client.force_login(agente)

    said = " ".join(_sell(client, held_lead))

    assert "Kommo no se actualiza: este resultado no tiene etapa de Kommo configurada." in said


def test_an_outcome_also_says_what_happened_to_kommo(client, agente, held_lead):
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:lead_outcome", args=[held_lead.pk]), {"outcome-outcome": "no_answer"}
    )

    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == [
        "Llamada registrada: No contesta.",
        "Kommo no se actualiza: este resultado no tiene etapa de Kommo configurada.",
    ]
