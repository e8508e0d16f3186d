"""The goal screens' input: the goal form, the list's filters and the progress page's month."""

from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django_filters import fields as filter_fields

from crm.forms import ServiceErrorsMixin
from crm.gestiones.goals import selectors, services
from crm.gestiones.models import GestionState, Goal
from crm.models import Product
from lib import fields as lib_fields
from lib import former_people, search
from lib.stale import KeepsOthersChanges

MONTH_CHOICES = [(number, capfirst(name)) for number, name in MONTHS.items()]


def goal_agents(*, keeping: int | None = None) -> QuerySet:
    """Return the active users who may hold goals (those who may see goals), and the person
    `keeping` whatever they are now: a goal's own agent, who left or changed role."""
    holds = Q(pk__in=selectors.goal_holders().values("pk"))
    if keeping is not None:
        holds |= Q(pk=keeping)
    return get_user_model().objects.filter(holds).order_by("first_name", "last_name", "username")


def goal_agents_and_former() -> QuerySet:
    """Return `goal_agents()`, then the people who have goals but may no longer hold them
    (deactivated, or another role): a supervisor finds their goals and their progress."""
    return former_people.with_former(
        goal_agents(), Exists(Goal.objects.filter(agent=OuterRef("pk")))
    )


class YearField(lib_fields.IntegerField):
    """A goal's year, typed, within `services.year_problem`'s bounds (the goal form, the
    list's filter and the progress page say the same)."""

    def __init__(self, **kwargs: Any) -> None:
        # Both bounds are said by `validate`, before the field's own checks; the floor stays
        # for the phone's digit keyboard (lib.fields). Not the model field's 0 or 2000–2100.
        kwargs["min_value"] = services.FIRST_GOAL_YEAR
        kwargs.pop("max_value", None)
        super().__init__(**kwargs)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if problem := services.year_problem(value):
            raise ValidationError(problem, code="year")


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name() or obj.get_username()
        # Only a goal's own agent can be one who no longer holds goals (goal_agents).
        if mark := getattr(self, "marks", {}).get(obj.pk):
            return f"{name} {mark}"
        return name


class AgentFilterField(former_people.FormerPeopleChoiceMixin, filter_fields.ModelChoiceField):
    """The list's agent: those who may hold goals, then those with goals who left, marked
    as the goal list marks them («(inactivo)», «(sin rol)»)."""

    no_role = _("sin rol")


class ProgressAgentField(former_people.FormerPeopleChoiceMixin, forms.ModelChoiceField):
    """The progress page's agent, as the list's (`AgentFilterField`)."""

    no_role = _("sin rol")


class AgentFilter(django_filters.ModelChoiceFilter):
    field_class = AgentFilterField


class StateChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: GestionState) -> str:
        return f"{obj.gestion_type.name} · {obj.name} ({obj.get_outcome_display()})"


