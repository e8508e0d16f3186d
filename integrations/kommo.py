"""Kommo: read its lead webhooks, fetch leads and contacts, move a lead to another stage.

Kommo's webhooks (Settings → Integrations → Web hooks) are form-encoded
(application/x-www-form-urlencoded) with PHP-style nested keys, one block per entity and
action, e.g.

    leads[status][0][id]=25399013&leads[status][0][status_id]=142
    &leads[status][0][old_status_id]=7039101&leads[status][0][pipeline_id]=3508507
    &leads[status][0][last_modified]=1413554372&account[subdomain]=acme&account[id]=29085955

Actions for leads are `add`, `update`, `status`, `delete`, `restore` and `responsible`.
Kommo does not sign them and sends no event id, so the endpoint is authenticated by a
secret path token plus the account's subdomain, and the inbox id is a digest of the body.
https://developers.kommo.com/docs/webhooks-general

The API (v4) takes a long-lived token as a Bearer token, at most 7 requests per second
per account: `throttle()` spaces calls across processes, and a 429 becomes a
TemporaryProviderError that carries Kommo's Retry-After.
https://developers.kommo.com/docs/limitations
"""

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext

from integrations import http, webhooks
from integrations.errors import (
    ProviderError,
    SignatureError,
    TemporaryProviderError,
    UnhandledEvent,
)
from lib import ratelimit

# https://developers.kommo.com/reference/getting-a-lead-by-its-id
LEAD_PATH = "/api/v4/leads/{lead_id}"
# https://developers.kommo.com/reference/get-contact
CONTACT_PATH = "/api/v4/contacts/{contact_id}"
# https://developers.kommo.com/reference/notes-by-entity-id (lead notes, newest last)
LEAD_NOTES_PATH = "/api/v4/leads/{lead_id}/notes"
# https://developers.kommo.com/reference/updating-a-lead
# PATCH /api/v4/leads/{id} with {"status_id": ..., "pipeline_id": ...}

LEAD_ACTIONS = ("add", "update", "status", "delete", "restore", "responsible")

# Kommo's ids go into bigint columns.
MAX_ID = 2**63 - 1
# How far ahead of ours Kommo's clock may be on a lead change.
MAX_CLOCK_AHEAD_SECONDS = 24 * 60 * 60

# Kommo's documented ceiling; one slot per window of 1 second, shared by every process.
REQUESTS_PER_SECOND = 7
# How long throttle() waits for a free slot before letting the caller retry later.
THROTTLE_MAX_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class LeadChange:
    """One lead in a webhook: what happened to it and where it is now."""

    action: str
    lead_id: int
    name: str
    status_id: int | None
    pipeline_id: int | None
    old_status_id: int | None
    old_pipeline_id: int | None
    # Kommo's clock of the change (unix seconds): orders deliveries that arrive late.
    modified_at: int
    custom_fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class KommoWebhook:
    account_id: str
    subdomain: str
    event_id: str
    leads: tuple[LeadChange, ...]


@dataclass(frozen=True)
class LeadDetails:
    """A lead and its main contact, read from the API into the fields the call needs."""

    lead_id: int
    name: str
    status_id: int | None
    pipeline_id: int | None
    updated_at: int
    source: str
    contact_id: int | None = None
    contact_name: str = ""
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    address: str = ""
    city: str = ""
    document_number: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


# --- webhooks ---------------------------------------------------------------------------


def path_token_matches(token: str) -> bool:
    """Say whether `token` is the secret path token of /webhooks/kommo/<token>/."""
    configured = settings.KOMMO_WEBHOOK_SECRET
    # Bytes, because compare_digest refuses str with non-ASCII characters.
    return bool(configured) and hmac.compare_digest(token.encode(), configured.encode())


def parse_webhook(body: bytes) -> KommoWebhook:
    """Read a Kommo webhook body; raise ValueError when it is not one."""
    return read_webhook(webhooks.parse_form(body))


