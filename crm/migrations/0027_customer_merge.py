import django.db.models.deletion
from django.db import migrations, models


def sync_roles(apps, schema_editor):
    from crm.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    # Numbered 0026 beside 0026_importbatch_attempts (written at the same time); it comes
    # after it so the graph keeps one leaf.
    dependencies = [
        ("crm", "0026_importbatch_attempts"),
        # The last sync of the roles so far: it runs first, so this one leaves the whole
        # table applied.
        ("gestiones", "0022_deletionrecord_to_crm"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="customer",
            options={
                "ordering": ["last_name", "first_name", "id"],
                "permissions": [
                    (
                        "change_customer_identity",
                        "Puede cambiar el documento y los nombres de un cliente con créditos",
                    ),
                    ("merge_customer", "Puede fusionar dos registros del mismo cliente"),
                ],
                "verbose_name": "cliente",
                "verbose_name_plural": "clientes",
            },
        ),
        migrations.AddField(
            model_name="customer",
            name="merged_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="fusionado el"
            ),
        ),
        migrations.AddField(
            model_name="customer",
            name="merged_into",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="crm.customer",
                verbose_name="fusionado en",
            ),
        ),
        # The Supervisor role gets crm.merge_customer (crm.roles).
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