class GoalForm(KeepsOthersChanges, ServiceErrorsMixin, forms.ModelForm):
    """A goal; what another person saved while the form was open stays (`lib.stale`)."""

    agent = AgentChoiceField(label=_("Vendedor"), queryset=goal_agents())
    month = forms.TypedChoiceField(label=_("Mes"), choices=MONTH_CHOICES, coerce=int)
    success_state = StateChoiceField(
        label=_("Estado exitoso"),
        queryset=selectors.success_states(),
        help_text=_("La gestión cuenta para la meta el mes en que pasa a este estado."),
    )

    class Meta:
        model = Goal
        fields = list(services.GOAL_FIELDS)
        labels = {
            "target_local": _("Meta local (S/)"),
            "target_usd": _("Meta dólares (US$)"),
            "target_prospects": _("Meta de prospectos"),
            "target_customers": _("Meta de clientes"),
        }
        # Typed in text inputs and read as people type them (lib.fields): 1,500.50 or
        # 1.500,50, and "1.000" asked again as ambiguous. Their ceilings are in clean().
        field_classes = {
            "year": YearField,
            "target_local": lib_fields.DecimalField,
            "target_usd": lib_fields.DecimalField,
            "target_prospects": lib_fields.IntegerField,
            "target_customers": lib_fields.IntegerField,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            today = timezone.localdate()
            self.initial.setdefault("year", today.year)
            self.initial.setdefault("month", today.month)
        self.fields["product"].queryset = Product.objects.order_by("name")
        if self.instance.pk:
            # The goal's agent stays a choice, marked, when they left or changed role: the
            # goal can then be corrected without moving it to someone else.
            agent = self.fields["agent"]
            agent.queryset = goal_agents(keeping=self.instance.agent_id)
            if mark := selectors.agent_mark(self.instance.agent):
                agent.marks = {self.instance.agent_id: mark}
        for name in ("target_local", "target_usd"):
            self.fields[name].error_messages["min_value"] = _("La meta no puede ser negativa.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in services.TARGETS:
            value = data.get(name)
            if value is not None and value < 0:
                self.add_error(name, _("La meta no puede ser negativa."))
            elif problem := services.ceiling_problem(name, value):
                # Here, before the model's own range (PostgreSQL's integer: "menor o igual a
                # 2147483647") could answer first for a count typed with extra zeros.
                self.add_error(name, problem)
        return data


class YearFilter(django_filters.NumberFilter):
    """A year typed in a text input (lib.fields): "2.026" is refused, not read as 2.026."""

    field_class = YearField


class GoalFilter(django_filters.FilterSet):
    q = search.SearchFilter(method="search")
    agent = AgentFilter(
        label=_("Vendedor"),
        queryset=lambda request: goal_agents_and_former(),
        empty_label=_("Todos los vendedores"),
    )
    product = django_filters.ModelChoiceFilter(
        label=_("Producto"),
        queryset=Product.objects.order_by("name"),
        empty_label=_("Todos los productos"),
    )
    year = YearFilter(label=_("Año"))
    month = django_filters.ChoiceFilter(
        label=_("Mes"), choices=MONTH_CHOICES, empty_label=_("Todos los meses")
    )

    class Meta:
        model = Goal
        fields = ["q", "agent", "product", "year", "month"]

    def __init__(self, *args: Any, request: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, request=request, **kwargs)
        # An agent sees only their own goals: the agent filter would offer nothing else.
        if request is not None and not selectors.sees_all_goals(request.user):
            del self.filters["agent"]

    def search(self, queryset, name, value):
        # The goals' agents and the products are tens: they are compared in Python whatever
        # their accents and case (neither database's LIKE ignores accents, and SQLite's
        # folds the case of ASCII only), and the goals filtered by the ones found.
        wanted = search.normalize(value)
        if not wanted:
            return queryset
        agents = get_user_model().objects.filter(pk__in=Goal.objects.values("agent"))
        agent_ids = [
            pk
            for pk, first, last, username in agents.values_list(
                "pk", "first_name", "last_name", "username"
            )
            if any(wanted in search.normalize(text) for text in (f"{first} {last}", username))
        ]
        product_ids = [
            pk
            for pk, product in Product.objects.values_list("pk", "name")
            if wanted in search.normalize(product)
        ]
        return queryset.filter(Q(agent__in=agent_ids) | Q(product__in=product_ids))


class ProgressForm(forms.Form):
    """The progress page's month, and for supervisors an agent and a product."""

    year = YearField(label=_("Año"))
    month = forms.TypedChoiceField(label=_("Mes"), choices=MONTH_CHOICES, coerce=int)
    # Who left and still has goals too, under «Ya no atienden».
    agent = ProgressAgentField(
        label=_("Vendedor"),
        queryset=goal_agents_and_former(),
        required=False,
        empty_label=_("Todos los vendedores"),
    )
    product = forms.ModelChoiceField(
        label=_("Producto"),
        queryset=Product.objects.order_by("name"),
        required=False,
        empty_label=_("Todos los productos"),
    )

    def __init__(self, data: Any = None, *, sees_all: bool, **kwargs: Any) -> None:
        today = timezone.localdate()
        values = {"year": today.year, "month": today.month}
        if data is not None:
            values |= {k: v for k, v in data.items() if v not in ("", None)}
        super().__init__(values, **kwargs)
        if not sees_all:
            del self.fields["agent"]

    def month_and_filters(self) -> dict[str, Any]:
        """Return progress()'s arguments; the current month when the query is invalid."""
        today = timezone.localdate()
        if not self.is_valid():
            return {"year": today.year, "month": today.month}
        return {
            "year": self.cleaned_data["year"],
            "month": self.cleaned_data["month"],
            "agent": self.cleaned_data.get("agent"),
            "product": self.cleaned_data.get("product"),
        }
