"""Input parsing for the call-center screens."""

from django import forms
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from callcenter.models import CallRecord, Lead, LossReason
from callcenter.services import calls as call_services
from callcenter.services import orders as order_services
from crm import services as crm_services
from crm import validators
from crm.forms import (
    ConfirmsIdentityMixin,
    ServiceErrorsMixin,
    identity_confirmation_field,
    identity_key_field,
)
from crm.models import Customer
from lib import fields as lib_fields
from lib.stale import KeepsOthersChangesPlain


class ContactForm(KeepsOthersChangesPlain, ConfirmsIdentityMixin, forms.Form):
    """The customer's data as confirmed on the call: phone, document and address required.
    On a lead with its customer, what another person saved on that customer while the call
    page was open stays (`lib.stale`): a stale page does not put back an old phone. That
    customer's document or names change only once the agent confirms each old and new
    value (`crm.forms.ConfirmsIdentityMixin`): the call is about contact data."""

    document_type = forms.ChoiceField(
        label=_("Tipo de documento"), choices=Customer.DocumentType.choices
    )
    document_number = forms.CharField(
        label=_("Número de documento"),
        max_length=20,
        error_messages={"required": _("Ingrese el número de documento.")},
    )
    first_name = forms.CharField(
        label=_("Nombres"),
        max_length=120,
        error_messages={"required": _("Ingrese el nombre del cliente.")},
    )
    last_name = forms.CharField(label=_("Apellidos"), max_length=120, required=False)
    phone = PhoneNumberField(
        label=_("Celular"),
        help_text=_("Ej.: 987 654 321 o +51 987 654 321"),
        error_messages={
            "required": _("Ingrese el celular."),
            "invalid": _("El celular no es un número válido."),
        },
    )
    phone_secondary = PhoneNumberField(label=_("Teléfono alternativo"), required=False)
    email = forms.EmailField(label=_("Correo"), required=False)
    address = forms.CharField(
        label=_("Dirección de entrega"),
        max_length=255,
        error_messages={"required": _("Ingrese la dirección de entrega.")},
    )
    city = forms.CharField(label=_("Ciudad / distrito"), max_length=120, required=False)
    confirm_identity = identity_confirmation_field()
    identity_key = identity_key_field()
    # Set by for_lead: the lead's customer, whose identity the confirmation is about.
    customer_id: int | None = None

    @classmethod
    def for_lead(cls, lead: Lead, data=None) -> "ContactForm":
        """Return the form filled from the lead's customer, else from the lead's own data.

        Never from a suggested customer: until the agent confirms the match, another
        person's document and address must not be on the screen as this person's.
        """
        customer = lead.customer
        stored = None
        if customer is not None:
            # What the customer holds now, as each field cleans it: the page signs it in a
            # hidden field, and a save compares it with what is stored by then.
            stored = {
                name: getattr(customer, name)
                for name in cls.base_fields
                if name in crm_services.CUSTOMER_FIELDS
            }
            initial = {
                "document_type": customer.document_type,
                "document_number": customer.document_number,
                "first_name": customer.first_name,
                "last_name": customer.last_name,
                "phone": customer.phone or crm_services.phone_e164(lead.phone) or lead.phone,
                "phone_secondary": customer.phone_secondary,
                "email": customer.email or lead.email,
                "address": customer.address or lead.address,
                "city": customer.city or lead.city,
            }
        else:
            first, _sep, last = lead.contact_name.partition(" ")
            initial = {
                "document_type": Customer.DocumentType.DNI,
                "document_number": lead.document_number,
                "first_name": first,
                "last_name": last,
                "phone": crm_services.phone_e164(lead.phone) or lead.phone,
                "phone_secondary": crm_services.phone_e164(lead.phone_secondary)
                or lead.phone_secondary,
                "email": lead.email,
                "address": lead.address,
                "city": lead.city,
            }
        form = cls(data, initial=initial, prefix="contact", stored=stored)
        form.customer_id = lead.customer_id
        return form

    def identity_customer_id(self) -> int | None:
        return self.customer_id

    def clean_document_number(self) -> str:
        # Here too, not only in clean(): a number typed with dots or spaces is the one shown.
        return validators.normalize_document_number(self.cleaned_data.get("document_number", ""))

    def clean(self):
        cleaned = super().clean()
        number = validators.normalize_document_number(cleaned.get("document_number", ""))
        if number and cleaned.get("document_type"):
            try:
                validators.validate_document(cleaned["document_type"], number)
            except forms.ValidationError as exc:
                self.add_error(None, exc)
            cleaned["document_number"] = number
        return cleaned


