"""The customer list's table (django-tables2): columns, links and sorting."""

import django_tables2 as tables
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from crm.models import Customer


class CustomerTable(tables.Table):
    document = tables.Column(
        verbose_name=_("Documento"), accessor="document_number", order_by=("document_number",)
    )
    name = tables.Column(
        verbose_name=_("Cliente"),
        accessor="last_name",
        linkify=True,
        order_by=("last_name", "first_name", "id"),
        # A plain link: the wrapper boosts only sorting and paging into the fragment.
        attrs={"a": {"hx-boost": "false"}},
    )
    phone = tables.Column(verbose_name=_("Celular"), orderable=False)
    branch = tables.Column(verbose_name=_("Sucursal"), order_by=("branch__name",))
    channel = tables.Column(verbose_name=_("Canal"), order_by=("channel__name",))
    advisor = tables.Column(verbose_name=_("Asesor"), order_by=("advisor__first_name",))
    tags = tables.Column(verbose_name=_("Etiquetas"), orderable=False, empty_values=())
    last_interaction_at = tables.DateTimeColumn(
        verbose_name=_("Última interacción"), format="SHORT_DATETIME_FORMAT"
    )

    class Meta:
        model = Customer
        fields = ()
        sequence = (
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
        attrs = {"class": "table table-hover align-middle mb-0", "id": "customer-results"}
        empty_text = _("No hay clientes que coincidan con la búsqueda.")

    def render_document(self, record):
        return format_html(
            '<span class="text-body-secondary small">{}</span> {}',
            record.get_document_type_display(),
            record.document_number,
        )

    def render_name(self, record):
        return record.full_name

    def render_phone(self, record):
        return record.phone.as_national if record.phone else "—"

    def render_advisor(self, record):
        return record.advisor.get_full_name() or record.advisor.username

    def render_tags(self, record):
        return format_html_join(
            " ",
            '<span class="badge text-bg-{}">{}</span>',
            ((t.color, t.name) for t in record.tags.all()),
        )
