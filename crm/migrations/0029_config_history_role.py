"""Let supervisors read the settings history (crm.config_history, permission
admin.view_logentry in crm.roles)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from crm.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0028_messagepolicy_is_sms_unaccented"),
        # The permission's model: its app must be in the state the sync reads.
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
