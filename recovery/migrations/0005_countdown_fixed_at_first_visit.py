"""A debtor's countdown is fixed at the first visit (`Campaign.countdown_ends_at`), and the
portal remembers when the countdown was last switched on."""

from datetime import timedelta

import django.core.validators
from django.db import migrations, models
from django.db.models import F


def fix_running_countdowns(apps, schema_editor):
    """Store the end of each countdown already running, as the portal computes it today
    (first visit + the hours set now): the deploy changes nothing a debtor sees, and from
    then on one rule reads every campaign. With the countdown off nothing runs: left blank."""
    settings_model = apps.get_model("recovery", "RecoverySettings")
    portal = settings_model.objects.order_by("pk").first()
    if portal is None or not portal.countdown_enabled:
        return
    campaign_model = apps.get_model("recovery", "Campaign")
    campaign_model.objects.filter(
        first_visit_at__isnull=False, countdown_ends_at__isnull=True
    ).update(countdown_ends_at=F("first_visit_at") + timedelta(hours=portal.countdown_hours))


class Migration(migrations.Migration):
    dependencies = [
        ("recovery", "0004_recovery_max_discount_percent"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="countdown_ends_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="fin de la cuenta regresiva"
            ),
        ),
        migrations.AddField(
            model_name="recoverysettings",
            name="countdown_started_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="cuenta regresiva activada"
            ),
        ),
        migrations.AlterField(
            model_name="recoverysettings",
            name="countdown_enabled",
            field=models.BooleanField(
                default=False,
                help_text="Desactivada, ninguna oferta muestra cuenta regresiva: cada una dura lo que dura su campaña. Al activarla de nuevo, la cuenta regresiva corre solo para los deudores que ingresen por primera vez desde entonces; quienes ya ingresaron siguen sin ella hasta la fecha de finalización de su campaña.",
                verbose_name="agregar cuenta regresiva",
            ),
        ),
        migrations.AlterField(
            model_name="recoverysettings",
            name="countdown_hours",
            field=models.PositiveSmallIntegerField(
                default=48,
                help_text="Se fijan para cada deudor en su primer ingreso: cambiarlas no acorta ni alarga las cuentas regresivas ya iniciadas. Nunca pasan de la fecha de finalización de la campaña.",
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(720),
                ],
                verbose_name="horas de validez desde el primer ingreso",
            ),
        ),
        migrations.RunPython(fix_running_countdowns, migrations.RunPython.noop),
    ]
