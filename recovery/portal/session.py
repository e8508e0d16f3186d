"""The /recovery portal's part of the session: the debtor who identified, their campaign and
their visit.

Its own key, apart from staff sign-in and from the customer portal's keys (a debtor the
customer portal sends here keeps both). Identifying rotates the session key (no
fixation); a visitor idle longer than settings.PORTAL_SESSION_IDLE_MINUTES, the customer
portal's timeout, is signed out on the next request.
"""

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from collections_app.portal.session import SEEN_AT_STEP_SECONDS

VISITOR = "recovery_visitor"


@dataclass(frozen=True)
class Visitor:
    """A visitor known to be the customer with this campaign, and their visit."""

    customer_id: int
    campaign_id: int
    visit_id: int


def _now() -> float:
    return timezone.now().timestamp()


def sign_in(request: HttpRequest, *, customer_id: int, campaign_id: int, visit_id: int) -> None:
    """Hold the visitor in a new session key until they leave or go idle."""
    request.session.cycle_key()
    request.session[VISITOR] = {
        "customer": customer_id,
        "campaign": campaign_id,
        "visit": visit_id,
        "seen_at": _now(),
    }


def visitor(request: HttpRequest) -> Visitor | None:
    """Return the visitor, or None; end the visit, and say so, when it sat idle too long.

    Each call counts as activity.
    """
    data = request.session.get(VISITOR)
    if not isinstance(data, dict):
        return None
    now = _now()
    try:
        seen_at = float(data["seen_at"])
        found = Visitor(
            customer_id=int(data["customer"]),
            campaign_id=int(data["campaign"]),
            visit_id=int(data["visit"]),
        )
    except (KeyError, TypeError, ValueError):
        sign_out(request)
        return None
    if now - seen_at > settings.PORTAL_SESSION_IDLE_MINUTES * 60:
        sign_out(request)
        request.recovery_timed_out = True
        return None
    if now - seen_at >= SEEN_AT_STEP_SECONDS:
        request.session[VISITOR] = {**data, "seen_at": now}
    return found


def sign_out(request: HttpRequest) -> None:
    """End the visit; a staff sign-in and a customer-portal visit are left alone."""
    if request.session.pop(VISITOR, None) is not None:
        request.session.cycle_key()
