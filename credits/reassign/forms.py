"""To whom a leaving advisor's open loans go."""

from django import forms
from django.utils.translation import gettext_lazy as _

from crm import forms as crm_forms


class ReassignLoansForm(crm_forms.ServiceErrorsMixin, forms.Form):
    """The receiving advisor (only an active one) and how many the page said (`expected`)."""

    to_advisor = crm_forms.PersonChoiceField(
        label=_("Reasignar a"),
        queryset=crm_forms.advisors(),
        empty_label=_("Elija a quién"),
        error_messages={
            "required": _("Elija a quién reasignarlos."),
            "invalid_choice": _("Esa persona no puede recibir créditos: elija un asesor activo."),
        },
    )
    expected = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)
