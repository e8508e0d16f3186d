"""Who a customer is (document and names), and what keeps it from being changed lightly.

A customer's identity is on their contracts, promissory notes and payment records. Once
something hangs on it (a loan, registered by `credits` from its `AppConfig.ready`), only
a person whose role has `crm.change_customer_identity` may change it, and only when they
confirm the change; the timeline keeps the old and the new values. The system (a task,
a webhook, an import) never changes an identity.

The core never imports the apps above it: each registers a *guard*, a function that
returns why a customer's identity is protected ("" when it is not).
"""

import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils.crypto import salted_hmac
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from crm import validators
from crm.models import Customer
from lib import people
from lib.registry import Registry

IDENTITY_FIELDS = ("document_type", "document_number", "first_name", "last_name")
PERMISSION = "crm.change_customer_identity"

Guard = Callable[[Customer], str]

_guards: Registry[Guard] = Registry("An identity guard")


def register_guard(name: str, guard: Guard) -> None:
    """Ask `guard(customer)` why a customer's identity is protected ("" when it is not)."""
    _guards.register(name, guard)


def unregister_guard(name: str) -> None:
    """Forget `name`'s guard (for tests)."""
    _guards.unregister(name)


def named(codes: list[str], shown: int) -> str:
    """Name what protects an identity in a guard's reason: the first `shown` codes, and "…"
    when `codes` holds more (a guard reads `shown` + 1 of them)."""
    text = ", ".join(codes[:shown])
    return f"{text} …" if len(codes) > shown else text


def protection(customer: Customer) -> list[str]:
    """Return why the customer's identity is protected, one reason per guard; [] if free.

    A customer not saved yet has nothing hanging on them.
    """
    if customer.pk is None:
        return []
    reasons = []
    for name in _guards.names():
        guard = _guards.get(name)
        reason = guard(customer) if guard else ""
        if reason:
            reasons.append(reason)
    return reasons


def may_change(user: AbstractBaseUser | None, reasons: list[str]) -> bool:
    """Return whether `user` may change an identity protected for `reasons`."""
    if people.signed_in(user) is None:
        return False
    return not reasons or user.has_perm(PERMISSION)


def changes(customer: Customer, data: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Return the identity fields `data` changes, as field name → (old, new) text."""
    changed = {}
    for field in IDENTITY_FIELDS:
        if field not in data:
            continue
        old, new = getattr(customer, field) or "", data[field] or ""
        if str(old).strip() != str(new).strip():
            changed[field] = (_value_text(field, old), _value_text(field, new))
    return changed


def label(field: str) -> str:
    return capfirst(str(Customer._meta.get_field(field).verbose_name))


def refused_message(customer: Customer, reasons: list[str]) -> str:
    """Say why a user without the role may not change this customer's identity."""
    return _(
        "El documento y los nombres de %(name)s no se pueden cambiar: %(reasons)s. "
        "Solo un supervisor o un administrador puede corregirlos."
    ) % {"name": customer.full_name, "reasons": "; ".join(reasons)}


def confirmation_key(customer: Customer, changed: Mapping[str, tuple[str, str]]) -> str:
    """Return the key of exactly these changes to this customer, for the page that lists them.

    A confirmation counts only with the key of the changes the person was shown: a box
    ticked before any page listed them (a first POST, a form filled by the browser), or
    kept while other values were typed, confirms nothing.
    """
    shown = sorted([field, old, new] for field, (old, new) in changed.items())
    text = json.dumps([customer.pk, shown], ensure_ascii=False)
    return salted_hmac("crm.identity.confirmation", text).hexdigest()


def key_for(customer_id: int | None, data: Mapping[str, Any]) -> str:
    """Return the confirmation key of the identity changes `data` makes to the customer as
    saved now ("" for a new customer or no change)."""
    if customer_id is None:
        return ""
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return ""
    data = {f: data[f] for f in IDENTITY_FIELDS if f in data}
    if "document_number" in data:
        data["document_number"] = validators.normalize_document_number(data["document_number"])
    changed = changes(customer, data)
    return confirmation_key(customer, changed) if changed else ""


def check_change(
    *,
    customer: Customer,
    data: Mapping[str, Any],
    actor: AbstractBaseUser | None,
    confirmed: bool | str,
    ask_confirmation: bool = False,
) -> dict[str, tuple[str, str]]:
    """Return the identity changes `data` makes, or raise ValidationError if not allowed.

    Nobody but a person changes an identity; a protected one needs the role and the
    person's confirmation (`confirmed`), as does any one when `ask_confirmation` (a page
    where the identity is not what the person came to change). A page confirms with the
    key of the changes it listed (`confirmation_key`); True is a caller's own word that a
    person saw each old and new value (an import's conflict they accepted).
    """
    changed = changes(customer, data)
    if not changed or customer.pk is None:
        return changed
    names = ", ".join(label(f).lower() for f in changed)
    if people.signed_in(actor) is None:
        raise ValidationError(
            _(
                "No se cambió %(fields)s de %(name)s: la identidad de un cliente solo la "
                "cambia una persona, desde su ficha."
            )
            % {"fields": names, "name": customer.full_name},
            code="identity_system",
        )
    reasons = protection(customer)
    if not reasons and not ask_confirmation:
        return changed
    if not may_change(actor, reasons):
        raise ValidationError(refused_message(customer, reasons), code="identity_protected")
    if isinstance(confirmed, str):
        confirmed = bool(confirmed) and hmac.compare_digest(
            confirmed, confirmation_key(customer, changed)
        )
    if not confirmed:
        # The person confirms what they see: each value as it is and as it would be.
        shown = "; ".join(
            f"{label(f)}: {old or '—'} → {new or '—'}" for f, (old, new) in changed.items()
        )
        if reasons:
            message = _(
                "Usted está cambiando %(fields)s de un cliente que %(reasons)s. "
                "Cambios: %(changes)s. Marque la confirmación para guardar el cambio."
            ) % {"fields": names, "reasons": "; ".join(reasons), "changes": shown}
        else:
            message = _(
                "Usted está cambiando %(fields)s de %(name)s, un cliente ya registrado. "
                "Cambios: %(changes)s. Marque la confirmación para guardar el cambio."
            ) % {"fields": names, "name": customer.full_name, "changes": shown}
        raise ValidationError({"confirm_identity": message}, code="identity_unconfirmed")
    return changed


def _value_text(field: str, value: Any) -> str:
    if field == "document_type" and value in Customer.DocumentType.values:
        return str(Customer.DocumentType(value).label)
    return str(value).strip()
