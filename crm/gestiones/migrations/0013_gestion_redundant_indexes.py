"""Drop the gestión's single-column indexes on customer, agent and campaign: the
(customer, -created_at), (agent, assigned_at) and (campaign, state) indexes lead with those
columns and serve their lookups, and every gestión written paid for three more indexes (a
table of a million rows in the bench).

By name, as recovery 0003 does: Django's AlterField(db_index=False) drops every plain
index on the column by what it finds in the database, and cannot say which it will be.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEXES = (
    ("gestiones_gestion_customer_id_98ecca79", "customer_id"),
    ("gestiones_gestion_agent_id_2b0adbfd", "agent_id"),
    ("gestiones_gestion_campaign_id_7e7b8b2f", "campaign_id"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0019_import_batch_head"),
        ("gestiones", "0012_list_sort_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "gestiones_gestion" ("{column}")',
                )
                for name, column in INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="gestion",
                    name="agent",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="gestiones",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="gestor a cargo",
                    ),
                ),
                migrations.AlterField(
                    model_name="gestion",
                    name="campaign",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="gestiones",
                        to="gestiones.campaign",
                        verbose_name="campaña",
                    ),
                ),
                migrations.AlterField(
                    model_name="gestion",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="gestiones",
                        to="crm.customer",
                        verbose_name="cliente",
                    ),
                ),
            ],
        ),
    ]