def read_webhook(form: webhooks.FormBody) -> KommoWebhook:
    """Read a parsed Kommo form: its account and lead changes; raise ValueError if it is none."""
    account_id, subdomain = _account(form.data)
    changes: list[LeadChange] = []
    leads = form.data.get("leads")
    if isinstance(leads, dict):
        for action in LEAD_ACTIONS:
            block = leads.get(action)
            if not isinstance(block, dict):
                continue
            for _index, item in sorted(block.items(), key=lambda kv: _int(kv[0]) or 0):
                if isinstance(item, dict):
                    changes.append(_lead_change(action, item))
    # Kommo has no event id. Identical redeliveries have identical fields, so a digest of
    # the sorted pairs identifies the delivery; the lead's last_modified keeps two real
    # changes to the same stage apart.
    digest = hashlib.sha256(repr(sorted(form.fields)).encode()).hexdigest()
    return KommoWebhook(
        account_id=account_id,
        subdomain=subdomain,
        event_id=f"kommo:{digest}",
        leads=tuple(changes),
    )


def verify_account(webhook: KommoWebhook) -> None:
    """Raise SignatureError unless the webhook comes from the configured Kommo account."""
    _verify_account(webhook.account_id, webhook.subdomain)


def _webhook_event_id(form: webhooks.FormBody) -> str:
    # The account first: another account's delivery is refused before its leads are read.
    _verify_account(*_account(form.data))
    webhook = read_webhook(form)
    if not webhook.leads:
        # Contacts, tasks, notes…: answered so Kommo stops retrying; nothing to do.
        raise UnhandledEvent("The Kommo webhook has no lead changes.")
    return webhook.event_id


# The /webhooks/kommo/<token>/ door (callcenter.webhooks): Kommo signs nothing, so the view
# checks the path token (path_token_matches) and the account is checked on the body.
WEBHOOK = webhooks.Endpoint(
    provider="kommo", verify=None, parse=webhooks.parse_form, event_id=_webhook_event_id
)


def _account(data: Mapping[str, Any]) -> tuple[str, str]:
    account = data.get("account")
    if not isinstance(account, dict) or not account.get("subdomain"):
        raise ValueError("The body has no account[subdomain].")
    return str(account.get("id", "")), str(account["subdomain"]).lower()


def _verify_account(account_id: str, subdomain: str) -> None:
    configured = (settings.KOMMO_SUBDOMAIN or "").lower()
    if not configured:
        raise SignatureError("No Kommo subdomain is configured.")
    if subdomain != configured:
        raise SignatureError(f"Kommo account {subdomain!r} is not the configured one.")
    configured_id = str(getattr(settings, "KOMMO_ACCOUNT_ID", "") or "")
    if configured_id and account_id != configured_id:
        raise SignatureError(f"Kommo account id {account_id!r} is not the configured one.")


def _lead_change(action: str, item: Mapping[str, Any]) -> LeadChange:
    lead_id = _int(item.get("id"))
    if not lead_id:
        raise ValueError(f"A leads[{action}] item has no id.")
    fields: list[tuple[str, str]] = []
    custom = item.get("custom_fields")
    if isinstance(custom, dict):
        for cf in custom.values():
            if not isinstance(cf, dict):
                continue
            values = cf.get("values")
            first = ""
            if isinstance(values, dict) and values:
                value = next(iter(values.values()))
                first = str(value.get("value", "") if isinstance(value, dict) else value)
            fields.append((str(cf.get("name", cf.get("id", ""))), first))
    return LeadChange(
        action=action,
        lead_id=lead_id,
        name=str(item.get("name", "")),
        status_id=_int(item.get("status_id")),
        pipeline_id=_int(item.get("pipeline_id")),
        old_status_id=_int(item.get("old_status_id")),
        old_pipeline_id=_int(item.get("old_pipeline_id")),
        modified_at=_modified_at(action, item),
        custom_fields=tuple(fields),
    )


def _modified_at(action: str, item: Mapping[str, Any]) -> int:
    """Return Kommo's clock of a lead change (unix seconds; 0 when it sent none).

    One far ahead is refused: it orders every later change of the lead before it, so the
    lead would keep this delivery's stage for good.
    """
    modified_at = (
        _int(item.get("last_modified"))
        or _int(item.get("updated_at"))
        or _int(item.get("date_create"))
        or 0
    )
    if modified_at > time.time() + MAX_CLOCK_AHEAD_SECONDS:
        raise ValueError(f"A leads[{action}] item's last_modified is in the future: {modified_at}.")
    return modified_at


# --- API --------------------------------------------------------------------------------


