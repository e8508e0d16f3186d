"""The /recovery portal's forms. Identifying is the customer portal's form (document type
and number, reCAPTCHA token); the call-back fields are its call-back form's."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from collections_app.portal import forms as portal_forms
from collections_app.portal.selectors import Gateway
from recovery.portal.selectors import ADVISOR_REASON

IdentifyForm = portal_forms.IdentifyForm


class PayForm(forms.Form):
    """The gateway to pay the offer through (one of those configured)."""

    provider = forms.ChoiceField(
        error_messages={
            "required": _("Elija cómo pagar."),
            "invalid_choice": _("Ese medio de pago no está disponible."),
        }
    )

    def __init__(self, *args, gateways: list[Gateway], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = [(g.name, g.label) for g in gateways]


class DeclineForm(portal_forms.CallbackForm):
    """Why the offer does not interest the debtor; a phone when they ask for an advisor."""

    reason = forms.ChoiceField(
        label=_("¿Por qué no le interesa?"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Elija un motivo."),
            "invalid_choice": _("Elija un motivo de la lista."),
        },
    )

    field_order = ["reason", "phone", "preferred_time"]

    def __init__(self, *args, reasons: list[str], phone_on_file_ends: str = "", **kwargs) -> None:
        """`phone_on_file_ends`: the last digits of the customer's registered phone, if any.

        The number itself is never on the page: anyone who knows a document number gets
        this far.
        """
        super().__init__(*args, **kwargs)
        self.phone_on_file_ends = phone_on_file_ends
        self.fields["reason"].choices = [(reason, reason) for reason in reasons]
        self.fields["phone"].required = False
        self.fields["phone"].label = _("Teléfono (si pide que un asesor lo contacte)")
        if phone_on_file_ends:
            self.fields["phone"].help_text = _(
                "Si lo deja en blanco, lo llamaremos al número que termina en %(end)s."
            ) % {"end": phone_on_file_ends}

    def clean_phone(self) -> str:
        if not self.cleaned_data.get("phone", "").strip():
            return ""
        return super().clean_phone()

    def clean(self):
        cleaned = super().clean()
        wants_a_call = cleaned.get("reason") == ADVISOR_REASON
        if (
            wants_a_call
            and not cleaned.get("phone")
            and not self.phone_on_file_ends
            and "phone" not in self.errors
        ):
            self.add_error("phone", ValidationError(_("Indique a qué teléfono lo llamamos.")))
        return cleaned

    @property
    def wants_a_call(self) -> bool:
        return self.cleaned_data.get("reason") == ADVISOR_REASON
