"""The catalog's products and their stock: created, edited and adjusted only here and in the
sales service; every stock change writes a `StockMovement`, so a product's stock is always
the sum of its movements."""

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from callcenter.models import CatalogProduct, StockMovement
from crm import display
from lib import people

# A currency as ISO 4217 writes it: three letters.
CURRENCY_RE = re.compile(r"[A-Za-z]{3}")
# What the product form and the import may set; stock has its own functions.
PRODUCT_FIELDS = ("sku", "name", "description", "price", "currency", "is_active")


def default_currency() -> str:
    """Return the currency of a product that names none: the lender's own."""
    return getattr(settings, "CURRENCY", "") or "PEN"


@transaction.atomic
def create_product(*, actor: AbstractBaseUser | None, data: Mapping[str, Any]) -> CatalogProduct:
    """Create a product; its initial stock enters the ledger as an adjustment."""
    product = CatalogProduct(**{k: v for k, v in data.items() if k in PRODUCT_FIELDS})
    product.stock = data.get("stock") or 0
    if product.stock > MAX_STOCK:
        raise ValidationError({"stock": too_much_stock()})
    if not product.currency:
        product.currency = default_currency()
    _validated(product)
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as exc:  # the same SKU created a moment ago by someone else
        raise ValidationError({"sku": _("Ya existe un producto con ese SKU.")}) from exc
    if product.stock:
        StockMovement.objects.create(
            product=product,
            delta=product.stock,
            reason=StockMovement.Reason.ADJUSTMENT,
            note=_("Stock inicial"),
            actor=people.signed_in(actor),
        )
    return product


@transaction.atomic
def update_product(*, product: CatalogProduct, data: Mapping[str, Any]) -> CatalogProduct:
    """Change a product's data; never its stock, which only movements change."""
    fields = [f for f in PRODUCT_FIELDS if f in data]
    for name in fields:
        setattr(product, name, data[name])
    _validated(product)
    try:
        with transaction.atomic():
            # Only these columns: the instance's stock may be stale by now (a sale).
            product.save(update_fields=[*fields, "search_text", "updated_at"])
    except IntegrityError as exc:
        raise ValidationError({"sku": _("Ya existe un producto con ese SKU.")}) from exc
    return product


MAX_STOCK = 2_147_483_647  # the largest value an IntegerField holds on every database


def too_much_stock() -> str:
    return _("El stock quedaría en más de %(max)s unidades: revise el número.") % {
        "max": display.whole(MAX_STOCK)
    }


# The same adjustment (units and note) by the same person this recently is the same form
# sent twice: a double click on +10 added 20.
REPEAT_WINDOW = timedelta(minutes=1)


def _refuse_a_repeat(
    product: CatalogProduct, delta: int, note: str, actor: AbstractBaseUser | None
) -> None:
    if actor is None:
        return
    # The product's row first: the same form sent twice at once checks one after the other.
    CatalogProduct.objects.select_for_update().filter(pk=product.pk).exists()
    repeated = StockMovement.objects.filter(
        product_id=product.pk,
        delta=delta,
        note=note,
        reason=StockMovement.Reason.ADJUSTMENT,
        actor=actor,
        created_at__gte=timezone.now() - REPEAT_WINDOW,
    ).exists()
    if repeated:
        raise ValidationError(
            _(
                "Usted registró este mismo ajuste (%(delta)s, «%(note)s») hace un momento. "
                "Si es otro, escríbalo con otra nota."
            )
            % {"delta": f"{delta:+d}", "note": note}
        )


@transaction.atomic
def adjust_stock(
    *, product: CatalogProduct, delta: int, note: str, actor: AbstractBaseUser | None
) -> CatalogProduct:
    """Add `delta` units (negative to take them out), refusing to leave the stock negative."""
    if delta == 0:
        raise ValidationError({"delta": _("El ajuste debe ser distinto de cero.")})
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Indique el motivo del ajuste.")})
    if delta > MAX_STOCK:  # 10^10 typed: no stock column holds it
        raise ValidationError({"delta": too_much_stock()})
    _refuse_a_repeat(product, delta, note, people.signed_in(actor))
    # One conditional UPDATE: two adjustments or a sale at the same moment cannot both
    # pass the check on the same stale number. A removal beyond any stock (-10^25, which
    # no database integer takes either) leaves it negative without asking.
    changed = (
        0
        if delta < -MAX_STOCK
        else CatalogProduct.objects.filter(
            pk=product.pk, stock__gte=-delta, stock__lte=MAX_STOCK - delta
        ).update(stock=F("stock") + delta, updated_at=timezone.now())
    )
    if not changed:
        current = CatalogProduct.objects.filter(pk=product.pk).values_list("stock", flat=True)
        if not current:
            raise ValidationError(_("El producto ya no existe."))
        if delta > 0:
            raise ValidationError({"delta": too_much_stock()})
        raise ValidationError(
            ngettext(
                "El stock de %(product)s quedaría negativo: hay %(stock)s unidad.",
                "El stock de %(product)s quedaría negativo: hay %(stock)s unidades.",
                current[0],
            )
            % {"product": product, "stock": display.whole(current[0])}
        )
    StockMovement.objects.create(
        product_id=product.pk,
        delta=delta,
        reason=StockMovement.Reason.ADJUSTMENT,
        note=note[:255],
        actor=people.signed_in(actor),
    )
    product.refresh_from_db()
    return product


def _validated(product: CatalogProduct) -> None:
    """Run the model's validation, plus the currency code's shape."""
    product.currency = (product.currency or "").strip().upper()
    product.search_text = product.build_search_text()
    errors: dict[str, list[str]] = {}
    try:
        product.full_clean()
    except ValidationError as exc:
        errors = exc.message_dict
    if not CURRENCY_RE.fullmatch(product.currency):
        errors.setdefault("currency", []).append(
            _("La moneda debe ser un código de 3 letras (PEN, USD).")
        )
    if errors:
        raise ValidationError(errors)