def is_configured() -> bool:
    """Say whether the API can be called: a base URL and a token."""
    return bool(_base_url() and settings.KOMMO_TOKEN)


def get_lead_details(lead_id: int) -> LeadDetails:
    """Fetch a lead with its main contact and its text notes."""
    lead = _call("GET", LEAD_PATH.format(lead_id=lead_id), params={"with": "contacts,source_id"})
    if not isinstance(lead, dict) or "id" not in lead:
        raise ProviderError(_unexpected(lead))
    lead_fields = _custom_fields(lead.get("custom_fields_values"))
    embedded = lead.get("_embedded") or {}
    tags = [t.get("name", "") for t in embedded.get("tags") or [] if isinstance(t, dict)]
    source = (
        _first_named(lead_fields, ("fuente", "origen", "source", "utm_source"))
        or (embedded.get("source") or {}).get("name", "")
        or (tags[0] if tags else "")
    )
    details: dict[str, Any] = {
        "lead_id": int(lead["id"]),
        "name": str(lead.get("name") or ""),
        "status_id": _int(lead.get("status_id")),
        "pipeline_id": _int(lead.get("pipeline_id")),
        "updated_at": _int(lead.get("updated_at")) or 0,
        "source": str(source)[:120],
        "notes": tuple(_lead_notes(int(lead["id"]))),
    }
    contacts = [c for c in embedded.get("contacts") or [] if isinstance(c, dict)]
    main = next((c for c in contacts if c.get("is_main")), contacts[0] if contacts else None)
    if main is not None and _int(main.get("id")) is not None:
        details.update(_contact_fields(_int(main["id"])))
    # A document or address kept on the lead rather than on the contact.
    for key, names in (
        ("document_number", _DOCUMENT_NAMES),
        ("address", _ADDRESS_NAMES),
        ("city", _CITY_NAMES),
    ):
        if not details.get(key):
            details[key] = _first_named(lead_fields, names)
    return LeadDetails(**details)


def update_lead(*, lead_id: int, status_id: int, pipeline_id: int | None = None, **extra) -> None:
    """Move a lead to another stage (and set loss_reason_id or other lead fields in extra)."""
    body: dict[str, Any] = {"status_id": status_id, **extra}
    if pipeline_id:
        body["pipeline_id"] = pipeline_id
    # Nothing of the answer is used: a 2xx means Kommo moved the lead, whatever its body
    # (an HTML page from a proxy would otherwise mark an applied change as failed).
    _call("PATCH", LEAD_PATH.format(lead_id=lead_id), read_answer=False, json=body)


