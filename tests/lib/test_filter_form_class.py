"""A list's filter form class is built once per FilterSet class; what a form offers is still
read per request, and a filter whose choices come from the request keeps its own class."""

import django_filters
import pytest
from django.http import QueryDict

from crm.filters import CustomerFilter
from crm.models import Branch, Customer
from lib import search
from tests.factories import BranchFactory, UserFactory

pytestmark = pytest.mark.django_db


def _form(filterset_class, query=""):
    return filterset_class(QueryDict(query), queryset=Customer.objects.all()).form


def test_the_customer_filters_build_their_form_class_once():
    first, second = _form(CustomerFilter), _form(CustomerFilter, "q=rosa")

    assert type(first) is type(second)
    assert first.fields["advisor"] is not second.fields["advisor"]


def test_an_advisor_or_branch_added_since_the_class_was_built_is_offered():
    _form(CustomerFilter)
    advisor = UserFactory(first_name="Nuevo", last_name="Asesor", role="Asesor")
    branch = BranchFactory(name="Sucursal nueva")

    form = _form(CustomerFilter)

    assert advisor in form.fields["advisor"].queryset
    assert branch in form.fields["branch"].queryset
    assert (
        form.is_valid()
        and CustomerFilter(
            QueryDict(f"advisor={advisor.pk}&branch={branch.pk}"), queryset=Customer.objects.all()
        ).form.is_valid()
    )


def test_a_filter_whose_choices_come_from_the_request_keeps_a_class_per_request():
    class ByRequest(search.SearchLastFilterSet):
        branch = django_filters.ModelChoiceFilter(queryset=lambda request: Branch.objects.all())

        class Meta:
            model = Customer
            fields = ["branch"]

    assert type(_form(ByRequest)) is not type(_form(ByRequest))


def test_a_filterset_that_sets_its_filters_per_request_keeps_a_class_per_request():
    class ChoicesPerRequest(search.SearchLastFilterSet):
        city = django_filters.ChoiceFilter(choices=())

        class Meta:
            model = Customer
            fields = ["city"]

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.filters["city"].extra["choices"] = [("Lima", "Lima")]

    first, second = _form(ChoicesPerRequest), _form(ChoicesPerRequest)

    assert type(first) is not type(second)
    assert list(second.fields["city"].choices)[-1] == ("Lima", "Lima")
