"""DocuSeal: send a template to sign, read a submission back, check and read its webhooks.

A submission is one signature request made from a template; each signer in it is a
submitter, filling one of the template's roles (a contract: the borrower, a co-signer, the
lender's representative). We tag each submitter with our `external_id`, which DocuSeal
echoes back on that submitter everywhere: in the create response, in GET
/submissions/{id}, in form.* webhooks (`data.external_id`) and in submission.* webhooks
(`data.submitters[].external_id`).

Document and audit-log URLs in DocuSeal's answers are signed links that expire: download
them when the event is processed, don't store them as the document.
"""

import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.utils.translation import gettext

from integrations import http, payloads, webhooks
from integrations.errors import (
    ProviderError,
    SignatureError,
    TemporaryProviderError,
    UnhandledEvent,
)

_FIELDS = payloads.Fields("The DocuSeal webhook")

# https://www.docuseal.com/docs/api#create-a-submission
SUBMISSIONS_PATH = "/submissions"
# https://www.docuseal.com/docs/api#get-a-submission
SUBMISSION_PATH = "/submissions/{submission_id}"
# https://www.docuseal.com/docs/api#list-all-submitters (filters: external_id, submission_id)
SUBMITTERS_PATH = "/submitters"

# DocuSeal's cloud answers its API at api.docuseal.com (api.docuseal.eu for its EU cloud)
# and serves the files its answers and webhooks link to from the app's host, docuseal.com
# (docuseal.eu): /file/<signed id>/<name>, streamed by the app itself, no redirect to a
# storage bucket (config/initializers/active_storage.rb, `Blob.proxy_url`, and
# app/controllers/api/active_storage_blobs_proxy_controller.rb in docusealco/docuseal).
# A self-hosted DocuSeal serves its API and its files from its one host (APP_URL).
CLOUD_FILE_HOSTS = frozenset({"docuseal.com", "docuseal.eu"})
# A file link may redirect this many times, each new address checked like the link.
MAX_FILE_REDIRECTS = 3

# The role of the only signer when a template is made in DocuSeal's builder.
DEFAULT_ROLE = "First Party"

# DocuSeal has no fixed name for the custom secret header: the account types both name and
# value in Settings > Webhooks > Security > Secret (the form suggests "X-Example-Header").
# This is the name we ask operators to type there. It contains "secret", so the inbox
# never stores it (webhooks.relevant_headers).
# https://www.docuseal.com/resources/use-webhooks
DEFAULT_WEBHOOK_HEADER = "X-Docuseal-Secret"

# Newer DocuSeal versions also sign every webhook: "<unix seconds>.<hex HMAC-SHA256 of
# '<unix seconds>.<raw body>'>" under the per-URL "whsec_..." secret of the HMAC tab.
# https://www.docuseal.com/resources/use-webhooks
SIGNATURE_HEADER = "X-Docuseal-Signature"
# DocuSeal's own verifier (lib/webhook_urls/signatures.rb) accepts 5 minutes either way.
SIGNATURE_TOLERANCE_SECONDS = 300

SUBMISSION_COMPLETED = "submission.completed"
FORM_COMPLETED = "form.completed"
FORM_DECLINED = "form.declined"
SUBMISSION_EXPIRED = "submission.expired"
# The submission was archived in DocuSeal (by hand, or by DELETE /submissions/{id}): its
# data is only {"id", "archived_at"}, with no status and no submitters
# (app/jobs/send_submission_archived_webhook_request_job.rb).
SUBMISSION_ARCHIVED = "submission.archived"
ARCHIVED = "archived"
# The submission was voided in DocuSeal (its signers can no longer sign, its documents are
# stamped "VOIDED"): its data is only {"id", "voided_at", "reason", "voided_by_user_id"},
# with no status and no submitters
# (app/jobs/send_submission_voided_webhook_request_job.rb).
SUBMISSION_VOIDED = "submission.voided"
VOIDED = "voided"
COMPLETED = "completed"
# The events a signature's processor acts on. Another form.* or submission.* event is read
# when it can be; one that cannot (a newer event with other data) is left aside, never
# refused: DocuSeal retries any answer of 400 or more 10 times, hours apart
# (lib/send_webhook_request.rb).
HANDLED_EVENTS = frozenset(
    {
        FORM_COMPLETED,
        FORM_DECLINED,
        SUBMISSION_COMPLETED,
        SUBMISSION_EXPIRED,
        SUBMISSION_ARCHIVED,
        SUBMISSION_VOIDED,
    }
)
# submission.* events whose data carries no status: the event itself says it.
_STATUS_OF_EVENT = {SUBMISSION_ARCHIVED: ARCHIVED, SUBMISSION_VOIDED: VOIDED}

