"""Reads of the deletions audit."""

from django.db.models import QuerySet

from crm.gestiones.models import DeletionRecord


def deletion_list(*, kind: str = "") -> QuerySet[DeletionRecord]:
    """Return the deletions, newest first (of one kind when given)."""
    records = DeletionRecord.objects.select_related("deleted_by").order_by("-deleted_at", "-id")
    if kind:
        records = records.filter(kind=kind)
    return records
