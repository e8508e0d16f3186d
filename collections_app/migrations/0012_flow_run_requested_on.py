from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0011_queue_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="flow",
            name="run_requested_on",
            field=models.DateField(blank=True, null=True, verbose_name="ejecución pedida para"),
        ),
    ]
