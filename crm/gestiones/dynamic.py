"""A gestión type's dynamic form: Django form fields from `FormField` rows, and their data.

Values are stored as JSON: decimals as strings (never float), dates as ISO strings,
booleans and integers as themselves. `clean_data` is what services call, so a value that
did not come through a form (a campaign, a test, the API) is checked the same way.
"""

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext as _

from crm.gestiones.models import FormField
from lib import amounts
from lib import fields as lib_fields

PREFIX = "dyn_"

# A type's own numbers are amounts and counts (income, dependants, months): a lender never
# records one below zero, and FormField has no bounds of its own to say otherwise. The
# largest is what a decimal field holds: 12 whole digits (and 4 decimals).
MIN_NUMBER = 0
MAX_NUMBER = Decimal("999999999999.9999")
MAX_INTEGER = 999_999_999_999
# A type's own dates (a birth, a visit, a deadline) fall within these: 0001 and 9999 were
# taken and shown on the gestión as typed.
EARLIEST_DATE = datetime.date(1900, 1, 1)
LATEST_DATE = datetime.date(2100, 12, 31)


def form_fields(fields: Iterable[FormField]) -> dict[str, forms.Field]:
    """Return the Django form fields for `fields`, keyed `dyn_<name>`."""
    return {PREFIX + field.name: _form_field(field) for field in fields}


def _form_field(field: FormField) -> forms.Field:
    common: dict[str, Any] = {
        "label": field.label,
        "required": field.is_required,
        "help_text": field.help_text,
    }
    kind = field.kind
    if kind == FormField.Kind.LONG_TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, **common)
    if kind == FormField.Kind.INTEGER:
        return lib_fields.IntegerField(
            min_value=MIN_NUMBER,
            max_value=MAX_INTEGER,
            error_messages={
                "min_value": _negative_message(field),
                "max_value": _too_large_message(field),
            },
            **common,
        )
    if kind == FormField.Kind.DECIMAL:
        # Too many digits (13 whole ones, or a fifth decimal) is the decimal's "too large".
        too_large = _too_large_message(field)
        return lib_fields.DecimalField(
            max_digits=16,
            decimal_places=4,
            min_value=MIN_NUMBER,
            error_messages={
                "min_value": _negative_message(field),
                "max_digits": too_large,
                "max_whole_digits": too_large,
                "max_decimal_places": too_large,
            },
            **common,
        )
    if kind == FormField.Kind.DATE:
        out_of_range = _date_range_message(field)
        return forms.DateField(
            widget=forms.DateInput(
                attrs={
                    "type": "date",
                    "min": EARLIEST_DATE.isoformat(),
                    "max": LATEST_DATE.isoformat(),
                }
            ),
            validators=[
                MinValueValidator(EARLIEST_DATE, out_of_range),
                MaxValueValidator(LATEST_DATE, out_of_range),
            ],
            **common,
        )
    if kind == FormField.Kind.BOOLEAN:
        # Required means "must be ticked" for a checkbox, which is not what a yes/no asks.
        return forms.TypedChoiceField(
            choices=[("", "—"), ("true", _("Sí")), ("false", _("No"))],
            coerce=lambda value: value == "true",
            empty_value=None,
            **common,
        )
    if kind == FormField.Kind.CHOICE:
        choices = [("", "—"), *((c, c) for c in field.choice_list())]
        return forms.ChoiceField(choices=choices, **common)
    return forms.CharField(max_length=500, **common)


def _negative_message(field: FormField) -> str:
    return _("«%(label)s» no puede ser negativo.") % {"label": field.label}


def _too_large_message(field: FormField) -> str:
    if field.kind == FormField.Kind.INTEGER:
        return _("«%(label)s» admite hasta 12 cifras.") % {"label": field.label}
    return _("«%(label)s» admite hasta 12 cifras enteras y 4 decimales.") % {"label": field.label}


def _date_range_message(field: FormField) -> str:
    return _("«%(label)s»: elija una fecha entre el %(first)s y el %(last)s.") % {
        "label": field.label,
        "first": f"{EARLIEST_DATE:%d/%m/%Y}",
        "last": f"{LATEST_DATE:%d/%m/%Y}",
    }


def _number_problem(field: FormField, value: Any) -> str | None:
    """Return why a converted number or date of `field` is out of bounds; None for any
    other kind."""
    if field.kind == FormField.Kind.DATE:
        day = datetime.date.fromisoformat(value)
        return None if EARLIEST_DATE <= day <= LATEST_DATE else _date_range_message(field)
    if field.kind not in (FormField.Kind.INTEGER, FormField.Kind.DECIMAL):
        return None
    number = Decimal(value)
    if number < MIN_NUMBER:
        return _negative_message(field)
    if number > (MAX_INTEGER if field.kind == FormField.Kind.INTEGER else MAX_NUMBER):
        return _too_large_message(field)
    return None


def data_from_form(cleaned_data: Mapping[str, Any], fields: Iterable[FormField]) -> dict[str, Any]:
    """Return the dynamic values a bound form cleaned, keyed by field name."""
    return {
        field.name: cleaned_data.get(PREFIX + field.name)
        for field in fields
        if PREFIX + field.name in cleaned_data
    }


