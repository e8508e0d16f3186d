"""crm 0024 / gestiones 0022: the deletions audit moves to the core with its rows, and the
roles keep reading it, now as crm.view_deletionrecord."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from crm.models import DeletionRecord
from lib import auth

BEFORE = [("crm", "0023_exportjob_attempts"), ("gestiones", "0021_board_card_index")]


def _migrate(targets=None) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()
    auth.forget_permissions()


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_the_records_and_who_may_read_them(roles):
    _migrate(BEFORE)
    old = ContentType.objects.get(app_label="gestiones", model="deletionrecord")
    view = Permission.objects.get(content_type=old, codename="view_deletionrecord")
    supervisors = Group.objects.get(name="Supervisor")
    supervisors.permissions.add(view)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO gestiones_deletionrecord "
            "(kind, object_id, name, details, deleted_by_name, deleted_at) "
            "VALUES ('goal', 7, 'Meta de abril', '[]', 'Ana', CURRENT_TIMESTAMP)"
        )

    _migrate()

    assert DeletionRecord.objects.get().name == "Meta de abril"
    view.refresh_from_db()
    assert view.content_type.app_label == "crm"
    assert supervisors.permissions.filter(pk=view.pk).exists()
    assert not ContentType.objects.filter(app_label="gestiones", model="deletionrecord").exists()
