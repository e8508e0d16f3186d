"""Let supervisors import customers and loans from files (crm.roles), after every app's own sync."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from crm.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0009_imports"),
        # The last sync so far: it runs first, so this one leaves the whole table applied.
        ("gestiones", "0005_deletion_roles"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
