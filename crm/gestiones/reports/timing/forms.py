"""The time metrics' filters: the dashboards' range, branch and advisor, and a loan product."""

from urllib.parse import urlencode

from django import forms
from django.utils.translation import gettext_lazy as _

from credits.models import LoanProduct
from crm.gestiones.reports import forms as report_forms
from crm.gestiones.reports.timing import selectors


class TimesFilterForm(report_forms.DashboardFilterForm):
    """The dashboards' filters, with the credit product instead of the product line and no
    type (an application's product is a loan product). No date: the last 12 months."""

    product = forms.ModelChoiceField(
        label=_("Producto de crédito"),
        queryset=LoanProduct.objects.order_by("name"),
        required=False,
        empty_label=_("Todos los productos"),
        widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={"invalid_choice": _("Elija un producto de la lista.")},
    )
    gestion_type = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agent"].label = _("Asesor")
        self.fields["agent"].empty_label = _("Todos los asesores")
        self.fields["agent"].error_messages["invalid_choice"] = _("Elija un asesor de la lista.")

    def filters(self) -> selectors.TimeFilters:
        """Return the validated filters; call only when the form is valid."""
        data = self.cleaned_data
        return selectors.TimeFilters(
            start=data["start"],
            end=data["end"],
            product=data["product"],
            branch=data["branch"],
            agent=data["agent"],
        )

    def query_string(self) -> str:
        """Return the valid filters as a query string, for the paging links."""
        data = self.cleaned_data
        params = {
            "start": data["start"].isoformat() if data["start"] else "",
            "end": data["end"].isoformat() if data["end"] else "",
        }
        for name in ("product", "branch", "agent"):
            if data[name] is not None:
                params[name] = str(data[name].pk)
        return urlencode(params)
