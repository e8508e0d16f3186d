"""The investor and liquidation lists' search and filters (django-filter)."""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from credits.investors import selectors
from credits.models import Investor, Liquidation
from lib import search


class InvestorFilter(django_filters.FilterSet):
    q = search.SearchFilter(method="search")
    is_active = django_filters.ChoiceFilter(
        label=_("Estado"),
        choices=[("1", _("Activos")), ("0", _("Inactivos"))],
        empty_label=_("Todos"),
        method="active",
    )
    kind = django_filters.ChoiceFilter(
        label=_("Tipo"), choices=Investor.Kind.choices, empty_label=_("Todos los tipos")
    )

    class Meta:
        model = Investor
        fields = ["q", "is_active", "kind"]

    def search(self, queryset, name, value):
        return selectors.search_investors(queryset, value)

    def active(self, queryset, name, value):
        return queryset.filter(is_active=value == "1")


class LiquidationFilter(django_filters.FilterSet):
    investor = django_filters.ModelChoiceFilter(
        label=_("Inversionista"),
        queryset=Investor.objects.order_by("name"),
        empty_label=_("Todos los inversionistas"),
    )
    status = django_filters.ChoiceFilter(
        label=_("Estado"), choices=Liquidation.Status.choices, empty_label=_("Todos")
    )
    since = django_filters.DateFilter(
        label=_("Periodo desde"),
        method="period_overlaps",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    until = django_filters.DateFilter(
        label=_("Periodo hasta"),
        method="period_overlaps",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    class Meta:
        model = Liquidation
        fields = ["investor", "status", "since", "until"]

    def period_overlaps(self, queryset, name, value):
        """Keep the liquidations whose period touches the chosen dates."""
        if name == "since":
            return queryset.filter(period_end__gte=value)
        return queryset.filter(period_start__lte=value)
