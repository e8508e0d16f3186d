"""The webhook inbox: one door for every provider's calls, stored once, handed to a processor.

Each provider module declares how its webhooks come in, as an `Endpoint`; a domain app
owns the URL and a view of a few lines that hands the request to `receive`:

    @csrf_exempt
    @login_not_required
    @require_POST
    def calcom_webhook(request):
        return webhooks.receive(request, calcom.WEBHOOK)

`receive` runs the same steps for every provider, and answers at once:

1. size: a body over settings.WEBHOOK_MAX_BODY_BYTES → 413, read no further;
2. verify the raw body and headers (signature, secret header), and the query string for
   a provider that signs part of it (MercadoPago) → forged or unsigned: 403;
3. parse: JSON object by default, a PHP-style form for Kommo; unreadable, not an
   object, nested deeper than MAX_DEPTH → 400 {"detail": reason};
4. the provider's reading of the data: malformed for it → 400; an event we do not act
   on → 200 {"status": "ignored"}; a sender that is not our account → 403;
5. store a WebhookEvent once per (provider, event id) and enqueue its processing on
   commit → 200 {"status": "stored" | "duplicate", "id": pk}.

Nothing is stored unless every step passed. The app registers, in its AppConfig.ready,
the callable that processes its provider's stored events:

    webhooks.register_processor("calcom", services.process_calcom_event)

The processor runs in a Celery task (`tasks.process_event`), inside a transaction, and
must be idempotent: a duplicate, a retry or a replay from admin runs it again.
"""

import functools
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from integrations import payloads
from integrations.errors import InvalidPayload, SignatureError, UnhandledEvent
from integrations.models import WebhookEvent
from lib import queue
from lib.registry import Registry

logger = logging.getLogger(__name__)

Processor = Callable[[WebhookEvent], None]
Verifier = Callable[[bytes, Mapping[str, str]], None]
# (raw body, headers, query parameters): for a provider whose signature covers the URL.
QueryVerifier = Callable[[bytes, Mapping[str, str], Mapping[str, str]], None]

# How deep a body may nest objects and lists (a form, its bracketed keys). The providers
# we know send 6 levels at most; anything much deeper is an attack on the parser.
MAX_DEPTH = 32
# How many fields a form-encoded body may have: a Kommo lead with its custom fields takes
# a few dozen, and Kommo batches a few leads per call.
MAX_FORM_FIELDS = 5000
# How much of a refusal's reason goes back to the caller (it may quote the body).
_DETAIL_CHARS = 200

_FORM_KEY_PART = re.compile(r"\[([^\]]*)\]")

# Header names that may carry a credential (a shared secret sent as a header, a token):
# they are never stored, even under an X- prefix.
_SECRET_HEADER_WORDS = ("auth", "cookie", "key", "password", "secret", "session", "token")

_PLAIN_HEADERS = ("content-type", "user-agent")

_processors: Registry[Processor] = Registry("A processor for")


class IgnoreEvent(Exception):
    """Raised by a processor for an event it does not act on: the event is marked ignored."""


def register_processor(provider: str, processor: Processor) -> None:
    """Make `processor` the callable that processes `provider`'s events (one per provider)."""
    _processors.register(provider, processor)


def unregister_processor(provider: str) -> None:
    """Forget `provider`'s processor (for tests)."""
    _processors.unregister(provider)


def processor_for(provider: str) -> Processor | None:
    """Return the callable registered for `provider`, or None."""
    return _processors.get(provider)


@dataclass(frozen=True)
class FormBody:
    """A form-encoded body: its fields in order, and the same fields nested by key."""

    fields: tuple[tuple[str, str], ...]
    data: dict[str, Any]


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Return the body as a JSON object; raise InvalidPayload when it is not one.

    Refused: what is not JSON (or not UTF-8/16/32), NaN and Infinity, a top level that is
    not an object, and nesting deeper than MAX_DEPTH. NUL characters are taken out of its
    texts (`payloads.without_nul`).
    """
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise InvalidPayload(f"The body is nested deeper than {MAX_DEPTH} levels.") from exc
    except ValueError as exc:
        # JSONDecodeError, UnicodeDecodeError, an integer of too many digits, NaN.
        raise InvalidPayload(f"The body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidPayload("The body is not a JSON object.")
    if _deeper_than(data, MAX_DEPTH):
        raise InvalidPayload(f"The body is nested deeper than {MAX_DEPTH} levels.")
    return payloads.without_nul(data)


def parse_form(body: bytes) -> FormBody:
    """Read an application/x-www-form-urlencoded body with PHP-style keys (`a[b][0]=v`).

    Raise InvalidPayload when it is not UTF-8, has no fields, a field without "=", more
    than MAX_FORM_FIELDS fields, or a key nested deeper than MAX_DEPTH. A NUL (`%00`) is
    taken out of keys and values (`payloads.without_nul`).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPayload("The body is not UTF-8.") from exc
    pieces = [piece for piece in text.split("&") if piece]
    if not pieces:
        raise InvalidPayload("The body has no form fields.")
    if len(pieces) > MAX_FORM_FIELDS:
        raise InvalidPayload(f"The body has more than {MAX_FORM_FIELDS} form fields.")
    if any("=" not in piece for piece in pieces):
        raise InvalidPayload("The body is not form-encoded.")
    fields = tuple(
        (payloads.without_nul(key), payloads.without_nul(value))
        for key, value in parse_qsl(text, keep_blank_values=True)
    )
    return FormBody(fields=fields, data=expand_form(fields))


