"""What a merge of two customers (crm.merge) does with their written-off campaigns.

A customer has at most one active campaign (`recovery_one_active_campaign`) and one
campaign per ID: two records that both have an active campaign, or campaigns with the
same ID, are not merged until a person settles which one holds. Otherwise the campaigns
move with the generic move.
"""

from django.utils.translation import gettext as _

from crm.models import Customer

LABEL = "recovery.campaign"


def check(keep: Customer, drop: Customer) -> str:
    """Say why the two customers' campaigns keep them from being merged ("" if nothing)."""
    from recovery.models import Campaign

    active = {
        c.customer_id: c
        for c in Campaign.objects.filter(
            customer_id__in=[keep.pk, drop.pk], status=Campaign.Status.ACTIVE
        )
    }
    if keep.pk in active and drop.pk in active:
        return _(
            "Los dos clientes tienen una campaña de cartera castigada activa: %(keep_code)s "
            "(%(keep)s) y %(drop_code)s (%(drop)s). Un cliente tiene una sola campaña activa: "
            "cierre una de ellas antes de fusionar."
        ) % {
            "keep_code": active[keep.pk].code,
            "keep": keep.full_name,
            "drop_code": active[drop.pk].code,
            "drop": drop.full_name,
        }
    codes = set(Campaign.objects.filter(customer_id=keep.pk).values_list("code", flat=True))
    shared = sorted(
        codes & set(Campaign.objects.filter(customer_id=drop.pk).values_list("code", flat=True))
    )
    if shared:
        return _(
            "Los dos clientes tienen una campaña de cartera castigada con el mismo ID "
            "(%(codes)s): corrija una de ellas antes de fusionar."
        ) % {"codes": ", ".join(shared)}
    return ""


def move(keep: Customer, drop: Customer) -> None:
    """Nothing to settle once `check` passed: the campaigns move with the generic move."""


def register() -> None:
    from crm import merge

    merge.register_merge_handler(LABEL, check, move)
