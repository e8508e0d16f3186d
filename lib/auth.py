"""Permissions read from the cache: a page's checks cost no query once a person is known.

Every staff page asks what the person may do (the menu asks for a dozen areas), and
Django's ModelBackend loads that from the database on each request: the person's own
permissions and their groups'. `CachedPermissionsBackend` keeps the set in the cache,
and any change that could alter a set (a group, a permission, a membership, a person's
save other than the sign-in stamp) starts a new generation of cached sets.
"""

import contextlib

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

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


@receiver(post_save, dispatch_uid="lib.auth.forget_on_save")
@receiver(post_delete, dispatch_uid="lib.auth.forget_on_delete")
def _forget_on_change(sender, update_fields=None, **kwargs) -> None:
    from django.contrib.auth import get_user_model

    if sender in (Group, Permission):
        forget_permissions()
    elif sender is get_user_model() and set(update_fields or ()) != {"last_login"}:
        # is_active, is_superuser…; signing in only stamps last_login.
        forget_permissions()


@receiver(m2m_changed, dispatch_uid="lib.auth.forget_on_membership")
def _forget_on_membership(sender, action, **kwargs) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model()
    relations = (user.groups.through, user.user_permissions.through, Group.permissions.through)
    if sender in relations and action.startswith("post_"):
        forget_permissions()