def expand_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn PHP-style keys (`a[b][0][c]=v`) into nested dicts; numeric levels stay dicts.

    Raise InvalidPayload for a key nested deeper than MAX_DEPTH.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head, *_FORM_KEY_PART.findall("[" + rest)] if rest else [head]
        if len(parts) > MAX_DEPTH:
            raise InvalidPayload(f"A form key is nested deeper than {MAX_DEPTH} levels.")
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                # A scalar and a nested value on one path: the nested one wins.
                child = {}
                node[part] = child
            node = child
        if not isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = value
    return root


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """How one provider's webhooks come in: the steps `receive` runs, declared once.

    - provider: the inbox's name for the provider; its registered processor runs the events.
    - verify(raw_body, headers): raise SignatureError unless the call is authentic (403).
      None only when verify_query checks the call, or the view has authenticated it itself
      (a secret in the URL).
    - verify_query(raw_body, headers, query): the same check for a provider that signs
      query parameters too (MercadoPago signs `data.id`); called with request.GET after
      verify, when set.
    - parse(raw_body): the body as data; raise ValueError when it is not readable (400).
    - event_id(data): read the data as the provider means it and return the inbox's event
      id. Raise UnhandledEvent for an event we do not act on (200, not stored),
      SignatureError for a sender that is not ours (403), ValueError for data that is
      malformed for this provider (400).
    """

    provider: str
    verify: Verifier | None
    parse: Callable[[bytes], Any] = parse_json_object
    event_id: Callable[[Any], str]
    verify_query: QueryVerifier | None = None


def receive(request: HttpRequest, endpoint: Endpoint) -> HttpResponse:
    """Check a provider's webhook call step by step and store it once; answer at once.

    See the module's docstring for the steps and their answers. What is refused is
    logged, never stored.
    """
    provider = endpoint.provider
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = _declared_length(request)
    if declared is None:
        return JsonResponse({"detail": "invalid Content-Length"}, status=400)
    # Before request.body: a declared length over the limit is refused unread.
    if declared > limit:
        return _too_large(provider, declared)
    try:
        body = request.body
    except RequestDataTooBig:
        # Over Django's DATA_UPLOAD_MAX_MEMORY_SIZE, should that be the lower limit.
        return _too_large(provider, declared)
    # Content-Length may be absent or understated (chunked on ASGI): count what came.
    if len(body) > limit:
        return _too_large(provider, len(body))
    try:
        if endpoint.verify is not None:
            endpoint.verify(body, request.headers)
        if endpoint.verify_query is not None:
            endpoint.verify_query(body, request.headers, request.GET)
        data = endpoint.parse(body)
        event_id = _checked_event_id(endpoint.event_id(data))
    except SignatureError as exc:
        logger.warning("%s webhook refused: %s", provider, _reason(exc))
        return JsonResponse({"detail": "forbidden"}, status=403)
    except UnhandledEvent as exc:
        # Answered 200, so the provider stops retrying; there is nothing to do.
        logger.info("%s webhook not stored: %s", provider, _reason(exc))
        return JsonResponse({"status": "ignored"})
    except ValueError as exc:
        logger.info("%s webhook refused as malformed: %s", provider, _reason(exc))
        return JsonResponse({"detail": _reason(exc)}, status=400)
    event, created = store_event(
        provider=provider, event_id=event_id, body=body, headers=relevant_headers(request.headers)
    )
    return JsonResponse({"status": "stored" if created else "duplicate", "id": event.pk})


def _checked_event_id(event_id: str) -> str:
    limit = WebhookEvent._meta.get_field("event_id").max_length
    if not event_id or len(event_id) > limit:
        # Read from the body: a genuine delivery never makes one this long.
        raise InvalidPayload(f"The event id is empty or longer than {limit} characters.")
    return event_id


