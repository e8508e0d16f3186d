"""Input of the agents' screens of written-off campaigns: the list's and the funnel's query
strings, a new campaign, finishing one, annulling a payment."""

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app.screens import ListFilterForm, is_confirmed  # noqa: F401 (views use it)
from crm import validators as document_validators
from crm.forms import ServiceErrorsMixin
from crm.models import Customer
from lib import fields as lib_fields
from lib.money import Currency
from recovery import services
from recovery.models import MAX_DEBT, Campaign
from recovery.services import MAX_CODE

# The oldest day a filter takes (how far ahead an end date may be: services.latest_end).
FIRST_DAY = date(2000, 1, 1)
REASON_CHARS = 255
FINISH_REASON_CHARS = 200
DATE_WIDGET = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}


def _latest_day() -> date:
    return services.latest_end(timezone.localdate())


def _day_problem(day: date | None) -> str | None:
    latest = _latest_day()
    if day is not None and not FIRST_DAY <= day <= latest:
        return _("Elija una fecha entre el %(first)s y el %(last)s.") % {
            "first": FIRST_DAY.strftime("%d/%m/%Y"),
            "last": latest.strftime("%d/%m/%Y"),
        }
    return None


def amount_field(
    label: str, *, required: bool = True, min_value: str = "0.01"
) -> forms.DecimalField:
    """An amount of money: two decimals, within what a campaign may be; typed as people type
    it (1,500.50 or 1.500,50), in a text input (lib.fields)."""
    return lib_fields.DecimalField(
        label=label,
        required=required,
        max_digits=14,
        decimal_places=2,
        min_value=Decimal(min_value),
        max_value=MAX_DEBT,
        widget=lib_fields.TypedNumberInput(attrs={"autocomplete": "off"}),
    )


def _all(label: str, choices) -> list[tuple[Any, str]]:
    return [("", label), *choices]


# --- The list ----------------------------------------------------------------------------


class CampaignFilterForm(ListFilterForm):
    status = forms.TypedChoiceField(
        label=_("Estado"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=_all(_("Todos los estados"), Campaign.Status.choices),
    )
    code = forms.CharField(label=_("ID de campaña"), required=False, max_length=MAX_CODE)
    currency = forms.ChoiceField(
        label=_("Moneda"),
        required=False,
        choices=_all(_("Todas las monedas"), Currency.choices),
        help_text=_(
            "Los montos desde/hasta se comparan en esta moneda (en soles si no elige una): "
            "las campañas en la otra no entran."
        ),
    )
    ends_from = forms.DateField(
        label=_("Finaliza desde"), required=False, widget=forms.DateInput(**DATE_WIDGET)
    )
    ends_until = forms.DateField(
        label=_("Finaliza hasta"), required=False, widget=forms.DateInput(**DATE_WIDGET)
    )
    debt_min = amount_field(_("Deuda desde"), required=False, min_value="0")
    debt_max = amount_field(_("Deuda hasta"), required=False, min_value="0")
    amount_min = amount_field(_("Monto de campaña desde"), required=False, min_value="0")
    amount_max = amount_field(_("Monto de campaña hasta"), required=False, min_value="0")
    balance_min = amount_field(_("Saldo desde"), required=False, min_value="0")
    balance_max = amount_field(_("Saldo hasta"), required=False, min_value="0")

    # The filters shown at once; the rest under «Más filtros».
    MAIN = ("status", "code", "currency")
    RANGES = (
        ("ends_from", "ends_until"),
        ("debt_min", "debt_max"),
        ("amount_min", "amount_max"),
        ("balance_min", "balance_max"),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in ("ends_from", "ends_until"):
            if problem := _day_problem(cleaned.get(name)):
                self.add_error(name, problem)
        for low, high in self.RANGES:
            start, end = cleaned.get(low), cleaned.get(high)
            if start is not None and end is not None and end < start:
                self.add_error(high, _("El final del rango es menor que el inicio."))
        return cleaned

    def main_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.MAIN]

    def range_fields(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[low], self[high]) for low, high in self.RANGES]

    def has_more_filters(self) -> bool:
        """Say whether a filter under «Más filtros» is set (then it opens)."""
        return any(self.data.get(name) for pair in self.RANGES for name in pair)


# --- A new campaign ----------------------------------------------------------------------


