"""The queue's table (django-tables2): sorting and paging.

jinja_templates/callcenter/queue_table.jinja writes the headings from these columns and
the rows itself."""

import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from callcenter.models import Lead
from lib import links, people

# A column a phone does not show: the row's name cell sums it up instead (queue_table.html).
WIDE = {"th": {"class": "d-none d-md-table-cell"}}


class HiddenHeaderColumn(tables.Column):
    """A column whose heading is for screen readers only (the buttons' column: «Acciones»
    read out, nothing drawn; an empty heading left its cells without a name)."""

    @property
    def header(self):
        return format_html('<span class="visually-hidden">{}</span>', self.verbose_name)


class LeadQueueTable(tables.Table):
    # Unsearched and unfiltered (lib.lists.render_list): `Meta.empty_text` answers a search.
    nothing_yet_text = _("No hay leads por llamar.")

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
    actions = HiddenHeaderColumn(verbose_name=_("Acciones"), accessor="pk", orderable=False)

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
        template_name = "callcenter/queue_table.jinja"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "queue-table"}
        empty_text = _("Ningún lead de la cola coincide con la búsqueda.")

    @property
    def records(self) -> list[Lead]:
        """Return the current page's leads, each with its links and who holds it (the
        template writes their cells; reversing three URLs a row cost more than the rows)."""
        leads = list(self.page.object_list.data)
        detail_url = links.pk_link("callcenter:lead_detail")
        take_url = links.pk_link("callcenter:lead_take")
        release_url = links.pk_link("callcenter:lead_release")
        now = timezone.now()
        for lead in leads:
            # A call-back set for later is not waiting yet: "0 minutos" ago said it was.
            lead.is_due = lead.due_at <= now
            lead.detail_url = detail_url(lead.pk)
            lead.take_url = take_url(lead.pk)
            lead.release_url = release_url(lead.pk)
            lead.holder = people.display_name(lead.taken_by) if lead.taken_by_id else ""
        return leads
