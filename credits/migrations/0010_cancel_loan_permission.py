"""Cancelling a loan has its own permission (supervisors, admins): an advisor cancels only
their own draft (credits.forms.may_take)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from crm.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0009_loan_redundant_indexes"),
        ("crm", "0019_import_batch_head"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="loan",
            options={
                "ordering": ["-created_at", "-id"],
                "permissions": [
                    ("disburse_loan", "Puede desembolsar créditos"),
                    ("cancel_loan", "Puede anular créditos (antes del desembolso)"),
                    ("write_off_loan", "Puede castigar créditos"),
                    ("view_portfolio", "Puede ver el reporte de cartera"),
                ],
                "verbose_name": "crédito",
                "verbose_name_plural": "créditos",
            },
        ),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
