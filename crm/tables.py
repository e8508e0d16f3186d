"""The customer list's table (django-tables2): columns, sorting and paging.

The table is written by jinja_templates/crm/customer_table.jinja: the headings from
the columns here, the cells in the order of `Meta.sequence`; keep the two in step. The
export (lib.lists) reads the columns, with `value_*` where the template draws a cell.
"""

import django_tables2 as tables
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from crm import selectors
from crm.models import Branch, Channel, Customer
from lib import links, people, small_tables

# A column a phone does not show: the customer cell sums it up instead (customer_table.jinja).
WIDE = {"th": {"class": "d-none d-md-table-cell"}}


class CustomerTable(tables.Table):
    # Exported, not shown: the screen writes the type next to the number.
    document_type = tables.Column(
        verbose_name=_("Tipo de documento"), visible=False, orderable=False
    )
    document = tables.Column(
        verbose_name=_("Documento"), accessor="document_number", order_by=("document_number",)
    )
    name = tables.Column(
        verbose_name=_("Cliente"), accessor="last_name", order_by=("last_name", "first_name", "id")
    )
    # The stored text (selectors.customer_list): reading `phone` would load it row by row.
    phone = tables.Column(
        verbose_name=_("Celular"), accessor="phone_e164", orderable=False, attrs=WIDE
    )
    # Sucursal, canal and asesor are filters rather than sort keys: sorting 100,000 rows
    # by a joined name costs a full join and sort on every page.
    branch = tables.Column(verbose_name=_("Sucursal"), orderable=False, attrs=WIDE)
    channel = tables.Column(verbose_name=_("Canal"), orderable=False, attrs=WIDE)
    advisor = tables.Column(verbose_name=_("Asesor"), orderable=False, attrs=WIDE)
    tags = tables.Column(verbose_name=_("Etiquetas"), orderable=False, attrs=WIDE)
    last_interaction_at = tables.Column(
        verbose_name=_("Última interacción"),
        order_by=("last_interaction_at", "id"),
        attrs=WIDE,
    )

    class Meta:
        model = Customer
        fields = ()
        sequence = (
            "document_type",
            "document",
            "name",
            "phone",
            "branch",
            "channel",
            "advisor",
            "tags",
            "last_interaction_at",
        )
        order_by = ("name",)
        template_name = "crm/customer_table.jinja"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "customer-results"}
        empty_text = _("No hay clientes que coincidan con la búsqueda.")

    def order_last_interaction_at(self, queryset, is_descending: bool):
        """Newest first with the never contacted last, or oldest first with them first
        (the index crm_cust_last_contact_idx, read either way). Left to the database, the
        never contacted came first going down on PostgreSQL and last on SQLite."""
        column = F("last_interaction_at")
        if is_descending:
            order = (column.desc(nulls_last=True), F("id").desc())
        else:
            order = (column.asc(nulls_first=True), F("id").asc())
        return queryset.order_by(*order), True

    @property
    def records(self) -> list[Customer]:
        """Return the current page's customers, each with its link and its tags
        (`selectors.tags_of`: the prefetch machinery cost ~1.5 ms a page; the export keeps
        the queryset's prefetch, reading `tags.all()`). The template writes the cells.
        """
        customers = list(
            self.page.object_list.data.prefetch_related(None)
            .select_related(None)
            .only(*selectors.CUSTOMER_LIST_OWN_FIELDS)
        )
        # Branch, channel and advisor from the process's copy of those small tables: the
        # joins and their model instances cost ~0.7 ms a page (the export keeps the joins).
        branches, channels, users = small_tables.rows(Branch, Channel, small_tables.people())
        small_tables.attach(customers, branch=branches, channel=channels, advisor=users)
        tags = selectors.tags_of([customer.pk for customer in customers])
        detail_url = links.pk_link("crm:customer_detail")
        for customer in customers:
            customer.detail_url = detail_url(customer.pk)
            customer.tag_list = tags[customer.pk]
        return customers

    # What the CSV/XLSX export writes where the screen's cell is drawn by the template.
    def value_name(self, record: Customer) -> str:
        return record.full_name

    def value_phone(self, record: Customer) -> str:
        # The stored text is E.164 already (PHONENUMBER_DB_FORMAT); see selectors.customer_list.
        return record.phone_e164 or ""

    def value_advisor(self, record: Customer) -> str:
        return people.display_name(record.advisor)

    def value_tags(self, record: Customer) -> str:
        return ", ".join(tag.name for tag in record.tags.all())
