"""Which rules name a configuration row (a tag, a branch, a channel, a product), so that
deleting the row does not silently widen them.

A collections segment or a gestiones campaign keeps its filters as many-to-many rows, and
an empty filter means "no such rule": a segment «Solo VIP» whose tag VIP was deleted
turned into every customer, and a draft campaign for VIPs would have messaged all of
them. Such a row is refused deletion while a rule names it, saying which ones.

The core never imports the apps above it: each app registers a *finder* for the model it
names in its rules (by label, "crm.Tag"), a function that returns the rules naming a row,
in words («segmento «Solo VIP»»). The admin's deletion page lists them as protected and
the deleting services refuse with them.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from lib.registry import Registry

Finder = Callable[[models.Model], list[str]]

# Rules listed in a refusal; the rest are counted.
SHOWN = 10

# The models whose refusal says «la» (the rest, «el»): the sentence is Spanish.
_FEMININE = {"crm.Tag", "crm.Branch"}


@dataclass(frozen=True)
class Reference:
    """Rules of one app that name rows of `model` ("app_label.ModelName")."""

    model: str
    find: Finder


_references: Registry[Reference] = Registry("A rule reference")


def register_reference(name: str, model: str, find: Finder) -> None:
    """Ask `find(row)` which rules name a row of `model` ("crm.Tag"), in words."""
    _references.register(name, Reference(model=model, find=find))


def unregister_reference(name: str) -> None:
    """Forget `name`'s finder (for tests)."""
    _references.unregister(name)


def naming(obj: models.Model) -> list[str]:
    """Return the rules that name `obj`, in words, by the name of their finder."""
    found: list[str] = []
    for name in _references.names():
        reference = _references.get(name)
        if reference is not None and reference.model == obj._meta.label:
            found.extend(reference.find(obj))
    return found


def refusal(obj: models.Model) -> str:
    """Return why `obj` may not be deleted while rules name it ("" when none does)."""
    rules = naming(obj)
    if not rules:
        return ""
    listed = ", ".join(rules[:SHOWN])
    if len(rules) > SHOWN:
        listed = _("%(listed)s y %(n)s más") % {"listed": listed, "n": len(rules) - SHOWN}
    what = str(obj._meta.verbose_name)
    if obj._meta.label in _FEMININE:
        text = _(
            "No se puede eliminar la %(what)s «%(name)s»: sin ella, estas reglas alcanzarían "
            "a más clientes. Quítela primero de: %(rules)s."
        )
    else:
        text = _(
            "No se puede eliminar el %(what)s «%(name)s»: sin él, estas reglas alcanzarían "
            "a más clientes. Quítelo primero de: %(rules)s."
        )
    return text % {"what": what, "name": obj, "rules": listed}


def refuse_if_named(objs: Iterable[models.Model]) -> None:
    """Raise ValidationError naming the rules of each of `objs` that rules name."""
    reasons = [reason for obj in objs if (reason := refusal(obj))]
    if reasons:
        raise ValidationError(reasons)


@transaction.atomic
def delete_unless_named(*, obj: models.Model) -> None:
    """Delete a row no rule names and nothing protects; refuse one with the reason.

    The row is locked first: a rule being saved with it waits for the deletion (and then
    fails on the missing row), or the deletion waits for the rule and sees it.
    """
    model = type(obj)
    current = model._base_manager.select_for_update().filter(pk=obj.pk).first()
    if current is None:
        return  # deleted a moment ago by someone else
    refuse_if_named([current])
    try:
        current.delete()
    except ProtectedError as exc:
        raise ValidationError(
            _("No se puede eliminar «%(name)s»: lo usan %(what)s.")
            % {
                "name": current,
                "what": ", ".join(
                    sorted({str(row._meta.verbose_name_plural) for row in exc.protected_objects})
                ),
            }
        ) from exc
