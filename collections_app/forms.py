"""Input of the collections agents' screens: the work lists' filters (query strings), the
review of a payment to verify, and what an agent registers for a customer."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app import selectors, services
from collections_app.models import (
    GATEWAY_NAMES,
    CallbackRequest,
    Origin,
    PaymentLink,
    ReportedPayment,
)
from collections_app.receivables import Debt
from collections_app.screens import (  # noqa: F401 (the screens import them from here)
    CONFIRM_FIELD,
    SEARCH_CHARS,
    ListFilterForm,
    is_confirmed,
)
from credits.forms import validate_receipt
from credits.models import Payment
from crm import display
from crm.forms import ServiceErrorsMixin
from crm.models import Customer
from integrations import payment_gateways
from lib import fields as lib_fields
from lib import lookups, repeats

REASON_CHARS = 255
NOTES_CHARS = 255
# The oldest day a list filter takes: nothing in the ledger is older.
FIRST_DAY = date(2000, 1, 1)
# The most an installment number may be (credits' longest term is far below it).
MAX_INSTALLMENT = 600
DATE_WIDGET = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}

GATEWAY_CHOICES = list(GATEWAY_NAMES.items())
NO_GATEWAYS_MESSAGE = _(
    "No hay pasarelas de pago configuradas: no se pueden crear links hasta que un "
    "administrador configure las credenciales de MercadoPago o Clear."
)


def configured_gateway_choices() -> list[tuple[str, str]]:
    """Return the gateways that can make a link now (credentials present), by label."""
    configured = set(payment_gateways.configured_names())
    return [(name, label) for name, label in GATEWAY_CHOICES if name in configured]


def _all(label: str, choices) -> list[tuple[str, str]]:
    return [("", label), *choices]


def amount_field(label: str, **kwargs: Any) -> forms.DecimalField:
    """An amount of money: positive, two decimals, no larger than the ledger holds; typed
    as people type it (1,500.50 or 1.500,50), in a text input (lib.fields)."""
    return lib_fields.DecimalField(
        label=label,
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=services.MAX_AMOUNT,
        **kwargs,
    )


# --- The work lists' filters -------------------------------------------------------------


class DateRangeFields(forms.Form):
    since = forms.DateField(
        label=_("Informado desde"), required=False, widget=forms.DateInput(**DATE_WIDGET)
    )
    until = forms.DateField(
        label=_("Informado hasta"), required=False, widget=forms.DateInput(**DATE_WIDGET)
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        latest = timezone.localdate() + timedelta(days=366)
        for name in ("since", "until"):
            day = cleaned.get(name)
            if day is not None and not FIRST_DAY <= day <= latest:
                self.add_error(
                    name,
                    _("Elija una fecha entre el %(first)s y el %(last)s.")
                    % {
                        "first": FIRST_DAY.strftime("%d/%m/%Y"),
                        "last": latest.strftime("%d/%m/%Y"),
                    },
                )
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", _("La fecha final es anterior a la inicial."))
        return cleaned


class ReportedFilterForm(DateRangeFields, ListFilterForm):
    status = forms.ChoiceField(
        label=_("Estado"),
        required=False,
        choices=_all(_("Todos los estados"), ReportedPayment.Status.choices),
    )
    method = forms.ChoiceField(
        label=_("Medio"),
        required=False,
        choices=_all(_("Todos los medios"), ReportedPayment.Method.choices),
    )
    origin = forms.ChoiceField(
        label=_("Origen"), required=False, choices=_all(_("Todos los orígenes"), Origin.choices)
    )

    field_order = ["q", "status", "method", "origin", "since", "until"]


class PromiseFilterForm(ListFilterForm):
    TABS = [
        (selectors.DUE_TODAY, _("Vencen hoy")),
        (selectors.BROKEN, _("Incumplidos")),
        (selectors.IN_COURSE, _("Vigentes")),
        ("", _("Todos")),
    ]

    # The tab: links above the results, kept by the search as a hidden field.
    view = forms.ChoiceField(label=_("Ver"), required=False, choices=TABS, widget=forms.HiddenInput)
    origin = forms.ChoiceField(
        label=_("Origen"), required=False, choices=_all(_("Todos los orígenes"), Origin.choices)
    )


class LinkFilterForm(ListFilterForm):
    status = forms.ChoiceField(
        label=_("Estado"),
        required=False,
        choices=_all(_("Todos los estados"), PaymentLink.Status.choices),
    )
    provider = forms.ChoiceField(
        label=_("Pasarela"), required=False, choices=_all(_("Todas las pasarelas"), GATEWAY_CHOICES)
    )
    origin = forms.ChoiceField(
        label=_("Origen"), required=False, choices=_all(_("Todos los orígenes"), Origin.choices)
    )


class CallbackFilterForm(ListFilterForm):
    status = forms.ChoiceField(
        label=_("Estado"),
        required=False,
        choices=_all(_("Todos los estados"), CallbackRequest.Status.choices),
    )
    origin = forms.ChoiceField(
        label=_("Origen"), required=False, choices=_all(_("Todos los orígenes"), Origin.choices)
    )


# --- Reviews and closings ----------------------------------------------------------------


class ApproveForm(ServiceErrorsMixin, forms.Form):
    accept_overpayment = forms.BooleanField(
        label=_("Aceptar el pago en exceso"),
        required=False,
        help_text=_(
            "El monto supera lo que cancela la deuda hoy: lo que sobra queda como saldo a "
            "favor del cliente y el pago se marca como pago en exceso."
        ),
    )


class ReasonForm(ServiceErrorsMixin, forms.Form):
    """Why a payment is rejected, a promise withdrawn or a payment annulled."""

    reason = forms.CharField(
        label=_("Motivo"),
        max_length=REASON_CHARS,
        error_messages={"required": _("Indique el motivo.")},
    )


class ReopenForm(ServiceErrorsMixin, forms.Form):
    """Reopening a rejected payment to verify asks nothing: it carries the refusal."""


class CallbackCloseForm(ServiceErrorsMixin, forms.Form):
    status = forms.ChoiceField(
        label=_("Resultado"),
        choices=[
            (CallbackRequest.Status.DONE, _("Llamado")),
            (CallbackRequest.Status.CANCELLED, _("Descartado")),
        ],
        error_messages={"required": _("Elija «Llamado» o «Descartado».")},
    )
    outcome = forms.CharField(
        label=_("Qué pasó"),
        max_length=REASON_CHARS,
        error_messages={"required": _("Indique qué pasó.")},
    )


# --- What an agent registers for a customer ----------------------------------------------


def debt_key(debt: Debt) -> str:
    return f"{debt.kind}:{debt.id}"


class DebtChoiceForm(ServiceErrorsMixin, forms.Form):
    """A form about one of the customer's open debts, chosen from a list."""

    debt = forms.ChoiceField(
        label=_("Deuda"),
        error_messages={
            "required": _("Elija la deuda."),
            "invalid_choice": _("Elija una deuda del cliente de la lista."),
        },
    )

    def __init__(self, *args: Any, debts: list[Debt], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.debts = {debt_key(debt): debt for debt in debts}
        self.fields["debt"].choices = [
            (
                key,
                f"{debt.label} · {display.money_text(debt.total, debt.currency)}",
            )
            for key, debt in self.debts.items()
        ]
        if len(self.debts) == 1:
            self.fields["debt"].initial = next(iter(self.debts))

    def chosen_debt(self) -> Debt:
        return self.debts[self.cleaned_data["debt"]]

    def receivable(self) -> dict[str, Any]:
        debt = self.chosen_debt()
        return {"receivable_kind": debt.kind, "receivable_id": debt.id}


class LinkForm(DebtChoiceForm):
    concept = forms.ChoiceField(
        label=_("Concepto"),
        choices=[
            (PaymentLink.Concept.TOTAL, _("Deuda total")),
            (PaymentLink.Concept.INSTALLMENT, _("Una cuota")),
            (PaymentLink.Concept.CUSTOM, _("Monto libre")),
        ],
        initial=PaymentLink.Concept.TOTAL,
    )
    installment_number = lib_fields.IntegerField(
        label=_("N.º de cuota"),
        required=False,
        min_value=1,
        max_value=MAX_INSTALLMENT,
        help_text=_("Solo para «Una cuota»."),
    )
    amount = amount_field(_("Monto"), required=False, help_text=_("Solo para «Monto libre»."))
    provider = forms.ChoiceField(label=_("Pasarela"), choices=GATEWAY_CHOICES)
    payer_email = forms.EmailField(label=_("Correo del pagador"), required=False, max_length=254)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only what can make a link now, as the debtor portal does: a gateway without its
        # credentials would only store a failed link.
        self.gateway_choices = configured_gateway_choices()
        field = self.fields["provider"]
        field.choices = self.gateway_choices
        if len(self.gateway_choices) == 1:
            field.initial = self.gateway_choices[0][0]
        # What the card says instead of the form when no gateway can make a link.
        self.no_gateways = "" if self.gateway_choices else NO_GATEWAYS_MESSAGE
        if self.no_gateways:
            field.error_messages = {
                **field.error_messages,
                "required": NO_GATEWAYS_MESSAGE,
                "invalid_choice": NO_GATEWAYS_MESSAGE,
            }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        concept = cleaned.get("concept")
        number_missing = (
            cleaned.get("installment_number") is None and "installment_number" not in self.errors
        )
        if concept == PaymentLink.Concept.INSTALLMENT and number_missing:
            self.add_error("installment_number", _("Indique el número de la cuota."))
        amount_missing = cleaned.get("amount") is None and "amount" not in self.errors
        if concept == PaymentLink.Concept.CUSTOM and amount_missing:
            self.add_error("amount", _("Indique el monto a pagar."))
        return cleaned

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        concept = data["concept"]
        return {
            **self.receivable(),
            "concept": concept,
            "provider": data["provider"],
            "payer_email": data["payer_email"],
            "amount": data["amount"] if concept == PaymentLink.Concept.CUSTOM else None,
            "installment_number": data["installment_number"]
            if concept == PaymentLink.Concept.INSTALLMENT
            else None,
        }


class PromiseForm(DebtChoiceForm):
    amount = amount_field(_("Monto"), error_messages={"required": _("Indique el monto.")})
    promised_on = forms.DateField(
        label=_("Fecha comprometida"),
        widget=forms.DateInput(**DATE_WIDGET),
        error_messages={"required": _("Indique la fecha comprometida.")},
    )
    notes = forms.CharField(label=_("Observaciones"), required=False, max_length=NOTES_CHARS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        attrs = self.fields["promised_on"].widget.attrs
        attrs["min"] = today.isoformat()
        attrs["max"] = (today + timedelta(days=services.PROMISE_MAX_DAYS)).isoformat()

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            **self.receivable(),
            "amount": data["amount"],
            "promised_on": data["promised_on"],
            "notes": data["notes"],
        }


class ReportForm(DebtChoiceForm):
    amount = amount_field(_("Monto"), error_messages={"required": _("Indique el monto.")})
    paid_on = forms.DateField(
        label=_("Fecha de pago"),
        widget=forms.DateInput(**DATE_WIDGET),
        error_messages={"required": _("Indique la fecha del pago.")},
    )
    method = forms.ChoiceField(label=_("Medio"), choices=ReportedPayment.Method.choices)
    reference = forms.CharField(label=_("N.º de operación"), required=False, max_length=80)
    receipt = forms.FileField(
        label=_("Comprobante"),
        validators=[validate_receipt],
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
        help_text=_("PDF, JPG o PNG de hasta 5 MB."),
        error_messages={"required": _("Adjunte el comprobante.")},
    )
    contact_email = forms.EmailField(label=_("Correo de contacto"), required=False, max_length=254)
    # An amount above the debt is refused (by the service) unless the agent says the debtor
    # really paid more, as a loan payment's form asks: 10,000,000,000 typed for 1,000 is a slip.
    accept_overpayment = forms.BooleanField(
        label=services.PAID_MORE_ANSWERS[Origin.AGENT],
        required=False,
        help_text=_("Al verificarlo, lo que exceda la deuda quedará como saldo a favor."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        attrs = self.fields["paid_on"].widget.attrs
        attrs["max"] = today.isoformat()
        attrs["min"] = (today - timedelta(days=services.REPORT_MAX_AGE_DAYS)).isoformat()

    def offers_overpayment(self) -> bool:
        """Say whether to show the overpayment checkbox: after the service refused an amount
        above the debt (services.report_payment), or once ticked."""
        return self.has_error("amount", code=services.ABOVE_DEBT) or bool(
            self["accept_overpayment"].value()
        )

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            **self.receivable(),
            "amount": data["amount"],
            "paid_on": data["paid_on"],
            "method": data["method"],
            "reference": data["reference"],
            "receipt": data["receipt"],
            "contact_email": data["contact_email"],
            "paid_more": data["accept_overpayment"],
        }


class CallbackRequestForm(ServiceErrorsMixin, forms.Form):
    phone = forms.CharField(
        label=_("Teléfono"),
        max_length=20,
        error_messages={"required": _("Indique el teléfono.")},
    )
    preferred_at = forms.DateTimeField(
        label=_("Horario preferido"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    preferred_time = forms.CharField(
        label=_("o franja preferida"),
        required=False,
        max_length=60,
        help_text=_("Por ejemplo: «mañanas» o «después de las 6 p. m.»."),
    )

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "phone": data["phone"],
            "preferred_at": data["preferred_at"],
            "preferred_time": data["preferred_time"],
        }


class AnnulForm(ServiceErrorsMixin, forms.Form):
    """One of the customer's standing loan payments, and why it is annulled."""

    payment = forms.TypedChoiceField(
        label=_("Pago"),
        coerce=int,
        error_messages={
            "required": _("Elija el pago."),
            "invalid_choice": _("Elija un pago del cliente de la lista."),
        },
    )
    reason = forms.CharField(
        label=_("Motivo de la anulación"),
        max_length=REASON_CHARS,
        error_messages={"required": _("Indique el motivo de la anulación.")},
    )

    def __init__(
        self, *args: Any, payments: list[Payment], customer: Customer | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.payments = {payment.pk: payment for payment in payments}
        self.fields["payment"].choices = [
            (
                payment.pk,
                f"#{payment.pk} · {payment.loan.payment_code} · "
                f"{payment.received_on:%d/%m/%Y} · "
                f"{display.money_text(payment.amount, payment.loan.currency)}",
            )
            for payment in payments
        ]

    def clean(self) -> dict[str, Any]:
        # The same annulment sent twice (a double click, the back button): the payment is
        # no longer in the list because it was annulled; say so instead of "elija un pago".
        data = super().clean()
        posted = lookups.whole_number(str(self.data.get(self.add_prefix("payment"), "")))
        if self.customer is not None and "payment" in self.errors and posted is not None:
            annulled = selectors.annulled_payment(self.customer, posted)
            if annulled is not None:
                # Above the form: the list may be empty now, and the form not drawn.
                del self.errors["payment"]
                self.add_error(
                    None,
                    _("El pago #%(id)s ya fue anulado %(when_by)s; no se anuló otra vez.")
                    % {
                        "id": annulled.pk,
                        "when_by": repeats.done_when_by(annulled.annulled_at, annulled.annulled_by),
                    },
                )
        return data

    def chosen_payment(self) -> Payment:
        return self.payments[self.cleaned_data["payment"]]


class AgreementForm(DebtChoiceForm):
    option = forms.CharField(
        label=_("Convenio"),
        max_length=40,
        error_messages={"required": _("Elija uno de los convenios ofrecidos.")},
    )
    provider = forms.ChoiceField(label=_("Pasarela del pie"), choices=GATEWAY_CHOICES)
    payer_email = forms.EmailField(label=_("Correo del pagador"), required=False, max_length=254)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The down payment is a payment link: only a gateway that can make one now.
        field = self.fields["provider"]
        field.choices = configured_gateway_choices()
        self.no_gateways = "" if field.choices else NO_GATEWAYS_MESSAGE
        if self.no_gateways:
            field.error_messages = {
                **field.error_messages,
                "required": NO_GATEWAYS_MESSAGE,
                "invalid_choice": NO_GATEWAYS_MESSAGE,
            }

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            **self.receivable(),
            "option_key": data["option"],
            "provider": data["provider"],
            "payer_email": data["payer_email"],
        }
