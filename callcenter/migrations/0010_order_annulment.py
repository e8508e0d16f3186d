"""An order confirmed by mistake can be annulled before dispatch: its own status, who, when
and why, the Kommo stage before the sale, a stock movement reason, a lead state, and the
permission (supervisors, admins; an agent annuls only their own order, for a short while:
callcenter.services.orders.may_annul)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def sync_roles(apps, schema_editor):
    from crm.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("callcenter", "0009_catalogimport_attempts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="order",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [("annul_order", "Puede anular pedidos no despachados")],
                "verbose_name": "pedido",
                "verbose_name_plural": "pedidos",
            },
        ),
        migrations.AddField(
            model_name="order",
            name="annul_reason",
            field=models.CharField(blank=True, max_length=255, verbose_name="motivo de anulación"),
        ),
        migrations.AddField(
            model_name="order",
            name="annulled_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="anulado el"),
        ),
        migrations.AddField(
            model_name="order",
            name="annulled_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="anulado por",
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="kommo_pipeline_before",
            field=models.BigIntegerField(
                blank=True, null=True, verbose_name="embudo en Kommo antes de la venta"
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="kommo_status_before",
            field=models.BigIntegerField(
                blank=True, null=True, verbose_name="etapa en Kommo antes de la venta"
            ),
        ),
        migrations.AlterField(
            model_name="lead",
            name="state",
            field=models.CharField(
                choices=[
                    ("new", "Nuevo"),
                    ("no_answer", "No contesta"),
                    ("callback", "Volver a llamar"),
                    ("sold", "Venta confirmada"),
                    ("order_annulled", "Pedido anulado"),
                    ("not_interested", "No interesado"),
                    ("left", "Fuera de la etapa"),
                ],
                default="new",
                max_length=20,
                verbose_name="estado",
            ),
        ),
        migrations.AlterField(
            model_name="order",
            name="status",
            field=models.CharField(
                choices=[
                    ("confirmed", "Confirmado"),
                    ("dispatched", "Despachado"),
                    ("annulled", "Anulado"),
                ],
                default="confirmed",
                max_length=20,
                verbose_name="estado",
            ),
        ),
        migrations.AlterField(
            model_name="stockmovement",
            name="reason",
            field=models.CharField(
                choices=[
                    ("import", "Importación"),
                    ("adjustment", "Ajuste"),
                    ("sale", "Venta"),
                    ("annulment", "Anulación de pedido"),
                ],
                max_length=20,
                verbose_name="motivo",
            ),
        ),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
