"""Create the staff roles (groups) and give each its permissions.

Later apps add their own permissions to these groups in their own migrations.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = {
    "Administrador": "__all__",
    "Supervisor": [
        "crm.view_customer", "crm.add_customer", "crm.change_customer",
        "crm.view_interaction", "crm.add_interaction",
        "crm.view_branch", "crm.view_channel", "crm.view_product", "crm.view_tag",
    ],
    "Asesor": [
        "crm.view_customer", "crm.add_customer", "crm.change_customer",
        "crm.view_interaction", "crm.add_interaction",
    ],
    "Cobranzas": [
        "crm.view_customer", "crm.view_interaction", "crm.add_interaction",
    ],
    # The call-center area brings its own permissions; agents see no customer list.
    "Agente call center": [],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; this one needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        if perms == "__all__":
            group.permissions.set(Permission.objects.all())
            continue
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.add(*wanted)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
