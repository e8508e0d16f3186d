"""Input parsing for the CRM screens, query strings included."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from crm import services, validators
from crm.models import Branch, Channel, Customer, Interaction, Tag


def advisors():
    """Return the active users who can be assigned customers (anyone who may edit them)."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True, groups__permissions__codename="change_customer")
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class CustomerForm(forms.ModelForm):
    phone = PhoneNumberField(
        label=_("Celular"), required=False, help_text=_("Ej.: 987 654 321 o +51 987 654 321")
    )
    phone_secondary = PhoneNumberField(label=_("Teléfono alternativo"), required=False)
    tags = forms.ModelMultipleChoiceField(
        label=_("Etiquetas"),
        queryset=Tag.objects.all(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )

    class Meta:
        model = Customer
        fields = [*services.CUSTOMER_FIELDS, "tags"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = Channel.objects.filter(is_active=True)
        self.fields["branch"].queryset = Branch.objects.filter(is_active=True)
        self.fields["advisor"].queryset = advisors()
        self.fields["advisor"].label_from_instance = lambda u: u.get_full_name() or u.username
        self.fields["document_number"].widget.attrs["autofocus"] = True

    def clean_document_number(self) -> str:
        return validators.normalize_document_number(self.cleaned_data.get("document_number", ""))

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("phone") and not cleaned.get("email") and not self.errors.get("phone"):
            self.add_error("phone", _("Registre al menos un celular o un correo para contactarlo."))
        return cleaned

    def service_data(self) -> dict:
        """Return the cleaned fields the services take, without the tags."""
        return {k: v for k, v in self.cleaned_data.items() if k != "tags"}


class QuickNoteForm(forms.Form):
    """The 360 page's quick form: a note, or a call or message made outside the app."""

    KINDS = [
        (Interaction.Kind.NOTE, _("Nota")),
        (Interaction.Kind.CALL, _("Llamada")),
        (Interaction.Kind.WHATSAPP, _("WhatsApp")),
        (Interaction.Kind.EMAIL, _("Correo")),
        (Interaction.Kind.SMS, _("SMS")),
        (Interaction.Kind.FOLLOW_UP, _("Seguimiento")),
    ]

    kind = forms.ChoiceField(label=_("Tipo"), choices=KINDS, initial=Interaction.Kind.NOTE)
    summary = forms.CharField(
        label=_("Nota"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("Escriba una nota…")}),
        error_messages={"required": _("Escriba el texto de la nota.")},
    )

    def direction(self) -> str:
        if self.cleaned_data["kind"] in (Interaction.Kind.NOTE, Interaction.Kind.FOLLOW_UP):
            return Interaction.Direction.INTERNAL
        return Interaction.Direction.OUTBOUND


class TimelineFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", _("Todo")), *Interaction.Kind.choices], required=False)
    before_at = forms.DateTimeField(required=False)
    before_id = forms.IntegerField(required=False, min_value=1)

    def cursor(self):
        at, pk = self.cleaned_data.get("before_at"), self.cleaned_data.get("before_id")
        return (at, pk) if at and pk else None
