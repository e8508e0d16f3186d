"""Reassigning one gestión, or several at once."""

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from crm.forms import PersonChoiceField
from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.models import (
    Gestion,
    Outcome,
)

# The most gestiones «todas las gestiones abiertas de este gestor» moves in one send (each
# is locked, gets its follow-up, timeline entry and notification, in one transaction);
# more are moved by sending again, which the message says.
ALL_LIMIT = 500


class ReassignForm(forms.Form):
    agent = PersonChoiceField(label=_("Nuevo gestor"), queryset=gestion_selectors.agents())
    reason = forms.CharField(label=_("Motivo"), max_length=200, required=False)


class BulkReassignForm(forms.Form):
    """The marked gestiones, or (`all_of_agent`, its own button) every open gestión the
    screen lists for the agent it is filtered by (`open_of_agent`), to one agent."""

    gestiones = forms.ModelMultipleChoiceField(
        label=_("Gestiones"), queryset=Gestion.objects.filter(outcome=Outcome.OPEN), required=False
    )
    all_of_agent = forms.BooleanField(required=False)
    agent = PersonChoiceField(label=_("Nuevo gestor"), queryset=gestion_selectors.agents())
    reason = forms.CharField(label=_("Motivo"), max_length=200, required=False)
    # How many the page said were open, so the result can say when that changed.
    expected = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)

    def __init__(self, *args, open_of_agent: QuerySet[Gestion] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.open_of_agent = open_of_agent

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("all_of_agent"):
            if self.open_of_agent is None:
                self.add_error(None, _("Elija primero el gestor cuyas gestiones se reasignan."))
        elif not cleaned.get("gestiones") and "gestiones" not in self.errors:
            self.add_error("gestiones", _("Marque al menos una gestión para reasignar."))
        return cleaned

    def chosen(self) -> list[Gestion]:
        """Return the gestiones to reassign: the marked ones, or the first ALL_LIMIT open
        ones of the agent, soonest due first."""
        if self.cleaned_data["all_of_agent"]:
            return list(self.open_of_agent.order_by("due_at", "id")[:ALL_LIMIT])
        return list(self.cleaned_data["gestiones"])
