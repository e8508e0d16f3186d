"""The customer list's search and filters (django-filter)."""

import django_filters
from django.utils.translation import gettext_lazy as _
from django_filters import fields as filter_fields

from crm import forms as crm_forms
from crm import selectors
from crm.models import Branch, Channel, Customer, Tag
from lib import people, search


class PersonFilterField(filter_fields.ModelChoiceField):
    """A filter's user choice, shown by full name."""

    def label_from_instance(self, obj) -> str:
        return people.display_name(obj)


class PersonChoiceFilter(django_filters.ModelChoiceFilter):
    """Filter by a user, offered by full name (`lib.people.display_name`)."""

    field_class = PersonFilterField


class CustomerFilter(search.SearchLastFilterSet):
    q = search.SearchFilter(
        method="search",
        widget=django_filters.widgets.forms.TextInput(
            attrs={
                "placeholder": _("Documento, nombre o teléfono"),
                "type": "search",
                "data-autofocus": "wide",
            }
        ),
    )
    branch = django_filters.ModelChoiceFilter(
        label=_("Sucursal"), queryset=Branch.objects.all(), empty_label=_("Todas las sucursales")
    )
    channel = django_filters.ModelChoiceFilter(
        label=_("Canal"), queryset=Channel.objects.all(), empty_label=_("Todos los canales")
    )
    advisor = PersonChoiceFilter(
        label=_("Asesor"),
        queryset=crm_forms.advisors(),
        empty_label=_("Todos los asesores"),
    )
    tag = django_filters.ModelChoiceFilter(
        label=_("Etiqueta"),
        field_name="tags",
        queryset=Tag.objects.all(),
        empty_label=_("Todas las etiquetas"),
    )

    class Meta:
        model = Customer
        fields = ["q", "branch", "channel", "advisor", "tag"]

    def search(self, queryset, name, value):
        return selectors.search_customers(queryset, value)
