"""Merge two records of the same customer, confirmed by a person («Fusionar clientes»).

The same person can be registered twice (a DNI and a passport, a typo in the document, a
lead registered again). `merge_customers` moves every row that points at the record that
goes (`drop`) to the one that stays (`keep`), in one transaction, and marks `drop` merged
(`Customer.merged_into`): it stays for its history, out of the list and the search, and
its 360 page sends to the kept one.

Rows are found generically, from `Customer._meta.get_fields(include_hidden=True)`: many
foreign keys to the customer have `related_name="+"`, which `_meta.related_objects`
leaves out. A relation with a one-per-customer rule (a conversation, an active written-off
campaign, a campaign's target) is the business of the app above that owns it: it
registers a handler here (`register_merge_handler`), whose `check` says why the merge may
not happen and whose `move` settles its rows before the generic move. The core never
imports those apps.
"""

import hashlib
import json
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import forms as crm_forms
from crm import identity
from crm.models import Customer, Interaction
from crm.services import record_interaction
from lib import people
from lib.registry import Registry

KEEP = "keep"
DROP = "drop"

# What the comparison page asks about, one radio each: the document (its type and number
# go together, so a customer never ends with one record's type and the other's number),
# the names and the contact data.
CHOICES: dict[str, tuple[str, ...]] = {
    "document": ("document_type", "document_number"),
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "phone": ("phone",),
    "phone_secondary": ("phone_secondary",),
    "email": ("email",),
    "address": ("address",),
    "city": ("city",),
}
# Filled from the merged record only where the kept one has nothing.
FILLED_IF_BLANK = ("channel", "branch", "advisor")

# What a merged record's document becomes when the kept record takes it: the document is
# unique per type, and who the record was stays on its «Fusionado en …» entry.
MERGED_DOCUMENT = "FUSIONADO-{pk}"

Check = Callable[[Customer, Customer], str]
Move = Callable[[Customer, Customer], None]


@dataclass(frozen=True)
class MergeHandler:
    """What an app does with its one-per-customer rows when two customers are merged.

    `check(keep, drop)` returns why the merge may not happen ("" when it may); `move(keep,
    drop)` settles the rows of `drop` that would break the rule once on `keep` (it runs
    before the generic move, which carries the rest over) and may raise ValidationError.
    """

    label: str
    check: Check
    move: Move


_handlers: Registry[MergeHandler] = Registry("A merge handler")


def register_merge_handler(label: str, check: Check, move: Move) -> None:
    """Let the app that owns `label`'s rows check and settle them on every merge."""
    _handlers.register(label, MergeHandler(label=label, check=check, move=move))


def unregister_merge_handler(label: str) -> None:
    """Forget `label`'s handler (for tests)."""
    _handlers.unregister(label)


def _registered() -> list[MergeHandler]:
    return [h for h in (_handlers.get(name) for name in _handlers.names()) if h is not None]


# --- What moves ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    """Rows of `model` that point at a customer through `field` (a foreign key)."""

    model: type[models.Model]
    field: models.ForeignKey
    label: str
    # The other side when `model` is a many-to-many's own table (the customer's tags).
    other: models.ForeignKey | None = None

    def rows(self, customer: Customer) -> models.QuerySet:
        return self.model._base_manager.filter(**{self.field.name: customer.pk})


def relations() -> list[Relation]:
    """Return every relation whose rows point at a customer, hidden ones included."""
    found = []
    for rel in Customer._meta.get_fields(include_hidden=True):
        if not (rel.is_relation and rel.auto_created and not rel.concrete):
            continue
        if rel.many_to_many:
            # Its own table's foreign key to the customer is listed too: that one moves.
            continue
        model, field = rel.related_model, rel.field
        other = None
        if model._meta.auto_created:
            # A many-to-many's table: named after the field that declares it.
            owner = model._meta.auto_created
            declared = next(f for f in owner._meta.many_to_many if f.remote_field.through is model)
            label = capfirst(str(declared.verbose_name))
            other = next(
                f for f in model._meta.fields if f.is_relation and f is not field and f.name != "id"
            )
        elif model is Customer:
            label = _("Registros fusionados antes en este")
        else:
            label = capfirst(str(model._meta.verbose_name_plural))
        found.append(Relation(model=model, field=field, label=label, other=other))
    return found


