from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0027_customer_merge"),
    ]

    operations = [
        migrations.AddField(
            model_name="messagepolicy",
            name="is_sms_unaccented",
            field=models.BooleanField(default=False, verbose_name="SMS sin tildes"),
        ),
    ]
