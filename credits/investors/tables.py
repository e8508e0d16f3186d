"""The investor and liquidation lists' tables (django-tables2): columns, sorting and paging.

The cells are rendered by the row templates named in each `Meta.template_name`, in the
order of `Meta.sequence`; keep the two in step.
"""

import django_tables2 as tables
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from credits.models import Investor, Liquidation

# Amounts and counts line up on the right, headers included. A phone shows only the first
# column (its cell sums up the rest: partials/investor_table.html, liquidation_table.html).
WIDE = {"th": {"class": "d-none d-md-table-cell"}}
WIDE_RIGHT = {"th": {"class": "text-end d-none d-md-table-cell"}}


class InvestorTable(tables.Table):
    name = tables.Column(verbose_name=_("Inversionista"), order_by=("name", "id"))
    document = tables.Column(
        verbose_name=_("Documento"),
        accessor="document_number",
        order_by=("document_number",),
        attrs=WIDE,
    )
    kind = tables.Column(verbose_name=_("Tipo"), orderable=False, attrs=WIDE)
    contact = tables.Column(
        verbose_name=_("Contacto"), accessor="email", orderable=False, attrs=WIDE
    )
    currency = tables.Column(verbose_name=_("Moneda"), orderable=False, attrs=WIDE)
    loan_count = tables.Column(
        verbose_name=_("Créditos"), order_by=("loan_count", "id"), attrs=WIDE_RIGHT
    )
    capital = tables.Column(
        verbose_name=_("Capital colocado"), order_by=("capital", "id"), attrs=WIDE_RIGHT
    )
    is_active = tables.Column(verbose_name=_("Estado"), orderable=False, attrs=WIDE)

    # What the CSV/XLSX export writes where the screen's cell is drawn by the template.
    def value_is_active(self, record: Investor) -> str:
        return str(_("Activo") if record.is_active else _("Inactivo"))

    class Meta:
        model = Investor
        fields = ()
        sequence = (
            "name",
            "document",
            "kind",
            "contact",
            "currency",
            "loan_count",
            "capital",
            "is_active",
        )
        order_by = ("name",)
        template_name = "credits/partials/investor_table.html"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "investor-results"}
        empty_text = _("No hay inversionistas que coincidan con la búsqueda.")


class LiquidationTable(tables.Table):
    period = tables.Column(
        verbose_name=_("Periodo"), accessor="period_end", order_by=("period_end", "id")
    )
    investor = tables.Column(
        verbose_name=_("Inversionista"), order_by=("investor__name", "id"), attrs=WIDE
    )
    line_count = tables.Column(verbose_name=_("Repartos"), orderable=False, attrs=WIDE_RIGHT)
    principal = tables.Column(verbose_name=_("Capital"), orderable=False, attrs=WIDE_RIGHT)
    interest = tables.Column(verbose_name=_("Interés"), orderable=False, attrs=WIDE_RIGHT)
    platform_fee = tables.Column(verbose_name=_("Comisión"), orderable=False, attrs=WIDE_RIGHT)
    net_amount = tables.Column(
        verbose_name=_("Neto"), order_by=("net_amount", "id"), attrs=WIDE_RIGHT
    )
    status = tables.Column(verbose_name=_("Estado"), order_by=("status", "id"), attrs=WIDE)
    # Only in the CSV/XLSX export: the period's days as dates a spreadsheet sorts, and the
    # currency the screen writes beside the net amount.
    period_start = tables.Column(verbose_name=_("Desde"), visible=False)
    period_end = tables.Column(verbose_name=_("Hasta"), visible=False)
    currency = tables.Column(verbose_name=_("Moneda"), accessor="investor__currency", visible=False)

    class Meta:
        model = Liquidation
        fields = ()
        sequence = (
            "period",
            "investor",
            "line_count",
            "principal",
            "interest",
            "platform_fee",
            "net_amount",
            "status",
            "period_start",
            "period_end",
            "currency",
        )
        order_by = ("-period",)
        template_name = "credits/partials/liquidation_table.html"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "liquidation-results"}
        empty_text = _("No hay liquidaciones que coincidan con los filtros.")

    def value_period(self, record: Liquidation) -> str:
        return f"{date_format(record.period_start, 'SHORT_DATE_FORMAT')} – " + date_format(
            record.period_end, "SHORT_DATE_FORMAT"
        )

    def value_investor(self, record: Liquidation) -> str:
        return record.investor.name
