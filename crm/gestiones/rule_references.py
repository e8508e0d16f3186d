"""An outbound campaign's segment names tags, branches, channels and products: each is
refused deletion while a campaign not finished names it (crm.references), so a draft
campaign for VIPs never messages every customer because its tag was deleted. A finished
campaign reaches nobody again. Registered in GestionesConfig.ready.
"""

from django.db.models import Model
from django.utils.translation import gettext as _

from crm import references
from crm.gestiones.models import Campaign

# The campaign's segment field naming each model.
SEGMENT_FIELDS = {
    "crm.Tag": "segment_tags",
    "crm.Branch": "segment_branches",
    "crm.Channel": "segment_channels",
    "crm.Product": "segment_products",
}


def campaigns_naming(row: Model) -> list[str]:
    """The campaigns not finished whose segment names `row`."""
    field = SEGMENT_FIELDS[row._meta.label]
    names = (
        Campaign.objects.exclude(status=Campaign.Status.FINISHED)
        .filter(**{field: row})
        .distinct()
        .order_by("name")
        .values_list("name", flat=True)
    )
    return [_("campaña «%(name)s»") % {"name": name} for name in names]


def register() -> None:
    for model, field in SEGMENT_FIELDS.items():
        references.register_reference(f"gestiones.campaigns.{field}", model, campaigns_naming)
