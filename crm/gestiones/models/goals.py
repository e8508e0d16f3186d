"""Monthly goals per agent and product."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.gestiones.models.processes import USER, GestionState
from crm.models import Product
from lib.money import MONEY


class Goal(models.Model):
    """A monthly target (*meta*) of an agent for a product, and the state that counts."""

    agent = models.ForeignKey(
        USER, verbose_name=_("gestor"), on_delete=models.CASCADE, related_name="goals"
    )
    product = models.ForeignKey(
        Product, verbose_name=_("producto"), on_delete=models.PROTECT, related_name="goals"
    )
    year = models.PositiveIntegerField(
        _("año"), validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    month = models.PositiveSmallIntegerField(
        _("mes"), validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    target_local = models.DecimalField(_("meta en moneda local"), **MONEY, default=Decimal("0.00"))
    target_usd = models.DecimalField(_("meta en dólares"), **MONEY, default=Decimal("0.00"))
    target_prospects = models.PositiveIntegerField(_("meta de prospectos"), default=0)
    target_customers = models.PositiveIntegerField(_("meta de clientes"), default=0)
    success_state = models.ForeignKey(
        GestionState, verbose_name=_("estado exitoso"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-year", "-month", "agent"]
        verbose_name = _("meta")
        verbose_name_plural = _("metas")
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "product", "year", "month"],
                name="gestiones_goal_unique",
                violation_error_message=_("Ese gestor ya tiene una meta para ese producto y mes."),
            ),
            models.CheckConstraint(
                condition=Q(target_local__gte=0) & Q(target_usd__gte=0),
                name="gestiones_goal_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} · {self.product} · {self.month:02d}/{self.year}"