def initial_from_data(data: Mapping[str, Any], fields: Iterable[FormField]) -> dict[str, Any]:
    """Return a form's initial values from stored data."""
    return {PREFIX + f.name: _initial(f, data[f.name]) for f in fields if f.name in data}


def cleaned_from_data(data: Mapping[str, Any], fields: Iterable[FormField]) -> dict[str, Any]:
    """Return stored data as the form's fields clean it (by their names), for `lib.stale` to
    compare: JSON keeps decimals and dates as text ("1500.50" is `Decimal("1500.50")`)."""
    return {PREFIX + field.name: _from_json(field, data.get(field.name)) for field in fields}


def _from_json(field: FormField, value: Any) -> Any:
    """What `_to_json` stored, back as the form field cleans it; as it is when it is not
    what the services write (set by hand)."""
    if value in (None, ""):
        return None
    try:
        if field.kind == FormField.Kind.DECIMAL:
            return Decimal(str(value))
        if field.kind == FormField.Kind.DATE:
            return datetime.date.fromisoformat(str(value))
        if field.kind == FormField.Kind.INTEGER:
            return int(value)
    except (ArithmeticError, ValueError, TypeError):
        pass
    return value


def _initial(field: FormField, value: Any) -> Any:
    """Return a stored decimal as the form reads it back (lib.fields): "1E+3" as "1000",
    and "1.234", which the form would refuse as ambiguous, as "1.2340". Such values were
    typed before lib.fields read the numbers, or given to the services by code. A stored
    yes or no as its select's option ("true", "false"): given True, the select showed «—»,
    and every save of the page erased the answer."""
    if field.kind == FormField.Kind.BOOLEAN and isinstance(value, bool):
        return "true" if value else "false"
    if field.kind != FormField.Kind.DECIMAL:
        return value
    try:
        text = f"{Decimal(str(value)):f}"
        amounts.read(text)
    except amounts.Unreadable as exc:
        return text + "0" if exc.code == "ambiguous" else value
    except (InvalidOperation, ValueError):
        return value
    return text


def clean_data(
    data: Mapping[str, Any] | None, fields: Iterable[FormField], *, require: bool = True
) -> dict[str, Any]:
    """Validate `data` against `fields` and return it JSON-ready; raise ValidationError.

    Keys that are not fields of the form are refused, so a typo never passes silently.
    With `require` off, missing required values are allowed (they are asked for later).
    """
    data = dict(data or {})
    fields = list(fields)
    known = {f.name for f in fields}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - known)
    if unknown:
        errors["data"] = [_("Campos desconocidos: %(names)s.") % {"names": ", ".join(unknown)}]
    cleaned: dict[str, Any] = {}
    for field in fields:
        value = data.get(field.name)
        if value in (None, ""):
            if field.is_required and require:
                errors.setdefault(field.name, []).append(
                    _("«%(label)s» es obligatorio.") % {"label": field.label}
                )
            continue
        try:
            converted = _to_json(field, value)
        except (ValueError, InvalidOperation, TypeError, OverflowError):
            errors.setdefault(field.name, []).append(
                _("«%(label)s»: valor no válido (%(value)s).")
                % {"label": field.label, "value": value}
            )
            continue
        problem = _number_problem(field, converted)
        if problem:
            errors.setdefault(field.name, []).append(problem)
            continue
        cleaned[field.name] = converted
    if errors:
        raise ValidationError(errors)
    return cleaned


def _to_json(field: FormField, value: Any) -> Any:
    kind = field.kind
    if kind == FormField.Kind.INTEGER:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        return int(value)
    if kind == FormField.Kind.DECIMAL:
        if isinstance(value, float):
            raise TypeError("decimals come as Decimal or text, never float")
        number = Decimal(str(value).strip())
        if not number.is_finite():  # "NaN" and "Infinity" parse, but are no amount
            raise ValueError(value)
        # Positional, never "1E+3": what the forms read back (lib.amounts has no exponents).
        return format(number, "f")
    if kind == FormField.Kind.DATE:
        if isinstance(value, datetime.date):
            return value.isoformat()
        return datetime.date.fromisoformat(str(value)).isoformat()
    if kind == FormField.Kind.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "si", "sí", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        raise ValueError(value)
    if kind == FormField.Kind.CHOICE:
        if str(value) not in field.choice_list():
            raise ValueError(value)
        return str(value)
    text = str(value).strip()
    limit = 4000 if kind == FormField.Kind.LONG_TEXT else 500
    if len(text) > limit:
        raise ValueError(value)
    return text


def missing_required(data: Mapping[str, Any], fields: Iterable[FormField]) -> list[FormField]:
    """Return the required fields that `data` has no value for."""
    return [f for f in fields if f.is_required and data.get(f.name) in (None, "")]


def display_items(data: Mapping[str, Any], fields: Iterable[FormField]) -> list[tuple[str, str]]:
    """Return (label, text) pairs of stored data, in the form's order, for display."""
    items = []
    for field in fields:
        if field.name not in data:
            continue
        value = data[field.name]
        if isinstance(value, bool):
            text = _("Sí") if value else _("No")
        elif field.kind == FormField.Kind.DATE:
            text = datetime.date.fromisoformat(value).strftime("%d/%m/%Y")
        else:
            text = str(value)
        items.append((field.label, text))
    return items
