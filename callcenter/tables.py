"""The queue's table (django-tables2): sorting and paging; callcenter/partials/queue_table.html
writes the headings from these columns and the rows itself."""

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from callcenter.models import Lead

# A column a phone does not show: the row's name cell sums it up instead (queue_table.html).
WIDE = {"th": {"class": "d-none d-md-table-cell"}}


class LeadQueueTable(tables.Table):
    due_at = tables.Column(verbose_name=_("Esperando desde"), order_by=("due_at", "id"), attrs=WIDE)
    name = tables.Column(verbose_name=_("Cliente"), accessor="contact_name", orderable=False)
    phone = tables.Column(verbose_name=_("Teléfono"), orderable=False, attrs=WIDE)
    document = tables.Column(
        verbose_name=_("Documento"), accessor="document_number", orderable=False, attrs=WIDE
    )
    source = tables.Column(verbose_name=_("Origen"), orderable=False, attrs=WIDE)
    state = tables.Column(verbose_name=_("Estado"), orderable=False, attrs=WIDE)
    attempts = tables.Column(
        verbose_name=_("Intentos"), order_by=("attempts", "due_at", "id"), attrs=WIDE
    )
    taken_by = tables.Column(verbose_name=_("Atendido por"), orderable=False, attrs=WIDE)
    actions = tables.Column(verbose_name="", accessor="pk", orderable=False)

    class Meta:
        model = Lead
        fields = ()
        sequence = (
            "due_at",
            "name",
            "phone",
            "document",
            "source",
            "state",
            "attempts",
            "taken_by",
            "actions",
        )
        order_by = ("due_at",)
        template_name = "callcenter/partials/queue_table.html"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "queue-table"}
        empty_text = _("No hay leads por llamar.")

    @property
    def records(self):
        """Return the current page's leads (the template writes their cells)."""
        return self.page.object_list.data
