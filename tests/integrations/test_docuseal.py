import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import responses

from integrations import docuseal
from integrations.errors import (
    ProviderError,
    SignatureError,
    TemporaryProviderError,
    UnhandledEvent,
)

FIXTURES = Path(__file__).parent / "fixtures" / "docuseal"
BASE_URL = "https://docuseal.example/api"
SUBMISSIONS_URL = f"{BASE_URL}/submissions"
API_KEY = "docuseal-api-key"
SECRET = "docuseal-webhook-secret"
SIGNING_SECRET = "whsec_dGVzdHMtb25seS1zaWduaW5nLXNlY3JldA=="
NOW = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str):
    return json.loads(fixture_bytes(name))


@pytest.fixture(autouse=True)
def configured(settings):
    settings.DOCUSEAL_BASE_URL = BASE_URL + "/"
    settings.DOCUSEAL_API_KEY = API_KEY
    settings.DOCUSEAL_WEBHOOK_SECRET = SECRET
    return settings


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


def create(**overrides) -> docuseal.CreatedSubmission:
    arguments = {
        "template_id": 1000001,
        "submitter_email": "john.doe@example.com",
        "submitter_name": "John Doe",
        "values": {"Full Name": "John Doe", "Monto": "10.000,00"},
        "external_id": "2321",
        **overrides,
    }
    return docuseal.create_submission(**arguments)


def test_it_creates_a_submission_for_one_signer_and_returns_its_ids(api):
    api.add(responses.POST, SUBMISSIONS_URL, json=fixture_json("create_submission_response.json"))

    created = create(
        submitter_phone="+5491155550000",
        message_subject="Tu contrato",
        message_body="Firmalo aquí: {{submitter.link}}",
    )

    sent = api.calls[0].request
    assert sent.headers["X-Auth-Token"] == API_KEY
    assert json.loads(sent.body) == {
        "template_id": 1000001,
        "send_email": True,
        "submitters": [
            {
                "role": "First Party",
                "email": "john.doe@example.com",
                "name": "John Doe",
                "phone": "+5491155550000",
                "external_id": "2321",
                "values": {"Full Name": "John Doe", "Monto": "10.000,00"},
            }
        ],
        "message": {"subject": "Tu contrato", "body": "Firmalo aquí: {{submitter.link}}"},
    }
    assert created == docuseal.CreatedSubmission(
        submission_id=1,
        submitter_id=1,
        submitter_slug="pAMimKcyrLjqVt",
        status="sent",
        raw=fixture_json("create_submission_response.json"),
    )


def test_it_leaves_out_the_phone_and_message_it_was_not_given(api):
    api.add(responses.POST, SUBMISSIONS_URL, json=fixture_json("create_submission_response.json"))

    create(send_email=False, role="Deudor")

    sent = json.loads(api.calls[0].request.body)
    assert sent["send_email"] is False
    assert "message" not in sent
    assert sent["submitters"][0]["role"] == "Deudor"
    assert "phone" not in sent["submitters"][0]


def test_it_sends_read_only_fields_when_asked_to_lock_the_values(api):
    api.add(responses.POST, SUBMISSIONS_URL, json=fixture_json("create_submission_response.json"))

    create(values={"Monto": "10.000,00"}, readonly_values=True)

    submitter = json.loads(api.calls[0].request.body)["submitters"][0]
    assert "values" not in submitter
    assert submitter["fields"] == [
        {"name": "Monto", "default_value": "10.000,00", "readonly": True}
    ]


def test_it_picks_our_signer_among_the_submitters_docuseal_returns(api):
    theirs = {**fixture_json("create_submission_response.json")[0]}
    theirs.update(id=2, email="other@example.com", slug="SEwc65vHNDH3QS")
    ours = {**fixture_json("create_submission_response.json")[0], "email": "John.Doe@example.com"}
    api.add(responses.POST, SUBMISSIONS_URL, json=[theirs, ours])

    created = create()

    assert created.submitter_id == 1
    assert created.submitter_slug == "pAMimKcyrLjqVt"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_it_raises_a_temporary_error_when_docuseal_is_overloaded_or_down(api, status):
    api.add(responses.POST, SUBMISSIONS_URL, status=status)

    with pytest.raises(TemporaryProviderError):
        create()


