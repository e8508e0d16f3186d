"""Input parsing for the public investment calculator and its "Quiero invertir" form."""

from decimal import Decimal

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from credits import schedule
from crm import forms as crm_forms

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


class InvestLeadForm(crm_forms.PersonContactForm):
    """A prospect who wants to invest: who they are, how to reach them, and how much."""

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

    def __init__(self, *args, **kwargs):
        # The page also holds the calculator form, whose fields would take the same ids.
        kwargs.setdefault("auto_id", "id_lead_%s")
        super().__init__(*args, **kwargs)

    def customer_data(self) -> dict:
        """Return the fields crm.services.create_customer takes."""
        return self.person_data()
