"""The highest discount a written-off campaign may have (95 % until an admin changes it)."""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("recovery", "0003_campaign_redundant_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="recoverysettings",
            name="max_discount_percent",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("95"),
                help_text="El mayor descuento que una campaña puede ofrecer, en porcentaje de la deuda castigada; también limita los descuentos por monto. Entre 1 y 99.99.",
                max_digits=5,
                validators=[
                    django.core.validators.MinValueValidator(
                        Decimal("1"), "Indique al menos %(limit_value)s %%."
                    ),
                    django.core.validators.MaxValueValidator(
                        Decimal("99.99"), "Indique a lo sumo %(limit_value)s %%."
                    ),
                ],
                verbose_name="descuento máximo de una campaña (%)",
            ),
        ),
        migrations.AddConstraint(
            model_name="recoverysettings",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("max_discount_percent__gte", Decimal("1")),
                    ("max_discount_percent__lte", Decimal("99.99")),
                ),
                name="recovery_max_discount_in_range",
            ),
        ),
    ]
