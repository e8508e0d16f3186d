"""The one way provider modules talk HTTP: a timeout always, no silent retries, our two errors.

Retries belong to the caller (the outbox, a Celery task), which records each attempt; a
retry hidden inside urllib3 would repeat a non-idempotent POST without anyone knowing.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import urllib3.exceptions
from django.utils.translation import gettext
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from integrations import payloads
from integrations.errors import ProviderError, TemporaryProviderError

# (connect, read) seconds: a provider that takes longer is treated as down.
DEFAULT_TIMEOUT = (5, 20)
# The read timeout counts from each packet: a provider sending a byte every few seconds
# never reaches it. So a whole call (connecting, the answer's headers and its body) also
# has a deadline: its connect and read timeouts added up, 25 s by default, 8 s for a
# client's (3, 5). Past it the call ends as a timeout, temporary like any other.
# The most of an answer's body we read: a larger one is refused before it fills the memory
# (the JSON answers we use are a few KB; DocuSeal's signed PDFs are the largest bodies).
MAX_BODY_BYTES = 10 * 1024 * 1024
# The body is read in pieces of at most this many bytes, the deadline checked between them.
_CHUNK_BYTES = 64 * 1024
USER_AGENT = "Cartera/1.0"
# How much of an error response to keep in the error message (and so in last_error).
ERROR_BODY_CHARS = 500
# The longest wait a provider's Retry-After is taken at: past it, the call is tried anyway.
MAX_RETRY_AFTER_SECONDS = 24 * 60 * 60.0


class OutcomeUnknown(ProviderError):
    """The provider answered a send with success (2xx) but its answer could not be read
    (not what it documents, cut off, too large): it most likely took the message, and no
    one can tell. Neither retried nor to be called "not sent": sending again may duplicate it.
    """


class BodyTooLarge(ProviderError):
    """The provider's answer is larger than MAX_BODY_BYTES: refused without reading it all.

    `response` is the answer, its body unread (its status code says whether it succeeded).
    """

    def __init__(self, *args: object, response: requests.Response) -> None:
        super().__init__(*args)
        self.response = response


class TimeoutSession(requests.Session):
    """A session that applies DEFAULT_TIMEOUT to every request that does not set one, and
    gives the whole call a deadline and its answer's body a size limit (MAX_BODY_BYTES).

    The body is read here, so the response comes back with its content, as without stream.
    """

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any):
        # requests waits forever by default; an explicit timeout=None is treated as unset too.
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = DEFAULT_TIMEOUT
        deadline = time.monotonic() + total_seconds(kwargs["timeout"])
        # Streamed, so that the body is read piece by piece against the deadline and the cap.
        kwargs["stream"] = True
        response = super().request(method, url, *args, **kwargs)
        _read_body(response, deadline=deadline, limit=MAX_BODY_BYTES)
        return response


def total_seconds(timeout: Any) -> float:
    """Return a call's deadline in seconds for its timeout: (connect, read) added up."""
    if isinstance(timeout, tuple | list):
        return float(sum(part for part in timeout if part is not None)) or sum(DEFAULT_TIMEOUT)
    if isinstance(timeout, int | float):
        return 2.0 * timeout
    return float(sum(DEFAULT_TIMEOUT))


def _read_body(response: requests.Response, *, deadline: float, limit: int) -> None:
    """Read a streamed response's body into it, by the deadline and up to `limit` bytes.

    A body still coming at the deadline raises requests' ReadTimeout, and one that breaks
    off its ConnectionError, both with the response (`accepted_but_unread` reads its status).
    """
    declared = (response.headers.get("Content-Length") or "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        response.close()
        raise _too_large(response, limit)
    try:
        body = _read_until(response.raw, deadline=deadline, limit=limit)
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
        response.close()
        raise requests.exceptions.ReadTimeout(exc, response=response) from exc
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError, OSError) as exc:
        response.close()
        raise requests.exceptions.ConnectionError(exc, response=response) from exc
    except urllib3.exceptions.DecodeError as exc:
        response.close()
        raise requests.exceptions.ContentDecodingError(exc, response=response) from exc
    except BaseException:
        response.close()
        raise
    if body is None:
        response.close()
        raise requests.exceptions.ReadTimeout(
            gettext("%(url)s no terminó de enviar su respuesta a tiempo.")
            % {"url": _without_query(response.url)},
            response=response,
        )
    if len(body) > limit:
        response.close()
        raise _too_large(response, limit)
    response._content = body
    response._content_consumed = True
    response.raw.release_conn()


def _read_until(raw: Any, *, deadline: float, limit: int) -> bytes | None:
    """Return the body; None when the deadline came first; past `limit`, what was read."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        # One socket read waits no longer than what is left of the deadline.
        _limit_socket_wait(raw, left)
        chunk = raw.read1(_CHUNK_BYTES, decode_content=True)
        if not chunk:
            break
        size += len(chunk)
        chunks.append(chunk)
    return b"".join(chunks)


def _limit_socket_wait(raw: Any, seconds: float) -> None:
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _too_large(response: requests.Response, limit: int) -> BodyTooLarge:
    return BodyTooLarge(
        gettext(
            "%(method)s %(url)s respondió HTTP %(status)s con una respuesta de más de "
            "%(mb)s MB: no se leyó."
        )
        % {
            "method": response.request.method if response.request else "",
            "url": _without_query(response.url),
            "status": response.status_code,
            "mb": limit // (1024 * 1024),
        },
        response=response,
    )


def accepted_but_unread(exc: BaseException) -> bool:
    """Whether a call's failure came after the provider answered it with success (2xx):
    its body was cut off, too slow or too large. A send may then have been made."""
    for error in (exc, exc.__cause__):
        response = getattr(error, "response", None)
        if isinstance(response, requests.Response) and 200 <= response.status_code < 300:
            return True
    return False


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
