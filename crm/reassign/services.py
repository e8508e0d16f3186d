"""Give the customers of one advisor to another, each with its timeline entry.

A higher app moves what it keeps of those customers along (credits: their open loans'
advisor) through a hook it registers here (`register_hook`), which the confirmation page
offers as a checkbox to whoever has the hook's permission.
"""

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from crm import forms as crm_forms
from crm import services as crm_services
from crm.models import Customer, Interaction
from lib import bulk, people
from lib.registry import Registry

# Customers moved per transaction: a leaving advisor's thousands of customers are not
# locked all at once, and a batch's entries are one insert. A batch that fails leaves
# the earlier ones moved; sending the page again moves the rest (those still theirs).
BATCH = 500

# move(customer_ids=, from_advisor=, to_advisor=, now=) -> {customer id: what moved along,
# said on that customer's entry}; it runs in the batch's transaction.
Move = Callable[..., dict[int, str]]


@dataclass(frozen=True)
class Hook:
    """What an app moves along with the customers: `label` is the confirmation page's
    checkbox, `permission` who is offered it."""

    name: str
    label: str | Promise
    permission: str
    move: Move


_hooks: Registry[Hook] = Registry("A customer reassignment hook")


def register_hook(name: str, *, label: str | Promise, permission: str, move: Move) -> None:
    """Let the app behind `name` move its rows of the customers along (from its `ready`)."""
    _hooks.register(name, Hook(name=name, label=label, permission=permission, move=move))


def unregister_hook(name: str) -> None:
    """Forget `name`'s hook (for tests)."""
    _hooks.unregister(name)


def hooks_for(user: AbstractBaseUser) -> list[Hook]:
    """Return the hooks `user` may use, by name."""
    found = (_hooks.get(name) for name in _hooks.names())
    return [hook for hook in found if hook is not None and user.has_perm(hook.permission)]


def check_receiver(
    from_advisor: AbstractBaseUser, to_advisor: AbstractBaseUser, *, noun: str
) -> None:
    """Refuse handing `from_advisor`'s `noun` («clientes», «créditos») to themselves or to
    someone who is not an active advisor (`crm.forms.advisors`), on the form's field."""
    if to_advisor.pk == from_advisor.pk:
        raise ValidationError(
            {
                "to_advisor": _("Elija a otra persona: esos %(noun)s ya son de %(name)s.")
                % {"noun": noun, "name": people.display_name(to_advisor)}
            }
        )
    if not crm_forms.advisors().filter(pk=to_advisor.pk).exists():
        raise ValidationError(
            {
                "to_advisor": _("%(name)s no puede recibir %(noun)s: está inactivo o no es asesor.")
                % {"noun": noun, "name": people.display_name(to_advisor)}
            }
        )


def reassign_customers(
    *,
    customers: QuerySet[Customer],
    from_advisor: AbstractBaseUser,
    to_advisor: AbstractBaseUser,
    actor: AbstractBaseUser,
    hooks: Iterable[Hook] = (),
    now: datetime.datetime | None = None,
) -> int:
    """Make `to_advisor` the advisor of those of `customers` whose advisor is
    `from_advisor`, in batches of BATCH, each customer with a timeline entry (and what
    each hook moved along); return how many changed hands.

    Only an active advisor (`crm.forms.advisors`) receives them.
    """
    now = now or timezone.now()
    check_receiver(from_advisor, to_advisor, noun=_("clientes"))
    hooks = list(hooks)
    ids = list(customers.filter(advisor=from_advisor).order_by("pk").values_list("pk", flat=True))
    moved = 0
    for start in range(0, len(ids), BATCH):
        moved += _move_batch(
            ids[start : start + BATCH],
            from_advisor=from_advisor,
            to_advisor=to_advisor,
            actor=actor,
            hooks=hooks,
            now=now,
        )
    return moved


@transaction.atomic
def _move_batch(
    ids: list[int],
    *,
    from_advisor: AbstractBaseUser,
    to_advisor: AbstractBaseUser,
    actor: AbstractBaseUser,
    hooks: list[Hook],
    now: datetime.datetime,
) -> int:
    # Locked and read again: a customer given to someone else meanwhile stays with them.
    still_theirs = list(
        Customer.objects.filter(pk__in=ids, advisor=from_advisor)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not still_theirs:
        return 0
    Customer.objects.filter(pk__in=still_theirs).update(advisor=to_advisor, updated_at=now)
    along: dict[int, list[str]] = {}
    for hook in hooks:
        moved = hook.move(
            customer_ids=still_theirs, from_advisor=from_advisor, to_advisor=to_advisor, now=now
        )
        for customer_id, text in moved.items():
            along.setdefault(customer_id, []).append(text)
    summary = _("Asesor cambiado de %(old)s a %(new)s") % {
        "old": people.display_name(from_advisor),
        "new": people.display_name(to_advisor),
    }
    payload = {"asesor_anterior": from_advisor.pk, "asesor": to_advisor.pk}
    actor_id = people.signed_in(actor).pk if people.signed_in(actor) else None
    bulk.insert_rows(
        Interaction,
        crm_services.INTERACTION_COLUMNS,
        (
            crm_services.system_entry_row(
                customer_id,
                summary="; ".join([summary, *along.get(customer_id, [])]) + ".",
                payload=payload,
                actor_id=actor_id,
                at=now,
            )
            for customer_id in still_theirs
        ),
    )
    return len(still_theirs)
