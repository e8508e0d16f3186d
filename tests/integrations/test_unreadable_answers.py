# ruff: noqa: F811 (pytest fixtures imported from other conftest files)
"""A provider that did what was asked but answered something we cannot read.

DocuSeal's 2xx to a new submission most likely means the signers were e-mailed: it is
retried (and the retry looks the submission up first), never called refused. Kommo's 2xx to
a stage change is success whatever its body: nothing of it is used.
"""

import json

import pytest
import responses
from django.core.cache import cache
from django.urls import reverse

from callcenter.models import QueueSettings
from integrations import docuseal, kommo
from integrations.errors import ProviderError, TemporaryProviderError
from integrations.models import OutboxMessage
from tests.callcenter.conftest import held_lead, kommo_settings, queue_config  # noqa: F401
from tests.integrations.test_docuseal import (  # noqa: F401
    BASE_URL,
    SUBMISSIONS_URL,
    configured,
    create,
)

KOMMO = "https://cartera.kommo.com"

UNREADABLE_BODIES = ["", "<html><body>OK</body></html>", '{"id": 25399013, "na']


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def kommo_api(settings):
    settings.KOMMO_SUBDOMAIN = "cartera"
    settings.KOMMO_BASE_URL = KOMMO
    settings.KOMMO_TOKEN = "long-lived-token"
    cache.clear()
    with responses.RequestsMock() as mock:
        yield mock


@pytest.mark.parametrize("body", UNREADABLE_BODIES)
def test_an_unreadable_answer_to_a_new_submission_is_temporary(api, body):
    api.add(responses.POST, SUBMISSIONS_URL, status=200, body=body)

    with pytest.raises(TemporaryProviderError, match="DocuSeal respondió algo inesperado"):
        create()


@pytest.mark.parametrize(
    "answer",
    [
        # The submitter without its submission, or without its slug.
        [{"id": 1, "email": "john.doe@example.com", "status": "sent", "submission_id": 5}],
        [{"id": 1, "email": "john.doe@example.com", "status": "sent", "slug": "pAMim"}],
    ],
)
def test_a_new_submission_answered_without_what_we_read_is_temporary(api, answer):
    api.add(responses.POST, SUBMISSIONS_URL, json=answer)

    with pytest.raises(TemporaryProviderError, match="DocuSeal respondió algo inesperado"):
        create()


def test_an_unreadable_lookup_stays_an_error(api):
    # A guard: find_signing's answer is used, so garbage there means neither "found" nor
    # "not found" (a caller must not create a second submission on it).
    api.add(responses.GET, f"{BASE_URL}/submitters", status=200, body="<html>OK</html>")

    with pytest.raises(ProviderError, match="DocuSeal respondió algo inesperado"):
        docuseal.find_signing(external_id="cartera-contract-1")


@pytest.mark.parametrize("body", UNREADABLE_BODIES)
def test_a_stage_change_kommo_answered_2xx_is_done_whatever_the_body(kommo_api, body):
    kommo_api.patch(f"{KOMMO}/api/v4/leads/25399013", status=200, body=body)

    kommo.update_lead(lead_id=25399013, status_id=61000005, pipeline_id=6950551)

    sent = json.loads(kommo_api.calls[0].request.body)
    assert sent == {"status_id": 61000005, "pipeline_id": 6950551}


def test_an_unreadable_lead_from_kommo_stays_an_error(kommo_api):
    # A guard: the lead's answer is read (its contact, its stage), so garbage is an error.
    kommo_api.get(f"{KOMMO}/api/v4/leads/25399013", status=200, body="<html>OK</html>")

    with pytest.raises(ProviderError, match="Respuesta inesperada de Kommo"):
        kommo.get_lead_details(25399013)


@responses.activate
def test_a_stage_change_kommo_applied_is_not_shown_as_failed(
    client, agente, held_lead, settings, django_capture_on_commit_callbacks
):
    settings.KOMMO_TOKEN = "long-lived-token"
    responses.patch(
        f"{KOMMO}/api/v4/leads/{held_lead.kommo_id}",
        status=200,
        body="<html><body>OK</body></html>",
    )
    QueueSettings.objects.filter(pk=1).update(no_answer_status_id=777)
    client.force_login(agente)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("callcenter:lead_outcome", args=[held_lead.pk]),
            {"outcome-outcome": "no_answer"},
        )

    assert response.status_code == 302
    assert len(responses.calls) == 1
    assert OutboxMessage.objects.get().status == OutboxMessage.Status.SENT
    page = client.get(reverse("callcenter:lead_detail", args=[held_lead.pk])).content.decode()
    assert "Kommo no está al día con este lead" not in page
