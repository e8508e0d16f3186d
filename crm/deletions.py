"""The audit of what was deleted from the configuration: one row per deletion, written in
the transaction that deletes, so a deletion without its record never happens.

What a deleted row was is a *kind*: a short code the app that owns the row registers with
the label people read (gestiones: goals, surveys, campaigns, document templates;
collections_app: segments, message templates, flows; credits: loan products). The core
lists none of them, as it never imports the apps above it.
"""

import datetime
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from crm.models import DeletionRecord
from lib import people
from lib.registry import Registry

KIND_MAX_LENGTH = DeletionRecord._meta.get_field("kind").max_length

_kinds: Registry[Any] = Registry("A deletion kind")


def register_deletion_kind(code: str, label: Any) -> None:
    """Show the deletions of kind `code` as `label` (a lazy translation)."""
    if not code or len(code) > KIND_MAX_LENGTH:
        raise ImproperlyConfigured(
            f"A deletion kind is 1 to {KIND_MAX_LENGTH} characters long: {code!r}."
        )
    _kinds.register(code, label)


def unregister_deletion_kind(code: str) -> None:
    """Forget the kind `code` (for tests)."""
    _kinds.unregister(code)


def kind_label(code: str) -> str:
    """Return the label of the kind `code`; the code itself when no app registered it."""
    label = _kinds.get(code)
    return code if label is None else str(label)


def kinds() -> list[tuple[str, str]]:
    """Return the registered kinds as (code, label) pairs, by label."""
    return sorted(((code, kind_label(code)) for code in _kinds.names()), key=lambda kv: kv[1])


def record_deletion(
    *,
    kind: str,
    object_id: int,
    name: str,
    details: Iterable[tuple[str, str]] = (),
    actor: AbstractBaseUser | None,
    now: datetime.datetime | None = None,
) -> DeletionRecord:
    """Write who deleted what and when, with the values it had (inside the deleting
    transaction)."""
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
