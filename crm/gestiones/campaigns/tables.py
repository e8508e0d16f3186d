"""The campaign list's table."""

import django_tables2 as tables
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy

from crm.gestiones.models import Campaign


class CampaignTable(tables.Table):
    """The campaign list's columns; rows are written in partials/campaign_table.html."""

    name = tables.Column(verbose_name=gettext_lazy("Campaña"), order_by=("name",))
    kind = tables.Column(verbose_name=gettext_lazy("Tipo"))
    status = tables.Column(verbose_name=gettext_lazy("Estado"))
    channel = tables.Column(verbose_name=gettext_lazy("Canal"), orderable=False)
    gestion_type = tables.Column(verbose_name=gettext_lazy("Gestión"), orderable=False)
    target_count = tables.Column(verbose_name=gettext_lazy("Destinatarios"))
    gestion_count = tables.Column(verbose_name=gettext_lazy("Gestiones"))
    dates = tables.Column(
        verbose_name=gettext_lazy("Vigencia"), accessor="starts_on", order_by=("starts_on",)
    )
    created_at = tables.Column(verbose_name=gettext_lazy("Creada"))

    class Meta:
        model = Campaign
        fields = ()
        sequence = (
            "name",
            "kind",
            "status",
            "channel",
            "gestion_type",
            "target_count",
            "gestion_count",
            "dates",
            "created_at",
        )
        order_by = ("-created_at",)
        template_name = "gestiones/partials/campaign_table.html"
        attrs = {"class": "table table-hover align-middle mb-0", "id": "campaign-table"}
        empty_text = gettext_lazy("No hay campañas que coincidan con la búsqueda.")

    def value_dates(self, record: Campaign) -> str:
        if not (record.starts_on or record.ends_on):
            return ""
        return " – ".join(
            date_format(day, "SHORT_DATE_FORMAT") if day else "…"
            for day in (record.starts_on, record.ends_on)
        )
