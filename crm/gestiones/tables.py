"""The gestión lists' table (django-tables2): columns, sorting, paging and the export.

The table is written by jinja_templates/gestiones/gestion_table.jinja: the headings from
the columns here, the cells in the order of `Meta.sequence`; keep the two in step. The
export (lib.lists) reads the columns, with `value_*` where the template draws a cell.
"""

import django_tables2 as tables
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.gestiones import selectors
from crm.gestiones.models import Gestion
from lib import links, people

# A column a phone does not show: the customer cell sums it up instead (gestion_table.jinja).
WIDE = {"th": {"class": "d-none d-md-table-cell"}}


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
    gestion_type = tables.Column(verbose_name=_("Tipo"), orderable=False, attrs=WIDE)
    state = tables.Column(verbose_name=_("Estado"), orderable=False, attrs=WIDE)
    agent = tables.Column(verbose_name=_("Gestor"), orderable=False, attrs=WIDE)
    branch = tables.Column(verbose_name=_("Sucursal"), orderable=False, attrs=WIDE)
    amount = tables.Column(
        verbose_name=_("Monto"),
        accessor="amount_requested",
        order_by=("amount_requested", "id"),
        attrs=WIDE,
    )
    # Exported, not shown: the screen writes the amount with its currency.
    currency = tables.Column(verbose_name=_("Moneda"), visible=False, orderable=False)
    due_at = tables.Column(verbose_name=_("Vence"), order_by=("due_at", "id"), attrs=WIDE)
    created_at = tables.Column(verbose_name=_("Creada"), order_by=("created_at", "id"), attrs=WIDE)

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
        template_name = "gestiones/gestion_table.jinja"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "gestion-results"}
        empty_text = _("No hay gestiones que coincidan.")

    # Blanks last either way, as a spreadsheet sorts them: left to the database,
    # PostgreSQL put them first going down (150,000 blank amounts and 900,000 blank due
    # dates of the bench's million came before any figure) and SQLite first going up.
    # Each order reads its own index (gestiones_amount_idx, gestiones_due_idx and their
    # `_desc` twins); without them a sort read every gestión (140–200 ms at 1,000,000).
    def order_amount(self, queryset, is_descending: bool):
        return queryset.order_by(*_blanks_last("amount_requested", is_descending)), True

    def order_due_at(self, queryset, is_descending: bool):
        return queryset.order_by(*_blanks_last("due_at", is_descending)), True

    @property
    def records(self) -> list[Gestion]:
        """Return the current page's gestiones, each with its links and marked late or not
        as of now (the template would ask the clock and reverse the URLs on every row)."""
        now = timezone.now()
        gestiones = selectors.list_page(self.page.object_list.data)
        gestion_url = links.pk_link("gestiones:detail")
        customer_url = links.pk_link("crm:customer_detail")
        for gestion in gestiones:
            gestion.is_late_now = gestion.is_late(now)
            gestion.detail_url = gestion_url(gestion.pk)
            gestion.customer_url = customer_url(gestion.customer_id)
        return gestiones

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


def _blanks_last(column: str, descending: bool) -> tuple:
    if descending:
        return F(column).desc(nulls_last=True), F("id").desc()
    return F(column).asc(nulls_last=True), F("id").asc()


class MyWorkTable(GestionTable):
    """My work keeps its order (due date, late first): no sorting by column."""

    # Unsearched and unfiltered (lib.lists.render_list); a search that empties the list
    # says so instead of congratulating.
    nothing_yet_text = _("No tiene gestiones abiertas. ¡Buen trabajo!")

    class Meta(GestionTable.Meta):
        orderable = False
        empty_text = _("Ninguna gestión abierta coincide con la búsqueda.")
