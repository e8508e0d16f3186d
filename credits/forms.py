"""Input parsing for the loan screens, query strings included."""

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from credits import schedule, selectors
from credits.investors import services as investor_services
from credits.models import Investor, Loan, LoanProduct, Payment
from credits.services import ledger
from credits.services import loans as loan_services
from crm import forms as crm_forms
from crm import validators as crm_validators
from crm.forms import ServiceErrorsMixin
from crm.models import Branch, Customer
from lib import fields as lib_fields
from lib import lists, people
from lib.money import Currency

MAX_RECEIPT_BYTES = 5 * 1024 * 1024
# The first bytes of each receipt type the form takes: the extension alone proves nothing.
RECEIPT_SIGNATURES = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
}
# What each type ends with, found in its last KB (where a PDF reader looks for %%EOF): a
# file cut short in its upload, or only a signature in front of anything, has no end. A
# JPG's end marker is looked for anywhere after its start: phones append data after it
# (a Samsung "motion photo" carries its video there).
RECEIPT_ENDINGS = {".pdf": b"%%EOF", ".png": b"IEND", ".jpg": b"\xff\xd9", ".jpeg": b"\xff\xd9"}
RECEIPT_TAIL_BYTES = 1024
WHOLE_FILE_ENDINGS = (".jpg", ".jpeg")
# Peruvian plates: six characters (ABC-123, A1B-234) or seven for some motorcycles.
PLATE_RE = re.compile(r"[A-Z0-9]{6,7}")
# ISO 3779: 17 characters, never I, O or Q (they read as 1 and 0).
VIN_RE = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
DATE_WIDGET = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}
# How far from today a new loan may start, and its first installment fall after the start:
# beyond them a date is a typo (2062 for 2026), and past year 9999 no schedule exists.
# Older loans come in through the importer (credits/imports.py), with their own history.
LOAN_START_WINDOW = timedelta(days=365)
MAX_FIRST_DUE_GAP = timedelta(days=365)


def normalize_plate(value: str) -> str:
    """Return a plate without spaces or dashes, upper-cased ("abc-123" → "ABC123")."""
    return re.sub(r"[\s\-]", "", value or "").upper()


def validate_receipt(upload) -> None:
    """Refuse a receipt that is not a whole PDF, JPG or PNG of at most 5 MB."""
    name = (upload.name or "").lower()
    extension = name[name.rfind(".") :] if "." in name else ""
    if extension not in RECEIPT_SIGNATURES:
        raise ValidationError(_("El comprobante debe ser un PDF, JPG o PNG."))
    if upload.size > MAX_RECEIPT_BYTES:
        raise ValidationError(_("El comprobante pesa más de 5 MB."))
    head = upload.read(8)
    if extension not in WHOLE_FILE_ENDINGS:
        upload.seek(max(0, upload.size - RECEIPT_TAIL_BYTES))
    tail = upload.read()  # at most MAX_RECEIPT_BYTES
    upload.seek(0)
    if not head.startswith(RECEIPT_SIGNATURES[extension]) or RECEIPT_ENDINGS[extension] not in tail:
        raise ValidationError(
            _("El archivo no es un %(ext)s válido, o está incompleto: vuelva a guardarlo.")
            % {"ext": extension[1:].upper()}
        )


# --- Loans ------------------------------------------------------------------------------


class ProductChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: LoanProduct) -> str:
        return ngettext(
            "%(name)s · %(rate)s %% anual · %(min)s a %(max)s cuota",
            "%(name)s · %(rate)s %% anual · %(min)s a %(max)s cuotas",
            obj.max_term,
        ) % {
            "name": obj.name,
            "rate": format(obj.annual_rate.normalize(), "f"),
            "min": obj.min_term,
            "max": obj.max_term,
        }


class PersonChoiceField(forms.ModelChoiceField):
    """A staff member picked by full name (the username only for who has none)."""

    def label_from_instance(self, obj) -> str:
        return people.display_name(obj)


