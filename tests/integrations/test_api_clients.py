"""API clients: tokens shown once and stored as a hash, the bearer check, the per-client
limit, and their admin (add, rotate, turn off)."""

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.messages import get_messages
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from ninja.errors import AuthenticationError, AuthorizationError

from integrations import api_clients
from integrations.models import ApiClient


@pytest.fixture
def made(db) -> tuple[ApiClient, str]:
    return api_clients.create_client(name="AsisteClick", scopes="collections")


def bearer(token: str, scheme: str = "Bearer"):
    return RequestFactory().get("/api/v1/x", headers={"Authorization": f"{scheme} {token}"})


def shown_tokens(response) -> list[str]:
    """Return the tokens admin's messages show."""
    found = []
    for message in get_messages(response.wsgi_request):
        text = str(message)
        if "<code>" in text:
            found.append(text.split("<code>")[1].split("</code>")[0])
    return found


# --- Tokens ---------------------------------------------------------------------------------


def test_a_new_client_gets_a_readable_random_token_stored_only_as_its_hash(made):
    client, token = made

    client.refresh_from_db()
    assert token.startswith("ctr_")
    assert len(token) > 40
    assert client.token_prefix == token[:8]
    assert client.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(value) for value in vars(client).values()}


def test_two_clients_never_share_a_token(db):
    _one, first = api_clients.create_client(name="Uno", scopes="collections")
    _two, second = api_clients.create_client(name="Dos", scopes="collections")

    assert first != second


def test_the_token_finds_its_client(made):
    client, token = made

    assert api_clients.client_for_token(token) == client
    assert api_clients.client_for_token(token + "x") is None
    assert api_clients.client_for_token("") is None
    assert api_clients.client_for_token("x" * 5000) is None


def test_the_lookup_is_cached_so_a_request_costs_no_query(made, django_assert_num_queries):
    _client, token = made
    api_clients.client_for_token(token)
    api_clients.client_for_token("ctr_unknown")

    with django_assert_num_queries(0):
        assert api_clients.client_for_token(token) is not None
        assert api_clients.client_for_token("ctr_unknown") is None  # remembered too


def test_a_rotated_token_stops_working_at_once_and_the_new_one_works(made):
    client, old = made
    api_clients.client_for_token(old)  # cached

    new = api_clients.rotate_token(client=client)

    assert api_clients.client_for_token(old) is None
    assert api_clients.client_for_token(new) == client
    assert new != old


# --- The bearer check -----------------------------------------------------------------------


def test_the_bearer_check_answers_the_client(made):
    client, token = made

    assert api_clients.TokenAuth("collections")(bearer(token)) == client


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   "])
def test_no_bearer_token_is_a_401_in_spanish(db, header):
    headers = {} if header is None else {"Authorization": header}
    request = RequestFactory().get("/api/v1/x", headers=headers)

    with pytest.raises(AuthenticationError) as refused:
        api_clients.TokenAuth("collections")(request)

    assert refused.value.status_code == 401
    assert "Authorization: Bearer" in str(refused.value)


def test_an_unknown_token_is_a_401(db):
    with pytest.raises(AuthenticationError) as refused:
        api_clients.TokenAuth("collections")(bearer("ctr_nope"))

    assert str(refused.value) == "El token no es válido o fue revocado."


def test_the_scheme_may_be_written_in_any_case(made):
    client, token = made

    assert api_clients.TokenAuth("collections")(bearer(token, "bearer")) == client


def test_a_client_turned_off_is_refused_at_once(made):
    client, token = made
    api_clients.TokenAuth("collections")(bearer(token))  # cached as active

    client.is_active = False
    client.save()
    api_clients.forget(client)

    with pytest.raises(AuthenticationError):
        api_clients.TokenAuth("collections")(bearer(token))


def test_a_client_without_the_scope_is_a_403(db):
    _client, token = api_clients.create_client(name="Socio", scopes="imports, reports")

    with pytest.raises(AuthorizationError) as refused:
        api_clients.TokenAuth("collections")(bearer(token))

    assert refused.value.status_code == 403
    assert "collections" in str(refused.value)


def test_scopes_are_read_from_a_list_separated_by_commas(db):
    client, _token = api_clients.create_client(name="Socio", scopes=" imports ,collections")

    assert client.scope_list == ["imports", "collections"]
    assert client.has_scope("collections")
    assert not client.has_scope("collection")


def test_the_last_use_is_written_at_most_once_a_minute(made, django_assert_num_queries):
    client, token = made
    auth = api_clients.TokenAuth("collections")
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        auth(bearer(token))
        with django_assert_num_queries(0):
            auth(bearer(token))
    first = ApiClient.objects.get(pk=client.pk).last_used_at
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        auth(bearer(token))

    assert first == start
    assert ApiClient.objects.get(pk=client.pk).last_used_at == start + timedelta(seconds=61)


