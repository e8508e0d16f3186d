"""The portal's forms: every field bounded, every error in Spanish.

A form that acts on a debt takes the customer's statement and offers only its debts, so a
tampered id is an invalid choice before any service sees it (which checks again).
"""

import re
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app import services as collection_services
from collections_app.models import Origin, PaymentLink, ReportedPayment
from collections_app.portal.selectors import Account, Gateway, Statement
from credits.forms import validate_receipt
from crm import display, validators
from crm.forms import ServiceErrorsMixin
from crm.models import Customer
from lib import fields as lib_fields
from lib import search

MIN_AMOUNT = Decimal("0.01")
# The times of day a debtor may ask to be called at (kept short: the request keeps 60
# characters of it).
CALL_TIMES = [
    ("", _("Cuanto antes")),
    ("morning", _("Mañana (9 a 13 h)")),
    ("afternoon", _("Tarde (13 a 18 h)")),
    ("evening", _("Noche (18 a 20 h)")),
]


def _amount_field(label: str = _("Monto"), required: bool = True) -> forms.DecimalField:
    # Each problem once: 10^15 broke the maximum and the digits, both "demasiado grande".
    return lib_fields.DecimalField(
        label=label,
        required=required,
        max_digits=14,
        decimal_places=2,
        min_value=MIN_AMOUNT,
        max_value=collection_services.MAX_AMOUNT,
        error_messages={
            "required": _("Indique el monto."),
            "invalid": _("Indique un monto válido, p. ej. 150.50."),
            "max_decimal_places": _("El monto puede tener hasta dos decimales."),
            "max_digits": _("El monto es demasiado grande."),
            "max_whole_digits": _("El monto es demasiado grande."),
            # 0.001 is above zero: the least is what is said.
            "min_value": _("El monto mínimo es 0.01."),
            "max_value": _("El monto es demasiado grande."),
        },
    )


def _provider_field() -> forms.ChoiceField:
    """The gateway to pay through; its choices are the configured ones (set per form)."""
    return forms.ChoiceField(
        error_messages={
            "required": _("Elija cómo pagar."),
            "invalid_choice": _("Ese medio de pago no está disponible."),
        }
    )


def _debt_choices(accounts: list[Account]) -> list[tuple[str, str]]:
    """Each open debt with what settles it today, in its currency ("· US$ 5,608.03"), as
    the staff's forms name them: a debtor of two currencies sees which one they pay in."""
    return [
        (
            account.key,
            f"{account.label} · {display.money_text(account.debt.total, account.currency)}",
        )
        for account in accounts
    ]


