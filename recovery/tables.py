"""The written-off campaigns' list as a file: the columns its CSV/XLSX export writes
(lib.lists.export_table).

The screen draws its rows with its own template (recovery/partials/campaign_results.html);
this table only names the file's columns and cells. Nothing here sorts: the file keeps the
list's order (selectors.campaign_list).
"""

from decimal import Decimal

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from collections_app.tables import CustomerColumns
from recovery.models import Campaign


class CampaignExportTable(CustomerColumns):
    code = tables.Column(verbose_name=_("ID de campaña"))
    debt_amount = tables.Column(verbose_name=_("Deuda castigada"))
    discount_amount = tables.Column(verbose_name=_("Descuento"))
    discount_percent = tables.Column(verbose_name=_("Descuento (%)"), empty_values=())
    amount = tables.Column(verbose_name=_("Monto de campaña"))
    paid_amount = tables.Column(verbose_name=_("Pagado"))
    # The list's annotation (selectors.BALANCE): what is left to pay.
    balance = tables.Column(verbose_name=_("Saldo"), accessor="balance_due")
    currency = tables.Column(verbose_name=_("Moneda"))
    ends_on = tables.Column(verbose_name=_("Finaliza"))
    payment_code = tables.Column(verbose_name=_("Código de pago"))
    status = tables.Column(verbose_name=_("Estado"))
    created_at = tables.Column(verbose_name=_("Creada"))

    class Meta:
        model = Campaign
        fields = ()
        orderable = False

    def value_discount_percent(self, record: Campaign) -> Decimal:
        return record.discount_percent
