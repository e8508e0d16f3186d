"""The dashboards' filter form: the query string of the page, its fragment and its Excel."""

from datetime import date
from urllib.parse import urlencode

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm import forms as crm_forms
from crm.gestiones import forms as gestion_forms
from crm.gestiones.models import Gestion, GestionType
from crm.gestiones.reports import selectors
from crm.models import Branch, Product
from lib import people

DEFAULT_MONTHS = 12


def default_start(today: date | None = None) -> date:
    """Return the first day of the month eleven months back: the last twelve calendar
    months, this one included so far."""
    today = today or timezone.localdate()
    months = today.year * 12 + today.month - 1 - (DEFAULT_MONTHS - 1)
    return date(months // 12, months % 12 + 1, 1)


def _date_input() -> forms.DateInput:
    # The browser's date picker sends and expects ISO dates, whatever the display locale.
    return forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d")


def _select() -> forms.Select:
    return forms.Select(attrs={"class": "form-select"})


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return people.display_name(obj)


class DashboardFilterForm(forms.Form):
    """Filter every dashboard section. An empty "desde" or "hasta" means no limit.

    A request without any date (the first visit) gets the last 12 months.
    """

    start = forms.DateField(
        label=_("Desde"),
        required=False,
        widget=_date_input(),
        error_messages={"invalid": _("Escriba una fecha válida (día/mes/año).")},
    )
    end = forms.DateField(
        label=_("Hasta"),
        required=False,
        widget=_date_input(),
        error_messages={"invalid": _("Escriba una fecha válida (día/mes/año).")},
    )
    branch = forms.ModelChoiceField(
        label=_("Sucursal"),
        queryset=Branch.objects.order_by("name"),
        required=False,
        empty_label=_("Todas las sucursales"),
        widget=_select(),
        error_messages={"invalid_choice": _("Elija una sucursal de la lista.")},
    )
    agent = AgentChoiceField(
        label=_("Gestor"),
        # Whoever has had gestiones: an agent who left still has figures to show.
        queryset=get_user_model()
        .objects.filter(Exists(Gestion.objects.filter(agent=OuterRef("pk"))))
        .order_by("first_name", "last_name", "username"),
        required=False,
        empty_label=_("Todos los gestores"),
        widget=_select(),
        error_messages={"invalid_choice": _("Elija un gestor de la lista.")},
    )
    product = forms.ModelChoiceField(
        label=_("Producto"),
        queryset=Product.objects.order_by("name"),
        required=False,
        empty_label=_("Todos los productos"),
        widget=_select(),
        error_messages={"invalid_choice": _("Elija un producto de la lista.")},
    )
    gestion_type = forms.ModelChoiceField(
        label=_("Tipo de gestión"),
        queryset=GestionType.objects.order_by("name"),
        required=False,
        empty_label=_("Todos los tipos"),
        widget=_select(),
        error_messages={"invalid_choice": _("Elija un tipo de gestión de la lista.")},
    )

    def __init__(self, data: QueryDict | dict | None = None, **kwargs) -> None:
        data = data.copy() if data is not None else QueryDict(mutable=True)
        if "start" not in data and "end" not in data:
            data["start"] = default_start().isoformat()
            data["end"] = timezone.localdate().isoformat()
        super().__init__(data, **kwargs)

    def clean(self) -> dict:
        cleaned = super().clean()
        for name in ("start", "end"):
            problem = gestion_forms.filter_day_error(cleaned.get(name))
            if problem:
                self.add_error(name, problem)
        # Read after the bounds: a day out of them has left cleaned_data.
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error(
                None,
                _("«Desde» (%(start)s) es posterior a «Hasta» (%(end)s): corrija el rango.")
                % {"start": f"{start:%d/%m/%Y}", "end": f"{end:%d/%m/%Y}"},
            )
        return cleaned

    def filters(self) -> selectors.ReportFilters:
        """Return the validated filters; call only when the form is valid."""
        data = self.cleaned_data
        return selectors.ReportFilters(
            start=data["start"],
            end=data["end"],
            branch=data["branch"],
            agent=data["agent"],
            product=data["product"],
            gestion_type=data["gestion_type"],
        )

    def query_string(self) -> str:
        """Return the valid filters as a query string, for the Excel link."""
        data = self.cleaned_data
        params = {
            "start": data["start"].isoformat() if data["start"] else "",
            "end": data["end"].isoformat() if data["end"] else "",
        }
        for name in ("branch", "agent", "product", "gestion_type"):
            if data[name] is not None:
                params[name] = str(data[name].pk)
        return urlencode(params)

    def error_list(self) -> list[str]:
        """Return every error as one line: the field's label, then the message."""
        return crm_forms.error_lines(self)
