"""The gestión lists' sorts by amount and by due date read an index per direction, blanks
last either way (they read every gestión: 140–200 ms at 1,000,000)."""

from django.db import migrations, models

import lib.indexes


class Migration(migrations.Migration):
    dependencies = [
        ("gestiones", "0011_campaign_target_capped"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="gestion",
            index=models.Index(fields=["amount_requested", "id"], name="gestiones_amount_idx"),
        ),
        migrations.AddIndex(
            model_name="gestion",
            index=lib.indexes.NullsOrderedIndex(
                models.OrderBy(models.F("amount_requested"), descending=True, nulls_last=True),
                models.OrderBy(models.F("id"), descending=True),
                name="gestiones_amount_desc_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="gestion",
            index=models.Index(fields=["due_at", "id"], name="gestiones_due_idx"),
        ),
        migrations.AddIndex(
            model_name="gestion",
            index=lib.indexes.NullsOrderedIndex(
                models.OrderBy(models.F("due_at"), descending=True, nulls_last=True),
                models.OrderBy(models.F("id"), descending=True),
                name="gestiones_due_desc_idx",
            ),
        ),
    ]