def update_lead_from_payload(payload: Mapping[str, Any]) -> None:
    """The outbox sender for "kommo.update_lead": {"lead_id", "status_id", "pipeline_id"?...}."""
    data = dict(payload)
    try:
        lead_id = int(data.pop("lead_id"))
        status_id = int(data.pop("status_id"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(gettext("Mensaje para Kommo sin lead o etapa válidos.")) from exc
    data.pop("reason", None)
    update_lead(lead_id=lead_id, status_id=status_id, **data)


_DOCUMENT_NAMES = ("dni", "documento", "document", "ruc", "cedula", "cédula")
_ADDRESS_NAMES = ("direccion", "dirección", "address", "domicilio")
_CITY_NAMES = ("ciudad", "city", "distrito", "provincia")


def _contact_fields(contact_id: int) -> dict[str, Any]:
    contact = _call("GET", CONTACT_PATH.format(contact_id=contact_id))
    if not isinstance(contact, dict):
        raise ProviderError(_unexpected(contact))
    values = contact.get("custom_fields_values") or []
    phones, emails = [], []
    for cf in values if isinstance(values, list) else []:
        if not isinstance(cf, dict):
            continue
        items = [str(v.get("value", "")).strip() for v in cf.get("values") or []]
        if cf.get("field_code") == "PHONE":
            phones.extend(v for v in items if v)
        elif cf.get("field_code") == "EMAIL":
            emails.extend(v for v in items if v)
    named = _custom_fields(values)
    address = _first_named(named, _ADDRESS_NAMES)
    if not address:
        # Kommo's "address" field type keeps its parts in separate values.
        address = next(
            (
                ", ".join(str(v.get("value", "")) for v in cf.get("values") or [] if v.get("value"))
                for cf in values
                if isinstance(cf, dict) and cf.get("field_type") == "streetaddress"
            ),
            "",
        )
    name = str(contact.get("name") or "").strip()
    if not name:
        name = f"{contact.get('first_name') or ''} {contact.get('last_name') or ''}".strip()
    return {
        "contact_id": contact_id,
        "contact_name": name,
        "phones": tuple(phones),
        "emails": tuple(emails),
        "address": address[:255],
        "city": _first_named(named, _CITY_NAMES)[:120],
        "document_number": _first_named(named, _DOCUMENT_NAMES)[:20],
    }


def _lead_notes(lead_id: int) -> list[str]:
    answer = _call(
        "GET",
        LEAD_NOTES_PATH.format(lead_id=lead_id),
        params={"filter[note_type]": "common", "limit": 50},
    )
    if not isinstance(answer, dict):
        return []
    notes = (answer.get("_embedded") or {}).get("notes") or []
    texts = []
    for note in notes:
        params = note.get("params") if isinstance(note, dict) else None
        if isinstance(params, dict) and str(params.get("text") or "").strip():
            texts.append(str(params["text"]).strip())
    return texts


def _custom_fields(values: Any) -> list[tuple[str, str]]:
    """Return (lower-case field name, first value) pairs of a custom_fields_values list."""
    pairs = []
    for cf in values if isinstance(values, list) else []:
        if not isinstance(cf, dict):
            continue
        first = next(iter(cf.get("values") or []), {})
        value = first.get("value", "") if isinstance(first, dict) else ""
        pairs.append((str(cf.get("field_name") or "").lower(), str(value or "").strip()))
    return pairs


def _first_named(pairs: Iterable[tuple[str, str]], names: Iterable[str]) -> str:
    names = tuple(names)
    for name, value in pairs:
        if value and any(n in name.lower() for n in names):
            return value
    return ""


def throttle(*, now: float | None = None) -> None:
    """Wait for one of the account's 7 request slots of the current second.

    The count is the rate limits' atomic counter (lib.ratelimit: Redis in production, a
    SQLite upsert without it), so every worker process respects the one limit; the file
    cache's add and incr let 20 threads of one second all through. When no slot frees up
    in THROTTLE_MAX_WAIT_SECONDS, raise TemporaryProviderError: the outbox tries again later.
    """
    deadline = time.monotonic() + THROTTLE_MAX_WAIT_SECONDS
    while True:
        current = now if now is not None else time.time()
        second = int(current)
        if ratelimit.hit("kommo:rate", REQUESTS_PER_SECOND, 1, now=current):
            return
        if now is not None or time.monotonic() >= deadline:
            raise TemporaryProviderError(
                gettext("Límite de Kommo (7 solicitudes por segundo) alcanzado."),
                retry_after=1,
            )
        time.sleep(max(0.01, second + 1 - current))


def _base_url() -> str:
    return (settings.KOMMO_BASE_URL or "").rstrip("/")


def _call(method: str, path: str, *, read_answer: bool = True, **kwargs: Any) -> Any:
    """Call Kommo's API; return its JSON answer, or None without `read_answer` (a 2xx is
    then success whatever its body)."""
    if not is_configured():
        raise ProviderError(gettext("Kommo no está configurado (KOMMO_SUBDOMAIN y KOMMO_TOKEN)."))
    throttle()
    with http.session() as client:
        client.headers["Authorization"] = f"Bearer {settings.KOMMO_TOKEN}"
        client.headers["Accept"] = "application/hal+json"
        response = http.request(client, method, _base_url() + path, **kwargs)
    if not read_answer:
        return None
    # Kommo answers an empty list or an entity without content with 204.
    if response.status_code == 204 or not response.content:
        return None
    try:
        return http.answer_json(response)
    except ValueError as exc:
        raise ProviderError(_unexpected(response.text[:200])) from exc


def _int(value: Any) -> int | None:
    """Return an id or a timestamp Kommo sent: 0 to MAX_ID, in ASCII digits; else None.

    Kommo's are never negative; int() would also take "-5", "1_000" and other scripts'
    digits ("٣"), and one past 64 bits failed the lead's insert on every retry.
    """
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def _unexpected(answer: Any) -> str:
    return gettext("Respuesta inesperada de Kommo: %(answer)s") % {"answer": str(answer)[:300]}
