from django.urls import reverse
from pytest_django.asserts import assertContains


def test_a_staff_session_expires_after_8_hours_without_activity(client, asesor):
    client.post(reverse("login"), {"username": "asesor", "password": "demo1234"})

    assert client.session.get_expiry_age() == 8 * 60 * 60
    assert client.session.get_expire_at_browser_close() is False


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
