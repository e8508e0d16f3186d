from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0025_messagepolicy_quiet_days"),
    ]

    operations = [
        migrations.AddField(
            model_name="importbatch",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="reenvíos"),
        ),
    ]
