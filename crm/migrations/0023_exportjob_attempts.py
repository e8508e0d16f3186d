from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0022_exportjob"),
    ]

    operations = [
        migrations.AddField(
            model_name="exportjob",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="reenvíos"),
        ),
    ]
