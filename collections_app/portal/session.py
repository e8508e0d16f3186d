"""The portal's part of the session: who asked for a code, and who proved to be a customer.

Its own keys, apart from staff sign-in: a debtor never signs in as a user, and an agent
who opens the portal in the same browser stays signed in as themselves. Proving the code
rotates the session key (no fixation); a visitor idle longer than
settings.PORTAL_SESSION_IDLE_MINUTES is signed out of the portal on the next request.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from collections_app.portal.services import CODE_MINUTES

PENDING = "portal_pending"
VISITOR = "portal_visitor"
# Activity is noted at most this often: the idle timeout is counted in minutes, and a page
# that changes nothing then writes no session row.
SEEN_AT_STEP_SECONDS = 30
# What a page reloading itself adds to its address (partials/link_refresh.html): that
# reload is nobody's activity.
PAGE_RELOAD_QUERY = ("auto", "1")


@dataclass(frozen=True)
class Pending:
    """A visitor who asked for a code for a document and has not proved it yet."""

    document_type: str
    document_number: str
    started_at: float
    attempts: int

    @property
    def is_expired(self) -> bool:
        return now() - self.started_at > CODE_MINUTES * 60


@dataclass(frozen=True)
class Visitor:
    """A visitor who proved to be the customer, and their visit so far."""

    customer_id: int
    visit: str
    steps: tuple[str, ...]


def now() -> float:
    """The moment a visit's `seen_at` is counted in: seconds since the epoch (a timestamp,
    not an amount: a float is what a session's JSON keeps)."""
    return timezone.now().timestamp()


def _idle_seconds() -> int:
    return settings.PORTAL_SESSION_IDLE_MINUTES * 60


def is_page_reload(request: HttpRequest) -> bool:
    """Whether the request is a page reloading itself (its meta refresh), not a person.

    The reload asks for the page's address with PAGE_RELOAD_QUERY. A person who reloads that
    address by hand is told apart by the Sec-Fetch-User header, which browsers send only for
    what a person did; a browser without it counts their reload as the page's own, so the
    visit ends sooner, never later.
    """
    name, value = PAGE_RELOAD_QUERY
    return request.GET.get(name) == value and request.headers.get("Sec-Fetch-User") != "?1"


def still_active(request: HttpRequest, key: str, data: dict, *, renew: bool = True) -> bool:
    """Count a request as activity of the visit kept under `key` (this portal's or another's,
    such as /recovery's); return False when it sat idle longer than
    settings.PORTAL_SESSION_IDLE_MINUTES, and the caller signs it out. With `renew` False
    (a page reloading itself) the idle time is only checked, not restarted.

    Raise KeyError, TypeError or ValueError when `data` has no readable `seen_at`.
    """
    current = now()
    seen_at = float(data["seen_at"])
    if current - seen_at > _idle_seconds():
        return False
    if renew and current - seen_at >= SEEN_AT_STEP_SECONDS:
        request.session[key] = {**data, "seen_at": current}
    return True


def start_pending(request: HttpRequest, *, document_type: str, document_number: str) -> None:
    """Remember who the visitor says they are, until they enter the code."""
    request.session.pop(VISITOR, None)
    request.session[PENDING] = {
        "document_type": document_type,
        "document_number": document_number,
        "started_at": now(),
        "attempts": 0,
    }


def pending(request: HttpRequest) -> Pending | None:
    data = request.session.get(PENDING)
    if not isinstance(data, dict):
        return None
    try:
        return Pending(
            document_type=str(data["document_type"]),
            document_number=str(data["document_number"]),
            started_at=float(data["started_at"]),
            attempts=int(data["attempts"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def count_attempt(request: HttpRequest) -> int:
    """Count a wrong code; return how many the visitor has made for this code."""
    data = dict(request.session.get(PENDING) or {})
    data["attempts"] = int(data.get("attempts", 0)) + 1
    request.session[PENDING] = data
    return data["attempts"]


def forget_pending(request: HttpRequest) -> None:
    request.session.pop(PENDING, None)


def sign_in(request: HttpRequest, *, customer_id: int, visit: str, step: str) -> None:
    """Hold the customer in a new session key until the visitor leaves or goes idle."""
    request.session.pop(PENDING, None)
    request.session.cycle_key()
    request.session[VISITOR] = {
        "customer": customer_id,
        "visit": visit,
        "seen_at": now(),
        "steps": [step],
    }


def visitor(request: HttpRequest, *, renew: bool = True) -> Visitor | None:
    """Return the customer's visit, or None; end it, and say so, when it sat idle too long.

    Each call counts as activity, unless `renew` is False (a page reloading itself).
    """
    data = request.session.get(VISITOR)
    if not isinstance(data, dict):
        return None
    try:
        found = Visitor(
            customer_id=int(data["customer"]),
            visit=str(data["visit"]),
            steps=tuple(str(step) for step in data.get("steps", [])),
        )
        active = still_active(request, VISITOR, data, renew=renew)
    except (KeyError, TypeError, ValueError):
        sign_out(request)
        return None
    if not active:
        sign_out(request)
        request.portal_timed_out = True
        return None
    return found


def reach(request: HttpRequest, step: str) -> bool:
    """Note that the visit reached `step`; return True the first time it does."""
    data = dict(request.session.get(VISITOR) or {})
    steps = list(data.get("steps", []))
    if step in steps:
        return False
    data["steps"] = [*steps, step]
    request.session[VISITOR] = data
    return True


def sign_out(request: HttpRequest) -> None:
    """End the portal visit; a staff sign-in in the same browser is left alone."""
    had_visit = VISITOR in request.session
    request.session.pop(VISITOR, None)
    request.session.pop(PENDING, None)
    if had_visit:
        request.session.cycle_key()


# A higher portal's own sign-out (recovery: its offer's visit), registered from its
# AppConfig.ready: leaving the customer portal leaves every portal it sent the debtor to,
# or the next person at a shared phone would find their offer open.
_sign_outs: list[Callable[[HttpRequest], None]] = []


def register_sign_out(sign_out_there: Callable[[HttpRequest], None]) -> None:
    """Add another portal's sign-out; the same one again is a no-op (`ready` may run twice)."""
    if sign_out_there not in _sign_outs:
        _sign_outs.append(sign_out_there)


def sign_out_everywhere(request: HttpRequest) -> None:
    """End the portal visit and every registered portal's."""
    sign_out(request)
    for sign_out_there in _sign_outs:
        sign_out_there(request)
