"""Edit forms that keep what another person saved while they were open.

Two tabs, or two people, open the same record's form; the first saves a change, the second
saves another one. Without this, the second save wrote back every value its form had shown,
silently undoing the first: a "No contactar" unticked, a revoked role given back, an old bank
account restored.

`KeepsOthersChanges` (a ModelForm mixin) sends, signed in one hidden field, what each field
held when the form was shown. On save it compares three values per field: what the form
showed, what this person sent, what is stored now. `KeepsOthersChangesPlain` does the same
for a plain `forms.Form` that edits a stored record through a service: it is given the
stored values (`stored=`), since it has no instance to read them from.

- Changed only by this person: saved.
- Changed only by the other one (this person left it as shown): the stored value stays.
- Changed by both, differently: the form is refused on that field, naming the stored value;
  the hidden field then holds what is stored now, so saving again keeps this person's value
  on purpose.

A form sent without the hidden field (a script, an older page) is taken as it comes.
"""

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.admin.utils import flatten
from django.core import signing
from django.db import models
from django.forms.models import model_to_dict
from django.utils import formats, timezone
from django.utils.translation import gettext as _

SEEN = "seen_values"
_SALT = "lib.stale.seen"


def _canonical(value: Any) -> Any:
    """Return a JSON value that is equal for equal values, whatever their Python type."""
    if value is None or value == "":
        return ""
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, models.QuerySet | list | tuple | set | frozenset):
        return sorted(str(_canonical(item)) for item in value)
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, int):
        return format(Decimal(value), "f")
    if isinstance(value, datetime):
        # To the second and in UTC, as a form writes it back (a split date-time widget
        # drops the microseconds; a form's value comes in the local time zone).
        if timezone.is_aware(value):
            value = value.astimezone(UTC)
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _signed(values: Mapping[str, Any]) -> str:
    return signing.dumps(
        {name: _canonical(value) for name, value in values.items()}, salt=_SALT, compress=True
    )


class _ThreeWayMerge:
    """What both mixins share: the hidden field, and the comparison on save. A subclass
    says what is stored (`_stored_values`) and may narrow what is compared (`_compared`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[SEEN] = forms.CharField(widget=forms.HiddenInput, required=False)
        # Read now: the stored record, before the form changes it.
        self._stored = self._stored_values()
        if self._stored:
            self.fields[SEEN].initial = _signed(self._stored)

    def _stored_values(self) -> dict[str, Any]:
        """Return each tracked field's stored value as the field cleans it; nothing here
        (the form is then taken as it comes): each mixin below says where they are."""
        return {}

    def _compared(self) -> dict[str, Any]:
        """Return the stored values the save compares, by field name."""
        return self._stored

    def _seen(self) -> dict[str, Any] | None:
        text = self.data.get(self.add_prefix(SEEN)) if self.is_bound else None
        if not text:
            return None
        try:
            seen = signing.loads(text, salt=_SALT)
        except signing.BadSignature:
            return None
        return seen if isinstance(seen, dict) else None

    def _clean_fields(self) -> None:
        super()._clean_fields()
        seen = self._seen()
        if seen is None or not self._stored:
            return
        conflict = False
        for name, stored in self._compared().items():
            if name not in self.cleaned_data or name not in seen:
                continue
            shown, now = seen[name], _canonical(stored)
            if now == shown:
                continue  # nobody else changed it: this person's value, changed or not
            mine = _canonical(self.cleaned_data[name])
            if mine == shown:
                self.cleaned_data[name] = stored  # left as shown: the other change stays
            elif mine != now:
                conflict = True
                self.add_error(
                    name,
                    _(
                        "Otra persona lo cambió a «%(value)s» mientras usted editaba. "
                        "Guarde de nuevo para dejar el suyo."
                    )
                    % {"value": self._shown(name, stored)},
                )
        if conflict:
            # Saving again means "mine, having seen theirs".
            data = self.data.copy()
            data[self.add_prefix(SEEN)] = _signed(self._stored)
            self.data = data

    def _shown(self, name: str, value: Any) -> str:
        field = self.fields[name]
        if value is None or value == "":
            return _("vacío")
        if isinstance(value, bool):
            return _("Sí") if value else _("No")
        if isinstance(field, forms.ModelMultipleChoiceField):
            return ", ".join(field.label_from_instance(item) for item in value) or _("vacío")
        if isinstance(field, forms.ModelChoiceField):
            return field.label_from_instance(value)
        if isinstance(value, datetime):
            local = timezone.localtime(value) if timezone.is_aware(value) else value
            return formats.date_format(local, "SHORT_DATETIME_FORMAT")
        if isinstance(value, date):
            return formats.date_format(value, "SHORT_DATE_FORMAT")  # not "2026-04-15"
        if isinstance(value, time):
            return value.strftime("%H:%M")  # not "08:00:00"
        choices = dict(getattr(field, "choices", ()) or ())
        text = str(choices.get(value, value))
        return text if len(text) <= 80 else text[:79] + "…"


class KeepsOthersChanges(_ThreeWayMerge):
    """Mixin for a ModelForm editing a saved instance; see the module's docstring."""

    def _tracked(self) -> list[str]:
        model_fields = {field.name for field in self.instance._meta.get_fields()}
        return [
            name
            for name, field in self.fields.items()
            if name in model_fields and name != SEEN and not field.disabled
        ]

    def _stored_values(self) -> dict[str, Any]:
        if not self.instance.pk:
            return {}
        tracked = self._tracked()
        raw = model_to_dict(self.instance, fields=tracked)
        values = {}
        for name in tracked:
            if name not in raw:
                continue
            field = self.fields[name]
            value = raw[name]
            if isinstance(field, forms.ModelMultipleChoiceField):
                pks = [getattr(item, "pk", item) for item in value or ()]
                values[name] = list(field.queryset.filter(pk__in=pks))
            elif isinstance(field, forms.ModelChoiceField):
                # By the model's manager: a stored choice the list no longer offers (an
                # inactive branch) is still what is stored.
                manager = field.queryset.model._default_manager
                values[name] = None if value is None else manager.filter(pk=value).first()
            else:
                values[name] = value
        return values