def moves(drop: Customer) -> list[tuple[str, int]]:
    """Return what would move from `drop`: each kind's label and how many rows, in order.

    What the comparison page shows before the merge; the handlers may still fold or remove
    some of those rows (a second conversation), so the merge reports what really moved."""
    counts: dict[str, int] = {}
    for relation in relations():
        count = relation.rows(drop).count()
        if count:
            counts[relation.label] = counts.get(relation.label, 0) + count
    return sorted(counts.items(), key=lambda item: str(item[0]))


def blockers(keep: Customer, drop: Customer) -> list[str]:
    """Return why these two may not be merged, one sentence each ([] when they may)."""
    if keep.pk == drop.pk:
        return [_("No se puede fusionar un cliente consigo mismo: elija otro registro.")]
    found = []
    for customer in (keep, drop):
        if customer.merged_into_id is not None:
            found.append(
                _("%(name)s ya fue fusionado en el cliente n.º %(other)s: no se fusiona otra vez.")
                % {"name": _named(customer), "other": customer.merged_into_id}
            )
    if found:
        return found
    for handler in _registered():
        reason = handler.check(keep, drop)
        if reason:
            found.append(reason)
    return found


def _plain(text: str) -> str:
    """A name as two spellings of one person compare: no accents, case or extra spaces."""
    return " ".join(
        unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().split()
    ).casefold()


def differences(keep: Customer, drop: Customer) -> list[str]:
    """Say what makes the two records look like two people, one sentence each ([] when
    nothing does): their documents and their names. Merged, they cannot be told apart
    again: the comparison page shows these above the button."""
    found = []
    documents = [(c.document_type, c.document_number) for c in (keep, drop)]
    if all(number for _kind, number in documents) and documents[0] != documents[1]:
        found.append(
            _("Los documentos son distintos: %(keep)s y %(drop)s.")
            % {
                "keep": f"{keep.get_document_type_display()} {keep.document_number}",
                "drop": f"{drop.get_document_type_display()} {drop.document_number}",
            }
        )
    if _plain(keep.full_name) != _plain(drop.full_name):
        found.append(
            _("Los nombres son distintos: %(keep)s y %(drop)s.")
            % {"keep": keep.full_name, "drop": drop.full_name}
        )
    return found


def fingerprint(keep: Customer, drop: Customer) -> str:
    """Return what the comparison page saw of both: each record's last change and what
    would move. A merge confirmed on a page whose fingerprint is not the current one is
    refused: one of the two changed since."""
    seen = [
        keep.pk,
        drop.pk,
        keep.updated_at.isoformat(),
        drop.updated_at.isoformat(),
        [[str(label), count] for label, count in moves(drop)],
    ]
    return hashlib.sha256(json.dumps(seen, ensure_ascii=False).encode()).hexdigest()


# --- Which values stay -----------------------------------------------------------------------


def default_choices(keep: Customer, drop: Customer) -> dict[str, str]:
    """Return the kept record's value for each field, or the other's where it is blank."""
    return {
        name: DROP
        if not any(_value(keep, f) for f in fields) and any(_value(drop, f) for f in fields)
        else KEEP
        for name, fields in CHOICES.items()
    }


def chosen_values(keep: Customer, drop: Customer, choices: Mapping[str, str]) -> dict[str, Any]:
    """Return the value each field takes on the kept record; a choice must be one of two."""
    values: dict[str, Any] = {}
    for name, fields in CHOICES.items():
        choice = choices.get(name, KEEP)
        if choice not in (KEEP, DROP):
            raise ValidationError(
                _("Elija de qué registro queda «%(field)s»: uno u otro, no los dos.")
                % {"field": choice_label(name)},
                code="merge_choice",
            )
        source = drop if choice == DROP else keep
        for field in fields:
            values[field] = getattr(source, field)
    for field in FILLED_IF_BLANK:
        values[field] = getattr(keep, field) or getattr(drop, field)
    return values


def choice_label(name: str) -> str:
    if name == "document":
        return _("Documento")
    return capfirst(str(Customer._meta.get_field(name).verbose_name))


def comparison(keep: Customer, drop: Customer) -> list[tuple[str, str, str, str]]:
    """Return the rows the comparison page shows: the choice's name, its label, and each
    record's value as a person reads it."""
    rows = []
    for name, fields in CHOICES.items():
        rows.append(
            (
                name,
                choice_label(name),
                " ".join(_shown(keep, f) for f in fields).strip() or "—",
                " ".join(_shown(drop, f) for f in fields).strip() or "—",
            )
        )
    return rows


def _value(customer: Customer, field: str) -> Any:
    value = getattr(customer, field)
    return value.strip() if isinstance(value, str) else value


