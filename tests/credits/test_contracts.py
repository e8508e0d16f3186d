"""Signed contracts end to end: DocuSeal submission out, webhook in, loan ready to disburse."""

import json
from pathlib import Path

import pytest
import responses
from django.core.exceptions import ValidationError
from django.urls import reverse

from credits.models import Loan, LoanContract
from credits.services import contracts as contract_services
from crm.models import Interaction
from integrations.errors import TemporaryProviderError
from integrations.models import WebhookEvent
from tests.factories import CustomerFactory, LoanFactory

FIXTURES = Path(__file__).parent.parent / "integrations" / "fixtures" / "docuseal"
API = "https://docuseal.test/api"
SECRET = "s3cr3t-webhook"
PDF = b"%PDF-1.7 signed"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def docuseal_settings(settings):
    settings.DOCUSEAL_BASE_URL = API
    settings.DOCUSEAL_API_KEY = "key-123"
    settings.DOCUSEAL_TEMPLATE_ID = 77
    settings.DOCUSEAL_WEBHOOK_SECRET = SECRET
    settings.DOCUSEAL_WEBHOOK_HEADER = "X-Docuseal-Secret"


@pytest.fixture
def draft(db):
    customer = CustomerFactory(
        first_name="Rosa", last_name="Huamán", email="rosa@example.com", address="Av. Arequipa 100"
    )
    return LoanFactory(customer=customer, vehicle_brand="Toyota", vehicle_plate="ABC-123")


def send(draft, capture) -> LoanContract:
    with capture(execute=True):
        return contract_services.send_for_signature(loan=draft, actor=None)


def post_webhook(client, capture, body: dict, secret: str = SECRET):
    with capture(execute=True):
        return client.post(
            reverse("credits:docuseal_webhook"),
            data=json.dumps(body),
            content_type="application/json",
            headers={"X-Docuseal-Secret": secret},
        )


def completed_event(submission_id: int = 1) -> dict:
    body = fixture("submission_completed")
    body["data"]["id"] = submission_id
    return body


@responses.activate
def test_sending_for_signature_creates_a_prefilled_submission(
    draft, django_capture_on_commit_callbacks
):
    responses.post(f"{API}/submissions", json=fixture("create_submission_response"))

    contract = send(draft, django_capture_on_commit_callbacks)

    sent = json.loads(responses.calls[0].request.body)
    assert responses.calls[0].request.headers["X-Auth-Token"] == "key-123"
    assert sent["template_id"] == 77
    submitter = sent["submitters"][0]
    assert submitter["email"] == "rosa@example.com"
    assert submitter["external_id"] == f"cartera-contract-{contract.pk}"
    fields = {f["name"]: f["default_value"] for f in submitter["fields"]}
    assert fields["Monto"] == "10000.00"
    assert fields["Codigo de pago"] == draft.payment_code
    assert fields["Placa"] == "ABC-123"
    contract.refresh_from_db()
    assert contract.status == LoanContract.Status.SENT
    assert contract.submission_id == 1
    assert Loan.objects.get(pk=draft.pk).status == Loan.Status.AWAITING_SIGNATURE


def test_a_customer_without_email_cannot_be_sent_a_contract(db):
    loan = LoanFactory(customer=CustomerFactory(email=""))

    with pytest.raises(Exception, match="correo"):
        contract_services.send_for_signature(loan=loan, actor=None)

    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.DRAFT


@responses.activate
def test_a_refused_submission_marks_the_contract_failed_with_the_error(
    draft, django_capture_on_commit_callbacks
):
    responses.post(f"{API}/submissions", status=422, json={"error": "Template not found"})

    contract = send(draft, django_capture_on_commit_callbacks)

    contract.refresh_from_db()
    assert contract.status == LoanContract.Status.FAILED
    assert "Template not found" in contract.error


@responses.activate
def test_a_docuseal_outage_leaves_the_contract_pending_for_the_retry(draft):
    responses.post(f"{API}/submissions", status=503)
    contract = LoanContract.objects.create(loan=draft, signer_email="rosa@example.com")

    with pytest.raises(TemporaryProviderError):
        contract_services.send_contract(contract_id=contract.pk)

    contract.refresh_from_db()
    assert contract.status == LoanContract.Status.PENDING


@responses.activate
def test_all_parties_signed_makes_the_loan_ready_to_disburse(
    draft, client, django_capture_on_commit_callbacks
):
    responses.post(f"{API}/submissions", json=fixture("create_submission_response"))
    responses.get("https://docuseal.com/blobs/proxy/hash/example.pdf", body=PDF)
    contract = send(draft, django_capture_on_commit_callbacks)

    response = post_webhook(client, django_capture_on_commit_callbacks, completed_event())

    assert response.status_code == 200
    contract.refresh_from_db()
    assert contract.status == LoanContract.Status.COMPLETED
    assert contract.signed_file.read() == PDF
    assert contract.document_url == "https://docuseal.com/blobs/proxy/hash/example.pdf"
    assert contract.audit_log_url.endswith("audit-log.pdf")
    assert Loan.objects.get(pk=draft.pk).status == Loan.Status.READY_TO_DISBURSE
    assert Interaction.objects.filter(
        customer=draft.customer, summary__contains="firmado por todas las partes"
    ).exists()


