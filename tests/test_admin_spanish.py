"""Admin speaks Spanish, third-party apps included (django-axes: the login attempts)."""

import pytest
from axes.models import AccessAttempt
from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains, assertNotContains

from tests.factories import BranchFactory


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


def test_the_admin_names_a_model_without_a_wrong_article(admin_client):
    """Django's Spanish puts "los"/"El" before any model ("los interacción", "El sucursal")."""
    entry = BranchFactory()
    url = reverse("admin:crm_branch_delete", args=[entry.pk])

    confirm = admin_client.get(url)
    deleted = admin_client.post(url, {"post": "yes"}, follow=True)

    assertContains(confirm, "¿Está seguro de que quiere borrar «")
    assertContains(confirm, "» (sucursal)?")
    assertNotContains(confirm, "los sucursal")
    assertContains(deleted, "» (sucursal).")
    assertNotContains(deleted, "El sucursal")


def test_django_forms_say_archivo_as_latin_america_does():
    with translation.override("es"), pytest.raises(ValidationError) as refused:
        forms.FileField().clean(SimpleUploadedFile("vacio.csv", b""))

    assert refused.value.messages == ["El archivo enviado está vacío."]


def test_the_admin_offers_to_delete_the_selected_rows_without_a_wrong_gender(admin_client):
    BranchFactory()

    page = admin_client.get(reverse("admin:crm_branch_changelist"))

    assertContains(page, "Borrar los registros seleccionados (sucursales)")