class CampaignForm(ServiceErrorsMixin, forms.Form):
    """A campaign for an existing customer, named by their document."""

    document_type = forms.ChoiceField(
        label=_("Tipo de documento"),
        choices=Customer.DocumentType.choices,
        initial=Customer.DocumentType.DNI,
    )
    document_number = forms.CharField(
        label=_("Número de documento"),
        max_length=20,
        error_messages={"required": _("Indique el número de documento.")},
    )
    code = forms.CharField(
        label=_("ID de campaña"),
        max_length=MAX_CODE,
        error_messages={"required": _("Indique el ID de campaña.")},
    )
    debt_amount = amount_field(_("Monto de deuda castigada"))
    discount_type = forms.ChoiceField(
        label=_("Tipo de descuento"),
        choices=Campaign.DiscountType.choices,
        initial=Campaign.DiscountType.PERCENT,
    )
    discount_value = amount_field(_("Valor del descuento"), min_value="0")
    ends_on = forms.DateField(
        label=_("Fecha de finalización"),
        required=False,
        widget=forms.DateInput(**DATE_WIDGET),
        help_text=_("En blanco: la campaña no vence."),
    )
    payment_code = forms.CharField(
        label=_("Código de pago asociado"),
        max_length=MAX_CODE,
        required=False,
        help_text=_(
            "El crédito que origina la campaña; en blanco: los créditos castigados del "
            "cliente hoy (los que se castiguen después no entran)."
        ),
    )
    currency = forms.ChoiceField(
        label=_("Moneda"),
        required=False,
        choices=_all(_("La de los créditos castigados"), Currency.choices),
        help_text=_("Si la indica, debe ser la del crédito o de los créditos castigados."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer: Customer | None = None
        self.fields["discount_value"].help_text = _("Un porcentaje (40 es 40 %) o un monto.")
        attrs = self.fields["ends_on"].widget.attrs
        attrs["min"] = timezone.localdate().isoformat()
        attrs["max"] = _latest_day().isoformat()

    def clean_document_number(self) -> str:
        return document_validators.normalize_document_number(self.cleaned_data["document_number"])

    def clean_ends_on(self) -> date | None:
        """From today (a campaign made already ended is no offer) to services.latest_end."""
        day = self.cleaned_data.get("ends_on")
        if day is None:
            return day
        if day < timezone.localdate():
            raise forms.ValidationError(
                _("La fecha de finalización (%(day)s) ya pasó: elija hoy o una fecha posterior.")
                % {"day": day.strftime("%d/%m/%Y")}
            )
        latest = _latest_day()
        if day > latest:
            raise forms.ValidationError(
                _("Elija una fecha hasta el %(last)s.") % {"last": latest.strftime("%d/%m/%Y")}
            )
        return day

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        document_type, number = cleaned.get("document_type"), cleaned.get("document_number")
        if document_type and number:
            # A record merged into another answers as the kept one (crm.merge).
            self.customer = (
                Customer.objects.filter(document_type=document_type, document_number=number)
                .resolved()
                .first()
            )
            if self.customer is None:
                self.add_error(
                    "document_number",
                    _("No hay un cliente con ese documento: regístrelo primero."),
                )
        return cleaned

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "customer": self.customer,
            "code": data["code"],
            "debt_amount": data["debt_amount"],
            "discount_type": data["discount_type"],
            "discount_value": data["discount_value"],
            "ends_on": data["ends_on"],
            "payment_code": data["payment_code"],
            "currency": data["currency"],
        }


class PreviewForm(forms.Form):
    """The figures a new campaign's form shows as the agent types (nothing required), and
    what says their currency: the loan named, the customer's written-off loans, or the
    currency chosen."""

    debt_amount = amount_field("", required=False)
    discount_type = forms.ChoiceField(choices=Campaign.DiscountType.choices, required=False)
    discount_value = amount_field("", required=False, min_value="0")
    document_type = forms.ChoiceField(choices=Customer.DocumentType.choices, required=False)
    document_number = forms.CharField(required=False, max_length=20)
    payment_code = forms.CharField(required=False, max_length=MAX_CODE)
    currency = forms.ChoiceField(choices=Currency.choices, required=False)

    def clean_document_number(self) -> str:
        return document_validators.normalize_document_number(
            self.cleaned_data.get("document_number") or ""
        )


# --- Finishing and annulling -------------------------------------------------------------


class FinishForm(ServiceErrorsMixin, forms.Form):
    reason = forms.CharField(
        label=_("Motivo (opcional)"), required=False, max_length=FINISH_REASON_CHARS
    )


class AnnulForm(ServiceErrorsMixin, forms.Form):
    reason = forms.CharField(
        label=_("Motivo de la anulación"),
        max_length=REASON_CHARS,
        error_messages={"required": _("Indique el motivo de la anulación.")},
    )


# --- The funnel --------------------------------------------------------------------------


class FunnelFilterForm(forms.Form):
    code = forms.CharField(label=_("ID de campaña"), required=False, max_length=MAX_CODE)
    since = forms.DateField(
        label=_("Visitas desde"), required=False, widget=forms.DateInput(**DATE_WIDGET)
    )
    until = forms.DateField(
        label=_("Visitas hasta"), required=False, widget=forms.DateInput(**DATE_WIDGET)
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in ("since", "until"):
            if problem := _day_problem(cleaned.get(name)):
                self.add_error(name, problem)
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", _("La fecha final es anterior a la inicial."))
        return cleaned

    def filters(self) -> dict[str, Any] | None:
        """Return the funnel's arguments; None when the query string is not valid."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        return {
            "campaign_code": data["code"].strip() or None,
            "since": data["since"],
            "until": data["until"],
        }
