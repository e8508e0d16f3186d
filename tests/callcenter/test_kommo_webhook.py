"""Leads enter and leave the queue as Kommo moves them, through the webhook inbox."""

import json

import pytest
import responses
from celery.exceptions import Retry
from django.core.cache import cache
from django.urls import reverse

from callcenter.models import Lead
from crm.models import Customer, Interaction
from integrations.models import WebhookEvent
from tests.callcenter.conftest import FIXTURES, QUEUE_STATUS, SECRET, fixture_body
from tests.factories import CustomerFactory

URL = reverse("callcenter:kommo_webhook", args=[SECRET])
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    def _deliver(name: str, url: str = URL, raw: bytes | None = None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data=raw or fixture_body(name), content_type=FORM)

    return _deliver


def deliver_body(deliver, raw: bytes):
    return deliver("", raw=raw)


def test_a_lead_moved_to_para_llamar_enters_the_queue(deliver, queue_config):
    response = deliver("lead_status_to_queue.txt")

    assert response.status_code == 200
    assert response.json()["status"] == "stored"
    lead = Lead.objects.get(kommo_id=25399013)
    assert lead.in_queue
    assert lead.state == Lead.State.NEW
    assert lead.status_id == QUEUE_STATUS
    assert lead.source == "Facebook"  # from the webhook's own custom field, no API token
    assert lead.kommo_updated_at == 1795269600
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_nul_in_a_webhooks_text_is_dropped_not_a_failure_on_every_retry(deliver, queue_config):
    # PostgreSQL's text refuses a NUL; a form-encoded body carries one as %00.
    raw = fixture_body("lead_status_to_queue.txt").replace(b"Pedido+web+-+Rosa", b"Pedido%00Rosa")

    deliver("", raw=raw)

    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert Lead.objects.get(kommo_id=25399013).name == "PedidoRosa"


def test_leaving_the_stage_in_kommo_takes_it_out(deliver, queue_config, agente):
    deliver("lead_status_to_queue.txt")
    Lead.objects.update(taken_by=agente)

    deliver("lead_status_out_of_queue.txt")

    lead = Lead.objects.get(kommo_id=25399013)
    assert not lead.in_queue
    assert lead.state == Lead.State.LEFT
    assert lead.taken_by is None


def test_the_same_delivery_twice_is_applied_once(deliver, queue_config):
    deliver("lead_status_to_queue.txt")
    again = deliver("lead_status_to_queue.txt")

    assert again.json()["status"] == "duplicate"
    assert WebhookEvent.objects.count() == 1
    assert Lead.objects.count() == 1


def test_an_older_change_delivered_late_changes_nothing(deliver, queue_config):
    deliver("lead_status_to_queue.txt")
    deliver("lead_status_out_of_queue.txt")
    # Kommo retries an older "entered the stage" after the newer "left": it stays out.
    late = fixture_body("lead_status_to_queue.txt").replace(
        b"last_modified%5D=1795269600", b"last_modified%5D=1795269500"
    )
    response = deliver_body(deliver, late)

    assert response.json()["status"] == "stored"
    lead = Lead.objects.get()
    assert not lead.in_queue
    assert lead.kommo_updated_at == 1795273200


def test_only_leads_of_the_queue_stage_are_kept(deliver, queue_config):
    deliver("leads_add_two.txt")

    assert list(Lead.objects.values_list("kommo_id", flat=True)) == [25400100]


def test_an_event_about_no_queue_lead_is_marked_ignored(deliver, queue_config):
    deliver("lead_status_out_of_queue.txt")

    assert Lead.objects.count() == 0
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


def test_a_contact_webhook_is_answered_and_not_stored(deliver, queue_config):
    response = deliver("contact_update.txt")

    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert WebhookEvent.objects.count() == 0


def test_a_wrong_path_token_is_an_unknown_page(deliver, queue_config):
    response = deliver(
        "lead_status_to_queue.txt", url=reverse("callcenter:kommo_webhook", args=["nope"])
    )

    assert response.status_code == 404
    assert WebhookEvent.objects.count() == 0