def _declared_length(request: HttpRequest) -> int | None:
    """Return the request's Content-Length (0 when absent), or None when it is not one."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    return length if length >= 0 else None


def _too_large(provider: str, size: int) -> HttpResponse:
    logger.warning("%s webhook refused: %s bytes is over the size limit.", provider, size)
    return JsonResponse({"detail": "body too large"}, status=413)


def _reason(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 1] + "…"


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows.")


def _deeper_than(value: Any, limit: int) -> bool:
    # Iterative, so no body can exhaust the stack here.
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def store_event(
    *, provider: str, event_id: str, body: bytes, headers: Mapping[str, str]
) -> tuple[WebhookEvent, bool]:
    """Store an authenticated event once per (provider, event_id) and enqueue its processing.

    One statement, `INSERT … ON CONFLICT DO NOTHING RETURNING id`: a receipt is what a
    provider waits for, so it costs one round trip and the enqueue after the commit;
    everything else happens in the task. A second delivery of the same event, even a
    concurrent one, inserts nothing: it returns the stored event with created=False and
    enqueues nothing.
    """
    if not event_id:
        raise ValueError("A webhook event needs the provider's event id.")
    event = WebhookEvent(
        provider=provider,
        event_id=event_id,
        raw_body=body.decode("utf-8", errors="replace"),
        headers=dict(headers),
    )
    # No transaction of its own: one statement commits alone, and the enqueue then runs at
    # once (or after the caller's commit, inside one).
    pk = _insert_unless_stored(event)
    if pk is not None:
        event.pk = pk
        transaction.on_commit(request_drain)
        return event, True
    # Delivered before: the stored row, not this copy (its body may differ in nothing).
    return WebhookEvent.objects.get(provider=provider, event_id=event_id), False


# A receipt asks for the inbox to be drained rather than sending a task per event:
# publishing a Celery message costs more than the insert itself, and a burst of
# deliveries needs one drain, not one task each. The first receipt sets the key and sends
# the task; the task deletes the key before it reads the inbox, so a receipt committed
# after that read sets the key again and sends another. Should a drain task be lost, the
# key frees itself and the 5-minute sweep (process_pending_events) takes the events.
DRAIN_KEY = "integrations:inbox-drain-requested"
DRAIN_KEY_SECONDS = 60
# Within this many seconds of its last ask, a process does not ask again: a burst costs
# a Redis round trip a second per process, not one per delivery (it was a fifth of a
# receipt). A receipt that skipped the ask is still drained: its process asked (or found
# the key set) at most DRAIN_ASK_SECONDS before, so a drain with a re-check was pending
# then; that drain reads the inbox once more DRAIN_RECHECK_SECONDS after its first read
# (services.process_received_events), by which time the skipped receipt has committed.
DRAIN_ASK_SECONDS = 1.0
DRAIN_RECHECK_SECONDS = 2.0

_last_ask: float | None = None  # this process's last ask, time.monotonic()


def request_drain() -> None:
    """Send the inbox's drain task unless one is already asked for and not yet started."""
    global _last_ask
    now = time.monotonic()
    # Not when tasks run inline (tests): the drain and its re-check have already run,
    # so no pending drain covers a skipped ask.
    if _last_ask is not None and now - _last_ask < DRAIN_ASK_SECONDS and not queue.runs_inline():
        return
    try:
        first = cache.add(DRAIN_KEY, 1, timeout=DRAIN_KEY_SECONDS)
    except Exception:  # the cache is down: a drain too many beats one missing
        logger.warning("Webhook drain key unavailable; sending the drain task anyway.")
        first = True
    if first:
        queue.send_now("integrations.process_received_events", {})
    # Only once the key is known set (by us or by a receipt whose drain has not started).
    _last_ask = now


def forget_drain_ask() -> None:
    """Make this process's next receipt ask for a drain (tests)."""
    global _last_ask
    _last_ask = None


def _insert_unless_stored(event: WebhookEvent) -> int | None:
    """Insert `event`; return its id, or None when (provider, event_id) is already stored.

    PostgreSQL and SQLite (3.35 and later) both speak ON CONFLICT … RETURNING.
    """
    fields, sql = _insert_statement(connection.vendor)
    values = [f.get_db_prep_save(f.pre_save(event, add=True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    return row[0] if row else None


@functools.cache
def _insert_statement(vendor: str) -> tuple[list, str]:
    """Return the inbox's columns and its INSERT … ON CONFLICT DO NOTHING, built once."""
    meta = WebhookEvent._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    unique = ", ".join(quote(meta.get_field(name).column) for name in ("provider", "event_id"))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({unique}) DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    return fields, sql


def relevant_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Keep the headers worth storing: content type, user agent, X- and signature headers."""
    kept = {}
    for name, value in headers.items():
        lower = name.lower()
        if any(word in lower for word in _SECRET_HEADER_WORDS):
            continue
        if lower.startswith("x-") or "signature" in lower or lower in _PLAIN_HEADERS:
            kept[lower] = value
    return kept


def hmac_sha256_hex(secret: str | bytes, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of `body` under `secret`."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_hmac_sha256(secret: str | bytes, body: bytes, signature_hex: str) -> None:
    """Raise SignatureError unless `signature_hex` is the HMAC-SHA256 of `body` under `secret`."""
    if not secret:
        # An empty key is one anyone can sign with: refuse rather than accept everything.
        raise SignatureError("No webhook secret is configured.")
    if not signature_hex:
        raise SignatureError("The request has no signature.")
    expected = hmac_sha256_hex(secret, body)
    # Bytes, because compare_digest refuses str with non-ASCII characters.
    if not hmac.compare_digest(expected.encode(), signature_hex.strip().lower().encode()):
        raise SignatureError("The signature does not match the body.")
