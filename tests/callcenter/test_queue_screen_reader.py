"""The call queue for a screen reader (accessibility pass, F1/F4/F5/F8): a refresh that
changes nothing swaps nothing, the count is said outside the refreshed wrapper, and each
button and heading has a name of its own."""

from django.urls import reverse

from callcenter.models import Lead
from tests.callcenter.conftest import make_lead
from tests.callcenter.html import elements

QUEUE = reverse("callcenter:queue")
WRAPPER = "queue-results-wrapper"
POLL = {"HX-Request": "true", "HX-Trigger": WRAPPER}


def _shown(html: str) -> str:
    """Return what the wrapper says it shows (hx-vals «shown»), sent back by the next poll."""
    (wrapper,) = elements(html)[WRAPPER]
    vals = wrapper["hx-vals"]
    assert "__SHOWN__" not in vals
    return vals.split('"shown": "')[1].split('"')[0]


def test_a_poll_of_unchanged_results_answers_no_content(client, agente, queue_config):
    make_lead(contact_name="Rosa Huamán")
    client.force_login(agente)
    page = client.get(QUEUE)
    shown = _shown(page.content.decode())

    first = client.get(QUEUE, {"shown": shown}, headers=POLL)
    second = client.get(QUEUE, {"shown": shown}, headers=POLL)

    # Nothing to swap: htmx leaves the list (and the reader's place in it) as it is.
    assert first.status_code == 204 and first.content == b""
    assert second.status_code == 204


def test_a_poll_after_a_change_gets_the_new_results_and_their_fingerprint(
    client, agente, queue_config
):
    rosa = make_lead(contact_name="Rosa Huamán")
    make_lead(contact_name="Pedro Soto")
    client.force_login(agente)
    shown = _shown(client.get(QUEUE).content.decode())

    Lead.objects.filter(pk=rosa.pk).update(in_queue=False)
    changed = client.get(QUEUE, {"shown": shown}, headers=POLL)

    assert changed.status_code == 200
    html = changed.content.decode()
    assert "Rosa Huamán" not in html and "Pedro Soto" in html
    assert _shown(html) != shown
    assert client.get(QUEUE, {"shown": _shown(html)}, headers=POLL).status_code == 204


def test_only_the_poll_itself_may_be_answered_with_nothing(client, agente, queue_config):
    make_lead(contact_name="Rosa Huamán")
    client.force_login(agente)
    shown = _shown(client.get(QUEUE).content.decode())

    # A person's search or page click (another trigger) always gets its results.
    search = client.get(QUEUE, {"shown": shown}, headers={"HX-Request": "true"})
    page = client.get(QUEUE, {"shown": shown})

    assert search.status_code == 200 and "Rosa Huamán" in search.content.decode()
    assert page.status_code == 200


def test_the_count_is_said_by_one_status_outside_the_refreshed_wrapper(
    client, agente, queue_config
):
    make_lead(contact_name="Rosa Huamán")
    client.force_login(agente)

    html = client.get(QUEUE).content.decode()

    (status,) = elements(html)["queue-count-live"]
    assert status["role"] == "status" and status["data-announces"] == "result-count"
    assert html.index('id="queue-count-live"') < html.index(f'id="{WRAPPER}"')
    (wrapper,) = elements(html)[WRAPPER]
    # Paused while the keyboard is in it (app.js); its links do not send the fingerprint.
    assert wrapper["data-refresh-pause-focused"] == "2"
    assert "hx-vals" in wrapper["hx-disinherit"].split()


def test_each_leads_buttons_and_the_actions_heading_have_names(client, agente, queue_config):
    rosa = make_lead(contact_name="Rosa Huamán")
    client.force_login(agente)

    html = client.get(QUEUE).content.decode()

    assert (
        f'id="take-{rosa.pk}">Tomar<span class="visually-hidden"> a Rosa Huamán</span></button>'
        in html
    )
    assert '<span class="visually-hidden">Acciones</span></th>' in html
