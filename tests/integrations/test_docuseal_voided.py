"""DocuSeal's submission.voided, as DocuSeal really sends it.

submission.voided carries only the submission's id, when and why it was voided and who
voided it (docusealco/docuseal app/jobs/send_submission_voided_webhook_request_job.rb:
`submission.as_json(only: %i[id voided_at]).merge("reason" => ..., "voided_by_user_id" =>
...)`): no status, no submitters. Its signers can no longer sign.
"""

import json
from pathlib import Path

import pytest
import responses
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from credits.models import Loan, LoanContract
from credits.services import contracts as contract_services
from crm.models import Interaction
from integrations import docuseal, webhooks
from integrations.models import WebhookEvent
from tests.factories import CustomerFactory, LoanFactory

FIXTURES = Path(__file__).parent / "fixtures" / "docuseal"
API = "https://docuseal.test/api"
SECRET = "s3cr3t-webhook"
VOIDED_SUMMARY = "se anuló en DocuSeal"


def moment() -> str:
    # As DocuSeal writes times: ISO 8601, milliseconds, "Z".
    return timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def voided(
    submission_id: int = 1, at: str = "2026-06-15T14:02:11.120Z", reason: str | None = None
) -> dict:
    return {
        "event_type": "submission.voided",
        "timestamp": moment(),
        "data": {"id": submission_id, "voided_at": at, "reason": reason, "voided_by_user_id": 3},
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
    answer = json.loads((FIXTURES / "create_submission_response.json").read_text())
    with responses.RequestsMock() as api:
        api.post(f"{API}/submissions", json=answer)
        with django_capture_on_commit_callbacks(execute=True):
            contract = contract_services.send_for_signature(loan=loan, actor=None)
    contract.refresh_from_db()
    assert (contract.status, contract.submission_id) == (LoanContract.Status.SENT, 1)
    return contract


def test_it_reads_submission_voided_its_time_and_reason():
    event = docuseal.read_event(voided(4242, reason="Monto errado"))

    assert (event.event_type, event.submission_id, event.status, event.reason) == (
        "submission.voided",
        4242,
        "voided",
        "Monto errado",
    )
    # Dated by voided_at, not by the delivery's timestamp: a retry is the same event.
    assert event.event_id == "submission.voided:4242::2026-06-15T14:02:11.120Z"
    assert (event.submitter_id, event.external_id, event.all_completed) == (None, "", False)


def test_a_voided_submission_stops_the_contract_waiting_and_says_why(
    sent_contract, client, django_capture_on_commit_callbacks, supervisor
):
    loan = sent_contract.loan

    response = post_webhook(
        client, django_capture_on_commit_callbacks, voided(reason="Monto errado")
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "stored"
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    sent_contract.refresh_from_db()
    assert sent_contract.status == LoanContract.Status.VOIDED
    entry = Interaction.objects.get(customer=loan.customer, summary__contains=VOIDED_SUMMARY)
    assert loan.payment_code in entry.summary
    assert "«Monto errado»" in entry.summary
    # The contract page says so.
    client.force_login(supervisor)
    page = client.get(reverse("credits:loan_detail", args=[loan.pk]))
    assertContains(page, "Anulado en DocuSeal")
    # As after an archive: the loan still awaits a signature, and the contract may be
    # sent again.
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.AWAITING_SIGNATURE
    contract_services.resend_contract(loan=loan, actor=None)
    assert loan.contracts.filter(status=LoanContract.Status.PENDING).count() == 1


def test_a_voided_submission_without_a_reason_says_only_that(
    sent_contract, client, django_capture_on_commit_callbacks
):
    post_webhook(client, django_capture_on_commit_callbacks, voided(reason=None))

    entry = Interaction.objects.get(summary__contains=VOIDED_SUMMARY)
    assert "motivo" not in entry.summary


def test_the_same_void_delivered_twice_applies_once(
    sent_contract, client, django_capture_on_commit_callbacks
):
    first = post_webhook(client, django_capture_on_commit_callbacks, voided(reason="x"))
    # DocuSeal's retry: the same voided_at, a new delivery timestamp.
    again = post_webhook(client, django_capture_on_commit_callbacks, voided(reason="x"))

    assert (first.status_code, again.status_code) == (200, 200)
    assert WebhookEvent.objects.count() == 1
    assert Interaction.objects.filter(summary__contains=VOIDED_SUMMARY).count() == 1


def test_a_void_replayed_after_it_applied_changes_nothing(
    sent_contract, client, django_capture_on_commit_callbacks
):
    post_webhook(client, django_capture_on_commit_callbacks, voided())
    event = WebhookEvent.objects.get()

    # As a replay from admin does: the contract is voided already.
    with pytest.raises(webhooks.IgnoreEvent):
        contract_services.process_docuseal_event(event)

    assert Interaction.objects.filter(summary__contains=VOIDED_SUMMARY).count() == 1


def test_voiding_a_signed_contracts_submission_changes_nothing(
    sent_contract, client, django_capture_on_commit_callbacks
):
    LoanContract.objects.filter(pk=sent_contract.pk).update(status=LoanContract.Status.COMPLETED)
    timeline = Interaction.objects.count()

    response = post_webhook(client, django_capture_on_commit_callbacks, voided())

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED
    sent_contract.refresh_from_db()
    assert sent_contract.status == LoanContract.Status.COMPLETED
    assert Interaction.objects.count() == timeline
