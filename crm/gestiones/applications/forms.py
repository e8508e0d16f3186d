"""Input of the credit-application screens: an advisor's walk-in application, changes to an
application, a lead discarded, a loan linked to a gestión."""

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Q
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from credits.models import Loan, LoanProduct
from credits.schedule import MAX_ANNUAL_RATE, MAX_TERM
from crm import display
from crm import forms as crm_forms
from crm.gestiones.applications import leads
from crm.gestiones.models import CreditApplication
from crm.models import Customer
from lib import fields as lib_fields
from lib.stale import KeepsOthersChangesPlain

MAX_AMOUNT = Decimal("9999999999.99")
# Said in plain words instead of Django's "Asegúrese de que este valor es menor o igual a…".
TERM_RANGE = format_lazy(_("El plazo debe estar entre 1 y {max} cuotas."), max=f"{MAX_TERM:,}")
RATE_TOO_HIGH = format_lazy(
    _("La tasa no puede pasar de {max} %% anual."), max=f"{int(MAX_ANNUAL_RATE):,}"
)


class LoanTermsFields(forms.Form):
    """What a credit application asks for: product, amount, term, rate and co-signer."""

    product = forms.ModelChoiceField(
        label=_("Producto de crédito"),
        queryset=LoanProduct.objects.none(),
        empty_label=_("Elija un producto"),
        error_messages={"required": _("Elija el producto de crédito.")},
    )
    amount = lib_fields.DecimalField(
        label=_("Monto"),
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        # No max_digits: the maximum bounds them, and a second error would say it again.
        decimal_places=2,
        error_messages={
            "required": _("Ingrese el monto."),
            "min_value": _("El monto debe ser mayor que cero."),
            "max_value": _("El monto es demasiado grande."),
            "max_decimal_places": _("Use como máximo 2 decimales."),
        },
    )
    term = lib_fields.IntegerField(
        label=_("Plazo (cuotas)"),
        min_value=1,
        max_value=MAX_TERM,
        error_messages={
            "required": _("Ingrese el plazo."),
            "min_value": TERM_RANGE,
            "max_value": TERM_RANGE,
        },
    )
    annual_rate = lib_fields.DecimalField(
        label=_("Tasa anual (%)"),
        grouped=False,
        required=False,
        min_value=Decimal(0),
        max_value=MAX_ANNUAL_RATE,
        decimal_places=4,
        help_text=_("Vacío: la del producto. Negociada: dentro de su mínimo y máximo."),
        error_messages={
            "min_value": _("La tasa no puede ser negativa."),
            "max_value": RATE_TOO_HIGH,
            "max_decimal_places": _("Use como máximo 4 decimales."),
        },
    )
    cosigner_name = forms.CharField(
        label=_("Aval: nombre"), max_length=leads.COSIGNER_NAME_CHARS, required=False
    )
    cosigner_email = forms.EmailField(label=_("Aval: correo"), required=False)
    cosigner_document = forms.CharField(
        label=_("Aval: documento"), max_length=leads.COSIGNER_DOCUMENT_CHARS, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = LoanProduct.objects.filter(is_active=True)

    def terms_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "amount": data["amount"],
            "term": data["term"],
            "annual_rate": data["annual_rate"],
            "cosigner_name": data["cosigner_name"],
            "cosigner_email": data["cosigner_email"],
            "cosigner_document": data["cosigner_document"],
        }


