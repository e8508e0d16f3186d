"""Admin speaks Spanish, third-party apps included (django-axes: the login attempts)."""

from axes.models import AccessAttempt
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains


def test_the_login_attempts_read_in_spanish(admin_client):
    AccessAttempt.objects.create(
        username="rosa",
        ip_address="203.0.113.7",
        user_agent="Firefox",
        http_accept="text/html",
        path_info="/ingresar/",
        get_data="",
        post_data="",
        failures_since_start=2,
    )

    index = admin_client.get(reverse("admin:index"))
    attempts = admin_client.get(reverse("admin:axes_accessattempt_changelist"))

    assertContains(index, "Intentos de ingreso")
    assertContains(index, "Intentos de acceso")
    for spanish in ("Dirección IP", "Usuario", "Ingresos fallidos", "Fecha del intento"):
        assertContains(attempts, spanish)
    for english in ("IP Address", "Failed Logins", "Attempt Time", "Access attempts"):
        assertNotContains(attempts, english)
