"""Reassigning one gestión, or several at once."""

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import PersonChoiceField
from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.models import (
    Gestion,
    Outcome,
)


class ReassignForm(forms.Form):
    agent = PersonChoiceField(label=_("Nuevo gestor"), queryset=gestion_selectors.agents())
    reason = forms.CharField(label=_("Motivo"), max_length=200, required=False)


class BulkReassignForm(forms.Form):
    gestiones = forms.ModelMultipleChoiceField(
        label=_("Gestiones"), queryset=Gestion.objects.filter(outcome=Outcome.OPEN)
    )
    agent = PersonChoiceField(label=_("Nuevo gestor"), queryset=gestion_selectors.agents())
    reason = forms.CharField(label=_("Motivo"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gestiones"].error_messages["required"] = _(
            "Marque al menos una gestión para reasignar."
        )
