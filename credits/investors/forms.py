"""Input parsing for the investor and liquidation screens, query strings included."""

import re
from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from credits.investors import services
from credits.models import Investor
from crm import validators
from lib.money import Currency
from lib.stale import KeepsOthersChanges


def _date_input() -> forms.DateInput:
    # The browser's date picker sends and expects ISO dates, whatever the display locale.
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def last_month(today: date | None = None) -> tuple[date, date]:
    """Return the first and last day of the month before `today`'s."""
    today = today or timezone.localdate()
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


class InvestorForm(KeepsOthersChanges, forms.ModelForm):
    """An investor's data; what another person saved while the form was open stays
    (`lib.stale`): a stale tab put back the old bank account."""

    phone = PhoneNumberField(
        label=_("Teléfono"), required=False, help_text=_("Ej.: 987 654 321 o +51 987 654 321")
    )
    # Longer than the 20 digits stored: a CCI is often pasted with spaces or dashes.
    bank_cci = forms.CharField(
        label=_("CCI"),
        max_length=30,
        required=False,
        help_text=_("Código de cuenta interbancario: 20 dígitos."),
    )

    class Meta:
        model = Investor
        fields = list(services.INVESTOR_FIELDS)
        error_messages = {
            NON_FIELD_ERRORS: {
                "unique_together": _(
                    "Ya existe un inversionista con ese tipo y número de documento."
                )
            }
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["autofocus"] = True

    def clean_document_number(self) -> str:
        return validators.normalize_document_number(self.cleaned_data.get("document_number", ""))

    def clean_bank_cci(self) -> str:
        cci = services.normalize_cci(self.cleaned_data.get("bank_cci", ""))
        if cci and not re.fullmatch(r"[0-9]{20}", cci):
            raise forms.ValidationError(_("El CCI debe tener exactamente 20 dígitos."))
        return cci

    def service_data(self) -> dict:
        """Return the cleaned fields as the services take them (the phone as E.164 text)."""
        data = dict(self.cleaned_data)
        data["phone"] = str(data["phone"]) if data.get("phone") else ""
        return data


class InvestorFiguresForm(forms.Form):
    """The dashboard's choice: every investor or one, in one currency."""

    investor = forms.ModelChoiceField(
        label=_("Inversionista"),
        queryset=Investor.objects.order_by("name"),
        required=False,
        empty_label=_("Todos los inversionistas"),
    )
    currency = forms.ChoiceField(label=_("Moneda"), choices=Currency.choices, required=False)

    def currency_for(self) -> str:
        """Return the chosen currency, else the investor's, else the lender's own."""
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("currency"):
            return data["currency"]
        if data.get("investor"):
            return data["investor"].currency
        return settings.CURRENCY

    def chosen_investor(self) -> Investor | None:
        return self.cleaned_data.get("investor") if self.is_valid() else None


class LiquidationForm(forms.Form):
    investor = forms.ModelChoiceField(
        label=_("Inversionista"),
        queryset=Investor.objects.filter(is_active=True).order_by("name"),
        empty_label=_("Elija un inversionista"),
        error_messages={"required": _("Elija el inversionista.")},
    )
    period_start = forms.DateField(label=_("Desde"), widget=_date_input())
    period_end = forms.DateField(label=_("Hasta"), widget=_date_input())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        start, end = last_month()
        self.fields["period_start"].initial = start
        self.fields["period_end"].initial = end

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end and start > end:
            self.add_error("period_end", _("El fin del periodo es anterior al inicio."))
        return cleaned


class LiquidationPayForm(forms.Form):
    reference = forms.CharField(
        label=_("N.º de operación del abono"),
        max_length=80,
        error_messages={"required": _("Indique el número de operación del abono.")},
    )