# The field of the event's own record that dates the event (see DocusealEvent.event_id).
_EVENT_TIME_FIELDS = {
    "form.viewed": "opened_at",
    "form.completed": "completed_at",
    "form.declined": "declined_at",
    "submission.created": "created_at",
    "submission.completed": "completed_at",
    "submission.expired": "expire_at",
    "submission.archived": "archived_at",
    "submission.voided": "voided_at",
}


@dataclass(frozen=True)
class CreatedSubmission:
    """What DocuSeal answered to a new submission, for our one signer."""

    submission_id: int
    submitter_id: int
    submitter_slug: str
    status: str
    raw: list


@dataclass(frozen=True)
class DocusealEvent:
    """A form.* or submission.* webhook, read into the fields a processor needs."""

    event_type: str
    timestamp: datetime
    # A stable id for the inbox: DocuSeal sends none (see _event_id).
    event_id: str
    submission_id: int
    # The signer the event is about; None for submission.* events.
    submitter_id: int | None
    external_id: str
    # DocuSeal's status of what the event is about: the submitter's ("completed",
    # "declined", "opened", "sent", "awaiting") for form.*, the submission's ("completed",
    # "declined", "expired", "pending") for submission.*; "archived" for
    # submission.archived and "voided" for submission.voided, which carry none.
    status: str
    # (name, url) of each signed PDF; empty until the documents exist.
    documents: tuple[tuple[str, str], ...]
    combined_document_url: str
    audit_log_url: str
    # Whether every signer has signed: the submission is complete.
    all_completed: bool
    # Why the submission was voided, as typed in DocuSeal (submission.voided only).
    reason: str = ""


@dataclass(frozen=True)
class Signer:
    """One submitter to ask for a signature: their role in the template, who they are, and
    the template fields pre-filled for them (by name)."""

    role: str
    email: str
    name: str
    external_id: str
    phone: str = ""
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CreatedSigner:
    """What DocuSeal answered for one submitter of a new submission."""

    submitter_id: int
    email: str
    role: str
    slug: str
    status: str
    external_id: str


@dataclass(frozen=True)
class Submission:
    """A new submission: its id and each of its submitters."""

    submission_id: int
    signers: tuple[CreatedSigner, ...]
    raw: list

    def signer_for(self, signer: Signer) -> CreatedSigner | None:
        """Return DocuSeal's submitter for `signer`: by our external id, else role and e-mail."""
        for created in self.signers:
            if created.external_id and created.external_id == signer.external_id:
                return created
        for created in self.signers:
            if created.role == signer.role and created.email.lower() == signer.email.lower():
                return created
        return None


