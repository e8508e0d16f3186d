"""Who may call the JSON API with a token: the clients made in admin, and the checks.

A client gets a random token, shown once (in admin, right after it is made or rotated);
only its SHA-256 is stored, so a leaked database leaks no token. An endpoint protected by
`TokenAuth(scope)` answers:

- 401 (in Spanish) without a bearer token, or with one that is unknown or revoked;
- 403 when the client lacks the endpoint's scope;
- 429 (config/api.py's handler, with Retry-After) past the client's requests per minute,
  counted by `ClientRateLimit` with lib.ratelimit's atomic counters (Redis in production).

The lookup by hash is cached briefly, so a request costs no query for its client; saving
or rotating a client through these functions forgets the cached copy at once.
"""

import hashlib
import secrets
import time
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle

from integrations.models import ApiClient
from lib import ratelimit

# Readable in logs and secret scanners: "ctr_" + 43 URL-safe characters (256 bits).
TOKEN_PREFIX = "ctr_"  # noqa: S105 (a label, not a secret)
TOKEN_BYTES = 32
# Anything longer is not one of ours; it is refused before it is hashed.
MAX_TOKEN_CHARS = 200
# How long a client's row is trusted from the cache; saving through here forgets it sooner.
CACHE_SECONDS = 60
# last_used_at moves at most this often, so requests do not each write the row.
TOUCH_SECONDS = 60
WINDOW_SECONDS = 60


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _cache_key(token_hash: str) -> str:
    return f"api-client:{token_hash}"


def assign_token(client: ApiClient) -> str:
    """Give an unsaved or saved client a new token (not saved here); return the token."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    client.token_prefix = token[:8]
    client.token_hash = hash_token(token)
    return token


@transaction.atomic
def create_client(
    *, name: str, scopes: str, rate_limit_per_minute: int = 120
) -> tuple[ApiClient, str]:
    """Create an active client; return it with its token, which is never stored."""
    client = ApiClient(name=name, scopes=scopes, rate_limit_per_minute=rate_limit_per_minute)
    token = assign_token(client)
    client.full_clean()
    client.save()
    return client, token


def rotate_token(*, client: ApiClient) -> str:
    """Replace the client's token; the old one stops working at once. Return the new one."""
    old_hash = client.token_hash
    token = assign_token(client)
    client.save(update_fields=["token_prefix", "token_hash"])
    cache.delete(_cache_key(old_hash))
    forget(client)
    return token


def forget(client: ApiClient) -> None:
    """Drop the cached copy of the client: call after changing or deleting it."""
    if client.token_hash:
        cache.delete(_cache_key(client.token_hash))


def client_for_token(token: str) -> ApiClient | None:
    """Return the client the token belongs to (active or not), or None."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    token_hash = hash_token(token)
    key = _cache_key(token_hash)
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    client = ApiClient.objects.filter(token_hash=token_hash).first()
    # An unknown token is remembered too, so a flood of made-up ones costs no queries.
    cache.set(key, client or False, CACHE_SECONDS)
    return client


def touch(client: ApiClient) -> None:
    """Record that the client was just used, at most once every TOUCH_SECONDS."""
    if cache.add(f"api-client-used:{client.pk}", 1, TOUCH_SECONDS):
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>` of an active client that has `scope`."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def __call__(self, request: HttpRequest) -> Any:
        scheme, _sep, token = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != self.openapi_scheme or not token.strip():
            raise AuthenticationError(
                message=_("Falta el token: envíe la cabecera «Authorization: Bearer <token>».")
            )
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiClient:
        client = client_for_token(token)
        if client is None or not client.is_active:
            raise AuthenticationError(message=_("El token no es válido o fue revocado."))
        if not client.has_scope(self.scope):
            raise AuthorizationError(
                message=_("Este cliente de la API no tiene permiso para «%(scope)s».")
                % {"scope": self.scope}
            )
        touch(client)
        return client


class ClientRateLimit(BaseThrottle):
    """At most the authenticated client's `rate_limit_per_minute` requests a minute.

    Ninja runs throttles after authentication, so `request.auth` is the client here, and
    it adds the Retry-After header to the 429.
    """

    def allow_request(self, request: HttpRequest) -> bool:
        client = getattr(request, "auth", None)
        if not isinstance(client, ApiClient):
            return True
        return ratelimit.hit(
            f"api-client:{client.pk}", client.rate_limit_per_minute, WINDOW_SECONDS
        )

    def wait(self) -> float:
        return WINDOW_SECONDS - time.time() % WINDOW_SECONDS