class CustomerMatchForm(forms.Form):
    """The agent's answer to "is this person the registered customer?": which customer."""

    customer = forms.IntegerField(widget=forms.HiddenInput)


class CartAddForm(forms.Form):
    product = forms.IntegerField(widget=forms.HiddenInput)
    quantity = lib_fields.IntegerField(
        label=_("Cantidad"),
        min_value=1,
        max_value=call_services.MAX_LINE_QUANTITY,
        initial=1,
        error_messages={
            "min_value": _("La cantidad debe ser al menos 1."),
            "max_value": _("Máximo %(limit_value)s unidades por producto."),
            "required": _("Indique la cantidad."),
            "invalid": _("La cantidad debe ser un número entero."),
        },
    )


class OrderForm(forms.Form):
    notes = forms.CharField(
        label=_("Indicaciones para la entrega"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class OrderAnnulForm(ServiceErrorsMixin, forms.Form):
    """Why an order confirmed by mistake is annulled: it goes on the customer's timeline."""

    reason = forms.CharField(
        label=_("Motivo de la anulación"),
        max_length=order_services.REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "required": _("Indique por qué se anula el pedido."),
            "max_length": _("El motivo admite hasta %(limit_value)s caracteres."),
        },
    )


class RequeueForm(ServiceErrorsMixin, forms.Form):
    """Why a lead goes back to the queue: it goes on the customer's timeline."""

    reason = forms.CharField(
        label=_("Motivo"),
        max_length=order_services.REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "required": _("Indique por qué vuelve a la cola."),
            "max_length": _("El motivo admite hasta %(limit_value)s caracteres."),
        },
    )


class OutOfQueueFilterForm(forms.Form):
    """The leads out of the queue: a search and the state they left in."""

    q = forms.CharField(label=_("Buscar"), required=False, max_length=100)
    state = forms.ChoiceField(
        label=_("Estado"),
        required=False,
        choices=[("", _("Todos los estados"))]
        + [(s.value, s.label) for s in Lead.State if s not in Lead.QUEUE_STATES],
    )


class AskingRadioSelect(forms.RadioSelect):
    """Radio buttons of which some ask before the form goes: the chosen one's question
    (data-confirm on its input, static/js/app.js; partials/form_field.html writes it)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions: dict[str, str] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        question = self.questions.get(str(value))
        if question:
            option["confirm"] = question
            option["attrs"]["data-confirm"] = question
        return option


class OutcomeForm(ServiceErrorsMixin, forms.Form):
    """A call that ended without a sale."""

    OUTCOMES = [
        (CallRecord.Outcome.NO_ANSWER, _("No contesta")),
        (CallRecord.Outcome.CALLBACK, _("Volver a llamar")),
        (CallRecord.Outcome.NOT_INTERESTED, _("No interesado")),
    ]

    outcome = forms.ChoiceField(label=_("Resultado"), choices=OUTCOMES, widget=AskingRadioSelect)
    callback_at = forms.DateTimeField(
        label=_("Volver a llamar el"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"],
    )
    loss_reason = forms.ModelChoiceField(
        label=_("Motivo"),
        queryset=LossReason.objects.none(),
        required=False,
        empty_label=_("Elija el motivo…"),
    )
    notes = forms.CharField(
        label=_("Notas"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="outcome", **kwargs)
        reasons = LossReason.objects.filter(is_active=True)
        self.fields["loss_reason"].queryset = reasons
        if not reasons.exists():
            # An empty list is a dead end for the agent: say who fills it.
            self.fields["loss_reason"].help_text = call_services.no_loss_reasons_message()

    def ask_before(self, questions: dict[str, str]) -> "OutcomeForm":
        """Make the outcomes in `questions` ask theirs before the form is sent."""
        self.fields["outcome"].widget.questions = dict(questions)
        return self

    def clean(self):
        cleaned = super().clean()
        outcome = cleaned.get("outcome")
        if outcome == CallRecord.Outcome.CALLBACK and "callback_at" not in self.errors:
            try:
                call_services.check_callback_at(cleaned.get("callback_at"))
            except forms.ValidationError as exc:
                self.add_error("callback_at", exc.messages)
        if (
            outcome == CallRecord.Outcome.NOT_INTERESTED
            and not cleaned.get("loss_reason")
            # A reason that is not on the list already says so: not two errors for one box.
            and "loss_reason" not in self.errors
        ):
            self.add_error("loss_reason", call_services.missing_loss_reason_message())
        return cleaned
