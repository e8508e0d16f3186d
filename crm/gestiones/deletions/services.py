"""The audit of what was deleted from the configuration: one row per deletion, written in
the transaction that deletes, so a deletion without its record never happens."""

import datetime
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from crm.gestiones.models import DeletionRecord
from lib import people


def record_deletion(
    *,
    kind: str,
    object_id: int,
    name: str,
    details: Iterable[tuple[str, str]] = (),
    actor: AbstractBaseUser | None,
    now: datetime.datetime | None = None,
) -> DeletionRecord:
    """Write who deleted what and when, with the values it had (call it before deleting)."""
    person = people.signed_in(actor)
    return DeletionRecord.objects.create(
        kind=kind,
        object_id=object_id,
        name=str(name)[:255],
        details=[[str(label), str(text)] for label, text in details],
        deleted_by=person,
        deleted_by_name=people.display_name(person)[:150],
        deleted_at=now or timezone.now(),
    )
