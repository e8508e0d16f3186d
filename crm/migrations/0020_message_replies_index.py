"""The effectiveness report's "answered": a partial index on customers' replies, probed once
per outbound message (the thread's index read every outbound message in between)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0019_import_batch_head"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("direction", "inbound")),
                fields=["customer", "created_at"],
                name="crm_message_replies_idx",
            ),
        ),
    ]
