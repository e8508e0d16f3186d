"""A supervisor puts back in the queue a lead a call's outcome took out of it
(callcenter.services.requeue): its state and permission, given to the Supervisor role."""

from django.db import migrations, models


def sync_roles(apps, schema_editor):
    from crm.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("callcenter", "0010_order_annulment"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="lead",
            options={
                "permissions": [
                    ("take_lead", "Puede tomar leads de la cola y registrar llamadas"),
                    ("release_lead", "Puede liberar leads tomados por otros agentes"),
                    ("requeue_lead", "Puede devolver a la cola leads que salieron de ella"),
                ],
                "verbose_name": "lead",
                "verbose_name_plural": "leads",
            },
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
                    ("requeued", "Devuelto a la cola"),
                ],
                default="new",
                max_length=20,
                verbose_name="estado",
            ),
        ),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