def create_submission(
    *,
    template_id: int,
    submitter_email: str,
    submitter_name: str,
    submitter_phone: str = "",
    role: str = DEFAULT_ROLE,
    values: Mapping[str, str],
    external_id: str,
    message_subject: str = "",
    message_body: str = "",
    send_email: bool = True,
    readonly_values: bool = False,
) -> CreatedSubmission:
    """Ask one signer to sign a template, its fields pre-filled by name; return the ids.

    `values` maps template field names to values. With `readonly_values` they are sent as
    read-only `fields`, so the signer cannot change them (amounts, dates of a contract);
    otherwise as `values`, which the signer may edit unless the template locks the field.
    """
    signer = Signer(
        role=role,
        email=submitter_email,
        name=submitter_name,
        external_id=external_id,
        phone=submitter_phone,
        values=values,
    )
    submission = create_signing(
        template_id=template_id,
        signers=[signer],
        message_subject=message_subject,
        message_body=message_body,
        send_email=send_email,
        readonly_values=readonly_values,
    )
    # DocuSeal answers with every submitter of the new submission; ours carries our email.
    ours = next(
        (s for s in submission.signers if s.email.lower() == submitter_email.lower()),
        submission.signers[0],
    )
    return CreatedSubmission(
        submission_id=submission.submission_id,
        submitter_id=ours.submitter_id,
        submitter_slug=ours.slug,
        status=ours.status,
        raw=submission.raw,
    )


def create_signing(
    *,
    template_id: int,
    signers: Sequence[Signer],
    message_subject: str = "",
    message_body: str = "",
    send_email: bool = True,
    readonly_values: bool = False,
) -> Submission:
    """Ask every signer to sign one submission of a template, in the order given.

    Each signer fills their role of the template; DocuSeal e-mails the next one only once
    the one before has signed (`order: preserved`). Each signer's `values` pre-fill their
    fields, read-only with `readonly_values` (see `create_submission`).
    """
    if not signers:
        raise ValueError("A submission needs at least one signer.")
    payload: dict[str, Any] = {
        "template_id": template_id,
        "send_email": send_email,
        "submitters": [_submitter(s, readonly_values=readonly_values) for s in signers],
    }
    if len(signers) > 1:
        # DocuSeal's default too; said here because the lender must sign last.
        payload["order"] = "preserved"
    message = {
        key: text for key, text in (("subject", message_subject), ("body", message_body)) if text
    }
    if message:
        payload["message"] = message

    # A 2xx we cannot read (empty, an HTML page, keys missing) most likely means DocuSeal
    # made the submission and e-mailed the first signer: it raises TemporaryProviderError,
    # so the send is retried, and a retry first looks the submission up by our external id
    # (find_signing) instead of asking everyone to sign twice.
    answer = _call("POST", SUBMISSIONS_PATH, unreadable=TemporaryProviderError, json=payload)
    try:
        if not isinstance(answer, list) or not answer:
            raise ProviderError(_unexpected_answer(answer))
        return _submission(answer)
    except ProviderError as exc:
        raise TemporaryProviderError(str(exc)) from exc