def test_it_raises_a_temporary_error_when_docuseal_does_not_answer(api):
    api.add(responses.POST, SUBMISSIONS_URL, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(TemporaryProviderError):
        create()


def test_it_raises_a_permanent_error_when_docuseal_refuses_the_submission(api):
    api.add(responses.POST, SUBMISSIONS_URL, status=422, json={"error": "Template not found"})

    with pytest.raises(ProviderError) as raised:
        create()

    assert not isinstance(raised.value, TemporaryProviderError)
    assert "Template not found" in str(raised.value)


# A 2xx to a create most likely made the submission: temporary, so the send's retry looks
# it up by external id instead of marking the contract failed (test_unreadable_answers.py).
@pytest.mark.parametrize("answer", [[], {"id": 1}, [{"id": 1, "email": "john.doe@example.com"}]])
def test_it_raises_a_temporary_error_on_an_answer_without_the_submitter(api, answer):
    api.add(responses.POST, SUBMISSIONS_URL, json=answer)

    with pytest.raises(TemporaryProviderError, match="DocuSeal respondió algo inesperado"):
        create()


@pytest.mark.parametrize("body", ["<html>Bad gateway page</html>", "[" * 50_000 + "]" * 50_000])
def test_it_raises_a_temporary_error_on_an_answer_that_is_not_json(api, body):
    api.add(responses.POST, SUBMISSIONS_URL, body=body)

    with pytest.raises(TemporaryProviderError, match="DocuSeal respondió algo inesperado"):
        create()


def test_it_calls_nothing_without_an_api_key(api, configured):
    configured.DOCUSEAL_API_KEY = ""

    with pytest.raises(ProviderError, match="DocuSeal no está configurado"):
        create()

    assert len(api.calls) == 0


def test_it_gets_a_submission(api):
    api.add(
        responses.GET,
        f"{SUBMISSIONS_URL}/1",
        json=fixture_json("get_submission_response.json"),
    )

    submission = docuseal.get_submission(1)

    assert api.calls[0].request.headers["X-Auth-Token"] == API_KEY
    assert submission["status"] == "completed"
    assert submission["documents"][0]["name"] == "example"


def test_it_raises_a_permanent_error_for_an_unknown_submission(api):
    api.add(responses.GET, f"{SUBMISSIONS_URL}/404", status=404, json={"error": "Not found"})

    with pytest.raises(ProviderError) as raised:
        docuseal.get_submission(404)

    assert not isinstance(raised.value, TemporaryProviderError)


def test_it_accepts_a_webhook_with_the_secret_header():
    docuseal.verify_webhook(b"{}", {"X-Docuseal-Secret": SECRET})


def test_it_reads_the_secret_header_in_any_case_and_under_the_configured_name(configured):
    configured.DOCUSEAL_WEBHOOK_HEADER = "X-Cartera-Token"

    docuseal.verify_webhook(b"{}", {"x-cartera-token": SECRET})


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Docuseal-Secret": "another-secret"},
        {"X-Docuseal-Secret": "ñ" * 8},
        {"X-Docuseal-Secret": ""},
        {},
        {"X-Other-Header": SECRET},
    ],
)
def test_it_rejects_a_webhook_without_the_right_secret(headers):
    with pytest.raises(SignatureError):
        docuseal.verify_webhook(b"{}", headers)


def test_it_rejects_every_webhook_when_no_secret_is_configured(configured):
    configured.DOCUSEAL_WEBHOOK_SECRET = ""

    with pytest.raises(SignatureError):
        docuseal.verify_webhook(b"{}", {"X-Docuseal-Secret": ""})


def docuseal_signature(body: bytes, signed_at: int, secret: str = SIGNING_SECRET) -> str:
    """Sign like DocuSeal's WebhookUrls::Signatures.sign."""
    digest = hmac.new(secret.encode(), f"{signed_at}.".encode() + body, hashlib.sha256)
    return f"{signed_at}.{digest.hexdigest()}"


@pytest.fixture
def signing(configured, time_machine):
    time_machine.move_to(NOW, tick=False)
    configured.DOCUSEAL_WEBHOOK_SIGNING_SECRET = SIGNING_SECRET
    return int(NOW.timestamp())


def test_it_accepts_a_body_signed_by_docuseal_a_moment_ago(signing):
    body = fixture_bytes("form_completed.json")

    docuseal.verify_webhook_signature(
        body, {"X-Docuseal-Signature": docuseal_signature(body, signing - 60)}
    )


