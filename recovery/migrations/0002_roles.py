from django.db import migrations


def sync_roles(apps, schema_editor):
    from crm.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("recovery", "0001_initial"),
        ("collections_app", "0006_roles"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
