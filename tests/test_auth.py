from datetime import timedelta

import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
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
