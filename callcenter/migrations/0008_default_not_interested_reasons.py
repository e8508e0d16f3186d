"""Give a fresh install a few reasons for «No interesado», so agents can record one.

Only when the list is empty: an install that already has its own reasons keeps them as
they are. Going back leaves the rows alone (calls may point at them).
"""

from django.db import migrations

DEFAULT_REASONS = [
    "No le interesa el producto",
    "Precio elevado",
    "Ya compró en otro lugar",
    "No califica",
    "Número equivocado",
    "Otro",
]


def add_default_reasons(apps, schema_editor):
    LossReason = apps.get_model("callcenter", "LossReason")
    if LossReason.objects.exists():
        return
    LossReason.objects.bulk_create(LossReason(name=name) for name in DEFAULT_REASONS)


class Migration(migrations.Migration):
    dependencies = [
        ("callcenter", "0007_queue_settings_bounds"),
    ]

    operations = [migrations.RunPython(add_default_reasons, migrations.RunPython.noop)]
