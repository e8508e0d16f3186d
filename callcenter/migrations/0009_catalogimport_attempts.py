from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("callcenter", "0008_default_not_interested_reasons"),
    ]

    operations = [
        migrations.AddField(
            model_name="catalogimport",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0, verbose_name="reenvíos"),
        ),
    ]
