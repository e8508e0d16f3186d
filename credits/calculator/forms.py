"""Input parsing for the public investment calculator and its "Quiero invertir" form."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from credits import schedule
from crm import validators
from crm.models import Customer

MAX_AMOUNT = Decimal(10_000_000)
MIN_AMOUNT = Decimal(100)


class CalculatorForm(forms.Form):
    """What a prospect simulates: amount, nominal annual rate, number and spacing of payments."""

    # The page's first visit shows these figures; any field in the query string replaces all.
    DEFAULTS = {"amount": "10000", "annual_rate": "18", "term": "12", "frequency": "monthly"}

    amount = forms.DecimalField(
        label=_("Monto (S/)"),
        min_value=MIN_AMOUNT,
        max_value=MAX_AMOUNT,
        max_digits=10,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        error_messages={"required": _("Ingrese el monto.")},
    )
    annual_rate = forms.DecimalField(
        label=_("Tasa anual (%)"),
        min_value=Decimal(0),
        max_value=Decimal(1000),
        max_digits=8,
        decimal_places=4,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        error_messages={"required": _("Ingrese la tasa anual.")},
    )
    term = forms.IntegerField(
        label=_("Plazo (número de cuotas)"),
        min_value=1,
        max_value=schedule.MAX_TERM,
        error_messages={"required": _("Ingrese el plazo.")},
    )
    frequency = forms.ChoiceField(
        label=_("Frecuencia de pago"),
        choices=schedule.Frequency.choices,
        initial=schedule.Frequency.MONTHLY,
        error_messages={"invalid_choice": _("Elija una frecuencia de la lista.")},
    )

    @classmethod
    def from_query(cls, query: QueryDict) -> "CalculatorForm":
        """Bind the query string, or the defaults when it carries none of the fields."""
        if any(name in query for name in cls.base_fields):
            return cls(query)
        return cls(cls.DEFAULTS)


class InvestLeadForm(forms.Form):
    """A prospect who wants to invest: who they are, how to reach them, and how much."""

    first_name = forms.CharField(
        label=_("Nombres"), max_length=120, error_messages={"required": _("Ingrese sus nombres.")}
    )
    last_name = forms.CharField(
        label=_("Apellidos"),
        max_length=120,
        error_messages={"required": _("Ingrese sus apellidos.")},
    )
    document_type = forms.ChoiceField(
        label=_("Tipo de documento"),
        choices=Customer.DocumentType.choices,
        initial=Customer.DocumentType.DNI,
    )
    document_number = forms.CharField(
        label=_("Número de documento"),
        max_length=20,
        error_messages={"required": _("Ingrese el número de documento.")},
    )
    email = forms.EmailField(label=_("Correo electrónico"), required=False)
    phone = PhoneNumberField(
        label=_("Celular"), required=False, help_text=_("Ej.: 987 654 321 o +51 987 654 321")
    )
    amount = forms.DecimalField(
        label=_("¿Cuánto quiere invertir? (S/)"),
        min_value=MIN_AMOUNT,
        max_value=MAX_AMOUNT,
        max_digits=10,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        error_messages={"required": _("Ingrese el monto que quiere invertir.")},
    )
    consent = forms.BooleanField(
        label=_(
            "Acepto que me contacten sobre esta inversión y el tratamiento de mis datos "
            "personales para ese fin."
        ),
        error_messages={"required": _("Necesitamos su autorización para contactarlo.")},
    )
    # Filled by static/js/recaptcha.js on submit; empty when the page runs without keys.
    recaptcha_token = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        # The page also holds the calculator form, whose fields would take the same ids.
        kwargs.setdefault("auto_id", "id_lead_%s")
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        number = validators.normalize_document_number(cleaned.get("document_number", ""))
        if number and cleaned.get("document_type"):
            cleaned["document_number"] = number
            try:
                validators.validate_document(cleaned["document_type"], number)
            except ValidationError as exc:
                self.add_error(None, exc)
        if not cleaned.get("phone") and not cleaned.get("email") and not self.errors.get("phone"):
            self.add_error("phone", _("Déjenos al menos un celular o un correo para contactarlo."))
        return cleaned

    def customer_data(self) -> dict:
        """Return the fields crm.services.create_customer takes."""
        data = self.cleaned_data
        return {
            "document_type": data["document_type"],
            "document_number": data["document_number"],
            "first_name": data["first_name"],
            "last_name": data["last_name"],
            "email": data["email"],
            "phone": data["phone"] or "",
        }
