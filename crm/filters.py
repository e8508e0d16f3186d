"""The customer list's search and filters (django-filter)."""

import django_filters
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _
from django_filters import fields as filter_fields

from crm import forms as crm_forms
from crm import selectors
from crm.models import Branch, Channel, Customer, Tag
from lib import former_people, search


class FormerPeopleFilterField(
    former_people.FormerPeopleChoiceMixin, filter_fields.ModelChoiceField
):
    """A filter's user choice, by full name; the people who left grouped last, marked why."""


class PersonWithFormerFilter(django_filters.ModelChoiceFilter):
    """Filter by a user among those who may be given the work and those who still hold
    some but left (`lib.former_people.with_former`), these under «Ya no atienden»."""

    field_class = FormerPeopleFilterField


def advisors_and_former():
    """Return the advisors, then the people who still advise a customer but are no longer
    advisors (deactivated, or another role): a supervisor finds their customers to hand
    them over."""
    return former_people.with_former(
        crm_forms.advisors(), Exists(Customer.objects.filter(advisor=OuterRef("pk")))
    )


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
    advisor = PersonWithFormerFilter(
        label=_("Asesor"),
        queryset=advisors_and_former(),
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