def _shown(customer: Customer, field: str) -> str:
    if field == "document_type":
        return customer.get_document_type_display()
    value = getattr(customer, field)
    return str(value) if value else ""


def _named(customer: Customer) -> str:
    return (
        f"{customer.full_name} ({customer.get_document_type_display()} {customer.document_number})"
    )


# --- The merge ---------------------------------------------------------------------------


class Merged(NamedTuple):
    customer: Customer
    moved: str  # «Interacciones: 3; Préstamos: 1», or «nada»


def moved_text(counts: list[tuple[Any, int]]) -> str:
    return "; ".join(f"{label}: {n}" for label, n in counts) or str(_("nada"))


@transaction.atomic
def merge_customers(
    *,
    keep: Customer,
    drop: Customer,
    choices: Mapping[str, str],
    actor: AbstractBaseUser | None,
    identity_key: str = "",
    seen: str = "",
) -> Merged:
    """Move everything of `drop` to `keep`, give `keep` the chosen values, and mark `drop`
    merged into it; one entry on each timeline says what happened and who did it. Returns
    the kept customer and what moved («Traído de ese registro»).

    Refused (ValidationError, nothing written) for the same customer twice, a customer
    already merged, a handler's reason (two active written-off campaigns), a page whose
    `seen` fingerprint is no longer current, or a change of identity not confirmed with
    the key of the changes shown (`crm.identity`).
    """
    if people.signed_in(actor) is None:
        raise ValidationError(_("Solo una persona fusiona clientes, desde la ficha del cliente."))
    if keep.pk == drop.pk:
        raise ValidationError(blockers(keep, keep)[0], code="merge_same")
    # Both rows locked, in the order of their ids: two merges of the same pair (or of
    # crossed pairs) wait for each other instead of deadlocking, and the second one
    # reads what the first left.
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[keep.pk, drop.pk])
        .order_by("pk")
    }
    if len(locked) != 2:
        raise ValidationError(_("Uno de los dos clientes ya no existe."), code="merge_missing")
    keep, drop = locked[keep.pk], locked[drop.pk]
    reasons = blockers(keep, drop)
    if reasons:
        raise ValidationError(reasons, code="merge_blocked")
    if seen and seen != fingerprint(keep, drop):
        raise ValidationError(
            _(
                "%(keep)s o %(drop)s cambió desde que se abrió la comparación. "
                "Revise la comparación de nuevo antes de fusionar."
            )
            % {"keep": keep.full_name, "drop": drop.full_name},
            code="merge_stale",
        )
    values = chosen_values(keep, drop, choices)
    identity_data = {f: values[f] for f in identity.IDENTITY_FIELDS}
    # Who the customer is changes only with the person's confirmation of each old and new
    # value, and with the role when something hangs on it (crm.identity).
    identity_changes = identity.check_change(
        customer=keep,
        data=identity_data,
        actor=actor,
        confirmed=identity_key,
        ask_confirmation=True,
    )
    protected = identity.protection(keep) if identity_changes else []

    for handler in _registered():
        handler.move(keep, drop)
    # What really moved, counted as it moves: after the handlers folded or removed what
    # `keep` already has (a second conversation, a campaign's target), and without the
    # tags `keep` already carries.
    counts: dict[str, int] = {}
    for relation in relations():
        count = _move(relation, keep, drop)
        if count:
            counts[relation.label] = counts.get(relation.label, 0) + count
    moved = moved_text(sorted(counts.items(), key=lambda item: str(item[0])))

    before = {field: getattr(keep, field) for field in values}
    takes_document = (values["document_type"], values["document_number"]) == (
        drop.document_type,
        drop.document_number,
    )
    dropped_document = f"{drop.get_document_type_display()} {drop.document_number}"
    if takes_document:
        # The document is unique per type: the merged record gives it up.
        drop.document_number = MERGED_DOCUMENT.format(pk=drop.pk)
        Customer.objects.filter(pk=drop.pk).update(document_number=drop.document_number)
    for field, value in values.items():
        setattr(keep, field, value)
    if drop.has_opted_out and not keep.has_opted_out:
        # The person asked not to be contacted on one of their records: that holds for both.
        keep.has_opted_out, keep.opted_out_at = True, drop.opted_out_at or timezone.now()
    if drop.last_interaction_at and (
        keep.last_interaction_at is None or drop.last_interaction_at > keep.last_interaction_at
    ):
        keep.last_interaction_at = drop.last_interaction_at
    keep.search_text = keep.build_search_text()
    keep.full_clean(exclude=["tags", "merged_into"])
    keep.save()

    now = timezone.now()
    drop.merged_into, drop.merged_at = keep, now
    Customer.objects.filter(pk=drop.pk).update(merged_into=keep, merged_at=now, updated_at=now)

    shown = identity.changes(Customer(**{f: before[f] for f in identity.IDENTITY_FIELDS}), values)
    changed = {}
    for field in values:
        old, new = before[field], values[field]
        if (old or "") != (new or ""):
            label = capfirst(str(Customer._meta.get_field(field).verbose_name))
            old_text, new_text = shown.get(field, (old, new))
            changed[label] = f"{_text(old_text)} → {_text(new_text)}"
    payload: dict[str, str] = {
        str(_("Registro fusionado")): f"{_named_as(drop, dropped_document)} · n.º {drop.pk}",
        str(_("Traído de ese registro")): moved,
        **changed,
    }
    if protected:
        payload[str(_("identidad protegida"))] = "; ".join(protected)
    payload[str(_("fusionado por"))] = people.display_name(actor)
    record_interaction(
        customer=keep,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Fusionado con otro registro del mismo cliente: %(drop)s.")
        % {"drop": _named_as(drop, dropped_document)},
        payload=payload,
        actor=actor,
    )
    record_interaction(
        customer=drop,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Fusionado en %(keep)s, cliente n.º %(pk)s: todo lo de este registro pasó allí.")
        % {"keep": _named(keep), "pk": keep.pk},
        payload={
            str(_("documento de este registro")): dropped_document,
            str(_("fusionado por")): people.display_name(actor),
        },
        actor=actor,
    )
    return Merged(keep, moved)


