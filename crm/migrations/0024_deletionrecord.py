"""The deletions audit moves down from gestiones to the core, so collections_app and credits
record their deletions too (they may import crm, never crm.gestiones).

State only: the table stays `gestiones_deletionrecord` with its rows and index.
gestiones 0022 widens `kind` to 30 characters in the database (the kinds are registered
codes now, not choices), removes the model from gestiones' state and renames its content
type, so groups keep the permission as `crm.view_deletionrecord`.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0023_exportjob_attempts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="DeletionRecord",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("kind", models.CharField(max_length=30, verbose_name="qué")),
                        ("object_id", models.PositiveBigIntegerField(verbose_name="n.º que tenía")),
                        ("name", models.CharField(max_length=255, verbose_name="nombre")),
                        (
                            "details",
                            models.JSONField(
                                blank=True, default=list, verbose_name="datos que tenía"
                            ),
                        ),
                        (
                            "deleted_by_name",
                            models.CharField(
                                blank=True, max_length=150, verbose_name="nombre de quien eliminó"
                            ),
                        ),
                        (
                            "deleted_at",
                            models.DateTimeField(
                                default=django.utils.timezone.now, verbose_name="eliminado"
                            ),
                        ),
                        (
                            "deleted_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="eliminado por",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "eliminación",
                        "verbose_name_plural": "eliminaciones",
                        "db_table": "gestiones_deletionrecord",
                        "ordering": ["-deleted_at", "-id"],
                        "indexes": [
                            models.Index(
                                fields=["-deleted_at", "-id"], name="gestiones_deletion_idx"
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
