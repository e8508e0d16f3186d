"""The request a log line belongs to: its id and its user, in web requests and in tasks.

`lib.middleware.RequestIdMiddleware` binds each request for as long as it runs; the
`RequestContextFilter` of the console handler (settings.LOGGING) then writes
`request_id=… user_id=…` on every line. A task sent during a request carries both in its
message headers (config/celery.py connects the Celery signals below), so the worker's
lines about it name the same request.
"""

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.functional import LazyObject

REQUEST_ID_HEADER = "X-Request-ID"
# Message headers of a task sent during a request.
TASK_REQUEST_ID = "cartera_request_id"
TASK_USER_ID = "cartera_user_id"
# What a proxy's id may look like (nginx's $request_id, a UUID, a load balancer's trace
# id): anything else is replaced, so a client cannot write line breaks or markup into
# the logs, the response headers or the error page.
_VALID_ID = re.compile(r"[A-Za-z0-9._:=+/-]{1,128}")
_NONE = "-"


@dataclass(frozen=True)
class _Context:
    request_id: str
    # The request, to read its user when a line is logged; in a task, the sender's id.
    request: HttpRequest | None = None
    user_id: str | None = None


_current: ContextVar[_Context | None] = ContextVar("cartera_request_context", default=None)
# Tokens of the contexts bound for running tasks, by task id.
_task_tokens: dict[str, Token] = {}


def request_id_for(request: HttpRequest) -> str:
    """Return the id the proxy gave the request in X-Request-ID if it is sane, else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex


@contextmanager
def bound(
    *, request_id: str, request: HttpRequest | None = None, user_id: str | None = None
) -> Iterator[None]:
    """Make the lines logged inside the block name this request (or task) and its user."""
    token = _current.set(_Context(request_id=request_id, request=request, user_id=user_id))
    try:
        yield
    finally:
        _current.reset(token)


def current_request_id() -> str | None:
    """Return the id of the request (or of the task's request) being handled, if any."""
    context = _current.get()
    return context.request_id if context else None


def loaded_user_id(request: HttpRequest | None) -> str | None:
    """Return the id of the request's signed-in user, if the request has loaded it already.

    Never loads it: a log line must not query the database (it may be what failed).
    """
    if request is None:
        return None
    # AuthenticationMiddleware's lazy `request.user` keeps the user here once it is read.
    user = getattr(request, "_cached_user", None)
    if user is None:
        user = vars(request).get("user")
        if isinstance(user, LazyObject):
            return None
    pk = getattr(user, "pk", None)
    return None if pk is None else str(pk)


class RequestContextFilter(logging.Filter):
    """Set `request_id` and `user_id` on every record ("-" outside a request), for the format."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        # Django's request lines (4xx, 5xx) carry their request, and may be logged after
        # the middleware has unbound it.
        request = getattr(record, "request", None)
        if not isinstance(request, HttpRequest):
            request = context.request if context else None
        request_id = getattr(request, "request_id", None) or (
            context.request_id if context else None
        )
        user_id = loaded_user_id(request) or (context.user_id if context else None)
        record.request_id = request_id or _NONE
        record.user_id = user_id or _NONE
        return True


# --- Celery signal receivers (connected in config/celery.py) ---------------------------


def add_to_task_headers(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    """before_task_publish: put the current request's id and user in the task's headers."""
    context = _current.get()
    if context is None or headers is None:
        return
    headers.setdefault(TASK_REQUEST_ID, context.request_id)
    user_id = loaded_user_id(context.request) or context.user_id
    if user_id:
        headers.setdefault(TASK_USER_ID, user_id)


def bind_task(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    """task_prerun: name the sending request in the lines the task logs."""
    request = getattr(task, "request", None)
    # A worker puts the message's headers on the task's request; an eager `apply`
    # keeps them apart, under `headers`.
    headers = getattr(request, "headers", None) or {}
    request_id = getattr(request, TASK_REQUEST_ID, None) or headers.get(TASK_REQUEST_ID)
    if not request_id or task_id is None:
        # Sent by beat or a command; or run inline, inside the request's own context.
        return
    user_id = getattr(request, TASK_USER_ID, None) or headers.get(TASK_USER_ID)
    context = _Context(request_id=str(request_id), user_id=str(user_id) if user_id else None)
    _task_tokens[task_id] = _current.set(context)


def unbind_task(task_id: str | None = None, **_kwargs: Any) -> None:
    """task_postrun: forget the task's request."""
    token = _task_tokens.pop(task_id, None) if task_id is not None else None
    if token is None:
        return
    try:
        _current.reset(token)
    except ValueError:
        # Bound in another context (a pool that runs prerun and postrun apart).
        _current.set(None)


def tag_sentry_event(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    """Sentry's before_send: tag the event with the request id of the logs and error page."""
    request_id = current_request_id()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event
