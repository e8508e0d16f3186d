"""The written-off campaigns' template variables, for templates of the *Cartera castigada*
portfolio (registered from `RecoveryConfig.ready` into collections_app's registry).

A recipient names its campaign (an event on it) or, without one, the customer's active
campaign is read. One query per 5,000 recipients.
"""

from collections.abc import Sequence
from datetime import date

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from collections_app.models import Portfolio
from collections_app.strategies import variables
from lib import amounts, bulk
from recovery.models import Campaign
from recovery.receivables import CAMPAIGN

CAMPAIGN_VARIABLES = {
    "deuda_castigada": _("Monto de deuda castigada (S/ 1,234.50)"),
    "porcentaje_descuento": _("Porcentaje de descuento (30 %)"),
    "monto_descuento": _("Monto de descuento (S/ 1,234.50)"),
    "monto_cancelacion": _("Monto de cancelación total de la campaña (S/ 1,234.50)"),
    "saldo_campana": _("Saldo de la campaña, descontados los pagos (S/ 1,234.50)"),
    "codigo_pago_asociado": _("Código de pago asociado"),
    "codigo_campana": _("ID de campaña"),
    "fecha_fin_campana": _("Fecha de finalización de la campaña (dd/mm/aaaa)"),
    "link_pago": _("Enlace al portal de cartera castigada"),
}
_NONE = dict.fromkeys(CAMPAIGN_VARIABLES, "")


def recovery_url() -> str:
    """The /recovery portal's address, as a debtor opens it from a message."""
    return settings.SITE_URL.rstrip("/") + reverse("recovery:identify")


def _percent(campaign: Campaign) -> str:
    value = campaign.discount_percent.normalize()
    return f"{value:f} %"


def load(recipients: Sequence[variables.Recipient], today: date) -> list[dict[str, str]]:
    named = {
        r.receivable_id for r in recipients if r.receivable_kind == CAMPAIGN and r.receivable_id
    }
    customers = {
        r.customer.pk for r in recipients if not (r.receivable_kind == CAMPAIGN and r.receivable_id)
    }
    by_id: dict[int, Campaign] = {}
    active: dict[int, Campaign] = {}
    for chunk in variables.chunks(sorted(named)):
        by_id.update((c.pk, c) for c in Campaign.objects.filter(pk__in=bulk.ids_in(chunk)))
    for chunk in variables.chunks(sorted(customers)):
        active.update(
            (c.customer_id, c)
            for c in Campaign.objects.filter(
                customer_id__in=bulk.ids_in(chunk), status=Campaign.Status.ACTIVE
            )
        )
    write = amounts.writer()
    link = recovery_url()
    rows = []
    for r in recipients:
        if r.receivable_kind == CAMPAIGN and r.receivable_id:
            campaign = by_id.get(r.receivable_id)
        else:
            campaign = active.get(r.customer.pk)
        if campaign is None:
            rows.append(dict(_NONE))
            continue

        def money(value, currency=campaign.currency):
            return variables.write_amount(value, currency, write)

        rows.append(
            {
                "deuda_castigada": money(campaign.debt_amount),
                "porcentaje_descuento": _percent(campaign),
                "monto_descuento": money(campaign.discount_amount),
                "monto_cancelacion": money(campaign.amount),
                "saldo_campana": money(campaign.balance),
                "codigo_pago_asociado": campaign.payment_code,
                "codigo_campana": campaign.code,
                "fecha_fin_campana": campaign.ends_on.strftime(variables.DATE_FORMAT)
                if campaign.ends_on
                else "",
                "link_pago": link,
            }
        )
    return rows


def register() -> None:
    variables.register_source(
        variables.VariableSource(
            name="recovery_campaign",
            variables=CAMPAIGN_VARIABLES,
            portfolios=(Portfolio.WRITTEN_OFF.value,),
            load=load,
        )
    )
