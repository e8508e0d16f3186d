"""To whom a leaving advisor's customers go, and what moves along with them."""

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext_lazy as _

from crm import forms as crm_forms
from crm.reassign import services

HOOK_PREFIX = "along_"


class ReassignCustomersForm(crm_forms.ServiceErrorsMixin, forms.Form):
    """The receiving advisor (only an active one), a box per hook the user may use (ticked
    at first: their open loans go along), and how many the page said (`expected`)."""

    to_advisor = crm_forms.PersonChoiceField(
        label=_("Reasignar a"),
        queryset=crm_forms.advisors(),
        empty_label=_("Elija a quién"),
        error_messages={
            "required": _("Elija a quién reasignarlos."),
            "invalid_choice": _("Esa persona no puede recibir clientes: elija un asesor activo."),
        },
    )
    expected = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)

    def __init__(self, *args, user: AbstractBaseUser, **kwargs):
        super().__init__(*args, **kwargs)
        self.hooks = services.hooks_for(user)
        for hook in self.hooks:
            # Unticked, a box sends nothing: ticked only on the page's first view.
            self.fields[HOOK_PREFIX + hook.name] = forms.BooleanField(
                label=hook.label, required=False, initial=True
            )

    def chosen_hooks(self) -> list[services.Hook]:
        return [hook for hook in self.hooks if self.cleaned_data.get(HOOK_PREFIX + hook.name)]

    def hook_fields(self):
        return [self[HOOK_PREFIX + hook.name] for hook in self.hooks]
