"""Let supervisors read the deletions audit (crm.roles), after every app's own sync."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from crm.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("gestiones", "0004_deletions_and_opted_out_targets"),
        # The last sync so far: it runs first, so this one leaves the whole table applied.
        ("crm", "0007_identity_roles"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
