"""The call-center pages for the keyboard (accessibility pass, F1/F5): the queue's refresh
can be paused by a toggle outside the refreshed list, and the lead's page has a way past the
catalog's products to the order."""

from django.urls import reverse

from tests.callcenter.conftest import make_lead
from tests.callcenter.html import elements

QUEUE = reverse("callcenter:queue")
WRAPPER = "queue-results-wrapper"


def test_the_queue_has_a_pause_toggle_outside_the_refreshed_list(client, agente, queue_config):
    make_lead(contact_name="Rosa Huamán")
    client.force_login(agente)

    html = client.get(QUEUE).content.decode()

    (toggle,) = elements(html)["queue-pause"]
    assert toggle["data-refresh-toggle"] == WRAPPER
    assert toggle["aria-pressed"] == "false"
    assert "hidden" in toggle  # app.js shows it: without a script nothing refreshes
    assert "Pausar actualización" in html
    # Before the wrapper, not in it: a refresh does not replace it (nor its state).
    assert html.index('id="queue-pause"') < html.index(f'id="{WRAPPER}"')
    poll = client.get(QUEUE, headers={"HX-Request": "true", "HX-Trigger": WRAPPER})
    assert 'id="queue-pause"' not in poll.content.decode()


def test_the_leads_page_skips_from_the_catalog_to_the_order(client, agente, held_lead):
    client.force_login(agente)

    html = client.get(held_lead.get_absolute_url()).content.decode()

    by_id = elements(html)
    (skip,) = by_id["skip-to-cart"]
    assert skip["href"] == "#cart"
    assert "Ir al pedido" in html
    # After the search box, before the products (loaded into #catalog-results).
    assert html.index('id="catalog-q"') < html.index('id="skip-to-cart"')
    assert html.index('id="skip-to-cart"') < html.index('id="catalog-results"')
    (cart,) = by_id["cart"]
    assert cart["tabindex"] == "-1"  # the link's target takes the focus
