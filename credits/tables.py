"""The loan list's table (django-tables2): columns, sorting, paging and the export.

The table is written by jinja_templates/credits/loan_table.jinja: the headings from the
columns here, the cells in the order of `Meta.sequence`; keep the two in step. The export
(lib.lists) reads the columns, with `value_*` where the template draws a cell.
"""

import django_tables2 as tables
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from credits import selectors
from credits.models import Loan
from crm.models import Customer
from lib import links, people

# Columns a phone does not show: the customer cell sums them up instead (loan_table.jinja).
WIDE = {"th": {"class": "d-none d-md-table-cell"}}
WIDE_RIGHT = {"th": {"class": "text-end d-none d-md-table-cell"}}


class LoanTable(tables.Table):
    payment_code = tables.Column(verbose_name=_("Código"), order_by=("payment_code",))
    customer = tables.Column(
        verbose_name=_("Cliente"),
        order_by=("customer__last_name", "customer__first_name", "id"),
    )
    # Product, advisor and branch are filters rather than sort keys, as in the customer list.
    product = tables.Column(verbose_name=_("Producto"), orderable=False, attrs=WIDE)
    principal = tables.Column(
        verbose_name=_("Capital"), order_by=("principal", "id"), attrs=WIDE_RIGHT
    )
    outstanding = tables.Column(
        verbose_name=_("Saldo capital"),
        order_by=("outstanding", "id"),
        attrs=WIDE_RIGHT,
    )
    status = tables.Column(verbose_name=_("Estado"), order_by=("status", "id"), attrs=WIDE)
    days_past_due = tables.Column(
        verbose_name=_("Días de atraso"),
        order_by=("days_past_due", "id"),
        attrs=WIDE_RIGHT,
    )
    advisor = tables.Column(verbose_name=_("Asesor"), orderable=False, attrs=WIDE)
    branch = tables.Column(verbose_name=_("Sucursal"), orderable=False, attrs=WIDE)
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
        template_name = "credits/loan_table.jinja"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "loan-results"}
        empty_text = _("No hay créditos que coincidan con la búsqueda.")

    @property
    def records(self) -> list[Loan]:
        """Return the current page's loans, each with its links, its customer's document type
        and its status and bucket badges.

        A page shows a handful of statuses and buckets: each badge is rendered once per
        page from its partial, where rendering it on every row (an include and a choice
        label each) cost more than the page's query.
        """
        loans = selectors.loan_list_page(self.page.object_list.data)
        badges: dict[tuple[str, str], str] = {}
        loan_url = links.pk_link("credits:loan_detail")
        customer_url = links.pk_link("crm:customer_detail")
        # `get_document_type_display()` hashes every choice on each call.
        document_types = dict(Customer.DocumentType.choices)
        for loan in loans:
            loan.detail_url = loan_url(loan.pk)
            loan.customer_url = customer_url(loan.customer_id)
            code = loan.customer.document_type
            loan.customer.document_type_label = document_types.get(code, code)
            loan.status_badge = _badge(badges, "status", loan)
            loan.bucket_badge = _badge(badges, "bucket", loan) if loan.is_live else ""
        return loans

    # What the CSV/XLSX export writes where the screen's cell is drawn by the template.
    def value_customer(self, record: Loan) -> str:
        return record.customer.full_name

    def value_product(self, record: Loan) -> str:
        return record.product.name

    def value_advisor(self, record: Loan) -> str:
        return people.display_name(record.advisor)

    def value_branch(self, record: Loan) -> str:
        return record.branch.name if record.branch_id else ""


def _badge(badges: dict[tuple[str, str], str], field: str, loan: Loan) -> str:
    key = (field, getattr(loan, field))
    if key not in badges:
        badges[key] = render_to_string(f"credits/partials/loan_{field}_badge.html", {"loan": loan})
    return badges[key]
