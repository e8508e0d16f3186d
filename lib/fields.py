"""Form fields that know no domain.

Their numbers are read as people type them, by one rule (lib.amounts.read): "." or ","
for the decimals, thousands grouped by the other one or by spaces (1,234.50, 1.234,50,
1 234,50), "1.234" refused as ambiguous, never guessed; no exponents, underscores or
currency signs. Django's own fields read Python's syntax instead: 1e3 is 1000, 1_000 is
1000, and its IntegerField takes "1.000" (a thousand, to a Spaniard) for 1.

And they are typed in a text input, never an <input type="number">: Chromium drops each
key that is not its locale's number syntax as it is typed, so in Peru (decimal point)
"1500,50" reached the server as 150050 and "1,50" as 150, with nothing for the server to
notice. A NumberInput a form gives these fields becomes a text input with its attributes
(but step, min and max, which a text input has no use for).
"""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from lib import amounts

AMBIGUOUS = _(
    "«%(value)s» es ambiguo: ¿separador de miles o decimales? Escríbalo sin separador de "
    "miles (1234) o con sus decimales (1,234.00)."
)


class TypedNumberInput(forms.TextInput):
    """A number typed as text; the field reads it (inputmode brings the phone's digits)."""


def _as_text(widget: forms.Widget | type[forms.Widget]) -> forms.Widget | type[forms.Widget]:
    if isinstance(widget, type) and issubclass(widget, forms.NumberInput):
        return TypedNumberInput
    if isinstance(widget, forms.NumberInput):
        attrs = {k: v for k, v in widget.attrs.items() if k not in ("step", "min", "max")}
        return TypedNumberInput(attrs=attrs)
    return widget


def _inputmode(field: forms.Field, widget: forms.Widget, mode: str) -> dict[str, str]:
    # A phone's digit keyboard has no minus sign: only where a negative number is refused.
    if not isinstance(widget, TypedNumberInput) or "inputmode" in widget.attrs:
        return {}
    if field.min_value is None or field.min_value < 0:
        return {}
    return {"inputmode": mode}


def _read(field: forms.Field, value: object, *, grouped: bool) -> Decimal | None:
    try:
        return amounts.read(str(value), grouped=grouped)
    except amounts.Unreadable as exc:
        if exc.code == "ambiguous":
            # What was typed (at most amounts.MAX_TYPED_LENGTH characters, or it is invalid).
            raise ValidationError(
                field.error_messages["ambiguous"],
                code="ambiguous",
                params={"value": str(value).strip()},
            ) from None
        raise ValidationError(field.error_messages["invalid"], code="invalid") from None


class _TypedNumber:
    """What both fields share: a text input (`_as_text`), the ambiguous message, the
    phone's digit keyboard where negatives are refused, and reading what a person typed
    (`_typed`); a number given by code goes through Django's own reading."""

    widget = TypedNumberInput
    default_error_messages = {"ambiguous": AMBIGUOUS}
    inputmode = ""

    def __init__(self, **kwargs):
        if "widget" in kwargs:
            kwargs["widget"] = _as_text(kwargs["widget"])
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), **_inputmode(self, widget, self.inputmode)}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not isinstance(value, str):  # a number given by code, not typed
            return super().to_python(value)
        return self._typed(value)


class DecimalField(_TypedNumber, forms.DecimalField):
    """Django's decimal field, reading numbers as people type them and saying each problem
    once.

    `grouped=False` for a rate or a percentage: no thousands, so "1,5" and "1.234" are
    decimals. One value may break the maximum and the digits at once (10^15), and forms
    that give both the same message ("El monto es demasiado grande.") showed it twice.
    """

    inputmode = "decimal"

    def __init__(self, *, grouped: bool = True, **kwargs):
        self.grouped = grouped
        super().__init__(**kwargs)

    def _typed(self, value: str) -> Decimal | None:
        return _read(self, value, grouped=self.grouped)

    def run_validators(self, value):
        try:
            super().run_validators(value)
        except ValidationError as exc:
            raise ValidationError(list(dict.fromkeys(exc.messages))) from None


class IntegerField(_TypedNumber, forms.IntegerField):
    """Django's integer field, reading numbers as people type them: "1 000" and
    "1,000,000" are grouped, "1.000" and "1,000" ambiguous (Django took "1.000" for 1),
    "12.5" and "1e3" are not whole numbers."""

    inputmode = "numeric"

    def _typed(self, value: str) -> int | None:
        number = _read(self, value, grouped=True)
        if number is None:
            return None
        if number != number.to_integral_value():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return int(number)


def admin_number_fields(*, grouped: bool = True) -> dict:
    """Return a ModelAdmin's `formfield_overrides` for typed numbers: the fields above in a
    text input keeping the admin's own input classes (`grouped=False` where every decimal
    is a rate or a percentage). The admin's number input let Chromium drop a comma as it
    was typed ("1500,50" reached the server as 150050)."""
    return {
        models.DecimalField: {"form_class": DecimalField, "grouped": grouped},
        models.IntegerField: {
            "form_class": IntegerField,
            "widget": TypedNumberInput(attrs={"class": "vIntegerField"}),
        },
        models.BigIntegerField: {
            "form_class": IntegerField,
            "widget": TypedNumberInput(attrs={"class": "vBigIntegerField"}),
        },
    }
