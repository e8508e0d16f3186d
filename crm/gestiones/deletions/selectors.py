"""Reads of the deletions audit."""

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from crm.models import DeletionRecord
from lib import people, repeats, search

# A deletion confirmed again this soon by the same person is the same confirmation sent twice.
DELETION_REPEAT_WINDOW = timedelta(minutes=1)


def deletion_list(*, kind: str = "", q: str = "") -> QuerySet[DeletionRecord]:
    """Return the deletions, newest first (of one kind, and whose name or deleter has `q`,
    when given)."""
    records = DeletionRecord.objects.select_related("deleted_by").order_by("-deleted_at", "-id")
    if kind:
        records = records.filter(kind=kind)
    # Configuration rows deleted by hand, one confirmation each: few.
    records = search.in_small_table(records, q, "name", "deleted_by_name")
    return records


def just_deleted(*, kind: str, object_id: int, user: AbstractBaseUser) -> DeletionRecord | None:
    """Return `user`'s deletion of that row a moment ago, if any: the confirmation sent
    twice (a double click on «Sí, eliminar»), whose second finds the row gone."""
    return repeats.made_within(
        DeletionRecord.objects.filter(
            kind=kind, object_id=object_id, deleted_by=people.signed_in(user)
        ),
        DELETION_REPEAT_WINDOW,
        field="deleted_at",
    )
