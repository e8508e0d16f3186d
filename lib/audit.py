"""Who changed a setting, and from what to what: rows of Django admin's history (LogEntry).

A service (or an admin) takes a `snapshot` of the fields it may change before the change
and one after, and `log_change` writes one LogEntry whose message lists «campo: antes →
después» with the fields' verbose names and their values as a person reads them (choice
labels, Sí/No, money with two decimals, related rows by name, long texts shortened);
nothing when nothing changed, or when nobody signed in did it (a task, an import). The
admin's *Historial* shows the message as written, and so does any page listing LogEntry.

`AuditedAdminMixin` makes a ModelAdmin write the same message on its change page.
"""

import datetime
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from lib import people
from lib.money import format_money

# A value longer than this is cut with "…": the history says a text changed, it does not
# keep copies of it.
VALUE_LENGTH = 80
# LogEntry.change_message is a TextField; this keeps a row readable on a screen.
MESSAGE_LENGTH = 2000
SEPARATOR = "; "
ARROW = " → "

Snapshot = dict[str, str]


def shown(value: Any, field: models.Field | None = None) -> str:
    """Return `value` as a person reads it: a choice's label, Sí/No, money with two decimals,
    a date as dd/mm/yyyy, a list joined with commas, a long text shortened."""
    if field is not None and field.choices and not isinstance(value, list | tuple):
        value = dict(field.flatchoices).get(value, value)
    if value is None or value == "" or value == [] or value == ():
        text = _("(vacío)")
    elif isinstance(value, bool):
        text = _("Sí") if value else _("No")
    elif isinstance(value, Decimal):
        text = format_money(value)
    elif isinstance(value, datetime.datetime):
        text = date_format(
            timezone.localtime(value) if timezone.is_aware(value) else value, "d/m/Y H:i"
        )
    elif isinstance(value, datetime.date):
        text = date_format(value, "d/m/Y")
    elif isinstance(value, datetime.time):
        text = time_format(value, "H:i")
    elif isinstance(value, list | tuple):
        item_field = field if field is not None and field.choices else None
        text = ", ".join(
            " ".join(shown(part) for part in item)
            if isinstance(item, list | tuple)
            else shown(item, item_field)
            for item in value
        )
    else:
        text = str(value)
    return Truncator(text).chars(VALUE_LENGTH)


def snapshot(
    obj: models.Model | None, fields: Iterable[str], *, values: Mapping[str, Any] | None = None
) -> Snapshot:
    """Return `obj`'s `fields` as {verbose name: value as shown}; {} for no object.

    A foreign key shows the related row (`str`), a many-to-many field its rows' names
    (sorted: order does not matter to a setting). `values` overrides a field's raw value
    (a service that knows better how to name it: weekdays as their names), or adds a line
    under its own label (a flow's steps).
    """
    if obj is None:
        return {}
    values = values or {}
    found: Snapshot = {}
    for name in fields:
        field = obj._meta.get_field(name)
        label = str(getattr(field, "verbose_name", name))
        if name in values:
            found[label] = shown(values[name])
        elif field.many_to_many:
            rows = getattr(obj, name).all() if obj.pk else []
            found[label] = shown(sorted(str(row) for row in rows))
        elif field.many_to_one or field.one_to_one:
            found[label] = shown(getattr(obj, name))
        else:
            found[label] = shown(getattr(obj, field.attname), field)
    for label, value in values.items():
        if label not in fields:
            found[str(label)] = shown(value)
    return found


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """Return «campo: antes → después» for each label whose value differs."""
    return [
        f"{label}: {before.get(label, _('(vacío)'))}{ARROW}{value}"
        for label, value in after.items()
        if before.get(label) != value
    ]


def log_change(
    *,
    actor: AbstractBaseUser | None,
    obj: models.Model,
    before: Mapping[str, str],
    after: Mapping[str, str],
) -> LogEntry | None:
    """Record in `obj`'s history what `actor` changed, old → new (one query); None when
    nothing changed or nobody signed in did it."""
    return log(actor=actor, obj=obj, flag=CHANGE, lines=changes(before, after))


def log_addition(
    *, actor: AbstractBaseUser | None, obj: models.Model, after: Mapping[str, str]
) -> LogEntry | None:
    """Record in `obj`'s history that `actor` created it, with the values it got."""
    lines = [f"{label}: {value}" for label, value in after.items()]
    return log(actor=actor, obj=obj, flag=ADDITION, lines=[_("Creado"), *lines])


def log_deletion(
    *, actor: AbstractBaseUser | None, obj: models.Model, before: Mapping[str, str]
) -> LogEntry | None:
    """Record that `actor` deleted `obj`, with the values it had (call it before deleting)."""
    lines = [f"{label}: {value}" for label, value in before.items()]
    return log(actor=actor, obj=obj, flag=DELETION, lines=[_("Eliminado"), *lines])


def log(
    *, actor: AbstractBaseUser | None, obj: models.Model, flag: int, lines: Sequence[str]
) -> LogEntry | None:
    """Write one LogEntry with `lines` as its message; None for no lines or no person."""
    actor = people.signed_in(actor)
    if actor is None or (flag == CHANGE and not lines):
        return None
    message = SEPARATOR.join(str(line) for line in lines)
    return LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[obj],
        action_flag=flag,
        change_message=Truncator(message).chars(MESSAGE_LENGTH),
        single_object=True,
    )


class AuditedAdminMixin:
    """Write the admin's change message as «campo: antes → después» (the changed form
    fields, old values as the form got them, new as it saved them), not only the fields'
    names; the additions and deletions keep Django's own message."""

    def construct_change_message(self, request, form, formsets, add=False):
        if add or not getattr(form, "instance", None) or not form.changed_data:
            return super().construct_change_message(request, form, formsets, add)
        lines = form_changes(form)
        if not lines:
            return super().construct_change_message(request, form, formsets, add)
        # The inlines' rows added, changed or deleted keep Django's wording, after the fields.
        django_parts = super().construct_change_message(request, form, formsets, add)
        inline_parts = [
            part for part in django_parts if "name" in part.get("changed", {"name": ""})
        ]
        if inline_parts:
            lines.append(LogEntry(change_message=json.dumps(inline_parts)).get_change_message())
        return SEPARATOR.join(lines)


def form_changes(form: Any) -> list[str]:
    """Return «campo: antes → después» for a saved model form's changed fields, reading the
    old values from its `initial` (what the row held when the form was built)."""
    model = form.instance._meta.model
    lines = []
    for name in form.changed_data:
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:  # a form-only field: its label, raw values
            label = str(form.fields[name].label or name)
            old, new = shown(form.initial.get(name)), shown(form.cleaned_data.get(name))
            if old != new:
                lines.append(f"{label}: {old}{ARROW}{new}")
            continue
        label = str(getattr(field, "verbose_name", name))
        old, new = form.initial.get(name), form.cleaned_data.get(name)
        if field.many_to_many:
            old_rows = [row if isinstance(row, models.Model) else None for row in (old or [])]
            if any(row is None for row in old_rows):
                old_rows = list(field.related_model._default_manager.filter(pk__in=old or []))
            before = shown(sorted(str(row) for row in old_rows))
            after = shown(sorted(str(row) for row in (new or [])))
        elif field.many_to_one or field.one_to_one:
            if old is not None and not isinstance(old, models.Model):
                old = field.related_model._default_manager.filter(pk=old).first()
            before, after = shown(old), shown(new)
        else:
            before, after = shown(old, field), shown(new, field)
        if before != after:
            lines.append(f"{label}: {before}{ARROW}{after}")
    return lines
