"""Mark the credit-application process and its approving and disbursed states, and let
advisors and supervisors work credit leads and applications (crm.roles)."""

from django.conf import settings
from django.db import migrations, models

# The example process (crm/gestiones/examples.py), where an installation loaded it.
CREDIT_APPLICATION_CODE = "solicitud-credito"
APPROVAL_STATE = "Aprobado análisis"
DISBURSEMENT_STATE = "Desembolsado"


def mark_example_process(apps, schema_editor):
    GestionType = apps.get_model("gestiones", "GestionType")
    GestionState = apps.get_model("gestiones", "GestionState")
    credit = GestionType.objects.filter(code=CREDIT_APPLICATION_CODE).first()
    if credit is None:
        return
    GestionType.objects.filter(pk=credit.pk).update(is_credit_application=True)
    states = GestionState.objects.filter(gestion_type=credit)
    states.filter(name=APPROVAL_STATE).update(is_approval=True)
    states.filter(name=DISBURSEMENT_STATE).update(is_disbursement=True)


def sync_roles(apps, schema_editor):
    from crm.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("gestiones", "0008_credit_applications"),
        # The last sync so far: it runs first, so this one leaves the whole table applied.
        ("crm", "0010_import_roles"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="gestionstate",
            name="is_approval",
            field=models.BooleanField(
                default=False,
                help_text="Al entrar a este estado se aprueba la solicitud de crédito y se crea el crédito en borrador.",
                verbose_name="aprueba la solicitud",
            ),
        ),
        migrations.AddField(
            model_name="gestionstate",
            name="is_disbursement",
            field=models.BooleanField(
                default=False,
                help_text="La gestión pasa a este estado cuando se desembolsa su crédito.",
                verbose_name="crédito desembolsado",
            ),
        ),
        migrations.AddField(
            model_name="gestiontype",
            name="is_credit_application",
            field=models.BooleanField(
                default=False,
                help_text="Los leads de crédito abren gestiones de este tipo; al aprobarlas se crea el crédito en borrador. Solo un tipo puede serlo.",
                verbose_name="solicitud de crédito",
            ),
        ),
        migrations.AddConstraint(
            model_name="gestiontype",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_credit_application", True)),
                fields=("is_credit_application",),
                name="gestiones_type_one_credit_application",
                violation_error_message="Ya hay otro tipo de gestión de solicitud de crédito.",
            ),
        ),
        migrations.RunPython(mark_example_process, migrations.RunPython.noop),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