class KeepsOthersChangesPlain(_ThreeWayMerge):
    """Mixin for a plain Form editing a stored record: `stored=` gives, by field name, each
    value the record holds now as the field cleans it (a model instance for a choice of
    rows, a list of them for several, a `Decimal`, a `date`), read on every request.

    Only the fields named are compared; a file field or a disabled one never is. Without
    `stored` (a form that creates), the form is taken as it comes. Fields the form adds
    after this mixin's `__init__` (dynamic ones) may be named too.
    """

    def __init__(self, *args, stored: Mapping[str, Any] | None = None, **kwargs):
        self._given = dict(stored or {})
        super().__init__(*args, **kwargs)

    def _stored_values(self) -> dict[str, Any]:
        return self._given

    def _compared(self) -> dict[str, Any]:
        # Here, not in `_stored_values`: a form may add fields after this `__init__`.
        return {
            name: value
            for name, value in self._stored.items()
            if name in self.fields
            and name != SEEN
            and not self.fields[name].disabled
            and not isinstance(self.fields[name], forms.FileField)
        }


class KeepsOthersChangesAdmin:
    """Mixin for a ModelAdmin: its change form is a `KeepsOthersChanges` form, the hidden
    field in its last fieldset (the admin writes only the fields its fieldsets name)."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None or not fieldsets:
            return fieldsets
        if any(SEEN in flatten(options["fields"]) for _name, options in fieldsets):
            return fieldsets  # an admin without fieldsets lists the form's fields, SEEN too
        name, options = fieldsets[-1]
        fieldsets[-1] = (name, {**options, "fields": (*options["fields"], SEEN)})
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            base = kwargs.get("form", self.form)
            kwargs["form"] = type(
                base.__name__,
                (KeepsOthersChanges, base),
                {
                    "__module__": base.__module__,
                    SEEN: forms.CharField(widget=forms.HiddenInput, required=False),
                },
            )
        return super().get_form(request, obj, change=change, **kwargs)
