"""Pages left open all day: what htmx asks by itself stays well-formed, ends with the
session, and does not keep it open."""

from datetime import timedelta

import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from lib.middleware import BACKGROUND_REFRESH_HEADER

HTMX = {"HX-Request": "true"}
QUEUE = "/call-center-queue/"


def test_a_fragment_answered_to_htmx_has_no_blank_lines_around_it(client, agente):
    client.force_login(agente)

    fragment = client.get(QUEUE, headers=HTMX).content

    # Each blank line around it stayed in the page as a text node, 2 a refresh.
    assert fragment.startswith(b"<") and fragment.endswith(b">")


def test_a_whole_page_is_answered_as_written(client, agente):
    client.force_login(agente)

    page = client.get(QUEUE)

    assert page.content.startswith(b"<!doctype html>")
    assert int(page["Content-Length"]) == len(page.content)


def test_an_htmx_request_after_the_session_ended_takes_the_whole_page_to_the_sign_in(client):
    response = client.get(
        QUEUE, headers={**HTMX, "HX-Current-URL": "http://testserver/call-center-queue/?page=2"}
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('login')}?next=/call-center-queue/%3Fpage%3D2"
    assert response.content == b""


def test_a_foreign_page_named_by_htmx_is_not_where_the_sign_in_returns(client):
    response = client.get(QUEUE, headers={**HTMX, "HX-Current-URL": "https://evil.example/x"})

    assert response["HX-Redirect"] == f"{reverse('login')}?next=/x"


def test_a_page_refreshing_itself_does_not_keep_the_session_open(client, agente):
    client.post(reverse("login"), {"username": "agente", "password": "demo1234"})
    expiry = Session.objects.get().expire_date
    later = timezone.now() + timedelta(seconds=settings.SESSION_REFRESH_SECONDS + 1)

    with time_machine.travel(later, tick=False):
        client.get(QUEUE, headers={**HTMX, BACKGROUND_REFRESH_HEADER: "1"})
        assert Session.objects.get().expire_date == expiry
        client.get(QUEUE, headers=HTMX)  # a person's click
        assert Session.objects.get().expire_date > expiry


def test_the_pages_that_refresh_themselves_say_so(client, agente, cobranzas):
    client.force_login(agente)
    queue = client.get(QUEUE).content.decode()
    client.force_login(cobranzas)
    inbox = client.get(reverse("collections_app:conversation_list")).content.decode()

    for page in (queue, inbox):
        assert f'hx-headers=\'{{"{BACKGROUND_REFRESH_HEADER}": "1"}}\'' in page


def test_a_filter_value_the_list_cannot_read_says_it_was_not_applied(client, asesor):
    client.force_login(asesor)

    page = client.get("/clientes/", {"branch": "abc\x00"}).content.decode()

    assert "Valor no válido: no se aplicó este filtro." in page
    assert "\x00" not in page
    assert 'class="form-select is-invalid"' in page
