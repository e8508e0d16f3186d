"""Rows of small tables (branches, gestión types and states, people) kept in each process.

A list page names each row's branch, type, state and agent: rows of tables of a few
dozen or hundred rows that change a few times a day. Prefetching them cost a query and a
model instance per row on every page (~0.75 ms a table, four tables on the gestión list).
Here each process keeps them by pk and checks one shared version number per table in the
cache (one round trip for all, at most once a second: lib.shared_versions): a save or
delete of a row, in any web process, bumps its table's version, and every process reloads
the table on its next check. A change that sends no signal (a queryset `update()`, a worker
that never loaded the table here) shows after MAX_AGE seconds.

    branches, states, users = small_tables.rows(Branch, GestionState, small_tables.people())
    gestion.state = states[gestion.state_id]
"""

import contextlib
import time

from django.core.cache import cache
from django.db.models import Model, QuerySet
from django.db.models.signals import post_delete, post_save

from lib import shared_versions

MAX_AGE = 60
_kept: dict[tuple, tuple[int, float, dict[int, Model]]] = {}
_watched: set[str] = set()


def rows(*tables: type[Model] | QuerySet) -> list[dict[int, Model]]:
    """Return, for each table, its rows by pk (as this process keeps them, current).

    A table is a model (every column) or a queryset of all its rows with `only()` the
    columns needed (people: their names, not their password hashes).
    """
    querysets = [t if isinstance(t, QuerySet) else t._default_manager.all() for t in tables]
    keys = [_version_key(queryset.model) for queryset in querysets]
    versions = shared_versions.recent(keys) or shared_versions.settle(cache.get_many(keys), keys)
    now = time.monotonic()
    found = []
    for queryset, key in zip(querysets, keys, strict=True):
        _watch(queryset.model)
        version = versions[key]
        # By table and columns: a copy of a few columns never stands in for all of them.
        fields, deferred = queryset.query.deferred_loading
        name = (queryset.model._meta.label_lower, tuple(sorted(fields)), deferred)
        kept = _kept.get(name)
        if kept is None or kept[0] != version or now - kept[1] > MAX_AGE:
            kept = (version, now, {row.pk: row for row in queryset.order_by()})
            _kept[name] = kept
        found.append(kept[2])
    return found


def people() -> QuerySet:
    """The user table as `rows` keeps it: what a list writes of a person (lib.people)."""
    from django.contrib.auth import get_user_model

    return get_user_model()._default_manager.only("username", "first_name", "last_name")


def _version_key(model: type[Model]) -> str:
    return f"small-tables:version:{model._meta.label_lower}"


def watch(*models: type[Model]) -> None:
    """Bump each table's version on a save or delete in this process from now on, also
    before this process reads the table: a web process that only edits a table others keep
    (the message policy, read by the workers) tells them at once, not after MAX_AGE."""
    for model in models:
        _watch(model)


def _watch(model: type[Model]) -> None:
    label = model._meta.label_lower
    if label not in _watched:
        _watched.add(label)
        on_row_change(model, _changed, "lib.small_tables")


def on_row_change(model: type[Model], receiver, uid: str) -> None:
    """Call `receiver(sender, **kwargs)` when a row of `model` is saved or deleted.

    Connected per model, never for every model: a delete listener on a model costs its
    QuerySet.delete() Django's fast path (it must then load each row to signal it).
    """
    label = model._meta.label_lower
    post_save.connect(receiver, sender=model, dispatch_uid=f"{uid}.save.{label}")
    post_delete.connect(receiver, sender=model, dispatch_uid=f"{uid}.delete.{label}")


def attach(objects, **tables: dict[int, Model]) -> None:
    """Set each object's foreign key `name` to its row of `tables[name]` (a `rows` map).

    A row added since the copy was read is left to the field (one query if shown).
    """
    for obj in objects:
        for name, kept in tables.items():
            row = kept.get(getattr(obj, f"{name}_id"))
            if row is not None:
                setattr(obj, name, row)


def _changed(sender: type[Model], **kwargs) -> None:
    label = sender._meta.label_lower
    for name in [name for name in _kept if name[0] == label]:
        del _kept[name]
    with contextlib.suppress(ValueError):  # no version yet: no process keeps the table
        cache.incr(_version_key(sender))
    shared_versions.forget(_version_key(sender))
