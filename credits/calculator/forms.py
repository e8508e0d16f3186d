"""Input parsing for the public calculator and its "Quiero invertir" and "Quiero un crédito"
forms."""

from decimal import Decimal

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from credits import schedule
from credits.models import LoanProduct
from crm import forms as crm_forms
from lib import fields as lib_fields

MAX_AMOUNT = schedule.MAX_PRINCIPAL
MIN_AMOUNT = Decimal(100)


class CalculatorForm(forms.Form):
    """What a prospect simulates: amount, nominal annual rate, number and spacing of payments."""

    # The page's first visit shows these figures; any field in the query string replaces all.
    DEFAULTS = {"amount": "10000", "annual_rate": "18", "term": "12", "frequency": "monthly"}

    amount = lib_fields.DecimalField(
        label=_("Monto (S/)"),
        min_value=MIN_AMOUNT,
        max_value=MAX_AMOUNT,
        max_digits=10,
        decimal_places=2,
        error_messages={"required": _("Ingrese el monto.")},
    )
    annual_rate = lib_fields.DecimalField(
        label=_("Tasa anual (%)"),
        grouped=False,
        min_value=Decimal(0),
        max_value=Decimal(1000),
        max_digits=8,
        decimal_places=4,
        error_messages={"required": _("Ingrese la tasa anual.")},
    )
    term = lib_fields.IntegerField(
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

    amount = lib_fields.DecimalField(
        label=_("¿Cuánto quiere invertir? (S/)"),
        min_value=MIN_AMOUNT,
        max_value=MAX_AMOUNT,
        max_digits=10,
        decimal_places=2,
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


class CreditLeadForm(crm_forms.ServiceErrorsMixin, crm_forms.PersonContactForm):
    """A prospect who asks for a loan: who they are, how to reach them, the product, the
    amount and the term. The product's own limits are checked by the service that takes it."""

    product = forms.ModelChoiceField(
        label=_("Producto"),
        queryset=LoanProduct.objects.none(),
        empty_label=_("Elija un producto"),
        error_messages={
            "required": _("Elija el producto de crédito."),
            "invalid_choice": _("Elija un producto de la lista."),
        },
    )
    amount = lib_fields.DecimalField(
        label=_("¿Cuánto necesita?"),
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        max_digits=10,
        decimal_places=2,
        error_messages={"required": _("Ingrese el monto que necesita.")},
    )
    term = lib_fields.IntegerField(
        label=_("Plazo (número de cuotas)"),
        min_value=1,
        max_value=schedule.MAX_TERM,
        error_messages={"required": _("Ingrese el plazo.")},
    )
    consent = forms.BooleanField(
        label=_(
            "Acepto que evalúen mi solicitud, me contacten sobre ella y traten mis datos "
            "personales para ese fin."
        ),
        error_messages={"required": _("Necesitamos su autorización para evaluar la solicitud.")},
    )

    field_order = [
        "first_name",
        "last_name",
        "document_type",
        "document_number",
        "email",
        "phone",
        "product",
        "amount",
        "term",
        "consent",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = LoanProduct.objects.filter(is_active=True)

    def lead_data(self) -> dict:
        """Return what the credit-lead receiver takes: plain values, as the lead keeps them."""
        data = self.cleaned_data
        return {
            **self.person_data(),
            "phone": str(data["phone"] or ""),
            "product": data["product"].pk,
            "amount": f"{data['amount']:.2f}",
            "term": data["term"],
        }


class CreditQueryForm(forms.Form):
    """The "Quiero un crédito" page's query string: the figures simulated, to start from."""

    amount = lib_fields.DecimalField(
        required=False, min_value=Decimal("0.01"), max_value=MAX_AMOUNT, max_digits=10
    )
    term = lib_fields.IntegerField(required=False, min_value=1, max_value=schedule.MAX_TERM)

    def figures(self) -> dict:
        """Return the lead form's initial figures: the valid ones of the query."""
        self.is_valid()  # a bad figure is left out; the good ones stay in cleaned_data
        return {k: v for k, v in self.cleaned_data.items() if v is not None}
