"""No browser or proxy keeps a signed-in user's pages: every response to them is no-store."""

import pytest
from django.test import Client

HTMX = {"HX-Request": "true"}


def is_no_store(response) -> bool:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return "no-store" in directives


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        pytest.param("/clientes/", {}, id="a-page"),
        pytest.param("/clientes/", HTMX, id="a-fragment"),
        pytest.param("/clientes/999999/", {}, id="not-found"),
        pytest.param("/", {}, id="a-redirect"),
        pytest.param("/calculadora/", {}, id="a-public-page"),
        pytest.param("/api/v1/schedule-preview?principal=1000&term=3", {}, id="the-api"),
    ],
)
def test_every_response_to_a_signed_in_user_is_no_store(client, asesor, url, headers):
    client.force_login(asesor)

    response = client.get(url, headers=headers)

    assert is_no_store(response), response.get("Cache-Control")


@pytest.mark.parametrize("url", ["/calculadora/", "/healthz"])
def test_public_pages_for_visitors_keep_their_caching(client, db, url):
    response = client.get(url)

    assert response.status_code == 200
    assert not is_no_store(response)


def test_static_files_are_not_marked_no_store(asesor, settings):
    # WhiteNoise answers from the finders, as under `make run`, before the session is read.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    client = Client()
    client.force_login(asesor)

    response = client.get("/static/css/print.css")

    assert response.status_code == 200
    assert not is_no_store(response)