# --- The per-client limit -------------------------------------------------------------------


def test_each_client_has_its_own_requests_per_minute(db):
    slow, _token = api_clients.create_client(
        name="Lento", scopes="collections", rate_limit_per_minute=2
    )
    other, _other_token = api_clients.create_client(name="Otro", scopes="collections")
    limit = api_clients.ClientRateLimit()

    def allowed(client: ApiClient) -> bool:
        request = RequestFactory().get("/")
        request.auth = client
        return limit.allow_request(request)

    with time_machine.travel(timezone.now().replace(second=5), tick=False):
        answers = [allowed(slow) for _ in range(3)]
        assert allowed(other)

    assert answers == [True, True, False]
    assert 0 < limit.wait() <= 60


# --- Admin ----------------------------------------------------------------------------------


def test_adding_a_client_in_admin_shows_its_token_once(admin_client):
    response = admin_client.post(
        reverse("admin:integrations_apiclient_add"),
        {
            "name": "AsisteClick",
            "scopes": "collections",
            "rate_limit_per_minute": "120",
            "is_active": "on",
        },
        follow=True,
    )

    (token,) = shown_tokens(response)
    client = ApiClient.objects.get()
    assert client.is_active
    assert api_clients.client_for_token(token) == client
    assert token not in admin_client.get(reverse("admin:integrations_apiclient_changelist")).text
    assert (
        token
        not in admin_client.get(
            reverse("admin:integrations_apiclient_change", args=[client.pk])
        ).text
    )


def test_the_add_form_refuses_scopes_that_are_not_a_list(admin_client):
    response = admin_client.post(
        reverse("admin:integrations_apiclient_add"),
        {"name": "Mal", "scopes": "cobranzas; todo", "rate_limit_per_minute": "120"},
    )

    assert response.status_code == 200
    assert "separados por comas" in response.text
    assert not ApiClient.objects.exists()


def test_the_list_shows_prefix_state_and_last_use_in_spanish(admin_client, made):
    client, _token = made

    page = admin_client.get(reverse("admin:integrations_apiclient_changelist"))

    assert page.status_code == 200
    for spanish in ("Clientes de la API", "Prefijo del token", "Activo", "Último uso"):
        assert spanish in page.text
    assert client.token_prefix in page.text
    assert client.token_hash not in page.text


def test_rotating_in_admin_asks_first_and_says_the_old_token_stops_working(admin_client, made):
    client, old = made

    response = admin_client.post(
        reverse("admin:integrations_apiclient_changelist"),
        {"action": "rotate_tokens", "_selected_action": [client.pk]},
    )

    assert response.status_code == 200
    assert "deja de funcionar" in response.text
    assert client.name in response.text
    assert 'name="post" value="yes"' in response.text
    assert not shown_tokens(response)
    assert ApiClient.objects.get(pk=client.pk).token_hash == client.token_hash
    assert api_clients.client_for_token(old) == client


def test_rotating_in_admin_shows_the_new_token_and_the_old_one_stops(admin_client, made):
    client, old = made

    response = admin_client.post(
        reverse("admin:integrations_apiclient_changelist"),
        {"action": "rotate_tokens", "_selected_action": [client.pk], "post": "yes"},
        follow=True,
    )

    (new,) = shown_tokens(response)
    assert api_clients.client_for_token(old) is None
    assert api_clients.client_for_token(new) == client


def test_a_rotation_in_admin_is_kept_in_the_admin_history(admin_client, made):
    client, _old = made

    admin_client.post(
        reverse("admin:integrations_apiclient_changelist"),
        {"action": "rotate_tokens", "_selected_action": [client.pk], "post": "yes"},
    )

    entry = LogEntry.objects.get(object_id=str(client.pk))
    assert entry.action_flag == CHANGE
    assert "Token rotado" in entry.get_change_message()


def test_turning_a_client_off_in_admin_refuses_its_token_at_once(admin_client, made):
    client, token = made
    api_clients.TokenAuth("collections")(bearer(token))  # cached as active

    admin_client.post(
        reverse("admin:integrations_apiclient_change", args=[client.pk]),
        {"name": client.name, "scopes": "collections", "rate_limit_per_minute": "120"},
    )

    assert not ApiClient.objects.get(pk=client.pk).is_active
    with pytest.raises(AuthenticationError):
        api_clients.TokenAuth("collections")(bearer(token))


def test_deleting_a_client_in_admin_refuses_its_token_at_once(admin_client, made):
    client, token = made
    api_clients.client_for_token(token)  # cached

    admin_client.post(
        reverse("admin:integrations_apiclient_delete", args=[client.pk]), {"post": "yes"}
    )

    assert not ApiClient.objects.exists()
    assert api_clients.client_for_token(token) is None
