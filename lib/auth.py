"""Permissions read from the cache: a page's checks cost no query once a person is known.

Every staff page asks what the person may do (the menu asks for a dozen areas), and
Django's ModelBackend loads that from the database on each request: the person's own
permissions and their groups'. `CachedPermissionsBackend` keeps the set in the cache,
and any change that could alter a set (a group, a permission, a membership, a person's
save other than the sign-in stamp) starts a new generation of cached sets.

A person made inactive also loses their sessions (`end_sessions`): ticked «Activo» again,
they sign in again.
"""

import contextlib
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save, pre_save
from django.utils import timezone

PERMISSIONS_TTL = 60 * 60
_GENERATION = "auth:permissions-generation"


class CachedPermissionsBackend(ModelBackend):
    """ModelBackend whose permission sets come from the cache (Redis in production)."""

    def get_all_permissions(self, user_obj, obj=None):
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_cached_all_permissions"):
            key = f"auth:permissions:{user_obj.pk}"
            # One round trip: the generation and the set, kept with the generation it is of.
            found = cache.get_many([_GENERATION, key])
            generation = found.get(_GENERATION)
            if generation is None:
                generation = 1
                cache.add(_GENERATION, generation, timeout=None)
            cached = found.get(key)
            if cached is not None and cached[0] == generation:
                permissions = cached[1]
            else:
                permissions = super().get_all_permissions(user_obj)
                cache.set(key, (generation, permissions), PERMISSIONS_TTL)
            user_obj._cached_all_permissions = permissions
        return user_obj._cached_all_permissions


def forget_permissions() -> None:
    """Start a new generation: every person's set is read again from the database."""
    with contextlib.suppress(ValueError):  # never set: nothing cached yet
        cache.incr(_GENERATION)


def _forget_on_change(sender, update_fields=None, **kwargs) -> None:
    user = get_user_model()
    if sender is not user or set(update_fields or ()) != {"last_login"}:
        # A group, a permission, a person's is_active or is_superuser…; signing in only
        # stamps last_login.
        forget_permissions()


def end_sessions(user_pk: int) -> int:
    """End every live session of the person `user_pk` (signed in on any device); return how
    many. Sessions do not say whose they are in a column: the live ones (the debtors' portal
    sessions too) are read and decoded, which a deactivation, a rare admin act, can afford;
    the person's are deleted through the session store, so a cached copy (cached_db) goes too."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store, "get_model_class"):
        return 0  # sessions kept only in a cache or a cookie: nothing to look through
    wanted = str(user_pk)
    decode = store().decode
    rows = store.get_model_class().objects.filter(expire_date__gt=timezone.now())
    keys = [
        key
        for key, data in rows.values_list("session_key", "session_data").iterator()
        if str(decode(data).get(SESSION_KEY)) == wanted
    ]
    for key in keys:
        store(session_key=key).delete()
    return len(keys)


def _note_whether_active(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    # Whether the person was active before this save: only the save that deactivates them
    # reads the sessions (any later save of an inactive person has nothing left to end).
    if raw or instance.pk is None or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    instance._was_active = (
        sender.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
    )


def _end_sessions_when_inactive(sender, instance, created, update_fields=None, **kwargs) -> None:
    # Django treats an inactive person's request as anonymous but keeps their session: ticked
    # «Activo» again, a browser left signed in (a laptop at a branch) came back to life.
    if created or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    if instance.__dict__.pop("_was_active", None):
        end_sessions(instance.pk)


def _forget_on_membership(sender, action, **kwargs) -> None:
    if action.startswith("post_"):
        forget_permissions()


def _forget_after_migrating(sender, **kwargs) -> None:
    forget_permissions()


def connect_signals() -> None:
    """Listen to the models a permission set is made of, by sender: a delete listener on
    every model would cost each QuerySet.delete() Django's fast path. A migration changes
    roles through its historical models, which send no signal: every migrate ends by
    forgetting the sets (a permission it took away stayed usable for up to an hour)."""
    post_migrate.connect(_forget_after_migrating, dispatch_uid="lib.auth.post_migrate")
    user = get_user_model()
    for model in (user, Group, Permission):
        uid = f"lib.auth.{model._meta.label_lower}"
        post_save.connect(_forget_on_change, sender=model, dispatch_uid=f"{uid}.save")
        post_delete.connect(_forget_on_change, sender=model, dispatch_uid=f"{uid}.delete")
    pre_save.connect(_note_whether_active, sender=user, dispatch_uid="lib.auth.was_active")
    post_save.connect(
        _end_sessions_when_inactive, sender=user, dispatch_uid="lib.auth.end_sessions"
    )
    for relation in (user.groups.through, user.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(
            _forget_on_membership, sender=relation, dispatch_uid=f"lib.auth.{relation.__name__}"
        )
