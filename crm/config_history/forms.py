"""The settings history's filters, read from the query string."""

from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.config_history import selectors
from lib import people as lib_people

# Days before this one or years ahead are a typo (0202, 20266), not a query to run.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


def _day(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class HistoryFilterForm(forms.Form):
    """What kind of setting, who, between which days and which words."""

    tipo = forms.ChoiceField(label=_("Qué"), required=False)
    persona = forms.TypedChoiceField(label=_("Quién"), required=False, coerce=int, empty_value=None)
    desde = _day(_("Desde"))
    hasta = _day(_("Hasta"))
    q = forms.CharField(
        label=_("Buscar"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Campo, valor o nombre")}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tipo"].choices = [("", _("Todo")), *selectors.kinds()]
        self.fields["persona"].choices = [("", _("Todos"))] + [
            (user.pk, lib_people.display_name(user)) for user in selectors.people()
        ]

    def clean_q(self) -> str:
        # A NUL cannot be stored, so it finds nothing; spaces run together.
        return " ".join(self.cleaned_data["q"].replace("\x00", "").split())

    def clean(self):
        cleaned = super().clean()
        for name in ("desde", "hasta"):
            day = cleaned.get(name)
            if day and not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(name, ValidationError(_("Elija una fecha entre 2000 y 2100.")))
        since, until = cleaned.get("desde"), cleaned.get("hasta")
        if since and until and until < since:
            self.add_error("hasta", _("La fecha final es anterior a la inicial."))
        return cleaned

    def filters(self) -> dict:
        """The valid filters, for `selectors.history` (an invalid one is left out)."""
        self.is_valid()  # a filter with a mistake is shown with its error, and left out
        data = self.cleaned_data
        return {
            "kind": data.get("tipo") or "",
            "person": data.get("persona"),
            "since": data.get("desde"),
            "until": data.get("hasta"),
            "q": data.get("q") or "",
        }
