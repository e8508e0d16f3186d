"""The same form sent twice (a double click, the back button and send, a retry): the record
the first one made a moment ago, which the second should name or return, not repeat."""

from datetime import datetime, timedelta

from django.db.models import Model, QuerySet
from django.utils import timezone


def made_within(
    rows: QuerySet, window: timedelta, *, now: datetime | None = None, field: str = "created_at"
) -> Model | None:
    """Return the newest of `rows` made (`field`: when it was written) within `window`
    before now."""
    since = (now or timezone.now()) - window
    return rows.filter(**{f"{field}__gte": since}).order_by(f"-{field}", "-pk").first()
