"""The same form sent twice (a double click, the back button and send, a retry): the record
the first one made a moment ago, which the second should name or return, not repeat."""

from datetime import datetime, timedelta

from django.db.models import Model, QuerySet
from django.utils import timezone


def made_within(rows: QuerySet, window: timedelta, *, now: datetime | None = None) -> Model | None:
    """Return the newest of `rows` created (`created_at`) within `window` before now."""
    since = (now or timezone.now()) - window
    return rows.filter(created_at__gte=since).order_by("-created_at", "-pk").first()
