"""The one way provider modules talk HTTP: a timeout always, no silent retries, our two errors.

Retries belong to the caller (the outbox, a Celery task), which records each attempt; a
retry hidden inside urllib3 would repeat a non-idempotent POST without anyone knowing.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django.utils.translation import gettext
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from integrations import payloads
from integrations.errors import ProviderError, TemporaryProviderError

# (connect, read) seconds: a provider that takes longer is treated as down.
DEFAULT_TIMEOUT = (5, 20)
USER_AGENT = "Cartera/1.0"
# How much of an error response to keep in the error message (and so in last_error).
ERROR_BODY_CHARS = 500
# The longest wait a provider's Retry-After is taken at: past it, the call is tried anyway.
MAX_RETRY_AFTER_SECONDS = 24 * 60 * 60.0


class TimeoutSession(requests.Session):
    """A session that applies DEFAULT_TIMEOUT to every request that does not set one."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any):
        # requests waits forever by default; an explicit timeout=None is treated as unset too.
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = DEFAULT_TIMEOUT
        return super().request(method, url, *args, **kwargs)


def session() -> requests.Session:
    """Return a session with the default timeout, our User-Agent and no automatic retries."""
    http = TimeoutSession()
    http.headers["User-Agent"] = USER_AGENT
    adapter = HTTPAdapter(max_retries=Retry(total=0, read=False))
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    return http


def raise_for_response(response: requests.Response) -> requests.Response:
    """Raise TemporaryProviderError on 429/5xx and ProviderError on other 4xx; else return it."""
    status = response.status_code
    if status < 400:
        return response
    message = gettext("%(method)s %(url)s respondió HTTP %(status)s: %(body)s") % {
        "method": response.request.method if response.request else "",
        "url": _without_query(response.url),
        "status": status,
        "body": response.text[:ERROR_BODY_CHARS],
    }
    if status == 429 or status >= 500:
        raise TemporaryProviderError(message, retry_after=retry_after_seconds(response))
    raise ProviderError(message)


def retry_after_seconds(response: requests.Response) -> float | None:
    """Return the wait a Retry-After header asks for (seconds or an HTTP date), if any.

    At most MAX_RETRY_AFTER_SECONDS: a header of 400 digits is infinity as a float, which
    broke the retry plan, and a wait of years would leave the call unsent for them.
    """
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, (when - datetime.now(UTC)).total_seconds()), MAX_RETRY_AFTER_SECONDS)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn requests' exceptions into ours: timeouts and broken connections are temporary."""
    try:
        yield
    except (
        requests.Timeout,
        requests.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
    ) as exc:
        raise TemporaryProviderError(
            gettext("El proveedor no respondió: %(error)s") % {"error": exc}
        ) from exc
    except requests.RequestException as exc:
        # A malformed URL, too many redirects...: retrying the same call won't fix it.
        raise ProviderError(
            gettext("No se pudo llamar al proveedor: %(error)s") % {"error": exc}
        ) from exc


def request(http: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    """Send one request and return the response, raising our errors for any failure."""
    with translate_errors():
        response = http.request(method, url, **kwargs)
    return raise_for_response(response)


def _without_query(url: str) -> str:
    # Query strings may carry access tokens; error messages end up in the admin.
    return url.split("?", 1)[0]


def answer_json(response: requests.Response) -> Any:
    """Return a provider's JSON answer as we keep it; raise ValueError when it is not JSON.

    Nested deeper than Python's parser goes (RecursionError, not a ValueError) counts as
    not JSON, so each client's "unexpected answer" covers it. NUL characters are taken out
    (`payloads.without_nul`).
    """
    try:
        answer = response.json()
    except RecursionError as exc:
        raise ValueError("The answer is nested too deep to read.") from exc
    return payloads.without_nul(answer)
