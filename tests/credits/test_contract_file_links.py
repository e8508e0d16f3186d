"""The links a DocuSeal webhook names: the signed PDF is fetched only from DocuSeal itself,
and the audit log is shown as a link only when it is a web address."""

import json
from pathlib import Path

import pytest
import responses
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from credits.models import Loan, LoanContract
from credits.services import contracts as contract_services
from integrations import docuseal
from integrations.errors import ProviderError
from integrations.models import WebhookEvent
from tests.factories import CustomerFactory, LoanFactory

FIXTURES = Path(__file__).parent.parent / "integrations" / "fixtures" / "docuseal"
API = "https://docuseal.test/api"
SECRET = "s3cr3t-webhook"
PDF = b"%PDF-1.7 signed"
FILE = "https://docuseal.test/file/hash/contrato.pdf"


@pytest.fixture(autouse=True)
def docuseal_settings(settings):
    settings.DOCUSEAL_BASE_URL = API
    settings.DOCUSEAL_API_KEY = "key-123"
    settings.DOCUSEAL_TEMPLATE_ID = 77
    settings.DOCUSEAL_WEBHOOK_SECRET = SECRET
    settings.DOCUSEAL_WEBHOOK_HEADER = "X-Docuseal-Secret"


@pytest.fixture
def contract(db, django_capture_on_commit_callbacks):
    loan = LoanFactory(customer=CustomerFactory(email="rosa@example.com"))
    create = json.loads((FIXTURES / "create_submission_response.json").read_text())
    with responses.RequestsMock() as mocked:
        mocked.post(f"{API}/submissions", json=create)
        with django_capture_on_commit_callbacks(execute=True):
            return contract_services.send_for_signature(loan=loan, actor=None)


def signed(document_url: str, audit_log_url: str = "https://docuseal.test/file/a/audit.pdf"):
    body = json.loads((FIXTURES / "submission_completed.json").read_text())
    body["data"]["id"] = 1
    body["data"]["combined_document_url"] = document_url
    body["data"]["audit_log_url"] = audit_log_url
    return body


def post_webhook(client, capture, body: dict):
    with capture(execute=True):
        response = client.post(
            reverse("credits:docuseal_webhook"),
            data=json.dumps(body),
            content_type="application/json",
            headers={"X-Docuseal-Secret": SECRET},
        )
    assert response.status_code == 200


@responses.activate
def test_a_signed_pdf_on_docuseals_host_is_downloaded(
    contract, client, django_capture_on_commit_callbacks
):
    responses.get(FILE, body=PDF)

    post_webhook(client, django_capture_on_commit_callbacks, signed(FILE))

    contract.refresh_from_db()
    assert contract.status == LoanContract.Status.COMPLETED
    assert contract.signed_file.read() == PDF


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "https://internal.example/admin",
        "http://docuseal.test/file/hash/contrato.pdf",  # the API is https: so must files be
        "https://docuseal.test:6379/file/hash/contrato.pdf",
        "https://docuseal.test@evil.example/file.pdf",
        "file:///etc/passwd",
    ],
)
@responses.activate
def test_a_link_outside_docuseal_is_not_fetched_and_the_event_fails_saying_why(
    contract, client, django_capture_on_commit_callbacks, url
):
    if url.startswith("http"):
        responses.get(url.replace("docuseal.test@", ""), body=b"secret")
    calls_before = len(responses.calls)

    post_webhook(client, django_capture_on_commit_callbacks, signed(url))

    assert len(responses.calls) == calls_before
    event = WebhookEvent.objects.get(provider="docuseal")
    assert event.status == WebhookEvent.Status.FAILED
    assert "DocuSeal envió un enlace que no es suyo" in event.last_error
    contract.refresh_from_db()
    assert contract.status == LoanContract.Status.SENT
    assert not contract.signed_file
    assert contract.document_url == ""
    assert Loan.objects.get(pk=contract.loan_id).status == Loan.Status.AWAITING_SIGNATURE


@responses.activate
def test_a_redirect_to_another_host_is_not_followed(
    contract, client, django_capture_on_commit_callbacks
):
    responses.get(FILE, status=302, headers={"Location": "http://10.0.0.5:8080/internal"})
    responses.get("http://10.0.0.5:8080/internal", body=b"internal")

    post_webhook(client, django_capture_on_commit_callbacks, signed(FILE))

    assert [call.request.url for call in responses.calls][-1] == FILE
    event = WebhookEvent.objects.get(provider="docuseal")
    assert event.status == WebhookEvent.Status.FAILED
    assert "http://10.0.0.5:8080/internal" in event.last_error
    contract.refresh_from_db()
    assert not contract.signed_file


@responses.activate
def test_a_redirect_within_docuseal_is_followed():
    responses.get(FILE, status=302, headers={"Location": "/file/hash/otro.pdf"})
    responses.get("https://docuseal.test/file/hash/otro.pdf", body=PDF)

    assert docuseal.download(FILE) == PDF


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        # DocuSeal's cloud: the API on api.docuseal.com, the files on docuseal.com.
        ("https://api.docuseal.com", "https://docuseal.com/file/hash/contrato.pdf"),
        ("https://api.docuseal.eu", "https://docuseal.eu/file/hash/contrato.pdf"),
        # Self-hosted: one host for both, on its own port.
        ("https://firmas.example.pe/api", "https://firmas.example.pe/file/h/c.pdf"),
        ("http://localhost:3000/api", "http://localhost:3000/file/h/c.pdf"),
    ],
)
def test_docuseals_own_file_links_pass_the_check(settings, base_url, url):
    settings.DOCUSEAL_BASE_URL = base_url

    assert docuseal.check_file_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://docuseal.com.evil.example/file.pdf",
        "https://api.docuseal.com\\@evil.example/file.pdf",
        "https://firmas.example.pe:8443/file/h/c.pdf",
        "javascript:alert(1)",
        "",
    ],
)
def test_lookalike_links_fail_the_check(settings, url):
    settings.DOCUSEAL_BASE_URL = "https://firmas.example.pe/api"

    with pytest.raises(ProviderError):
        docuseal.check_file_url(url)


@responses.activate
def test_an_audit_log_that_is_not_a_web_address_is_not_kept(
    contract, client, django_capture_on_commit_callbacks
):
    responses.get(FILE, body=PDF)

    post_webhook(
        client, django_capture_on_commit_callbacks, signed(FILE, audit_log_url="javascript:x()")
    )

    contract.refresh_from_db()
    assert contract.status == LoanContract.Status.COMPLETED
    assert contract.audit_log_url == ""


def test_a_stored_audit_log_that_is_not_a_web_address_is_not_shown_as_a_link(client, asesor):
    loan = LoanFactory(status=Loan.Status.AWAITING_SIGNATURE)
    LoanContract.objects.create(
        loan=loan,
        signer_email="rosa@example.com",
        status=LoanContract.Status.COMPLETED,
        audit_log_url="javascript:alert(document.domain)",
    )
    client.force_login(asesor)

    response = client.get(loan.get_absolute_url())

    assertContains(response, "rosa@example.com")
    assertNotContains(response, "javascript:alert")