def test_no_token_configured_refuses_everything(deliver, queue_config, settings):
    settings.KOMMO_WEBHOOK_SECRET = ""

    assert deliver("lead_status_to_queue.txt").status_code == 404


def test_another_kommo_account_is_refused(deliver, queue_config, settings):
    settings.KOMMO_SUBDOMAIN = "otra"

    response = deliver("lead_status_to_queue.txt")

    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0


def test_a_body_that_is_not_kommos_is_a_bad_request(client, queue_config):
    response = client.post(URL, data=b"{}", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"]
    assert WebhookEvent.objects.count() == 0


def test_a_lead_change_without_the_lead_id_is_a_bad_request(deliver, queue_config):
    raw = fixture_body("lead_status_to_queue.txt").replace(
        b"leads%5Bstatus%5D%5B0%5D%5Bid%5D=25399013&", b""
    )

    response = deliver_body(deliver, raw)

    assert response.status_code == 400
    assert "no id" in response.json()["detail"]
    assert WebhookEvent.objects.count() == 0
    assert Lead.objects.count() == 0


def test_with_a_token_the_lead_and_contact_are_fetched_and_the_customer_suggested(
    deliver, queue_config, settings
):
    settings.KOMMO_TOKEN = "long-lived-token"
    cache.clear()
    customer = CustomerFactory(document_number="45678912", first_name="Rosa")
    base = settings.KOMMO_BASE_URL
    with responses.RequestsMock() as api:
        api.get(
            f"{base}/api/v4/leads/25399013",
            json=json.loads((FIXTURES / "lead_25399013.json").read_text()),
        )
        api.get(
            f"{base}/api/v4/leads/25399013/notes",
            json=json.loads((FIXTURES / "notes_25399013.json").read_text()),
        )
        api.get(
            f"{base}/api/v4/contacts/9001",
            json=json.loads((FIXTURES / "contact_9001.json").read_text()),
        )
        deliver("lead_status_to_queue.txt")

    lead = Lead.objects.get()
    assert lead.contact_name == "Rosa Huamán Quispe"
    assert lead.phone == "+51 987 654 321"
    assert lead.address == "Av. Arequipa 1234, dpto 501"
    assert "6 pm" in lead.notes
    # The same document is a match to confirm on the call, not a link taken on trust.
    assert lead.customer is None
    assert (lead.suggested_customer, lead.suggested_by) == (customer, Lead.Match.DOCUMENT)
    assert not customer.interactions.filter(
        kind=Interaction.Kind.SYSTEM, summary__contains="cola"
    ).exists()


def test_a_new_person_with_a_document_becomes_a_customer(deliver, queue_config, settings):
    settings.KOMMO_TOKEN = "long-lived-token"
    cache.clear()
    base = settings.KOMMO_BASE_URL
    with responses.RequestsMock() as api:
        api.get(
            f"{base}/api/v4/leads/25399013",
            json=json.loads((FIXTURES / "lead_25399013.json").read_text()),
        )
        api.get(f"{base}/api/v4/leads/25399013/notes", status=204)
        api.get(
            f"{base}/api/v4/contacts/9001",
            json=json.loads((FIXTURES / "contact_9001.json").read_text()),
        )
        deliver("lead_status_to_queue.txt")

    customer = Customer.objects.get(document_number="45678912")
    assert Lead.objects.get().customer == customer
    assert str(customer.phone) == "+51987654321"


def test_kommo_down_while_fetching_leaves_the_event_to_retry(deliver, queue_config, settings):
    settings.KOMMO_TOKEN = "long-lived-token"
    cache.clear()
    base = settings.KOMMO_BASE_URL
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{base}/api/v4/leads/25399013", status=503)
        with pytest.raises(Retry):  # eager Celery raises the retry it would schedule
            deliver("lead_status_to_queue.txt")

    assert Lead.objects.count() == 0
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.FAILED