def _move(relation: Relation, keep: Customer, drop: Customer) -> int:
    """Point `relation`'s rows of `drop` at `keep`, in a savepoint, and return how many
    moved: a row that a rule keeps from moving refuses the merge with its kind named, and
    nothing stays moved."""
    rows = relation.rows(drop)
    try:
        with transaction.atomic():
            if relation.other is not None:
                # A many-to-many's table: what `keep` has already is not added twice.
                had = relation.rows(keep).values_list(relation.other.attname, flat=True)
                rows.filter(**{f"{relation.other.attname}__in": list(had)}).delete()
            return rows.update(**{relation.field.attname: keep.pk})
    except IntegrityError as exc:
        raise ValidationError(
            _(
                "No se pudo pasar «%(kind)s» de %(drop)s a %(keep)s: una regla de esos datos "
                "lo impide. No se fusionó nada."
            )
            % {"kind": relation.label, "drop": drop.full_name, "keep": keep.full_name},
            code="merge_integrity",
        ) from exc


def _named_as(customer: Customer, document: str) -> str:
    return f"{customer.full_name} ({document})"


def _text(value: Any) -> str:
    return str(value) if value else "—"


# --- The comparison page's form ----------------------------------------------------------


# The radios' names: apart from the values the form adds for the identity key
# (`first_name` is a choice there and a name here).
CHOICE_PREFIX = "from_"


class MergeForm(crm_forms.ConfirmsIdentityMixin, forms.Form):
    """The comparison page: which value stays for each field, and the confirmation of a
    change of identity with the key of the changes the refusal listed."""

    seen = forms.CharField(widget=forms.HiddenInput, max_length=64)
    confirm_identity = crm_forms.identity_confirmation_field()
    identity_key = crm_forms.identity_key_field()

    def __init__(self, *args, keep: Customer, drop: Customer, **kwargs) -> None:
        initial = {CHOICE_PREFIX + name: c for name, c in default_choices(keep, drop).items()}
        kwargs.setdefault("initial", {**initial, "seen": fingerprint(keep, drop)})
        super().__init__(*args, **kwargs)
        self.keep, self.drop = keep, drop
        for name, label, kept, other in comparison(keep, drop):
            self.fields[CHOICE_PREFIX + name] = forms.ChoiceField(
                label=label,
                choices=[(KEEP, kept), (DROP, other)],
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
                error_messages={"invalid_choice": gettext_lazy("Elija uno de los dos valores.")},
            )

    def identity_customer_id(self) -> int | None:
        return self.keep.pk

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors:
            # The values as they would be, for the identity key (crm.identity.key_for).
            cleaned.update(chosen_values(self.keep, self.drop, self.choices()))
        return cleaned

    def choices(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[CHOICE_PREFIX + name]
            for name in CHOICES
            if CHOICE_PREFIX + name in self.cleaned_data
        }

    def rows(self) -> list:
        return [self[CHOICE_PREFIX + name] for name in CHOICES]
