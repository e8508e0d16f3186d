"""Loan products: deleting one, which the deletions audit (crm.deletions) records.

A product with loans cannot be deleted (PROTECT). One without loans takes with it what
other apps hang on it (gestiones' life-cycle events and their runs, by CASCADE): the
record says how many, without this app naming them.
"""

from decimal import Decimal

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from credits.models import LoanProduct
from crm import deletions, display

# Its code in the deletions audit, registered in CreditsConfig.ready.
DELETION_KIND = "product"


def deletion_details(product: LoanProduct) -> list[tuple[str, str]]:
    """Return what a deleted product was, as (label, text) pairs: each of its settings."""
    details = []
    for field in product._meta.concrete_fields:
        if field.primary_key or field.name == "name":
            continue
        value = getattr(product, field.attname)
        if field.choices:
            text = display.choice_label(product, field.name)
        elif isinstance(value, bool):
            text = _("Sí") if value else _("No")
        elif isinstance(value, list):
            text = ", ".join(str(item) for item in value)
        elif isinstance(value, Decimal):
            text = display.amount(value)
        elif isinstance(value, int) and not field.name.endswith("_id"):
            text = display.whole(value)
        else:
            text = "" if value is None else str(value)
        if text:
            details.append((capfirst(str(field.verbose_name)), text))
    return details


@transaction.atomic
def delete_loan_product(*, product: LoanProduct, actor: AbstractBaseUser | None) -> None:
    """Delete a product no loan uses, with what hangs on it, and record who did it and
    what went with it in the deletions audit; refuse one that loans use."""
    product = LoanProduct.objects.select_for_update().filter(pk=product.pk).first()
    if product is None:
        return  # deleted a moment ago by someone else, who has the record
    object_id, name, details = product.pk, product.name, deletion_details(product)
    try:
        _count, deleted = product.delete()
    except ProtectedError as exc:
        raise ValidationError(
            _("No se puede eliminar el producto «%(name)s»: lo usan %(what)s.")
            % {
                "name": name,
                "what": ", ".join(
                    sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
                ),
            }
        ) from exc
    for label, count in sorted(deleted.items()):
        if label != LoanProduct._meta.label and count:
            model = apps.get_model(label)
            details.append(
                (
                    _("También se eliminaron"),
                    f"{model._meta.verbose_name_plural}: {display.whole(count)}",
                )
            )
    deletions.record_deletion(
        kind=DELETION_KIND, object_id=object_id, name=name, details=details, actor=actor
    )
