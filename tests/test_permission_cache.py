"""Each person's permission set is cached (lib.auth) and forgotten when roles change,
including the changes a migration makes through historical models, which send no signal."""

from django.contrib.auth import get_user_model
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from crm import roles


def historical_apps():
    return MigrationExecutor(connection).loader.project_state().apps


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def test_a_permission_a_migration_takes_from_a_role_is_gone_at_once(asesor, monkeypatch):
    assert fresh(asesor).has_perm("credits.change_loan")  # cached now
    smaller = [p for p in roles.ROLES["Asesor"] if p != "credits.change_loan"]
    monkeypatch.setitem(roles.ROLES, "Asesor", smaller)

    roles.sync_roles(historical_apps())

    assert not fresh(asesor).has_perm("credits.change_loan")


def test_any_migrate_forgets_the_cached_permission_sets(asesor):
    assert fresh(asesor).has_perm("credits.change_loan")  # cached now
    # A data migration of its own, through the historical models: no signal.
    apps = historical_apps()
    group = apps.get_model("auth", "Group").objects.get(name="Asesor")
    group.permissions.remove(
        apps.get_model("auth", "Permission").objects.get(
            content_type__app_label="credits", codename="change_loan"
        )
    )

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert not fresh(asesor).has_perm("credits.change_loan")
