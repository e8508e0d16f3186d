"""Form fields that know no domain."""

from django import forms
from django.core.exceptions import ValidationError


class DecimalField(forms.DecimalField):
    """Django's decimal field, saying each problem once.

    One value may break the maximum and the digits at once (10^15), and forms that give
    both the same message ("El monto es demasiado grande.") showed it twice.
    """

    def run_validators(self, value):
        try:
            super().run_validators(value)
        except ValidationError as exc:
            raise ValidationError(list(dict.fromkeys(exc.messages))) from None
