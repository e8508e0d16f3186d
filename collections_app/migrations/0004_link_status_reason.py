from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0003_receivable_currency"),
    ]

    # Renamed, not dropped: a failed link's gateway error and a cancelled link's reason stay.
    operations = [
        migrations.RenameField(
            model_name="paymentlink", old_name="error", new_name="status_reason"
        ),
        migrations.AlterField(
            model_name="paymentlink",
            name="status_reason",
            field=models.CharField(blank=True, max_length=255, verbose_name="motivo"),
        ),
    ]
