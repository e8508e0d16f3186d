"""The gestiones admin in Spanish, and the messages it configures bounded as e-mails."""

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils.functional import Promise
from pytest_django.asserts import assertContains

from crm.gestiones import examples
from crm.gestiones.models import Campaign, LifecycleEvent
from tests.crm.gestiones.test_lifecycle import SERVICE_CALL
from tests.factories import LoanProductFactory

GESTIONES_MODELS = list(apps.get_app_config("gestiones").get_models())


@pytest.mark.parametrize("model", GESTIONES_MODELS, ids=lambda m: m.__name__)
def test_every_model_names_itself_in_spanish(model):
    assert "verbose_name" in model._meta.original_attrs
    assert "verbose_name_plural" in model._meta.original_attrs
    assert model._meta.verbose_name_plural != model._meta.verbose_name


@pytest.mark.parametrize("model", GESTIONES_MODELS, ids=lambda m: m.__name__)
def test_every_field_has_a_spanish_label(model):
    """A field without verbose_name shows its English name as an admin column or filter."""
    unlabelled = [
        f.name
        for f in model._meta.get_fields()
        if f.concrete and not f.auto_created and not isinstance(f.verbose_name, Promise)
    ]

    assert unlabelled == []


def test_the_admin_lists_campaign_targets_under_spanish_filters(admin_client):
    for name in ("Feria", "Verano"):
        Campaign.objects.create(name=name, slug=name.lower(), kind="outbound", message_body="Hola")

    page = admin_client.get(reverse("admin:gestiones_campaigntarget_changelist"))

    filters = page.content.decode()
    assert "Por campaña" in filters
    assert "Por estado del mensaje" in filters
    assert "Por campaign" not in filters


@pytest.fixture
def lifecycle_data(db, asesor, supervisor):
    service_call = examples.build_process(SERVICE_CALL, agents=[asesor], supervisors=[supervisor])
    return {
        "name": "Gracias",
        "kind": LifecycleEvent.Kind.THANKS,
        "loan_product": LoanProductFactory().pk,
        "anchor": LifecycleEvent.Anchor.DISBURSED,
        "offset_days": "3",
        "gestion_type": service_call.pk,
        "message_subject": "Gracias",
        "is_active": "on",
    }


def test_a_lifecycle_message_is_at_most_an_emails_length(admin_client, lifecycle_data):
    url = reverse("admin:gestiones_lifecycleevent_add")

    refused = admin_client.post(url, {**lifecycle_data, "message_body": "x" * 4001})
    kept = admin_client.post(url, {**lifecycle_data, "message_body": "x" * 4000})

    assertContains(refused, "El texto tiene 4001 caracteres; un correo admite hasta 4000.")
    assert kept.status_code == 302
    assert LifecycleEvent.objects.count() == 1


def test_a_lifecycle_message_refuses_a_variable_it_would_send_as_written(
    admin_client, lifecycle_data
):
    url = reverse("admin:gestiones_lifecycleevent_add")

    response = admin_client.post(url, {**lifecycle_data, "message_body": "Hola {nmbre}"})

    assertContains(response, "El texto usa {nmbre}, que no existe")
    assert not LifecycleEvent.objects.exists()


def test_a_campaign_message_is_at_most_an_emails_length(client, supervisor):
    client.force_login(supervisor)
    data = {"name": "Larga", "kind": "outbound", "status": "draft", "message_subject": "Hola"}

    response = client.post(
        reverse("gestiones:campaign_create"), {**data, "message_body": "x" * 4001}
    )

    assertContains(response, "un correo admite hasta 4000")
    assert not Campaign.objects.exists()


def test_a_campaign_message_refuses_an_unknown_variable(client, supervisor):
    client.force_login(supervisor)
    data = {"name": "Errata", "kind": "outbound", "status": "draft", "message_subject": "Hola"}

    response = client.post(
        reverse("gestiones:campaign_create"), {**data, "message_body": "Hola {nombre} {campaña}"}
    )

    assertContains(response, "El texto usa {campaña}, que no existe")
    assert not Campaign.objects.exists()
