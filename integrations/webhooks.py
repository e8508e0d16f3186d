"""The webhook inbox: verify a provider's call, store it once, and hand it to its processor.

A domain app owns the URL and the view, which calls `receive(...)` and answers 2xx at
once; the app registers, in its AppConfig.ready, the callable that processes its
provider's events:

    webhooks.register_processor("calcom", services.process_calcom_event)

The processor runs in a Celery task (`tasks.process_event`), inside a transaction, and
must be idempotent: a duplicate, a retry or a replay from admin runs it again.
"""

import hashlib
import hmac
from collections.abc import Callable, Mapping

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest

from integrations.errors import SignatureError
from integrations.models import WebhookEvent
from lib import queue

Processor = Callable[[WebhookEvent], None]
Verifier = Callable[[bytes, Mapping[str, str]], None]

# Header names that may carry a credential (a shared secret sent as a header, a token):
# they are never stored, even under an X- prefix.
_SECRET_HEADER_WORDS = ("auth", "cookie", "key", "password", "secret", "session", "token")

_PLAIN_HEADERS = ("content-type", "user-agent")

_processors: dict[str, Processor] = {}


class IgnoreEvent(Exception):
    """Raised by a processor for an event it does not act on: the event is marked ignored."""


def register_processor(provider: str, processor: Processor) -> None:
    """Make `processor` the callable that processes `provider`'s events (one per provider)."""
    current = _processors.get(provider)
    if current is not None and current is not processor:
        raise ImproperlyConfigured(f"A processor for {provider!r} is already registered.")
    _processors[provider] = processor


def unregister_processor(provider: str) -> None:
    """Forget `provider`'s processor (for tests)."""
    _processors.pop(provider, None)


def processor_for(provider: str) -> Processor | None:
    """Return the callable registered for `provider`, or None."""
    return _processors.get(provider)


def receive(
    request: HttpRequest, *, provider: str, event_id: str, verify: Verifier | None
) -> tuple[WebhookEvent, bool]:
    """Verify the request and store its event once; return the event and whether it is new.

    `verify(raw_body, headers)` raises SignatureError when the call is not authentic: the
    caller answers 401/403 and nothing is stored. Pass verify=None only when the view has
    already authenticated the call (a secret token in the URL).
    """
    body = request.body
    if verify is not None:
        verify(body, request.headers)
    return store_event(
        provider=provider, event_id=event_id, body=body, headers=relevant_headers(request.headers)
    )


def store_event(
    *, provider: str, event_id: str, body: bytes, headers: Mapping[str, str]
) -> tuple[WebhookEvent, bool]:
    """Store an authenticated event once per (provider, event_id) and enqueue its processing.

    A second delivery of the same event, even a concurrent one, returns the stored event
    with created=False and enqueues nothing.
    """
    if not event_id:
        raise ValueError("A webhook event needs the provider's event id.")
    with transaction.atomic():
        # get_or_create inserts in a savepoint and, when a concurrent delivery won the
        # unique constraint, catches the IntegrityError and fetches the winner's row.
        event, created = WebhookEvent.objects.get_or_create(
            provider=provider,
            event_id=event_id,
            defaults={
                "raw_body": body.decode("utf-8", errors="replace"),
                "headers": dict(headers),
            },
        )
        if created:
            queue.enqueue("integrations.process_event", event_id=event.pk)
    return event, created


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
