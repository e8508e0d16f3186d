"""The call's outcome form asks first when the chosen outcome takes the lead out of the
queue (data-confirm on that radio button); the others, every call's, go at once."""

from callcenter.models import QueueSettings
from tests.callcenter.html import elements


def questions(client, lead) -> dict[str, str]:
    """The outcome radio buttons' questions, by outcome ("" for one that asks nothing)."""
    page = elements(client.get(lead.get_absolute_url()).content.decode())
    radios = [
        attrs
        for key, found in page.items()
        if key.startswith("id_outcome-outcome_")
        for attrs in found
    ]
    return {radio["value"]: radio.get("data-confirm", "") for radio in radios}


def test_the_outcome_form_asks_before_not_interested_takes_the_lead_out(client, agente, held_lead):
    client.force_login(agente)

    asked = questions(client, held_lead)

    assert asked == {
        "no_answer": "",
        "callback": "",
        "not_interested": (
            "¿Registrar la llamada como «No interesado»? El lead sale de la cola, y solo un "
            "supervisor puede devolverlo a ella."
        ),
    }
    form = elements(client.get(held_lead.get_absolute_url()).content.decode())["outcome-form"][0]
    assert "data-confirm" not in form


def test_it_asks_for_every_outcome_a_kommo_stage_takes_out_of_the_queue(client, agente, held_lead):
    QueueSettings.objects.filter(pk=1).update(no_answer_status_id=61000009)
    client.force_login(agente)

    asked = questions(client, held_lead)

    assert asked["no_answer"].startswith("¿Registrar la llamada como «No contesta»?")
    assert asked["callback"] == ""
