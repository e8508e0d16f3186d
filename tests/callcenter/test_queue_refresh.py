"""The queue's automatic refresh: an agent leaves it open all day, and nothing grows."""

from urllib.parse import urlencode

from django.urls import reverse

from tests.callcenter.conftest import make_lead
from tests.callcenter.html import elements

QUEUE = reverse("callcenter:queue")
WRAPPER = "queue-results-wrapper"
# What the filters form holds while the agent works: htmx adds it to every poll.
FILTERS = {"q": "rosa", "state": "new", "agent": "", "source": "", "since": "", "until": ""}
# A day's shift polled every 5 s is ~6,000 polls; a few hundred show whether anything grows.
POLLS = 300


def _poll_url(wrapper: dict[str, str]) -> str:
    """Return the URL htmx 2 requests for the wrapper's poll: hx-get plus hx-include's form."""
    url = wrapper["hx-get"]
    if wrapper.get("hx-include") == "#queue-filters":
        url += ("&" if "?" in url else "?") + urlencode(FILTERS)
    return url


def test_it_polls_the_queue_hundreds_of_times_without_the_url_growing(client, agente, queue_config):
    make_lead(contact_name="Rosa Huamán")
    make_lead(contact_name="Pedro Soto")
    client.force_login(agente)
    page = client.get(QUEUE, FILTERS)
    (wrapper,) = elements(page.content.decode())[WRAPPER]
    first_url = _poll_url(wrapper)

    for poll in range(1, POLLS + 1):
        url = _poll_url(wrapper)
        response = client.get(url, headers={"HX-Request": "true", "HX-Trigger": WRAPPER})

        assert response.status_code == 200, f"poll {poll}: {response.status_code}"
        assert url == first_url
        # A poll is not a navigation: the address bar and history stay as they are.
        assert "HX-Push-Url" not in response.headers
        html = response.content.decode()
        (wrapper,) = elements(html)[WRAPPER]
        assert "Rosa Huamán" in html and "Pedro Soto" not in html

    assert len(first_url) < 200


def test_it_keeps_the_sort_and_page_in_the_poll_once_each(client, agente, queue_config):
    for n in range(30):
        make_lead(contact_name=f"Persona {n:02d}")
    client.force_login(agente)
    # A URL that already grew (an agent's tab from before the fix): each key twice.
    grown = f"{QUEUE}?sort=-attempts&page=2&sort=-attempts&page=2&q=&q="

    response = client.get(grown, headers={"HX-Request": "true", "HX-Trigger": WRAPPER})

    (wrapper,) = elements(response.content.decode())[WRAPPER]
    assert wrapper["hx-get"] == f"{QUEUE}?sort=-attempts&page=2"
