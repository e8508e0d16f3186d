from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0024_deletionrecord"),
    ]

    operations = [
        migrations.AddField(
            model_name="messagepolicy",
            name="quiet_dates",
            field=models.JSONField(blank=True, default=list, verbose_name="feriados sin mensajes"),
        ),
        migrations.AddField(
            model_name="messagepolicy",
            name="quiet_weekdays",
            field=models.JSONField(
                blank=True, default=list, verbose_name="días de la semana sin mensajes"
            ),
        ),
    ]
