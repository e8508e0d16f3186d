"""Where the customer portal sends a debtor instead of their statement.

A higher app registers a function from its `AppConfig.ready` (recovery: a debtor with an
active written-off campaign goes to the /recovery offer); the portal asks them in turn
once the debtor proved the code, and never imports them.
"""

from collections.abc import Callable

from django.http import HttpRequest

from collections_app.models import PaymentLink
from collections_app.receivables import Debt
from crm.models import Customer

# fn(request, customer, debts) -> the URL to go to, or None to stay. It gets the request to
# sign the debtor, who proved who they are here, into its own part of the session, and
# the customer's open debts of every kind but loans (receivables.open_debts), which the
# statement reads anyway: a destination decides on them without a query of its own.
Destination = Callable[[HttpRequest, Customer, list[Debt]], str | None]

_destinations: list[Destination] = []


def register(destination: Destination) -> None:
    """Add a destination; the same one again is a no-op (`ready` may run twice)."""
    if destination not in _destinations:
        _destinations.append(destination)


def unregister(destination: Destination) -> None:
    """Forget a destination (for tests)."""
    if destination in _destinations:
        _destinations.remove(destination)


def destination(request: HttpRequest, customer: Customer, debts: list[Debt]) -> str | None:
    """Return the first URL a registered function sends this customer to, or None."""
    for found in _destinations:
        url = found(request, customer, debts)
        if url:
            return url
    return None


# fn(link) -> the page that shows this link's state instead of the customer portal's, or
# None. A gateway sends every payer back to the customer portal's link page (the address
# given when the link was made); a link of another portal's debt goes on to that portal's.
LinkPage = Callable[[PaymentLink], str | None]

_link_pages: list[LinkPage] = []


def register_link_page(page: LinkPage) -> None:
    """Add a link page; the same one again is a no-op."""
    if page not in _link_pages:
        _link_pages.append(page)


def link_page(link: PaymentLink) -> str | None:
    """Return the first page a registered function shows this link on, or None."""
    for found in _link_pages:
        url = found(link)
        if url:
            return url
    return None
