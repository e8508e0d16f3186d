from datetime import timedelta

import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains


def test_a_staff_session_expires_after_8_hours_without_activity(client, asesor):
    client.post(reverse("login"), {"username": "asesor", "password": "demo1234"})

    assert client.session.get_expiry_age() == 8 * 60 * 60
    assert client.session.get_expire_at_browser_close() is False


def _session_writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if "django_session" in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT")
    ]


def test_a_request_writes_the_session_only_when_its_expiry_is_minutes_old(client, asesor):
    client.post(reverse("login"), {"username": "asesor", "password": "demo1234"})
    session = Session.objects.get()
    expiry = session.expire_date

    with CaptureQueriesContext(connection) as soon:
        assert client.get(reverse("crm:customer_list")).status_code == 200
    assert _session_writes(soon) == []
    assert Session.objects.get().expire_date == expiry

    later = timezone.now() + timedelta(seconds=settings.SESSION_REFRESH_SECONDS + 1)
    with time_machine.travel(later, tick=False), CaptureQueriesContext(connection) as after:
        assert client.get(reverse("crm:customer_list")).status_code == 200
    assert len(_session_writes(after)) == 1
    assert Session.objects.get().expire_date > expiry
    # Still signed in, with the same session: only its expiry moved.
    assert Session.objects.get().session_key == session.session_key


def test_a_page_that_reads_no_session_never_writes_one(client, asesor):
    client.force_login(asesor)
    later = timezone.now() + timedelta(hours=1)

    with time_machine.travel(later, tick=False), CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("healthz")).status_code == 200

    assert [q["sql"] for q in queries.captured_queries] == []


def test_signing_out_needs_a_post_and_ends_the_session(client, asesor):
    client.force_login(asesor)

    response = client.post(reverse("logout"))

    assert response.url == reverse("login")
    assert client.get(reverse("crm:customer_list")).status_code == 302


def test_repeated_wrong_passwords_lock_the_user_out_in_spanish(client, asesor, settings):
    settings.AXES_ENABLED = True
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "asesor", "password": "incorrecta"})

    response = client.post(reverse("login"), {"username": "asesor", "password": "demo1234"})

    assert response.status_code == 429
    assertContains(response, "Acceso bloqueado temporalmente", status_code=429)


def test_behind_a_proxy_the_lockout_is_of_the_client_not_of_the_proxy(client, asesor, settings):
    # Behind nginx every request comes from its address; the client's is the one it adds.
    settings.AXES_ENABLED = True
    settings.RATELIMIT_TRUSTED_PROXIES = 1
    through_proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("login"),
            {"username": "asesor", "password": "incorrecta"},
            HTTP_X_FORWARDED_FOR="203.0.113.9",
            **through_proxy,
        )

    guesser = client.post(
        reverse("login"),
        {"username": "asesor", "password": "demo1234"},
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        **through_proxy,
    )
    owner = client.post(
        reverse("login"),
        {"username": "asesor", "password": "demo1234"},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
        **through_proxy,
    )

    assert guesser.status_code == 429
    assert owner.status_code == 302


def test_a_sign_in_sent_while_another_for_the_same_user_runs_is_refused_unchecked(
    client, asesor, settings, monkeypatch
):
    from lib import login, ratelimit
    from lib.auth import CachedPermissionsBackend

    checked = []
    real = CachedPermissionsBackend.authenticate
    monkeypatch.setattr(
        CachedPermissionsBackend,
        "authenticate",
        lambda backend, request, **given: checked.append(1) or real(backend, request, **given),
    )
    key = "login:{}:127.0.0.1".format(login.hashlib.sha256(b"asesor").hexdigest()[:32])

    with ratelimit.one_at_a_time(key) as held:
        assert held
        busy = client.post(reverse("login"), {"username": "Asesor", "password": "x"})

    assertContains(busy, "Hay otro intento de ingreso en curso")
    assert checked == []
    client.post(reverse("login"), {"username": "asesor", "password": "x"})
    assert checked == [1]  # the hold ended with its block


def test_guesses_sent_at_once_cannot_overshoot_the_lockout(
    transactional_db, roles, settings, monkeypatch
):
    """Four wrong passwords, then eight at once: only one more is checked against the
    password, as axes locks the user out after the fifth (on PostgreSQL, without the
    hold, each of the eight was checked)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from lib.auth import CachedPermissionsBackend
    from tests.races import at_once

    settings.AXES_ENABLED = True
    get_user_model().objects.create_user("guessed", password="la-buena-1234")
    wrong = {"username": "guessed", "password": "incorrecta"}
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        Client().post(reverse("login"), wrong)
    checked = []
    real = CachedPermissionsBackend.authenticate

    def counted(self, request, **credentials):
        checked.append(1)
        return real(self, request, **credentials)

    monkeypatch.setattr(CachedPermissionsBackend, "authenticate", counted)

    _done, errors = at_once(*[lambda: Client().post(reverse("login"), wrong).status_code] * 8)

    assert errors == []
    assert len(checked) <= 1
    locked = Client().post(reverse("login"), {"username": "guessed", "password": "la-buena-1234"})
    assert locked.status_code == 429


def test_staff_change_their_own_password_and_their_other_sessions_end(client, asesor):
    other_browser = Client()
    other_browser.force_login(asesor)
    client.force_login(asesor)
    assertContains(client.get(reverse("crm:customer_list")), reverse("password_change"))

    response = client.post(
        reverse("password_change"),
        {
            "old_password": "demo1234",
            "new_password1": "Cuota-Fija-2027",
            "new_password2": "Cuota-Fija-2027",
        },
        follow=True,
    )

    assertContains(response, "Su contraseña se cambió. Sus otras sesiones abiertas se cerraron.")
    asesor.refresh_from_db()
    assert asesor.check_password("Cuota-Fija-2027")
    assert client.get(reverse("crm:customer_list")).status_code == 200
    assert other_browser.get(reverse("crm:customer_list")).status_code == 302


def test_a_wrong_or_weak_new_password_is_refused_in_spanish(client, asesor):
    client.force_login(asesor)

    wrong = client.post(
        reverse("password_change"),
        {
            "old_password": "otra",
            "new_password1": "Cuota-Fija-2027",
            "new_password2": "Cuota-Fija-2027",
        },
    )
    weak = client.post(
        reverse("password_change"),
        {"old_password": "demo1234", "new_password1": "12345678", "new_password2": "12345678"},
    )

    assertContains(wrong, "Su contraseña antigua es incorrecta")
    assertContains(weak, "Esta contraseña es demasiado común.")
    asesor.refresh_from_db()
    assert asesor.check_password("demo1234")


def test_the_password_page_needs_a_signed_in_person(client, db):
    response = client.get(reverse("password_change"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
