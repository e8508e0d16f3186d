from django.db import migrations


def sync_roles(apps, schema_editor):
    from crm.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0001_initial"),
        ("credits", "0008_payment_source_clear"),
        ("crm", "0012_interaction_kind_bot"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
