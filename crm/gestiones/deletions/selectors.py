"""Reads of the deletions audit."""

from django.db.models import Q, QuerySet

from crm.gestiones.models import DeletionRecord


def deletion_list(*, kind: str = "", q: str = "") -> QuerySet[DeletionRecord]:
    """Return the deletions, newest first (of one kind, and whose name or deleter has `q`,
    when given)."""
    records = DeletionRecord.objects.select_related("deleted_by").order_by("-deleted_at", "-id")
    if kind:
        records = records.filter(kind=kind)
    if q:
        records = records.filter(Q(name__icontains=q) | Q(deleted_by_name__icontains=q))
    return records