def find_signing(*, external_id: str) -> Submission | None:
    """Return the submission one of whose signers carries `external_id`, or None.

    For a send that may have been cut off after DocuSeal created the submission (a worker
    killed, a timeout): sending again would e-mail everyone a second request.
    """
    found = [
        item
        for item in _submitters_list({"external_id": external_id})
        if isinstance(item, dict) and item.get("external_id") == external_id
    ]
    if not found:
        return None
    try:
        submission_id = int(found[0]["submission_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(_unexpected_answer(found)) from exc
    # A contract has at most three signers; 100 is the largest page DocuSeal gives.
    return _submission(_submitters_list({"submission_id": submission_id, "limit": 100}))


def _submitters_list(params: dict[str, Any]) -> list:
    answer = _call("GET", SUBMITTERS_PATH, params=params)
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list):
        raise ProviderError(_unexpected_answer(answer))
    return data


def _submission(answer: list) -> Submission:
    """Read DocuSeal's submitters of one submission (as created, or as listed)."""
    if not answer:
        raise ProviderError(_unexpected_answer(answer))
    try:
        created = tuple(
            CreatedSigner(
                submitter_id=int(item["id"]),
                email=str(item.get("email") or ""),
                role=str(item.get("role") or ""),
                slug=str(item["slug"]),
                status=str(item["status"]),
                external_id=str(item.get("external_id") or ""),
            )
            for item in answer
        )
        submission_id = int(answer[0]["submission_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(_unexpected_answer(answer)) from exc
    return Submission(submission_id=submission_id, signers=created, raw=answer)


def _submitter(signer: Signer, *, readonly_values: bool) -> dict[str, Any]:
    submitter: dict[str, Any] = {
        "role": signer.role,
        "email": signer.email,
        "name": signer.name,
        "external_id": signer.external_id,
    }
    if signer.phone:
        submitter["phone"] = signer.phone
    if readonly_values:
        if signer.values:
            submitter["fields"] = [
                {"name": name, "default_value": value, "readonly": True}
                for name, value in signer.values.items()
            ]
    else:
        submitter["values"] = dict(signer.values)
    return submitter


def get_submission(submission_id: int) -> dict:
    """Return DocuSeal's submission: status, submitters, documents, audit log URL..."""
    answer = _call("GET", SUBMISSION_PATH.format(submission_id=submission_id))
    if not isinstance(answer, dict):
        raise ProviderError(_unexpected_answer(answer))
    return answer


def download(url: str) -> bytes:
    """Fetch a signed document or audit log by the expiring link DocuSeal gave for it.

    Only from DocuSeal itself (`check_file_url`), the link and each redirect: a webhook
    names the link, and whoever holds the webhook's secret must not make the worker fetch
    another address. ProviderError, with nothing fetched from it, for any other address.
    """
    with http.session() as client:
        for _ in range(MAX_FILE_REDIRECTS + 1):
            check_file_url(url)
            response = http.request(client, "GET", url, allow_redirects=False)
            if not response.is_redirect:
                return response.content
            url = urljoin(url, response.headers["Location"])
    raise ProviderError(
        gettext("El enlace de DocuSeal redirigió más de %(times)s veces: no se descargó.")
        % {"times": MAX_FILE_REDIRECTS}
    )


def file_hosts() -> frozenset[str]:
    """Return the hosts DocuSeal serves its files from: the API's host (a self-hosted
    DocuSeal), that host without "api." (its cloud: api.docuseal.com, docuseal.com), and
    the cloud's hosts."""
    host = (urlsplit(settings.DOCUSEAL_BASE_URL).hostname or "").lower()
    return frozenset({host, host.removeprefix("api.")} - {""}) | CLOUD_FILE_HOSTS


def check_file_url(url: str) -> str:
    """Return `url` if it is a file link DocuSeal serves; raise ProviderError otherwise.

    Accepted: https (http too when DOCUSEAL_BASE_URL is http, a local DocuSeal) to one of
    `file_hosts`, on the API's port or the default one, without a user name or password.
    """
    base = urlsplit(settings.DOCUSEAL_BASE_URL)
    schemes = {"https", "http"} if base.scheme.lower() == "http" else {"https"}
    hosts = file_hosts()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, -1
    if (
        parts is None
        # A backslash, a space or a control character: parsers read such an address each
        # their own way, so what is checked here might not be what gets fetched.
        or not url.isascii()
        or not url.isprintable()
        or any(char in url for char in " \\")
        or parts.scheme.lower() not in schemes
        or (parts.hostname or "").lower() not in hosts
        or port not in (None, base.port)
        or parts.username is not None
        or parts.password is not None
    ):
        raise ProviderError(
            gettext(
                "DocuSeal envió un enlace que no es suyo (%(url)s): solo se descargan "
                "archivos de %(hosts)s por %(schemes)s. No se descargó nada."
            )
            % {
                "url": url.split("?", 1)[0][: http.ERROR_BODY_CHARS],
                "hosts": ", ".join(sorted(hosts)),
                "schemes": " o ".join(sorted(schemes, reverse=True)),
            }
        )
    return url


def web_url(url: str) -> str:
    """Return `url` if a page may show it as a link (http or https), else ""."""
    return url if url.lower().startswith(("https://", "http://")) else ""


def verify_webhook(body: bytes, headers: Mapping[str, str]) -> None:
    """Raise SignatureError unless the request carries our secret in the configured header."""
    secret = settings.DOCUSEAL_WEBHOOK_SECRET
    if not secret:
        # An empty secret would match a request without the header: refuse everything.
        raise SignatureError("No DocuSeal webhook secret is configured.")
    name = getattr(settings, "DOCUSEAL_WEBHOOK_HEADER", DEFAULT_WEBHOOK_HEADER)
    received = payloads.header(headers, name)
    if not received:
        raise SignatureError(f"The request has no {name} header.")
    # Bytes, because compare_digest refuses str with non-ASCII characters.
    if not hmac.compare_digest(received.encode(), secret.encode()):
        raise SignatureError(f"The {name} header does not match the webhook secret.")


def verify_webhook_signature(body: bytes, headers: Mapping[str, str]) -> None:
    """Raise SignatureError unless X-Docuseal-Signature signs this body within 5 minutes.

    An alternative to verify_webhook for DocuSeal versions that sign webhooks: it also
    proves the body was not altered and refuses a request replayed later.
    """
    secret = getattr(settings, "DOCUSEAL_WEBHOOK_SIGNING_SECRET", "")
    if not secret:
        raise SignatureError("No DocuSeal webhook signing secret is configured.")
    header = payloads.header(headers, SIGNATURE_HEADER)
    signed_at, _, signature = header.partition(".")
    if not signed_at.isascii() or not signed_at.isdigit() or not signature:
        raise SignatureError(f"The request has no valid {SIGNATURE_HEADER} header.")
    if abs(time.time() - int(signed_at)) > SIGNATURE_TOLERANCE_SECONDS:
        raise SignatureError("The webhook signature is too old or from the future.")
    # The whole "whsec_..." string is the key, as DocuSeal uses it; no base64 decoding.
    expected = hmac.new(secret.encode(), f"{signed_at}.".encode() + body, "sha256").hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise SignatureError("The webhook signature does not match the body.")


def parse_event(body: bytes) -> DocusealEvent:
    """Read a form.* or submission.* webhook body; raise ValueError when it is not one.

    template.* and other events raise UnhandledEvent (a ValueError).
    """
    return read_event(webhooks.parse_json_object(body))


def read_event(payload: Mapping[str, Any]) -> DocusealEvent:
    """Read a webhook's parsed JSON object; raise ValueError when it is no signature event.

    UnhandledEvent (a ValueError) for template.* and any other event type, and for a
    form.* or submission.* event outside HANDLED_EVENTS that cannot be read; a plain
    ValueError for an event of HANDLED_EVENTS missing what it must carry.
    """
    event_type = payload.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("The DocuSeal webhook has no event_type.")
    if not event_type.startswith(("form.", "submission.")):
        # template.* events are about templates, not signatures.
        raise UnhandledEvent(f"Unsupported DocuSeal event type {event_type!r}.")
    try:
        return _read_signature_event(event_type, payload)
    except UnhandledEvent:
        raise
    except ValueError as exc:
        if event_type in HANDLED_EVENTS:
            raise
        raise UnhandledEvent(f"DocuSeal {event_type} event left unread: {exc}") from exc


def _read_signature_event(event_type: str, payload: Mapping[str, Any]) -> DocusealEvent:
    raw_timestamp = payload.get("timestamp")
    timestamp = _FIELDS.moment(raw_timestamp, "timestamp", max_ahead=payloads.CLOCK_AHEAD)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ValueError(f"The DocuSeal {event_type} webhook has no data object.")

    if event_type.startswith("form."):
        # data is the submitter, with its submission embedded.
        embedded = data.get("submission")
        submission = embedded if isinstance(embedded, dict) else {}
        submission_id = _FIELDS.integer(
            data.get("submission_id", submission.get("id")), "submission_id"
        )
        submitter_id: int | None = _FIELDS.integer(data.get("id"), "data.id")
        external_id = data.get("external_id") or ""
        status = _FIELDS.text(data.get("status"), "status")
        combined_document_url = submission.get("combined_document_url") or ""
        audit_log_url = submission.get("audit_log_url") or data.get("audit_log_url") or ""
        all_completed = submission.get("status") == COMPLETED
    else:
        # submission.*: data is the submission, with its submitters.
        submission_id = _FIELDS.integer(data.get("id"), "data.id")
        submitter_id = None
        external_id = next(
            (s["external_id"] for s in _submitters(data) if s.get("external_id")), ""
        )
        if event_type in _STATUS_OF_EVENT:
            status = _STATUS_OF_EVENT[event_type]
        else:
            status = _FIELDS.text(data.get("status"), "status")
        combined_document_url = data.get("combined_document_url") or ""
        audit_log_url = data.get("audit_log_url") or ""
        all_completed = event_type == SUBMISSION_COMPLETED or status == COMPLETED

    submitters = _submitters(data)
    if submitters and all(s.get("status") == COMPLETED for s in submitters):
        all_completed = True
    return DocusealEvent(
        event_type=event_type,
        timestamp=timestamp,
        event_id=_event_id(event_type, submission_id, submitter_id, data, raw_timestamp),
        submission_id=submission_id,
        submitter_id=submitter_id,
        external_id=str(external_id),
        status=status,
        documents=_documents(data.get("documents")),
        combined_document_url=str(combined_document_url),
        # Shown as a link on the loan's page: never a javascript: or data: URL.
        audit_log_url=web_url(str(audit_log_url)),
        all_completed=all_completed,
        reason=str(data.get("reason") or "")[:500] if event_type == SUBMISSION_VOIDED else "",
    )


def _event_id(
    event_type: str,
    submission_id: int,
    submitter_id: int | None,
    data: Mapping[str, Any],
    raw_timestamp: str,
) -> str:
    # DocuSeal sends no event id. Its retries rebuild the body, and older versions stamp
    # `timestamp` at each attempt, so neither the body nor `timestamp` is the same on a
    # retry. The time on the record itself (completed_at for form.completed, declined_at
    # for form.declined...) is: it dates the event, not the delivery. It also tells apart
    # a real second occurrence, such as a signer completing again after DocuSeal's "request
    # changes". Events without such a field fall back to `timestamp`.
    occurred_at = data.get(_EVENT_TIME_FIELDS.get(event_type, ""), None) or raw_timestamp
    return f"{event_type}:{submission_id}:{submitter_id or ''}:{occurred_at}"


def _webhook_event_id(payload: Mapping[str, Any]) -> str:
    return read_event(payload).event_id


# The /webhooks/docuseal/ door (credits.webhooks): secret header, JSON object, form.* and
# submission.* events only.
WEBHOOK = webhooks.Endpoint(provider="docuseal", verify=verify_webhook, event_id=_webhook_event_id)


def _call(
    method: str, path: str, *, unreadable: type[ProviderError] = ProviderError, **kwargs: Any
) -> Any:
    """Call DocuSeal's API and return its JSON answer; a 2xx that is not JSON raises
    `unreadable`."""
    api_key = settings.DOCUSEAL_API_KEY
    if not api_key:
        raise ProviderError(gettext("DocuSeal no está configurado: falta DOCUSEAL_API_KEY."))
    url = settings.DOCUSEAL_BASE_URL.rstrip("/") + path
    with http.session() as client:
        response = http.request(client, method, url, headers={"X-Auth-Token": api_key}, **kwargs)
    try:
        return http.answer_json(response)
    except ValueError as exc:
        raise unreadable(_unexpected_answer(response.text[: http.ERROR_BODY_CHARS])) from exc


def _unexpected_answer(answer: Any) -> str:
    return gettext("DocuSeal respondió algo inesperado: %(answer)s") % {
        "answer": str(answer)[: http.ERROR_BODY_CHARS]
    }


def _submitters(data: Mapping[str, Any]) -> list[dict]:
    submitters = data.get("submitters")
    if not isinstance(submitters, list):
        return []
    return [s for s in submitters if isinstance(s, dict)]


def _documents(raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError("The DocuSeal webhook's documents is not a list.")
    documents = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValueError("A DocuSeal webhook document is not an object.")
        name = _FIELDS.text(item.get("name"), "documents[].name")
        documents.append((name, _FIELDS.text(item.get("url"), "documents[].url")))
    return tuple(documents)
