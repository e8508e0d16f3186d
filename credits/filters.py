"""The loan list's search and filters (django-filter)."""

import django_filters
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from credits import selectors
from credits.models import Bucket, Loan, LoanProduct
from crm import filters as crm_filters
from crm import forms as crm_forms
from crm.models import Branch
from lib import former_people, search
from lib.money import Currency


class LoanFilter(search.SearchLastFilterSet):
    q = search.SearchFilter(method="search")
    status = django_filters.ChoiceFilter(
        label=_("Estado"), choices=Loan.Status.choices, empty_label=_("Todos los estados")
    )
    bucket = django_filters.ChoiceFilter(
        label=_("Tramo"), choices=Bucket.choices, empty_label=_("Todos los tramos")
    )
    product = django_filters.ModelChoiceFilter(
        label=_("Producto"),
        queryset=LoanProduct.objects.all(),
        empty_label=_("Todos los productos"),
    )
    # Who left and still advises a loan too, under «Ya no atienden», to hand them over.
    advisor = crm_filters.PersonWithFormerFilter(
        label=_("Asesor"),
        queryset=former_people.with_former(
            crm_forms.advisors(), Exists(Loan.objects.filter(advisor=OuterRef("pk")))
        ),
        empty_label=_("Todos los asesores"),
    )
    branch = django_filters.ModelChoiceFilter(
        label=_("Sucursal"), queryset=Branch.objects.all(), empty_label=_("Todas las sucursales")
    )
    # The portfolio report's buckets are per currency; its links keep to one.
    currency = django_filters.ChoiceFilter(
        label=_("Moneda"), choices=Currency.choices, empty_label=_("Todas las monedas")
    )

    class Meta:
        model = Loan
        fields = ["q", "status", "bucket", "product", "advisor", "branch", "currency"]

    def search(self, queryset, name, value):
        return selectors.search_loans(queryset, value)
