"""A lead's page says when Kommo refused its last stage change, so nobody trusts Kommo blindly."""

import pytest
import responses
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from callcenter.models import CallRecord
from callcenter.services import calls as call_services
from integrations import outbox
from integrations.models import OutboxMessage
from tests.callcenter.conftest import make_product


@pytest.fixture
def kommo_refuses(held_lead, agente, settings, django_capture_on_commit_callbacks):
    """Sell to the held lead while Kommo answers 400: its update fails for good."""
    settings.KOMMO_TOKEN = "long-lived-token"
    cache.clear()
    url = f"{settings.KOMMO_BASE_URL}/api/v4/leads/{held_lead.kommo_id}"
    with responses.RequestsMock() as api:
        api.patch(url, status=400, json={"title": "Bad Request", "detail": "status_id"})
        with django_capture_on_commit_callbacks(execute=True):
            call_services.confirm_order(
                lead=held_lead,
                agent=agente,
                lines=[call_services.CartLine(make_product(stock=1).pk, 1)],
            )
    message = OutboxMessage.objects.get()
    assert message.status == OutboxMessage.Status.FAILED
    return message


@pytest.mark.parametrize("who", ["agente", "supervisor"])
def test_the_lead_page_says_kommo_refused_its_last_update_and_when(
    client, request, held_lead, kommo_refuses, who
):
    client.force_login(request.getfixturevalue(who))

    response = client.get(reverse("callcenter:lead_detail", args=[held_lead.pk]))

    assertContains(response, 'id="kommo-failure"')
    assertContains(response, "Kommo no está al día con este lead.")
    assertContains(response, "«Venta»")
    failed_at = timezone.localtime(kommo_refuses.last_attempt_at).strftime("%d/%m/%Y %H:%M")
    assertContains(response, f"falló definitivamente el {failed_at}, tras 1 intento.")
    # The provider's own words only for who can retry it.
    assertNotContains(response, "HTTP 400")


def test_an_admin_is_pointed_at_the_message_to_retry(client, admin_user, held_lead, kommo_refuses):
    client.force_login(admin_user)

    response = client.get(reverse("callcenter:lead_detail", args=[held_lead.pk]))

    outbox_url = reverse("admin:integrations_outboxmessage_changelist")
    assertContains(response, f'href="{outbox_url}?id__exact={kommo_refuses.pk}"')
    assertContains(response, "HTTP 400")


def test_the_warning_goes_once_the_update_is_retried_and_sent(
    client, agente, held_lead, kommo_refuses, settings, django_capture_on_commit_callbacks
):
    url = f"{settings.KOMMO_BASE_URL}/api/v4/leads/{held_lead.kommo_id}"
    with responses.RequestsMock() as api:
        api.patch(url, json={"id": held_lead.kommo_id})
        with django_capture_on_commit_callbacks(execute=True):
            outbox.retry_message(message=kommo_refuses)
    client.force_login(agente)

    response = client.get(reverse("callcenter:lead_detail", args=[held_lead.pk]))

    assertNotContains(response, 'id="kommo-failure"')


def test_a_later_update_waiting_to_be_sent_replaces_an_old_failure(
    client, agente, held_lead, kommo_refuses
):
    later = CallRecord.objects.create(
        lead=held_lead, agent=agente, outcome=CallRecord.Outcome.NO_ANSWER
    )
    OutboxMessage.objects.create(
        destination="kommo.update_lead",
        payload={"lead_id": held_lead.kommo_id, "status_id": 1},
        dedupe_key=later.kommo_dedupe_key,
    )
    client.force_login(agente)

    response = client.get(reverse("callcenter:lead_detail", args=[held_lead.pk]))

    assertNotContains(response, 'id="kommo-failure"')


def test_a_lead_whose_updates_went_through_shows_no_warning(client, agente, held_lead):
    client.force_login(agente)

    response = client.get(reverse("callcenter:lead_detail", args=[held_lead.pk]))

    assertNotContains(response, 'id="kommo-failure"')