class WalkInForm(crm_forms.ServiceErrorsMixin, LoanTermsFields, crm_forms.PersonContactForm):
    """A credit application an advisor types for someone at the branch (source walk-in)."""

    notes = forms.CharField(
        label=_("Notas"),
        max_length=leads.NOTES_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    field_order = [
        "document_type",
        "document_number",
        "first_name",
        "last_name",
        "phone",
        "email",
        "product",
        "amount",
        "term",
        "annual_rate",
        "cosigner_name",
        "cosigner_email",
        "cosigner_document",
        "notes",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Staff type it: no reCAPTCHA token.
        del self.fields["recaptcha_token"]

    @staticmethod
    def initial_for(customer: Customer | None) -> dict[str, Any]:
        """Return the form's initial person: the customer's own data, when one is chosen."""
        if customer is None:
            return {}
        return {
            "document_type": customer.document_type,
            "document_number": customer.document_number,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "phone": customer.phone,
            "email": customer.email,
        }

    def lead_data(self) -> dict[str, Any]:
        """Return what `services.receive_lead` takes, as plain values."""
        data = self.cleaned_data
        terms = self.terms_data()
        return {
            **self.person_data(),
            "phone": str(data["phone"] or ""),
            "product": data["product"].pk,
            "amount": f"{terms['amount']:.2f}",
            "term": terms["term"],
            "annual_rate": None if terms["annual_rate"] is None else f"{terms['annual_rate']:f}",
            "cosigner_name": terms["cosigner_name"],
            "cosigner_email": terms["cosigner_email"],
            "cosigner_document": terms["cosigner_document"],
            "notes": data["notes"],
        }


def product_label(product: LoanProduct) -> str:
    """A product as the application form offers it: «(inactivo)» once deactivated."""
    if product.is_active:
        return str(product)
    return _("%(product)s (inactivo)") % {"product": product}


class ApplicationForm(KeepsOthersChangesPlain, crm_forms.ServiceErrorsMixin, LoanTermsFields):
    """Changes to an application not yet approved; what another person saved while the
    form was open stays (`lib.stale`): a stale tab put the old amount back, and the loan
    approved next was drafted for it."""

    def __init__(self, *args, application: CreditApplication, **kwargs):
        stored = {
            "product": application.loan_product,
            "amount": application.amount,
            "term": application.term,
            "annual_rate": application.annual_rate,
            "cosigner_name": application.cosigner_name,
            "cosigner_email": application.cosigner_email,
            "cosigner_document": application.cosigner_document,
        }
        kwargs.setdefault("initial", stored)
        super().__init__(*args, stored=stored, **kwargs)
        # Its own product stays offered once deactivated, marked: without it the select
        # showed «Elija un producto» and saving said only «Elija el producto de crédito.»
        # (saved, the product's check says it is not active).
        product = self.fields["product"]
        product.queryset = LoanProduct.objects.filter(
            Q(is_active=True) | Q(pk=application.loan_product_id)
        )
        product.label_from_instance = product_label

    def service_kwargs(self) -> dict[str, Any]:
        return {"product": self.cleaned_data["product"], **self.terms_data()}


class CustomerQueryForm(forms.Form):
    """The walk-in form's `?customer=<id>`: whose data to start from."""

    customer = forms.IntegerField(required=False, min_value=1)


class DiscardForm(forms.Form):
    reason = forms.CharField(
        label=_("Motivo"),
        max_length=300,
        error_messages={"required": _("Indique por qué se descarta el lead.")},
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=_("Motivo"),
        max_length=300,
        error_messages={
            "required": _("Indique por qué se reabre el lead."),
            "max_length": _("Escriba como máximo %(limit_value)s caracteres."),
        },
    )


class LinkLoanForm(forms.Form):
    """One of the customer's loans, to link to the gestión."""

    loan = forms.ModelChoiceField(
        label=_("Crédito"),
        queryset=Loan.objects.none(),
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
        empty_label=_("Elija un crédito del cliente"),
        error_messages={
            "required": _("Elija el crédito."),
            "invalid_choice": _("Elija un crédito del cliente de la lista."),
        },
    )

    def __init__(self, *args, loans, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["loan"].queryset = loans
        self.fields["loan"].label_from_instance = lambda loan: (
            f"{loan.payment_code} · {loan.get_status_display()} · "
            f"{display.money_text(loan.principal, loan.currency)}"
        )