class LoanTermsForm(forms.Form):
    """The figures a schedule needs: what the live preview reads and the loan form starts with."""

    product = ProductChoiceField(
        label=_("Producto"),
        queryset=LoanProduct.objects.filter(is_active=True),
        empty_label=_("Elija un producto"),
        error_messages={"required": _("Elija el producto.")},
    )
    principal = lib_fields.DecimalField(
        label=_("Monto"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=schedule.MAX_PRINCIPAL,
        error_messages={"required": _("Indique el monto.")},
    )
    term = lib_fields.IntegerField(
        label=_("Plazo (cuotas)"),
        min_value=1,
        max_value=schedule.MAX_TERM,
        error_messages={"required": _("Indique el plazo.")},
    )
    annual_rate = lib_fields.DecimalField(
        label=_("Tasa nominal anual (%)"),
        grouped=False,
        max_digits=8,
        decimal_places=4,
        min_value=0,
        max_value=schedule.MAX_ANNUAL_RATE,
        required=False,
        help_text=_("Vacío: la del producto; si se negocia, dentro del rango del producto."),
    )
    start_date = forms.DateField(
        label=_("Fecha de inicio"),
        widget=forms.DateInput(**DATE_WIDGET),
        error_messages={"required": _("Indique la fecha de inicio.")},
    )
    first_due_date = forms.DateField(
        label=_("Primer vencimiento"),
        required=False,
        widget=forms.DateInput(**DATE_WIDGET),
        help_text=_("Vacío: un periodo después del inicio."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        product: LoanProduct | None = cleaned.get("product")
        principal, term = cleaned.get("principal"), cleaned.get("term")
        if product:
            try:
                loan_services.validate_terms(
                    product=product,
                    principal=principal,
                    term=term,
                    annual_rate=cleaned.get("annual_rate"),
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
        start, first_due = cleaned.get("start_date"), cleaned.get("first_due_date")
        today = timezone.localdate()
        if start and not today - LOAN_START_WINDOW <= start <= today + LOAN_START_WINDOW:
            self.add_error(
                "start_date",
                _("La fecha de inicio debe estar entre el %(min)s y el %(max)s.")
                % {
                    "min": (today - LOAN_START_WINDOW).strftime("%d/%m/%Y"),
                    "max": (today + LOAN_START_WINDOW).strftime("%d/%m/%Y"),
                },
            )
            start = None
        if start and first_due and first_due <= start:
            self.add_error(
                "first_due_date", _("El primer vencimiento debe ser posterior al inicio.")
            )
        elif start and first_due and first_due > start + MAX_FIRST_DUE_GAP:
            self.add_error(
                "first_due_date",
                _("El primer vencimiento debe caer dentro del año siguiente al inicio."),
            )
        return cleaned

    def has_figures(self) -> bool:
        """Tell whether the fields a schedule cannot do without were filled in at all."""
        required = ("product", "principal", "term", "start_date")
        return all(str(self.data.get(name, "")).strip() for name in required)

    def annual_rate_used(self) -> Decimal:
        rate = self.cleaned_data.get("annual_rate")
        return self.cleaned_data["product"].annual_rate if rate is None else rate

    def schedule_terms(self) -> dict[str, Any]:
        """Return `credits.schedule.build_schedule`'s arguments for the cleaned figures."""
        product: LoanProduct = self.cleaned_data["product"]
        start: date = self.cleaned_data["start_date"]
        return {
            "principal": self.cleaned_data["principal"],
            "annual_rate": self.annual_rate_used(),
            "term": self.cleaned_data["term"],
            "method": product.method,
            "frequency": product.frequency,
            "first_due_date": self.cleaned_data["first_due_date"]
            or schedule.first_due_date_after(start, product.frequency),
            "start_date": start,
            "fee_type": product.fee_type,
            "fee_value": product.fee_value,
        }


class CustomerField(forms.ModelChoiceField):
    """A customer typed by document number (DNI, RUC…), or fixed by the page."""

    widget = forms.TextInput

    def __init__(self, **kwargs):
        super().__init__(to_field_name="document_number", **kwargs)

    def to_python(self, value: Any) -> Customer | None:
        if value in self.empty_values:
            return None
        if isinstance(value, Customer):
            value = value.document_number
        number = crm_validators.normalize_document_number(str(value))
        # Only what a document can be reaches the query: PostgreSQL refuses a NUL in it.
        if not re.fullmatch(r"[A-Z0-9]{1,20}", number):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        matches = list(self.queryset.filter(document_number=number)[:2])
        if len(matches) != 1:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return matches[0]


class OffersRepeatMixin:
    """A form with a `repeat_ok` box: "it is another one, alike" (`ledger.repeat_refused`)."""

    def offers_repeat(self) -> bool:
        """Say whether to show the box: after a repeat was refused, or when it was ticked."""
        return self.has_error("repeat_ok", code=ledger.REPEATED) or bool(self["repeat_ok"].value())


class LoanForm(OffersRepeatMixin, ServiceErrorsMixin, LoanTermsForm):
    """A new loan: the customer, its terms, who sells it and the vehicle pledged."""

    # Offered once the service found the same loan opened a moment ago.
    repeat_ok = forms.BooleanField(
        label=_("Es otro crédito con los mismos datos"),
        required=False,
        help_text=_("Márquelo solo si el cliente de verdad toma dos créditos iguales."),
    )

    customer = CustomerField(
        label=_("Cliente (n.º de documento)"),
        queryset=Customer.objects.none(),
        error_messages={
            "required": _("Indique el cliente."),
            "invalid_choice": _("No hay un cliente con ese número de documento."),
        },
    )
    advisor = PersonChoiceField(
        label=_("Asesor"),
        queryset=crm_forms.advisors(),
        required=False,
        empty_label=_("El del cliente"),
    )
    branch = forms.ModelChoiceField(
        label=_("Sucursal"),
        queryset=Branch.objects.filter(is_active=True),
        required=False,
        empty_label=_("La del cliente"),
    )
    vehicle_brand = forms.CharField(label=_("Marca"), max_length=60, required=False)
    vehicle_model = forms.CharField(label=_("Modelo"), max_length=60, required=False)
    vehicle_year = lib_fields.IntegerField(label=_("Año"), min_value=1950, required=False)
    vehicle_plate = forms.CharField(
        label=_("Placa"), max_length=12, required=False, help_text=_("Ej.: ABC-123")
    )
    vehicle_vin = forms.CharField(
        label=_("VIN"), max_length=20, required=False, help_text=_("17 caracteres, sin I, O ni Q")
    )
    cosigner_name = forms.CharField(
        label=_("Aval: nombre"),
        max_length=200,
        required=False,
        help_text=_("Obligatorio si el producto exige aval: firma el contrato."),
    )
    cosigner_email = forms.EmailField(label=_("Aval: correo"), required=False)
    cosigner_document = forms.CharField(label=_("Aval: documento"), max_length=20, required=False)
    notes = forms.CharField(
        label=_("Observaciones"),
        required=False,
        max_length=crm_forms.NOTE_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    field_order = [
        "customer",
        "product",
        "principal",
        "term",
        "annual_rate",
        "start_date",
        "first_due_date",
        "advisor",
        "branch",
    ]

    def __init__(self, *args, customers: QuerySet[Customer], customer: Customer | None, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("start_date", timezone.localdate())
        if customer is not None:
            kwargs["initial"]["customer"] = customer
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers
        self.fields["customer"].disabled = customer is not None
        # Only active advisors and branches; one picked as it left is refused by name.
        for name in ("advisor", "branch"):
            crm_forms.offer_keeping(self.fields[name], name, keeping=None)
        if customer is not None:
            # «El del cliente» when that advisor left means nobody: say it before saving.
            for name, why in zip(("advisor", "branch"), self._unowned_by(customer), strict=True):
                if why:
                    self.fields[name].help_text = why

    @staticmethod
    def _unowned_by(customer: Customer) -> tuple[str, str]:
        return (
            loan_services.customer_advisor_for_loan(customer)[1],
            loan_services.customer_branch_for_loan(customer)[1],
        )

    def unowned(self) -> list[str]:
        """Say, in sentences, what the saved loan did not take from its customer for want of
        a choice (their advisor left, their branch closed)."""
        data = self.cleaned_data
        reasons = self._unowned_by(data["customer"])
        return [
            why
            for name, why in zip(("advisor", "branch"), reasons, strict=True)
            if why and not data[name]
        ]

    def clean(self):
        cleaned = super().clean()
        for name in ("advisor", "branch"):
            crm_forms.refuse_new_leaving(self, name, keeping=None)
        return cleaned

    def clean_vehicle_plate(self) -> str:
        plate = normalize_plate(self.cleaned_data["vehicle_plate"])
        if plate and not PLATE_RE.fullmatch(plate):
            raise ValidationError(
                _("La placa debe tener 6 o 7 letras y dígitos, p. ej. ABC-123 o A1B-234.")
            )
        return plate

    def clean_vehicle_vin(self) -> str:
        vin = re.sub(r"\s", "", self.cleaned_data["vehicle_vin"]).upper()
        if vin and len(vin) != 17:
            raise ValidationError(_("El VIN debe tener 17 caracteres."))
        if vin and not VIN_RE.fullmatch(vin):
            raise ValidationError(_("El VIN solo lleva letras y dígitos, y nunca I, O ni Q."))
        return vin

    def clean_vehicle_year(self) -> int | None:
        year = self.cleaned_data["vehicle_year"]
        if year is not None and year > timezone.localdate().year + 1:
            raise ValidationError(_("El año del vehículo no puede ser posterior al próximo."))
        return year

    def service_data(self) -> dict[str, Any]:
        """Return `credits.services.create_loan`'s keyword arguments but the actor."""
        data = self.cleaned_data
        return {
            "customer": data["customer"],
            "product": data["product"],
            "principal": data["principal"],
            "term": data["term"],
            "annual_rate": data["annual_rate"],
            "start_date": data["start_date"],
            "first_due_date": data["first_due_date"],
            "advisor": data["advisor"],
            "branch": data["branch"],
            "vehicle": {
                name: data[f"vehicle_{name}"] for name in ("brand", "model", "year", "plate", "vin")
            },
            "cosigner": {name: data[f"cosigner_{name}"] for name in ("name", "email", "document")},
            "notes": data["notes"],
            "repeat_ok": data["repeat_ok"],
        }


class CosignerForm(ServiceErrorsMixin, forms.Form):
    """The co-signer (*aval*) of a loan not yet signed: `loans.set_cosigner`."""

    cosigner_name = forms.CharField(
        label=_("Nombre"),
        max_length=200,
        required=False,
        help_text=_("Sin nombre ni correo, el crédito queda sin aval."),
    )
    cosigner_email = forms.EmailField(label=_("Correo"), required=False)
    cosigner_document = forms.CharField(label=_("Documento"), max_length=20, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        crm_forms.refuse_control_characters_in(self)


class CustomerQueryForm(forms.Form):
    """The loan form's `?customer=<id>`: the customer the new loan is for, when given."""

    customer = forms.IntegerField(required=False, min_value=1)


# --- Payments ---------------------------------------------------------------------------

OVERPAYMENT_HELP = {
    Payment.Overpayment.CREDIT: _(
        "Queda a favor del cliente y puede aplicarse después a sus cuotas."
    ),
    Payment.Overpayment.SHORTEN_TERM: _(
        "Se abona al capital y se conserva la cuota: el crédito termina antes."
    ),
    Payment.Overpayment.LOWER_INSTALLMENT: _(
        "Se abona al capital y se conserva el plazo: las cuotas que quedan bajan."
    ),
}
# What needs a bank's operation number to be traced.
REFERENCE_REQUIRED = (Payment.Source.TRANSFER, Payment.Source.DEPOSIT)


class PaymentForm(OffersRepeatMixin, ServiceErrorsMixin, forms.Form):
    """Money received for a loan, as a cashier or collections agent registers it."""

    SOURCES = [c for c in Payment.Source.choices if c[0] != Payment.Source.CREDIT_BALANCE]

    amount = lib_fields.DecimalField(
        label=_("Monto"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"required": _("Indique el monto recibido.")},
    )
    received_on = forms.DateField(
        label=_("Fecha de pago"),
        widget=forms.DateInput(**DATE_WIDGET),
        error_messages={"required": _("Indique la fecha del pago.")},
    )
    source = forms.ChoiceField(label=_("Origen"), choices=SOURCES, initial=Payment.Source.CASH)
    reference = forms.CharField(
        label=_("N.º de operación"),
        max_length=80,
        required=False,
        help_text=_("Obligatorio para transferencias y depósitos."),
    )
    receipt = forms.FileField(
        label=_("Comprobante"),
        required=False,
        validators=[validate_receipt],
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
        help_text=_("PDF, JPG o PNG de hasta 5 MB."),
    )
    receipt_url = forms.URLField(
        label=_("o enlace al comprobante"), required=False, assume_scheme="https"
    )
    overpayment = forms.ChoiceField(
        label=_("Si el pago supera lo vencido y la cuota en curso"),
        choices=Payment.Overpayment.choices,
        initial=Payment.Overpayment.CREDIT,
        widget=forms.RadioSelect,
    )
    accept_overpayment = forms.BooleanField(
        label=_("Registrar el exceso como saldo a favor"),
        required=False,
        help_text=_(
            "Solo si el cliente de verdad pagó más de lo que cancela el crédito: lo que "
            "sobra queda a su favor y el pago se marca como pago en exceso."
        ),
    )

    # Offered once the service found the same payment recorded a moment ago.
    repeat_ok = forms.BooleanField(
        label=_("Es otro pago con los mismos datos"),
        required=False,
        help_text=_("Márquelo solo si el cliente de verdad pagó dos veces lo mismo."),
    )

    def __init__(self, *args, loan: Loan | None = None, **kwargs):
        today = timezone.localdate()
        kwargs.setdefault("initial", {}).setdefault("received_on", today)
        super().__init__(*args, **kwargs)
        # The browser's date picker offers only the loan's life; the service checks it.
        attrs = self.fields["received_on"].widget.attrs
        attrs["max"] = today.isoformat()
        if loan is not None and loan.disbursed_on is not None:
            attrs["min"] = loan.disbursed_on.isoformat()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # A number refused as such (too long, a NUL) is in the errors already, not missing.
        missing = "reference" not in self.errors and not cleaned.get("reference", "").strip()
        if cleaned.get("source") in REFERENCE_REQUIRED and missing:
            self.add_error(
                "reference", _("Indique el número de operación de la transferencia o depósito.")
            )
        if cleaned.get("receipt") and cleaned.get("receipt_url"):
            self.add_error("receipt_url", _("Adjunte el archivo o indique el enlace, no los dos."))
        return cleaned

    def overpayment_options(self) -> list[tuple[str, str, str]]:
        """Return (value, label, explanation) for each overpayment choice."""
        return [
            (value, label, OVERPAYMENT_HELP[value]) for value, label in Payment.Overpayment.choices
        ]

    def service_data(self) -> dict[str, Any]:
        """Return `credits.services.apply_payment`'s keyword arguments but loan and actor."""
        data = self.cleaned_data
        return {
            "amount": data["amount"],
            "received_on": data["received_on"],
            "source": data["source"],
            "reference": data["reference"].strip(),
            "overpayment": data["overpayment"],
            "accept_overpayment": data["accept_overpayment"],
            "receipt": data["receipt"] or None,
            "receipt_url": data["receipt_url"],
            "repeat_ok": data["repeat_ok"],
        }


class PaymentAnnulForm(forms.Form):
    reason = forms.CharField(
        label=_("Motivo de la anulación"),
        max_length=255,
        error_messages={"required": _("Indique el motivo de la anulación.")},
    )


# --- Life cycle -------------------------------------------------------------------------


class TransitionForm(forms.Form):
    """One action on a loan's life cycle, and the reason the destructive ones need."""

    SEND_FOR_SIGNATURE = "send_for_signature"
    CANCEL = "cancel"
    DISBURSE = "disburse"
    WRITE_OFF = "write_off"
    APPLY_CREDIT = "apply_credit"
    RESEND_CONTRACT = "resend_contract"
    # The contract was signed on paper, in the branch: no electronic signature to wait for.
    MARK_SIGNED = "mark_signed"
    # A disbursement recorded by mistake (services.loans.annul_disbursement).
    ANNUL_DISBURSEMENT = "annul_disbursement"

    # The permission each action needs.
    PERMISSIONS = {
        SEND_FOR_SIGNATURE: "credits.change_loan",
        # An advisor without it may still cancel their own draft (`may_take`).
        CANCEL: "credits.cancel_loan",
        DISBURSE: "credits.disburse_loan",
        WRITE_OFF: "credits.write_off_loan",
        APPLY_CREDIT: "credits.add_payment",
        RESEND_CONTRACT: "credits.change_loan",
        MARK_SIGNED: "credits.disburse_loan",
        # Who may disburse may take back a disbursement nothing followed.
        ANNUL_DISBURSEMENT: "credits.disburse_loan",
    }
    NEEDS_REASON = {
        CANCEL: _("Indique el motivo de la anulación."),
        WRITE_OFF: _("Indique el motivo del castigo."),
        MARK_SIGNED: _("Indique cómo se firmó el contrato (p. ej., en físico en la sucursal)."),
        ANNUL_DISBURSEMENT: _("Indique el motivo de la anulación del desembolso."),
    }

    # Cannot be undone: these act only from their confirmation page (`is_confirmed`).
    ASKS_FIRST = {
        CANCEL: _("Motivo de la anulación"),
        WRITE_OFF: _("Motivo del castigo"),
        ANNUL_DISBURSEMENT: _("Motivo de la anulación del desembolso"),
    }

    action = forms.ChoiceField(label=_("Acción"), choices=[(a, a) for a in PERMISSIONS])
    reason = forms.CharField(label=_("Motivo"), max_length=255, required=False)

    def for_confirmation(self, action: str) -> "TransitionForm":
        """Label the reason for `action` and ask the browser for it, on its confirmation page."""
        field = self.fields["reason"]
        field.label = self.ASKS_FIRST[action]
        field.widget.attrs["required"] = True
        return self

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        action = cleaned.get("action")
        # A reason refused on its own (too long, a NUL) has its error already.
        has_reason = "reason" in self.errors or cleaned.get("reason", "").strip()
        if action in self.NEEDS_REASON and not has_reason:
            self.add_error("reason", self.NEEDS_REASON[action])
        return cleaned


class DisburseForm(forms.Form):
    """The day a loan's money was handed over: today, or a past day for a loan registered
    after the fact. The loan's page sends it to a page that shows it for confirmation."""

    disbursed_on = forms.DateField(
        label=_("Fecha del desembolso"),
        required=False,
        widget=forms.DateInput(**DATE_WIDGET),
        help_text=_("Hoy, o el día en que se entregó el dinero si lo registra después."),
    )
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, loan: Loan, **kwargs):
        self.loan = loan
        self.today = timezone.localdate()
        kwargs.setdefault("initial", {}).setdefault("disbursed_on", self.today)
        super().__init__(*args, **kwargs)
        # The browser's date picker offers only the days allowed; `clean` checks them.
        attrs = self.fields["disbursed_on"].widget.attrs
        attrs["min"] = max(loan.start_date, self.earliest()).isoformat()
        attrs["max"] = self.today.isoformat()
        attrs.update(
            {
                "class": "form-control form-control-sm mb-1",
                "required": True,
                "aria-describedby": "disbursed-on-help",
            }
        )

    def earliest(self) -> date:
        """Return the oldest disbursement day the form takes: the new-loan form's window."""
        return self.today - LOAN_START_WINDOW

    def clean_disbursed_on(self) -> date:
        day = self.cleaned_data.get("disbursed_on") or self.today
        if day < self.earliest():
            raise ValidationError(
                _(
                    "La fecha del desembolso no puede ser anterior al %(min)s (un año atrás): "
                    "un crédito más antiguo se registra en «Importaciones», con sus pagos."
                )
                % {"min": self.earliest().strftime("%d/%m/%Y")}
            )
        try:
            loan_services.validate_disbursement_day(self.loan, day, self.today)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["disbursed_on"]) from exc
        return day

    def needs_review(self) -> bool:
        """Tell whether to show the day for confirmation before disbursing: the loan's page
        sends a day, and the confirmation page sends it back confirmed. A request without
        a day (a page opened before this form had one) disburses today, as it did."""
        return "disbursed_on" in self.data and not self.cleaned_data["confirmed"]


class ConfirmQueryForm(forms.Form):
    """The query string of a life-cycle action's confirmation page (`?action=write_off`)."""

    action = forms.ChoiceField(choices=[(a, a) for a in TransitionForm.ASKS_FIRST])


def available_actions(user, loan: Loan, *, has_open_contract: bool) -> set[str]:
    """Return the life-cycle actions to offer on a loan: its status allows them, the user may."""
    status = Loan.Status
    offered = set()
    if loan.status == status.DRAFT:
        offered.add(TransitionForm.SEND_FOR_SIGNATURE)
    if loan.status in (status.DRAFT, status.AWAITING_SIGNATURE, status.READY_TO_DISBURSE):
        offered.add(TransitionForm.CANCEL)
    if loan.status == status.AWAITING_SIGNATURE and not has_open_contract:
        offered.add(TransitionForm.RESEND_CONTRACT)
    if loan.status in (status.DRAFT, status.AWAITING_SIGNATURE):
        offered.add(TransitionForm.MARK_SIGNED)
    if loan.status == status.READY_TO_DISBURSE:
        offered.add(TransitionForm.DISBURSE)
    if loan.status == status.ACTIVE:
        offered.add(TransitionForm.WRITE_OFF)
        # Offered on the loan's page only without payments (views.loan_detail); its
        # confirmation page says why, when something else keeps it from being annulled.
        offered.add(TransitionForm.ANNUL_DISBURSEMENT)
    if loan.is_live and loan.credit_balance > 0:
        offered.add(TransitionForm.APPLY_CREDIT)
    return {a for a in offered if may_take(user, a, loan)}


def may_take(user, action: str, loan: Loan) -> bool:
    """Whether the user may take this life-cycle action on this loan: its permission, or,
    to cancel, a draft of their own (an advisor discards what they drafted; another
    advisor's loan, or one sent to sign, is cancelled by who may cancel loans)."""
    if user.has_perm(TransitionForm.PERMISSIONS[action]):
        return True
    return (
        action == TransitionForm.CANCEL
        and loan.status == Loan.Status.DRAFT
        and user.pk in (loan.advisor_id, loan.created_by_id)
        and user.has_perm("credits.change_loan")
    )


# --- Investors --------------------------------------------------------------------------


class ParticipationForm(ServiceErrorsMixin, forms.Form):
    investor = forms.ModelChoiceField(
        label=_("Inversionista"),
        queryset=Investor.objects.filter(is_active=True),
        empty_label=_("Elija un inversionista"),
        error_messages={"required": _("Elija el inversionista.")},
    )
    amount = lib_fields.DecimalField(
        label=_("Monto"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"), required=False
    )
    share = lib_fields.DecimalField(
        label=_("o porcentaje (%)"),
        grouped=False,
        max_digits=9,
        decimal_places=6,
        min_value=Decimal("0.000001"),
        max_value=100,
        required=False,
    )

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        # An investor funds loans in its own currency only: the others are not offered.
        field = self.fields["investor"]
        field.queryset = field.queryset.filter(currency=currency)
        field.error_messages["invalid_choice"] = _(
            "Ese inversionista no está activo o no invierte en %(currency)s: un "
            "inversionista financia solo créditos en su moneda."
        ) % {"currency": investor_services.currency_name(currency)}
        # Shown on every loan page: the active investors from the cache, not a COUNT and a
        # cursor each time (~1.8 ms with the options' template loop).
        lists.cache_model_choices(field, f"credits.participation.investor.{currency}")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if (cleaned.get("amount") is None) == (cleaned.get("share") is None):
            raise ValidationError(_("Indique el monto o el porcentaje, uno de los dos."))
        return cleaned


# --- Portfolio --------------------------------------------------------------------------


class PortfolioForm(forms.Form):
    """The portfolio report's choice: a day, and the currency of the loans it shows."""

    as_of = forms.DateField(
        label=_("Al día"), required=False, widget=forms.DateInput(**DATE_WIDGET)
    )
    currency = forms.ChoiceField(
        label=_("Moneda"),
        choices=Currency.choices,
        required=False,
        error_messages={"invalid_choice": _("Elija una moneda de la lista.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.first_day = selectors.portfolio_first_day()
        attrs = self.fields["as_of"].widget.attrs
        attrs["max"] = timezone.localdate().isoformat()
        if self.first_day is not None:
            attrs["min"] = self.first_day.isoformat()

    def clean_as_of(self) -> date:
        today = timezone.localdate()
        as_of = self.cleaned_data["as_of"] or today
        if as_of > today:
            raise ValidationError(_("La fecha no puede ser futura."))
        if as_of < today and self.first_day is None:
            raise ValidationError(
                _("Todavía no se ha desembolsado ningún crédito: no hay cartera antes de hoy.")
            )
        if as_of < today and as_of < self.first_day:
            raise ValidationError(
                _("No hay cartera antes del %(day)s, el día del primer desembolso.")
                % {"day": self.first_day.strftime("%d/%m/%Y")}
            )
        return as_of

    def day(self) -> date:
        """Return the chosen day, or today when the query gives none or a bad one."""
        self.is_valid()
        return self.cleaned_data.get("as_of") or timezone.localdate()

    def currency_for(self) -> str:
        """Return the chosen currency, or the lender's own when the query gives none or a
        bad one."""
        self.is_valid()
        return self.cleaned_data.get("currency") or settings.CURRENCY

    def error_list(self) -> list[str]:
        """Return every error as one line: the field's label, then the message."""
        return crm_forms.error_lines(self)
