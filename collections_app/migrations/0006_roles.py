from django.db import migrations


def sync_roles(apps, schema_editor):
    from crm.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("collections_app", "0005_conversations_strategies"),
        ("crm", "0013_message_messagepolicy"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