@responses.activate
def test_a_duplicate_or_late_event_changes_nothing_twice(
    draft, client, django_capture_on_commit_callbacks
):
    responses.post(f"{API}/submissions", json=fixture("create_submission_response"))
    responses.get("https://docuseal.com/blobs/proxy/hash/example.pdf", body=PDF)
    send(draft, django_capture_on_commit_callbacks)
    post_webhook(client, django_capture_on_commit_callbacks, completed_event())
    timeline = Interaction.objects.filter(customer=draft.customer).count()

    again = post_webhook(client, django_capture_on_commit_callbacks, completed_event())
    late = fixture("form_completed")
    late["data"]["submission_id"] = 1
    late["data"]["submission"]["id"] = 1
    late["data"]["submission"]["status"] = "completed"
    post_webhook(client, django_capture_on_commit_callbacks, late)

    assert again.json()["status"] == "duplicate"
    assert Interaction.objects.filter(customer=draft.customer).count() == timeline
    assert Loan.objects.get(pk=draft.pk).status == Loan.Status.READY_TO_DISBURSE
    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.IGNORED).count() == 1
    assert len([c for c in responses.calls if c.request.method == "GET"]) == 1


def test_a_wrong_secret_is_refused_and_nothing_is_stored(
    db, client, django_capture_on_commit_callbacks
):
    response = post_webhook(
        client, django_capture_on_commit_callbacks, completed_event(), secret="wrong"
    )

    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0


@responses.activate
def test_a_declined_contract_keeps_the_loan_awaiting_signature(
    draft, client, django_capture_on_commit_callbacks
):
    responses.post(f"{API}/submissions", json=fixture("create_submission_response"))
    contract = send(draft, django_capture_on_commit_callbacks)
    declined = fixture("form_declined")
    declined["data"]["submission_id"] = 1

    post_webhook(client, django_capture_on_commit_callbacks, declined)

    contract.refresh_from_db()
    assert contract.status == LoanContract.Status.DECLINED
    assert Loan.objects.get(pk=draft.pk).status == Loan.Status.AWAITING_SIGNATURE
    contract_services.resend_contract(loan=draft, actor=None)
    assert draft.contracts.filter(status=LoanContract.Status.PENDING).count() == 1


def test_an_event_without_its_submission_is_a_bad_request_and_not_stored(
    db, client, django_capture_on_commit_callbacks
):
    event = completed_event()
    del event["data"]["id"]

    response = post_webhook(client, django_capture_on_commit_callbacks, event)

    assert response.status_code == 400
    assert "data.id" in response.json()["detail"]
    assert WebhookEvent.objects.count() == 0


def test_a_template_event_is_answered_and_not_stored(
    db, client, django_capture_on_commit_callbacks
):
    event = {"event_type": "template.created", "timestamp": "2023-09-24T13:48:36Z", "data": {}}

    response = post_webhook(client, django_capture_on_commit_callbacks, event)

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert WebhookEvent.objects.count() == 0


def test_an_event_for_an_unknown_submission_is_ignored(
    db, client, django_capture_on_commit_callbacks
):
    response = post_webhook(client, django_capture_on_commit_callbacks, completed_event(999))

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


# --- What the user is told ----------------------------------------------------------------


def _send_from_the_loan_page(client, loan):
    return client.post(
        reverse("credits:loan_transition", args=[loan.pk]),
        {"action": "send_for_signature"},
        follow=True,
    )


@pytest.fixture
def signed_in_advisor(client, roles):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="asesor", role="Asesor"))
    return client


@responses.activate
def test_the_message_says_docuseal_received_the_contract_once_it_did(signed_in_advisor):
    # A real commit: the queued sending runs (eagerly) before the page is answered.
    responses.post(f"{API}/submissions", json=fixture("create_submission_response"))
    loan = LoanFactory(customer=CustomerFactory(email="rosa@example.com"))

    response = _send_from_the_loan_page(signed_in_advisor, loan)

    assert LoanContract.objects.get(loan=loan).status == LoanContract.Status.SENT
    assert "DocuSeal recibió el contrato del crédito" in response.content.decode()
    assert "pidió la firma a rosa@example.com" in response.content.decode()


@responses.activate
def test_the_message_says_docuseal_refused_the_contract_and_why(signed_in_advisor):
    responses.post(f"{API}/submissions", status=422, json={"error": "Template not found"})
    loan = LoanFactory(customer=CustomerFactory(email="rosa@example.com"))

    response = _send_from_the_loan_page(signed_in_advisor, loan)

    content = response.content.decode()
    assert "No se pudo enviar el contrato del crédito" in content
    assert "Template not found" in content
    assert "alert-danger" in content


@pytest.mark.parametrize("missing", ["DOCUSEAL_API_KEY", "DOCUSEAL_TEMPLATE_ID"])
def test_nothing_is_queued_while_docuseal_is_not_configured(
    draft, settings, django_capture_on_commit_callbacks, missing
):
    setattr(settings, missing, None)

    with (
        pytest.raises(ValidationError, match="DocuSeal no está configurado"),
        django_capture_on_commit_callbacks() as queued,
    ):
        contract_services.send_for_signature(loan=draft, actor=None)

    assert queued == []
    assert Loan.objects.get(pk=draft.pk).status == Loan.Status.DRAFT
    assert not LoanContract.objects.exists()


def test_a_contract_is_not_resent_while_docuseal_is_not_configured(db, settings):
    loan = LoanFactory(
        customer=CustomerFactory(email="rosa@example.com"), status=Loan.Status.AWAITING_SIGNATURE
    )
    settings.DOCUSEAL_API_KEY = ""

    with pytest.raises(ValidationError, match="DocuSeal no está configurado"):
        contract_services.resend_contract(loan=loan, actor=None)

    assert not LoanContract.objects.exists()
