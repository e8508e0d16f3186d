"""The loan list's table (django-tables2): columns, sorting and paging.

The cells are rendered by templates/credits/partials/loan_table.html, in the order of
`Meta.sequence`; keep the two in step.
"""

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from credits.models import Loan
from lib import people


class LoanTable(tables.Table):
    payment_code = tables.Column(verbose_name=_("Código"), order_by=("payment_code",))
    customer = tables.Column(
        verbose_name=_("Cliente"),
        order_by=("customer__last_name", "customer__first_name", "id"),
    )
    # Product, advisor and branch are filters rather than sort keys, as in the customer list.
    product = tables.Column(verbose_name=_("Producto"), orderable=False)
    principal = tables.Column(
        verbose_name=_("Capital"), order_by=("principal", "id"), attrs={"th": {"class": "text-end"}}
    )
    outstanding = tables.Column(
        verbose_name=_("Saldo capital"),
        order_by=("outstanding", "id"),
        attrs={"th": {"class": "text-end"}},
    )
    status = tables.Column(verbose_name=_("Estado"), order_by=("status", "id"))
    days_past_due = tables.Column(
        verbose_name=_("Días de atraso"),
        order_by=("days_past_due", "id"),
        attrs={"th": {"class": "text-end"}},
    )
    advisor = tables.Column(verbose_name=_("Asesor"), orderable=False)
    branch = tables.Column(verbose_name=_("Sucursal"), orderable=False)
    # Only in the CSV/XLSX export: on screen the amounts carry it.
    currency = tables.Column(verbose_name=_("Moneda"), visible=False)

    class Meta:
        model = Loan
        fields = ()
        sequence = (
            "payment_code",
            "customer",
            "product",
            "principal",
            "outstanding",
            "status",
            "days_past_due",
            "advisor",
            "branch",
            "currency",
        )
        template_name = "credits/partials/loan_table.html"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "loan-results"}
        empty_text = _("No hay créditos que coincidan con la búsqueda.")

    # What the CSV/XLSX export writes where the screen's cell is drawn by the template.
    def value_customer(self, record: Loan) -> str:
        return record.customer.full_name

    def value_product(self, record: Loan) -> str:
        return record.product.name

    def value_advisor(self, record: Loan) -> str:
        return people.display_name(record.advisor)

    def value_branch(self, record: Loan) -> str:
        return record.branch.name if record.branch_id else ""
