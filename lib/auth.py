"""Permissions read from the cache: a page's checks cost no query once a person is known.

Every staff page asks what the person may do (the menu asks for a dozen areas), and
Django's ModelBackend loads that from the database on each request: the person's own
permissions and their groups'. `CachedPermissionsBackend` keeps the set in the cache,
and any change that could alter a set (a group, a permission, a membership, a person's
save other than the sign-in stamp) starts a new generation of cached sets.
"""

import contextlib

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

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
    for relation in (user.groups.through, user.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(
            _forget_on_membership, sender=relation, dispatch_uid=f"lib.auth.{relation.__name__}"
        )