class PortalForm(ServiceErrorsMixin, forms.Form):
    """A form about one of the customer's open debts."""

    debt = forms.ChoiceField(
        label=_("Crédito"),
        error_messages={
            "required": _("Elija el crédito."),
            "invalid_choice": _("Ese crédito no está en su estado de cuenta."),
        },
    )

    # Whether the amount's label names the debt's currency once the debt is known.
    names_currency = False

    def __init__(self, *args, statement: Statement, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.statement = statement
        self.fields["debt"].choices = _debt_choices(statement.open_accounts)
        if len(statement.open_accounts) == 1 and not self.is_bound and not self.initial.get("debt"):
            self.initial["debt"] = statement.open_accounts[0].key
        known = self.known_account()
        if self.names_currency and known is not None and "amount" in self.fields:
            # «Monto pagado (US$)»: a debtor who paid soles toward a dollar loan sees it.
            self.fields["amount"].label = _("%(label)s (%(symbol)s)") % {
                "label": self.fields["amount"].label,
                "symbol": display.currency_symbol(known.currency),
            }

    def known_account(self) -> Account | None:
        """The debt the form is about before it is sent or checked: the only open one, or
        the one chosen (sent, or named by the link that opened the page); else None."""
        accounts = self.statement.open_accounts
        if len(accounts) == 1:
            return accounts[0]
        key = self.data.get(self.add_prefix("debt")) if self.is_bound else self.initial.get("debt")
        return next((a for a in accounts if a.key == key), None) if key else None

    @property
    def account(self) -> Account:
        """The debt chosen (only after is_valid)."""
        return self.statement.account(self.cleaned_data["debt"])

    def receivable(self) -> dict:
        return {"receivable_kind": self.account.kind, "receivable_id": self.account.id}

    def error_text(self) -> str:
        """Every error, as one sentence for a message above the page."""
        return " ".join(str(error) for errors in self.errors.values() for error in errors)


class IdentifyForm(forms.Form):
    """Who the visitor says they are: a document type and number."""

    document_type = forms.ChoiceField(
        label=_("Tipo de documento"),
        choices=Customer.DocumentType.choices,
        initial=Customer.DocumentType.DNI,
        error_messages={
            "required": _("Elija el tipo de documento."),
            "invalid_choice": _("Elija un tipo de documento de la lista."),
        },
    )
    document_number = forms.CharField(
        label=_("Número de documento"),
        max_length=20,
        error_messages={
            "required": _("Ingrese el número de documento."),
            "max_length": _("El número de documento es demasiado largo."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    # Filled by static/js/recaptcha.js on submit; empty when the page runs without keys.
    recaptcha_token = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        if self.has_error("recaptcha_token"):
            # Too long or with a NUL: not Google's. A hidden field's error shows nowhere,
            # so it is said above the form.
            del self.errors["recaptcha_token"]
            self.add_error(
                None,
                _(
                    "No pudimos verificar que la solicitud la envía una persona. "
                    "Vuelva a intentarlo en unos segundos."
                ),
            )
        number = validators.normalize_document_number(cleaned.get("document_number", ""))
        if number and cleaned.get("document_type"):
            cleaned["document_number"] = number
            try:
                validators.validate_document(cleaned["document_type"], number)
            except ValidationError as exc:
                for field, errors in exc.error_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
        return cleaned


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Código"),
        max_length=12,
        error_messages={
            "required": _("Ingrese el código que le enviamos."),
            "max_length": _("El código tiene 6 dígitos."),
        },
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "12"}
        ),
    )

    def clean_code(self) -> str:
        # A phone's keyboard may send "１２３４５６": the code as typed, in ASCII digits.
        code = re.sub(r"[\s-]", "", search.ascii_digits(self.cleaned_data["code"]))
        if not re.fullmatch(r"[0-9]{6}", code):
            raise ValidationError(_("El código tiene 6 dígitos."))
        return code


class CallTimeForm(forms.Form):
    """When to call a visitor who got no code (on the phone on file)."""

    preferred_time = forms.ChoiceField(
        label=_("¿Cuándo prefiere que lo llamemos?"),
        choices=CALL_TIMES,
        required=False,
        error_messages={"invalid_choice": _("Elija un horario de la lista.")},
    )

    def preferred_time_text(self) -> str:
        return str(dict(CALL_TIMES)[self.cleaned_data.get("preferred_time") or ""])


class PayForm(PortalForm):
    """Pay an installment, the total or an amount of a debt, through a gateway."""

    concept = forms.ChoiceField(
        choices=[
            (PaymentLink.Concept.INSTALLMENT, _("Cuota")),
            (PaymentLink.Concept.TOTAL, _("Deuda total")),
            (PaymentLink.Concept.CUSTOM, _("Otro monto")),
        ],
        error_messages={"invalid_choice": _("Elija qué quiere pagar.")},
    )
    # The installment's button sends it (portal_installments.jinja); read as any number is.
    installment_number = lib_fields.IntegerField(
        required=False,
        min_value=1,
        max_value=9999,
        error_messages={
            "invalid": _("Elija una cuota de la lista."),
            "min_value": _("Elija una cuota de la lista."),
            "max_value": _("Elija una cuota de la lista."),
        },
    )
    amount = _amount_field(required=False)
    provider = _provider_field()

    def __init__(self, *args, gateways: list[Gateway], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [(g.name, g.label) for g in gateways]

    def clean(self):
        cleaned = super().clean()
        concept = cleaned.get("concept")
        if (
            concept == PaymentLink.Concept.INSTALLMENT
            and not cleaned.get("installment_number")
            and "installment_number" not in self.errors
        ):
            self.add_error("installment_number", _("Elija la cuota a pagar."))
        self._check_in_order(cleaned)
        if (
            concept == PaymentLink.Concept.CUSTOM
            and cleaned.get("amount") is None
            and "amount" not in self.errors
        ):
            self.add_error("amount", _("Indique el monto a pagar."))
        return cleaned

    def _check_in_order(self, cleaned: dict) -> None:
        """Refuse an installment after the oldest one still owed: a payment pays the oldest
        first, so a link for «cuota 4» would go to what is left of cuota 3, and cuota 4
        would still show as owed (a page left open, or a crafted request: the statement
        offers only the oldest)."""
        number = cleaned.get("installment_number")
        account = self.statement.account(cleaned.get("debt") or "")
        if (
            cleaned.get("concept") != PaymentLink.Concept.INSTALLMENT
            or not number
            or account is None
            or account.debt is None
        ):
            return
        first = account.next_row
        if first is not None and number > first.number and account.debt.line(number) is not None:
            self.add_error(
                "installment_number",
                _(
                    "Las cuotas se pagan en orden, primero la más antigua: pague primero la "
                    "cuota %(number)s (%(amount)s)."
                )
                % {
                    "number": first.number,
                    "amount": display.money_text(first.pending, account.currency),
                },
            )


class AgreementForm(PortalForm):
    """Take one of the agreements offered for a debt, paying its down payment now."""

    option = forms.RegexField(
        regex=r"^\d{1,12}-\d{1,3}$",
        max_length=20,
        error_messages={
            "required": _("Elija un convenio."),
            "invalid": _("Ese convenio no está disponible."),
        },
    )
    provider = _provider_field()

    def __init__(self, *args, gateways: list[Gateway], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [(g.name, g.label) for g in gateways]


class ReportForm(PortalForm):
    """A payment the debtor made some other way, with its receipt, for an agent to verify."""

    names_currency = True

    amount = _amount_field(_("Monto pagado"))
    paid_on = forms.DateField(
        label=_("Fecha de pago"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": _("Indique la fecha del pago."),
            "invalid": _("Indique una fecha válida."),
        },
    )
    method = forms.ChoiceField(
        label=_("Medio de pago"),
        choices=ReportedPayment.Method.choices,
        error_messages={"invalid_choice": _("Elija un medio de pago de la lista.")},
    )
    reference = forms.CharField(
        label=_("N.º de operación"),
        max_length=80,
        required=False,
        error_messages={"max_length": _("El número de operación es demasiado largo.")},
    )
    receipt = forms.FileField(
        label=_("Comprobante (PDF, JPG o PNG, hasta 5 MB)"),
        max_length=200,
        error_messages={
            "required": _("Adjunte el comprobante."),
            "empty": _("El archivo está vacío."),
            "max_length": _("El nombre del archivo es demasiado largo."),
            "invalid": _("Adjunte un archivo."),
        },
        widget=forms.FileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )
    contact_email = forms.EmailField(
        label=_("Correo para avisarle (opcional)"),
        required=False,
        max_length=254,
        error_messages={"invalid": _("Indique un correo válido.")},
    )
    # Offered once an amount above the debt was refused (collection_services.report_payment).
    paid_more = forms.BooleanField(
        label=collection_services.PAID_MORE_ANSWERS[Origin.PORTAL], required=False
    )

    def offers_paid_more(self) -> bool:
        """Say whether to show the "paid more" box: after it was needed, or ticked."""
        return self.has_error("amount", code=collection_services.ABOVE_DEBT) or bool(
            self["paid_more"].value()
        )

    def clean_paid_on(self):
        day = self.cleaned_data["paid_on"]
        today = timezone.localdate()
        if day > today:
            raise ValidationError(_("La fecha de pago no puede ser futura."))
        if day < today - timedelta(days=collection_services.REPORT_MAX_AGE_DAYS):
            raise ValidationError(_("La fecha de pago no puede tener más de un año."))
        return day

    def clean_receipt(self):
        receipt = self.cleaned_data["receipt"]
        validate_receipt(receipt)
        return receipt


class PromiseForm(PortalForm):
    """A promise to pay an amount by a day."""

    names_currency = True

    amount = _amount_field(_("Monto que pagará"))
    promised_on = forms.DateField(
        label=_("Fecha en que pagará"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": _("Indique la fecha en que pagará."),
            "invalid": _("Indique una fecha válida."),
        },
    )

    def clean_promised_on(self):
        day = self.cleaned_data["promised_on"]
        today = timezone.localdate()
        if day < today:
            raise ValidationError(_("La fecha no puede ser pasada."))
        if day > today + timedelta(days=collection_services.PROMISE_MAX_DAYS):
            raise ValidationError(
                _("La fecha puede ser hasta %(days)s días desde hoy.")
                % {"days": collection_services.PROMISE_MAX_DAYS}
            )
        return day


class CallbackForm(CallTimeForm):
    """A call the identified debtor asks for, on the number they give."""

    phone = forms.CharField(
        label=_("Teléfono"),
        max_length=20,
        error_messages={
            "required": _("Indique a qué teléfono lo llamamos."),
            "max_length": _("El teléfono es demasiado largo."),
        },
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )

    def clean_phone(self) -> str:
        phone = search.ascii_digits(self.cleaned_data["phone"].strip())
        if not re.fullmatch(r"\+?[0-9\s().-]+", phone):
            raise ValidationError(_("Indique solo números, p. ej. 987 654 321."))
        try:
            return collection_services.callback_phone(phone)
        except ValidationError as refused:
            raise ValidationError(refused.message_dict["phone"]) from None