@pytest.mark.parametrize(
    "header",
    [
        "." + "0" * 64,  # no timestamp
        "not-a-signature",
        "",
    ],
)
def test_it_rejects_a_malformed_signature(signing, header):
    with pytest.raises(SignatureError):
        docuseal.verify_webhook_signature(b"{}", {"X-Docuseal-Signature": header})


def test_it_rejects_a_signature_of_another_body_or_secret(signing):
    body = fixture_bytes("form_completed.json")

    with pytest.raises(SignatureError):
        docuseal.verify_webhook_signature(
            body + b" ", {"X-Docuseal-Signature": docuseal_signature(body, signing)}
        )
    with pytest.raises(SignatureError):
        docuseal.verify_webhook_signature(
            body, {"X-Docuseal-Signature": docuseal_signature(body, signing, "whsec_other")}
        )


@pytest.mark.parametrize("age", [301, -301])
def test_it_rejects_a_signature_older_or_newer_than_five_minutes(signing, age):
    body = b"{}"

    with pytest.raises(SignatureError):
        docuseal.verify_webhook_signature(
            body, {"X-Docuseal-Signature": docuseal_signature(body, signing - age)}
        )


def test_it_rejects_every_signature_when_no_signing_secret_is_configured(signing, configured):
    configured.DOCUSEAL_WEBHOOK_SIGNING_SECRET = ""
    body = b"{}"

    with pytest.raises(SignatureError):
        docuseal.verify_webhook_signature(
            body, {"X-Docuseal-Signature": docuseal_signature(body, signing, "")}
        )


def test_it_reads_a_form_completed_event():
    event = docuseal.parse_event(fixture_bytes("form_completed.json"))

    assert event == docuseal.DocusealEvent(
        event_type="form.completed",
        timestamp=datetime(2023, 9, 24, 13, 48, 36, tzinfo=UTC),
        event_id="form.completed:12:1:2023-08-20T10:12:47.579Z",
        submission_id=12,
        submitter_id=1,
        external_id="",
        status="completed",
        documents=(
            (
                "sample-document",
                "https://docuseal.com/blobs/proxy/eyJfcmFpbHMiOnsib/sample-document.pdf",
            ),
        ),
        combined_document_url="https://docuseal.com/blobs/proxy/eyJfcmFpbHMiOnsib/document.pdf",
        audit_log_url="https://docuseal.com/blobs/proxy/eyJfcmFpbHMiOnsib/audit-log.pdf",
        all_completed=True,
    )


def test_it_knows_a_form_completed_by_one_of_several_signers_is_not_all_completed():
    payload = fixture_json("form_completed.json")
    payload["data"]["external_id"] = "2321"
    payload["data"]["submission"].update(
        status="pending", audit_log_url=None, combined_document_url=None
    )
    payload["data"]["audit_log_url"] = None

    event = docuseal.parse_event(json.dumps(payload).encode())

    assert event.all_completed is False
    assert event.status == "completed"
    assert event.external_id == "2321"
    assert event.audit_log_url == ""
    assert event.combined_document_url == ""


def test_it_reads_a_submission_completed_event():
    event = docuseal.parse_event(fixture_bytes("submission_completed.json"))

    assert event == docuseal.DocusealEvent(
        event_type="submission.completed",
        timestamp=datetime(2023, 12, 14, 15, 49, 22, 13000, tzinfo=UTC),
        event_id="submission.completed:1::2023-12-14T15:49:21.701Z",
        submission_id=1,
        submitter_id=None,
        external_id="2321",
        status="completed",
        documents=(("example", "https://docuseal.com/blobs/proxy/hash/example.pdf"),),
        combined_document_url="",
        audit_log_url="https://docuseal.com/blobs/proxy/hash/audit-log.pdf",
        all_completed=True,
    )


def test_it_reads_a_form_declined_event():
    event = docuseal.parse_event(fixture_bytes("form_declined.json"))

    assert event.event_type == "form.declined"
    assert event.event_id == "form.declined:12:1:2023-08-20T10:12:47.579Z"
    assert (event.submission_id, event.submitter_id) == (12, 1)
    assert event.external_id == "2321"
    assert event.status == "declined"
    assert event.documents == ()
    assert event.audit_log_url == ""
    assert event.all_completed is False


