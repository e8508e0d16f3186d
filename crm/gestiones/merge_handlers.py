"""What a merge of two customers (crm.merge) does with their marketing campaigns' targets.

A campaign reaches a customer once (`gestiones_target_unique`): when both records were
reached by the same campaign, the kept record's target stays and the other is removed
(its gestión moves to the kept customer with the generic move). The rest move.
"""

from crm.models import Customer

LABEL = "gestiones.campaigntarget"


def check(keep: Customer, drop: Customer) -> str:
    """Campaign targets never keep two customers from being merged."""
    return ""


def move(keep: Customer, drop: Customer) -> None:
    """Remove `drop`'s targets of the campaigns that reached `keep` too."""
    from crm.gestiones.models import CampaignTarget

    campaigns = CampaignTarget.objects.filter(customer_id=keep.pk).values_list(
        "campaign_id", flat=True
    )
    CampaignTarget.objects.filter(customer_id=drop.pk, campaign_id__in=list(campaigns)).delete()


def register() -> None:
    from crm import merge

    merge.register_merge_handler(LABEL, check, move)
