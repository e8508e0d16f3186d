"""Admin deletions that would blank out who did something, or undo what a provider holds."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from collections_app.models import CallbackRequest
from crm.models import Appointment
from integrations.models import ApiClient
from tests.factories import AppointmentFactory, CustomerFactory, UserFactory


@pytest.fixture
def superuser_client(db):
    client = Client()
    client.force_login(UserFactory(username="raiz", is_staff=True, is_superuser=True))
    return client


def test_an_api_client_named_in_requests_is_switched_off_not_deleted(superuser_client):
    bot = ApiClient.objects.create(name="Bot de cobranza", token_hash="x" * 64)
    callback = CallbackRequest.objects.create(
        customer=CustomerFactory(), phone="+51987654321", api_client=bot
    )
    url = reverse("admin:integrations_apiclient_delete", args=[bot.pk])

    page = superuser_client.get(url)
    superuser_client.post(url, {"post": "yes"})

    assertContains(page, "desactívelo")
    callback.refresh_from_db()
    assert callback.api_client_id == bot.pk


def test_an_api_client_that_sent_nothing_can_be_deleted(superuser_client):
    unused = ApiClient.objects.create(name="Prueba", token_hash="y" * 64)

    superuser_client.post(
        reverse("admin:integrations_apiclient_delete", args=[unused.pk]), {"post": "yes"}
    )

    assert not ApiClient.objects.filter(pk=unused.pk).exists()


def test_an_appointment_is_not_deleted_in_admin(superuser_client):
    appointment = AppointmentFactory(customer=CustomerFactory())
    url = reverse("admin:crm_appointment_delete", args=[appointment.pk])

    response = superuser_client.post(url, {"post": "yes"})

    assert response.status_code == 403
    assert Appointment.objects.filter(pk=appointment.pk).exists()


def test_a_role_group_is_neither_deleted_nor_renamed(superuser_client):
    agent = UserFactory(username="cobra1", role="Cobranzas")
    group = Group.objects.get(name="Cobranzas")

    deleted = superuser_client.post(
        reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"}
    )
    superuser_client.post(
        reverse("admin:auth_group_changelist"),
        {"action": "delete_selected", "_selected_action": [group.pk], "post": "yes"},
    )
    page = superuser_client.get(reverse("admin:auth_group_change", args=[group.pk]))

    assert deleted.status_code == 403
    assert 'name="name"' not in page.content.decode()
    assert agent.groups.filter(name="Cobranzas").exists()


def test_a_group_of_its_own_can_be_deleted(superuser_client):
    extra = Group.objects.create(name="Auditores externos")

    superuser_client.post(reverse("admin:auth_group_delete", args=[extra.pk]), {"post": "yes"})

    assert not Group.objects.filter(pk=extra.pk).exists()
