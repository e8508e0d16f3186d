"""The /recovery portal's part of the session: the debtor who identified, their campaign and
their visit.

Its own key, apart from staff sign-in and from the customer portal's keys (a debtor the
customer portal sends here keeps both). Identifying rotates the session key (no
fixation); a visitor idle longer than settings.PORTAL_SESSION_IDLE_MINUTES, the customer
portal's timeout, is signed out on the next request.
"""

from dataclasses import dataclass

from django.http import HttpRequest

from collections_app.portal import session as customer_portal_session

VISITOR = "recovery_visitor"


@dataclass(frozen=True)
class Visitor:
    """A visitor known to be the customer with this campaign, and their visit."""

    customer_id: int
    campaign_id: int
    visit_id: int


def sign_in(request: HttpRequest, *, customer_id: int, campaign_id: int, visit_id: int) -> None:
    """Hold the visitor in a new session key until they leave or go idle."""
    request.session.cycle_key()
    request.session[VISITOR] = {
        "customer": customer_id,
        "campaign": campaign_id,
        "visit": visit_id,
        "seen_at": customer_portal_session.now(),
    }


def visitor(request: HttpRequest, *, renew: bool = True) -> Visitor | None:
    """Return the visitor, or None; end the visit, and say so, when it sat idle too long.

    Each call counts as activity, unless `renew` is False (a page reloading itself).
    """
    data = request.session.get(VISITOR)
    if not isinstance(data, dict):
        return None
    try:
        found = Visitor(
            customer_id=int(data["customer"]),
            campaign_id=int(data["campaign"]),
            visit_id=int(data["visit"]),
        )
        # The customer portal's idle rule, counted the same way.
        active = customer_portal_session.still_active(request, VISITOR, data, renew=renew)
    except (KeyError, TypeError, ValueError):
        sign_out(request)
        return None
    if not active:
        sign_out(request)
        request.recovery_timed_out = True
        return None
    return found


def sign_out(request: HttpRequest) -> None:
    """End the visit; a staff sign-in and a customer-portal visit are left alone."""
    if request.session.pop(VISITOR, None) is not None:
        request.session.cycle_key()
