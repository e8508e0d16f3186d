"""The customers list's "última interacción" order with the never contacted last going
down and first going up (an import leaves them without one: crm.services.system_entry_row);
the index it replaces put them first going down on PostgreSQL, last on SQLite."""

from django.db import migrations, models

import lib.indexes


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0017_customer_autovacuum"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="customer",
            name="crm_cust_last_inter_idx",
        ),
        migrations.AddIndex(
            model_name="customer",
            index=lib.indexes.NullsOrderedIndex(
                models.OrderBy(models.F("last_interaction_at"), descending=True, nulls_last=True),
                models.OrderBy(models.F("id"), descending=True),
                name="crm_cust_last_contact_idx",
            ),
        ),
    ]
