"""The collections segments name tags, branches and loan products in their rules: each is
refused deletion while a segment names it (crm.references), so «Solo VIP» never turns
into every customer because its tag was deleted. Registered in CollectionsAppConfig.ready.
"""

from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _

from collections_app.models import Segment
from crm import references


def _named(segments: QuerySet[Segment]) -> list[str]:
    names = segments.distinct().order_by("name").values_list("name", flat=True)
    return [_("segmento «%(name)s»") % {"name": name} for name in names]


def segments_naming_tag(tag: Model) -> list[str]:
    """The segments that ask for the tag, or leave out its customers."""
    return _named(Segment.objects.filter(Q(tags=tag) | Q(excluded_tags=tag)))


def segments_naming_branch(branch: Model) -> list[str]:
    return _named(Segment.objects.filter(branches=branch))


def segments_naming_loan_product(product: Model) -> list[str]:
    return _named(Segment.objects.filter(products=product))


def register() -> None:
    references.register_reference("collections_app.segments.tags", "crm.Tag", segments_naming_tag)
    references.register_reference(
        "collections_app.segments.branches", "crm.Branch", segments_naming_branch
    )
    references.register_reference(
        "collections_app.segments.products", "credits.LoanProduct", segments_naming_loan_product
    )
