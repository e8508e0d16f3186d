"""DocuSeal's submission.archived, and events we do not act on, as DocuSeal really sends them.

submission.archived carries only the submission's id and when it was archived
(docusealco/docuseal app/jobs/send_submission_archived_webhook_request_job.rb:
`submission.as_json(only: %i[id archived_at])`): no status, no submitters. Its signers can
no longer sign (app/controllers/submit_form_controller.rb: "Form has been archived.").
DocuSeal retries any answer of 400 or more 10 times, 2**attempt minutes apart
(lib/send_webhook_request.rb), so nothing it sends may be refused as malformed unless we
act on it and it lacks what we need.
"""

import json
from pathlib import Path

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from credits.models import Loan, LoanContract
from credits.services import contracts as contract_services
from crm.models import Interaction
from integrations import docuseal
from integrations.errors import UnhandledEvent
from integrations.models import WebhookEvent
from tests.factories import CustomerFactory, LoanFactory

FIXTURES = Path(__file__).parent / "fixtures" / "docuseal"
API = "https://docuseal.test/api"
SECRET = "s3cr3t-webhook"
ARCHIVED_SUMMARY = "se archivó en DocuSeal: ya no se puede firmar"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def moment() -> str:
    # As DocuSeal writes times: ISO 8601, milliseconds, "Z".
    return timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def archived(submission_id: int = 1, at: str | None = None) -> dict:
    at = at or moment()
    return {
        "event_type": "submission.archived",
        "timestamp": moment(),
        "data": {"id": submission_id, "archived_at": at},
    }


@pytest.fixture(autouse=True)
def docuseal_settings(settings):
    settings.DOCUSEAL_BASE_URL = API
    settings.DOCUSEAL_API_KEY = "key-123"
    settings.DOCUSEAL_TEMPLATE_ID = 77
    settings.DOCUSEAL_WEBHOOK_SECRET = SECRET
    settings.DOCUSEAL_WEBHOOK_HEADER = "X-Docuseal-Secret"


def post_webhook(client, capture, body: dict):
    with capture(execute=True):
        return client.post(
            reverse("credits:docuseal_webhook"),
            data=json.dumps(body),
            content_type="application/json",
            headers={"X-Docuseal-Secret": SECRET, "User-Agent": "DocuSeal.com Webhook"},
        )


@pytest.fixture
def sent_contract(db, django_capture_on_commit_callbacks):
    """A loan awaiting signature whose contract is DocuSeal's submission 1."""
    loan = LoanFactory(customer=CustomerFactory(email="rosa@example.com"))
    with responses.RequestsMock() as api:
        api.post(f"{API}/submissions", json=fixture("create_submission_response"))
        with django_capture_on_commit_callbacks(execute=True):
            contract = contract_services.send_for_signature(loan=loan, actor=None)
    contract.refresh_from_db()
    assert (contract.status, contract.submission_id) == (LoanContract.Status.SENT, 1)
    return contract


def test_it_reads_submission_archived_without_status_or_submitters():
    body = archived(4242, at="2026-06-15T14:02:11.120Z")

    event = docuseal.read_event(body)

    assert (event.event_type, event.submission_id, event.status) == (
        "submission.archived",
        4242,
        "archived",
    )
    assert event.event_id == "submission.archived:4242::2026-06-15T14:02:11.120Z"
    assert (event.submitter_id, event.external_id, event.all_completed) == (None, "", False)


def test_an_archived_submission_stops_the_contract_waiting_and_says_so(
    sent_contract, client, django_capture_on_commit_callbacks
):
    loan = sent_contract.loan

    response = post_webhook(client, django_capture_on_commit_callbacks, archived())

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "stored"
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    sent_contract.refresh_from_db()
    assert sent_contract.status == LoanContract.Status.ARCHIVED
    assert sent_contract.get_status_display() == "Archivado en DocuSeal"
    entry = Interaction.objects.get(customer=loan.customer, summary__contains=ARCHIVED_SUMMARY)
    assert loan.payment_code in entry.summary
    # As after a decline or an expiry: the loan still awaits a signature, and the contract
    # may be sent again.
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.AWAITING_SIGNATURE
    contract_services.resend_contract(loan=loan, actor=None)
    assert loan.contracts.filter(status=LoanContract.Status.PENDING).count() == 1


def test_archiving_a_signed_contracts_submission_changes_nothing(
    sent_contract, client, django_capture_on_commit_callbacks
):
    LoanContract.objects.filter(pk=sent_contract.pk).update(status=LoanContract.Status.COMPLETED)
    timeline = Interaction.objects.count()

    response = post_webhook(client, django_capture_on_commit_callbacks, archived())

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED
    sent_contract.refresh_from_db()
    assert sent_contract.status == LoanContract.Status.COMPLETED
    assert Interaction.objects.count() == timeline


def test_an_archived_submission_of_no_contract_of_ours_is_answered(
    db, client, django_capture_on_commit_callbacks
):
    response = post_webhook(client, django_capture_on_commit_callbacks, archived(4242))

    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


@pytest.mark.parametrize(
    "body",
    [
        # An event type DocuSeal may add one day, with data of its own.
        {"event_type": "form.changes_requested", "data": {"submitter_id": 5}},
        {"event_type": "submission.renamed", "data": []},
    ],
    ids=["form-changes-requested", "unknown"],
)
def test_an_event_we_do_not_act_on_is_answered_and_ignored_never_refused(
    db, client, django_capture_on_commit_callbacks, body
):
    body = {**body, "timestamp": moment()}

    response = post_webhook(client, django_capture_on_commit_callbacks, body)

    assert (response.status_code, response.json()) == (200, {"status": "ignored"})
    assert not WebhookEvent.objects.exists()
    with pytest.raises(UnhandledEvent):
        docuseal.read_event(body)


def test_an_event_we_act_on_missing_what_it_needs_is_still_refused(
    db, client, django_capture_on_commit_callbacks
):
    expired = {"event_type": "submission.expired", "timestamp": moment(), "data": {"id": 1}}

    response = post_webhook(client, django_capture_on_commit_callbacks, expired)

    assert response.status_code == 400
    assert "status" in response.json()["detail"]
