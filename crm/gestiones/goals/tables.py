"""The goal list's table."""

import django_tables2 as tables
from django.utils.translation import gettext_lazy

from crm.gestiones.models import Goal
from lib import lists, people


class GoalTable(tables.Table):
    """The seed's table: Vendedor, Mes, Año, Producto, the four targets, Estado exitoso."""

    agent = tables.Column(
        verbose_name=gettext_lazy("Vendedor"),
        order_by=("agent__first_name", "agent__last_name", "agent__username", "id"),
    )
    month = tables.Column(verbose_name=gettext_lazy("Mes"), order_by=("month", "id"))
    year = tables.Column(verbose_name=gettext_lazy("Año"), order_by=("year", "month", "id"))
    product = tables.Column(verbose_name=gettext_lazy("Producto"), order_by=("product__name", "id"))
    target_local = tables.Column(
        verbose_name=gettext_lazy("Meta local"), order_by=("target_local", "id"), attrs=lists.RIGHT
    )
    target_usd = tables.Column(
        verbose_name=gettext_lazy("Meta dólares"), order_by=("target_usd", "id"), attrs=lists.RIGHT
    )
    target_prospects = tables.Column(
        verbose_name=gettext_lazy("Prospectos"),
        order_by=("target_prospects", "id"),
        attrs=lists.RIGHT,
    )
    target_customers = tables.Column(
        verbose_name=gettext_lazy("Clientes"),
        order_by=("target_customers", "id"),
        attrs=lists.RIGHT,
    )
    success_state = tables.Column(verbose_name=gettext_lazy("Estado exitoso"), orderable=False)
    actions = tables.Column(
        verbose_name="", empty_values=(), orderable=False, exclude_from_export=True
    )

    class Meta:
        model = Goal
        fields = ()
        sequence = (
            "agent",
            "month",
            "year",
            "product",
            "target_local",
            "target_usd",
            "target_prospects",
            "target_customers",
            "success_state",
            "actions",
        )
        order_by = ("-year",)
        template_name = "gestiones/partials/goal_table.html"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "goal-results"}
        empty_text = gettext_lazy("No hay metas que coincidan con los filtros.")

    def value_agent(self, record: Goal) -> str:
        return people.display_name(record.agent)

    def value_success_state(self, record: Goal) -> str:
        # As the screen shows it: two types may each have a state of the same name.
        state = record.success_state
        return f"{state.name} · {state.gestion_type.name}"
