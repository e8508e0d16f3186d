"""Customers who need attention, shown above the inbox: a promise broken lately, a payment
they reported waiting to be verified, a message of theirs unanswered for hours.

Six queries whatever the numbers: for each kind, a count that stops past CAP and its
first rows, with the customer joined and the written-off tag read by an EXISTS.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app.conversations import selectors
from collections_app.models import Conversation, PaymentPromise, ReportedPayment

# How many rows of each kind the panel lists; the count says how many there are in all.
ROWS = 5
# Counted up to this many ("99+" above).
CAP = 99
# A promise broken within these many days still asks for a call.
BROKEN_DAYS = 30

BROKEN = "broken"
REPORTED = "reported"
UNANSWERED = "unanswered"


@dataclass(frozen=True)
class Alert:
    """One kind of attention: how many customers, and the first ones."""

    kind: str
    title: str
    count: int
    rows: list

    @property
    def is_capped(self) -> bool:
        return self.count > CAP


def unanswered_hours() -> int:
    """Return after how many hours an unanswered message is an alert (at least 1)."""
    return max(1, int(getattr(settings, "COLLECTIONS_UNANSWERED_HOURS", 4)))


def attention(*, rows: int = ROWS) -> list[Alert]:
    """Return the three alerts, each with its count and first rows."""
    now = timezone.now()
    hours = unanswered_hours()
    broken = PaymentPromise.objects.filter(
        status=PaymentPromise.Status.BROKEN,
        # promised_on is indexed; a promise is found broken the day after it.
        promised_on__gte=timezone.localdate() - datetime.timedelta(days=BROKEN_DAYS),
    ).order_by("-promised_on", "-pk")
    reported = ReportedPayment.objects.filter(status=ReportedPayment.Status.PENDING).order_by(
        "created_at", "pk"
    )
    unanswered = Conversation.objects.filter(
        awaiting_reply_since__lte=now - datetime.timedelta(hours=hours)
    ).order_by("awaiting_reply_since", "pk")
    return [
        _alert(BROKEN, _("Compromisos incumplidos (30 días)"), broken, rows),
        _alert(REPORTED, _("Pagos informados por verificar"), reported, rows),
        _alert(
            UNANSWERED,
            _("Mensajes sin responder hace más de %(hours)s h") % {"hours": hours},
            unanswered,
            rows,
        ),
    ]


def _alert(kind: str, title: str, queryset: QuerySet, rows: int) -> Alert:
    count = queryset.order_by()[: CAP + 1].count()
    first = (
        list(
            queryset.select_related("customer").annotate(
                is_castigada=selectors.is_written_off("customer_id")
            )[:rows]
        )
        if count
        else []
    )
    return Alert(kind=kind, title=title, count=count, rows=first)