def test_it_reads_a_submission_expired_event():
    payload = fixture_json("submission_completed.json")
    payload["event_type"] = "submission.expired"
    payload["data"].update(
        status="expired",
        expire_at="2023-12-20T00:00:00.000Z",
        completed_at=None,
        documents=[],
        audit_log_url=None,
    )
    payload["data"]["submitters"][0].update(status="sent", completed_at=None)

    event = docuseal.parse_event(json.dumps(payload).encode())

    assert event.event_id == "submission.expired:1::2023-12-20T00:00:00.000Z"
    assert event.status == "expired"
    assert event.all_completed is False


def test_it_gives_a_retried_delivery_the_same_event_id():
    # Older DocuSeal versions stamp `timestamp` anew on each retry.
    payload = fixture_json("form_completed.json")
    first = docuseal.parse_event(json.dumps(payload).encode())
    payload["timestamp"] = "2023-09-24T13:50:36Z"

    retried = docuseal.parse_event(json.dumps(payload).encode())

    assert retried.event_id == first.event_id


def test_it_falls_back_to_the_delivery_timestamp_for_the_event_id():
    payload = fixture_json("form_completed.json")
    payload["event_type"] = "form.started"

    event = docuseal.parse_event(json.dumps(payload).encode())

    assert event.event_id == "form.started:12:1:2023-09-24T13:48:36Z"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"timestamp": "2023-09-24T13:48:36Z", "data": {}}',
        b'{"event_type": "form.completed", "data": {"id": 1, "submission_id": 12}}',
        b'{"event_type": "form.completed", "timestamp": "yesterday", "data": {}}',
        b'{"event_type": "form.completed", "timestamp": "2023-09-24T13:48:36Z"}',
        b'{"event_type": "form.completed", "timestamp": "2023-09-24T13:48:36Z", "data": {}}',
        b'{"event_type": "submission.completed", "timestamp": "2023-09-24T13:48:36Z",'
        b' "data": {"id": "one", "status": "completed"}}',
    ],
)
def test_it_refuses_a_body_that_is_not_a_signature_event(body):
    with pytest.raises(ValueError) as raised:
        docuseal.parse_event(body)

    assert not isinstance(raised.value, UnhandledEvent)


@pytest.mark.parametrize(
    "body",
    [
        b'{"event_type": "template.created", "timestamp": "2023-09-24T13:48:36Z",'
        b' "data": {"id": 1}}',
        # Whatever the rest says: a template event is not about a signature.
        b'{"event_type": "template.updated"}',
    ],
)
def test_it_leaves_aside_a_template_event(body):
    # UnhandledEvent is a ValueError too, for whoever reads "an event or ValueError".
    with pytest.raises(UnhandledEvent):
        docuseal.parse_event(body)


def test_the_door_checks_the_secret_and_reads_the_event_into_its_event_id():
    payload = fixture_json("form_completed.json")

    assert docuseal.WEBHOOK.provider == "docuseal"
    assert docuseal.WEBHOOK.verify is docuseal.verify_webhook
    assert docuseal.WEBHOOK.event_id(payload) == "form.completed:12:1:2023-08-20T10:12:47.579Z"


def test_it_refuses_a_document_without_a_url():
    payload = fixture_json("form_completed.json")
    payload["data"]["documents"] = [{"name": "sample-document"}]

    with pytest.raises(ValueError, match="documents"):
        docuseal.parse_event(json.dumps(payload).encode())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("submission_id", 10**25),
        ("submission_id", -3),
        ("id", "99999999999999999999"),
        ("id", 0),
    ],
)
def test_it_refuses_an_id_no_submission_can_have(field, value):
    payload = fixture_json("form_completed.json")
    payload["data"][field] = value

    with pytest.raises(ValueError, match="out of range"):
        docuseal.read_event(payload)


def test_it_refuses_a_timestamp_out_of_any_plausible_range():
    payload = fixture_json("form_completed.json")
    payload["timestamp"] = "0001-01-01T00:00:00+05:00"

    with pytest.raises(ValueError, match="out of range"):
        docuseal.read_event(payload)


def test_it_refuses_an_event_dated_days_ahead_of_our_clock():
    # The timestamp becomes the contract's signing time.
    payload = fixture_json("form_completed.json")
    payload["timestamp"] = (datetime.now(UTC) + timedelta(days=2)).isoformat()

    with pytest.raises(ValueError, match="timestamp is out of range"):
        docuseal.read_event(payload)
