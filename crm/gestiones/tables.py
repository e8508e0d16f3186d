"""The gestión lists' table (django-tables2); rows are written by the template named below."""

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from crm.gestiones.models import Gestion
from lib import people


class GestionTable(tables.Table):
    number = tables.Column(verbose_name=_("N.º"), accessor="id", order_by=("id",))
    customer = tables.Column(verbose_name=_("Cliente"), orderable=False)
    # Exported, not shown: the screen writes the document under the name.
    customer_document = tables.Column(
        verbose_name=_("Documento"),
        accessor="customer__document_number",
        visible=False,
        orderable=False,
    )
    gestion_type = tables.Column(verbose_name=_("Tipo"), orderable=False)
    state = tables.Column(verbose_name=_("Estado"), orderable=False)
    agent = tables.Column(verbose_name=_("Gestor"), orderable=False)
    branch = tables.Column(verbose_name=_("Sucursal"), orderable=False)
    amount = tables.Column(
        verbose_name=_("Monto"), accessor="amount_requested", order_by=("amount_requested", "id")
    )
    # Exported, not shown: the screen writes the amount with its currency.
    currency = tables.Column(verbose_name=_("Moneda"), visible=False, orderable=False)
    due_at = tables.Column(verbose_name=_("Vence"), order_by=("due_at", "id"))
    created_at = tables.Column(verbose_name=_("Creada"), order_by=("created_at", "id"))

    class Meta:
        model = Gestion
        fields = ()
        sequence = (
            "number",
            "customer",
            "customer_document",
            "gestion_type",
            "state",
            "agent",
            "branch",
            "amount",
            "currency",
            "due_at",
            "created_at",
        )
        template_name = "gestiones/partials/gestion_table.html"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "gestion-results"}
        empty_text = _("No hay gestiones que coincidan.")

    # What the CSV/XLSX export writes where the screen's cell is drawn by the template.
    def value_customer(self, record: Gestion) -> str:
        return record.customer.full_name

    def value_gestion_type(self, record: Gestion) -> str:
        return record.gestion_type.name

    def value_state(self, record: Gestion) -> str:
        return record.state.name

    def value_currency(self, record: Gestion) -> str:
        return record.currency

    def value_agent(self, record: Gestion) -> str:
        return people.display_name(record.agent)


class MyWorkTable(GestionTable):
    """My work keeps its order (due date, late first): no sorting by column."""

    class Meta(GestionTable.Meta):
        orderable = False
        empty_text = _("No tiene gestiones abiertas. ¡Buen trabajo!")
