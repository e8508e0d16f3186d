"""Input parsing for the gestiones screens: open, follow up, reassign, and the list filters."""

import datetime

import django_filters
from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from credits.models import Loan
from crm import forms as crm_forms
from crm.filters import PersonWithFormerFilter
from crm.forms import PersonChoiceField, ServiceErrorsMixin
from crm.gestiones import dynamic, selectors
from crm.gestiones.models import (
    Action,
    ActionResult,
    FormField,
    Gestion,
    GestionState,
    GestionType,
    Outcome,
    RejectionReason,
)
from crm.models import Branch, Channel, Customer, Product
from lib import fields as lib_fields
from lib import former_people, search
from lib.money import Currency
from lib.stale import KeepsOthersChangesPlain

# The days a report's date filter takes: from 2000 to the end of next year. The ranges are
# of days when something happened (created, sent), so none is in the future, but "up to
# the end of this year" is a fair way to ask for everything so far; a later day is a typo
# (31/12/9999), and the reports' arithmetic (the next day, the next month) must stay clear
# of the calendar's end.
FIRST_FILTER_DAY = datetime.date(2000, 1, 1)


def last_filter_day() -> datetime.date:
    """Return the latest day a report's date filter takes: 31 December of next year."""
    return datetime.date(timezone.localdate().year + 1, 12, 31)


def filter_day_error(day: datetime.date | None) -> str | None:
    """Return why a report's date filter cannot take `day`; None when it can (or is empty)."""
    last = last_filter_day()
    if day is None or FIRST_FILTER_DAY <= day <= last:
        return None
    return _("Elija una fecha entre el %(first)s y el %(last)s.") % {
        "first": FIRST_FILTER_DAY.strftime("%d/%m/%Y"),
        "last": last.strftime("%d/%m/%Y"),
    }


def customer_left_note(name: str, held: Branch | Channel) -> str:
    """Say that the customer's branch or channel (`name`) is no longer active, so a new
    gestión does not take it by default."""
    if name == "branch":
        return _("La sucursal del cliente, %(name)s, está inactiva: elija otra.") % {"name": held}
    return _("El canal del cliente, %(name)s, está inactivo: elija otro.") % {"name": held}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class DynamicFieldsMixin:
    """A form carrying a type's dynamic fields in `self.dynamic_fields`."""

    dynamic_fields: list[FormField]

    def dynamic_bound_fields(self) -> list[forms.BoundField]:
        return [self[dynamic.PREFIX + f.name] for f in self.dynamic_fields]


class GestionForm(DynamicFieldsMixin, ServiceErrorsMixin, forms.Form):
    """Open a gestión for a customer; the type's dynamic fields are added to it."""

    gestion_type = forms.ModelChoiceField(
        label=_("Tipo de gestión"), queryset=GestionType.objects.filter(is_active=True)
    )
    subject = forms.CharField(label=_("Asunto"), max_length=200, required=False)
    amount_requested = lib_fields.DecimalField(
        label=_("Monto solicitado"), max_digits=14, decimal_places=2, min_value=0, required=False
    )
    currency = forms.ChoiceField(label=_("Moneda"), choices=Currency.choices)
    branch = forms.ModelChoiceField(
        label=_("Sucursal"), queryset=Branch.objects.filter(is_active=True), required=False
    )
    channel = forms.ModelChoiceField(
        label=_("Canal"), queryset=Channel.objects.filter(is_active=True), required=False
    )
    products = forms.ModelMultipleChoiceField(
        label=_("Productos"),
        queryset=Product.objects.filter(is_active=True),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    loans = forms.ModelMultipleChoiceField(
        label=_("Créditos vinculados"),
        queryset=Loan.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 3}),
    )
    is_time_controlled = forms.BooleanField(label=_("Control de tiempo"), required=False)
    agent = PersonChoiceField(
        label=_("Gestor a cargo"),
        queryset=selectors.agents(),
        required=False,
        empty_label=_("Asignación automática (menor carga)"),
    )

    def __init__(self, *args, customer: Customer, user: AbstractBaseUser, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields["loans"].queryset = Loan.objects.filter(customer=customer).order_by(
            "-created_at"
        )
        if not user.has_perm("gestiones.reassign_gestion"):
            # Only supervisors choose the agent; everyone else gets the workload rule.
            del self.fields["agent"]
        gestion_type = self._chosen_type()
        self.dynamic_fields: list[FormField] = []
        if gestion_type is not None:
            self.dynamic_fields = list(gestion_type.fields.filter(scope=FormField.Scope.GESTION))
            self.fields.update(dynamic.form_fields(self.dynamic_fields))
            if not self.is_bound:
                self.initial.setdefault("currency", gestion_type.default_currency)
                self.initial.setdefault("is_time_controlled", gestion_type.is_time_controlled)
        for name, held in (("branch", customer.branch), ("channel", customer.channel)):
            # Active rows only, and a closed one named when sent (a tab open since).
            crm_forms.offer_keeping(self.fields[name], name, keeping=None)
            if held is None:
                continue
            if held.is_active:
                self.initial.setdefault(name, held.pk)
            else:
                # Not offered, so not the default: the select showed an empty choice and
                # said nothing, and sending it was refused.
                self.fields[name].help_text = customer_left_note(name, held)

    def clean(self):
        cleaned = super().clean()
        for name in ("branch", "channel"):
            crm_forms.refuse_new_leaving(self, name, keeping=None)
        return cleaned

    def _chosen_type(self) -> GestionType | None:
        raw = self.data.get("gestion_type") if self.is_bound else self.initial.get("gestion_type")
        if isinstance(raw, GestionType):
            return raw
        try:
            return GestionType.objects.filter(is_active=True).get(pk=int(raw))
        except (TypeError, ValueError, GestionType.DoesNotExist):
            return None

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "gestion_type": data["gestion_type"],
            "subject": data["subject"],
            "amount_requested": data["amount_requested"],
            "currency": data["currency"],
            "branch": data["branch"],
            "channel": data["channel"],
            "products": list(data["products"]),
            "loans": list(data["loans"]),
            "is_time_controlled": data["is_time_controlled"],
            "agent": data.get("agent"),
            "data": dynamic.data_from_form(data, self.dynamic_fields),
        }


class GestionDataForm(KeepsOthersChangesPlain, ServiceErrorsMixin, forms.Form):
    """The type's dynamic form, to complete or correct a gestión's data. What another
    person saved while the form was open stays (`lib.stale`)."""

    def __init__(self, *args, gestion: Gestion, **kwargs):
        dynamic_fields = list(gestion.gestion_type.fields.filter(scope=FormField.Scope.GESTION))
        data = gestion.data or {}
        super().__init__(
            *args,
            stored=dynamic.cleaned_from_data(data, dynamic_fields),
            **kwargs,
        )
        self.dynamic_fields = dynamic_fields
        self.fields.update(dynamic.form_fields(self.dynamic_fields))
        if not self.is_bound:
            self.initial.update(dynamic.initial_from_data(gestion.data, self.dynamic_fields))

    def data_for_service(self) -> dict:
        return dynamic.data_from_form(self.cleaned_data, self.dynamic_fields)


class FollowUpForm(DynamicFieldsMixin, ServiceErrorsMixin, forms.Form):
    """Record a step: the action allowed in the current state, its result, notes, files."""

    action = forms.ModelChoiceField(label=_("Acción"), queryset=Action.objects.none())
    result = forms.ModelChoiceField(label=_("Resultado"), queryset=ActionResult.objects.none())
    rejection_reason = forms.ModelChoiceField(
        label=_("Motivo de rechazo"), queryset=RejectionReason.objects.none(), required=False
    )
    amount_approved = lib_fields.DecimalField(
        label=_("Monto aprobado"), max_digits=14, decimal_places=2, min_value=0, required=False
    )
    notes = forms.CharField(
        label=_("Notas"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    files = MultipleFileField(label=_("Adjuntos"), required=False)

    def __init__(self, *args, gestion: Gestion, actions: list[Action], **kwargs):
        super().__init__(*args, **kwargs)
        self.gestion = gestion
        self.actions = actions
        self.fields["action"].queryset = Action.objects.filter(pk__in=[a.pk for a in actions])
        self.fields["action"].choices = [("", "—")] + [(a.pk, a.name) for a in actions]
        action = self._chosen_action()
        results = list(action.results.all()) if action else []
        self.fields["result"].queryset = ActionResult.objects.filter(pk__in=[r.pk for r in results])
        self.fields["result"].choices = [("", "—")] + [(r.pk, _result_label(r)) for r in results]
        if action is not None and not results:
            # Results are set on the action's own admin page, not on the type's: an action
            # added with the type had none, and «Este campo es obligatorio» said nothing.
            missing = _(
                "La acción «%(action)s» no tiene resultados configurados: pida a un "
                "administrador que los agregue en Administración → Gestiones → Acciones."
            ) % {"action": action.name}
            self.fields["result"].help_text = missing
            self.fields["result"].error_messages["required"] = missing
        self.fields["rejection_reason"].queryset = gestion.gestion_type.rejection_reasons.filter(
            is_active=True
        )
        self.needs_reason = any(
            r.changes_state and r.to_state and r.to_state.outcome == Outcome.REJECTED
            for r in results
        )
        self.dynamic_fields = list(
            gestion.gestion_type.fields.filter(scope=FormField.Scope.FOLLOW_UP)
        )
        self.fields.update(dynamic.form_fields(self.dynamic_fields))
        # An approved amount belongs to what asks for money: a credit application, or a
        # gestión with an amount requested. A service request offered it, and saved one.
        self.asks_amount = (
            gestion.gestion_type.is_credit_application or gestion.amount_requested is not None
        )
        if not self.asks_amount:
            del self.fields["amount_approved"]

    def _chosen_action(self) -> Action | None:
        raw = self.data.get("action") if self.is_bound else self.initial.get("action")
        for action in self.actions:
            if str(action.pk) == str(raw):
                return action
        return None

    def clean(self):
        cleaned = super().clean()
        result = cleaned.get("result")
        rejects = (
            result is not None
            and result.changes_state
            and result.to_state is not None
            and result.to_state.outcome == Outcome.REJECTED
        )
        if (
            rejects
            and not cleaned.get("rejection_reason")
            and "rejection_reason" not in self.errors
        ):
            # Said before the closing is confirmed (services.record_follow_up says it too).
            self.add_error("rejection_reason", _("Indique el motivo de rechazo."))
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "action": data["action"],
            "result": data["result"],
            "rejection_reason": data["rejection_reason"],
            "amount_approved": data.get("amount_approved"),
            "notes": data["notes"],
            "files": data["files"],
            "data": dynamic.data_from_form(data, self.dynamic_fields),
        }


class CorrectStateForm(ServiceErrorsMixin, forms.Form):
    """A supervisor's «Corregir estado»: another state of the gestión's type, the reason,
    and the state the page showed (a confirmation sent after the state changed is refused,
    not applied)."""

    state = forms.ModelChoiceField(
        label=_("Estado correcto"),
        queryset=GestionState.objects.none(),
        error_messages={
            "required": _("Elija el estado al que se corrige."),
            "invalid_choice": _("Elija un estado de este tipo de gestión."),
        },
    )
    rejection_reason = forms.ModelChoiceField(
        label=_("Motivo de rechazo"),
        queryset=RejectionReason.objects.none(),
        required=False,
        help_text=_("Solo si el estado correcto es de rechazo."),
        error_messages={"invalid_choice": _("Elija un motivo de rechazo de la lista.")},
    )
    reason = forms.CharField(
        label=_("Motivo de la corrección"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "required": _("Indique por qué se corrige el estado."),
            "max_length": _("Escriba como máximo %(limit_value)s caracteres."),
        },
    )
    shown_state = forms.ModelChoiceField(
        queryset=GestionState.objects.none(),
        widget=forms.HiddenInput,
        error_messages={
            "required": _("Vuelva a abrir la gestión y corrija el estado desde su página."),
            "invalid_choice": _("Vuelva a abrir la gestión y corrija el estado desde su página."),
        },
    )

    def __init__(self, *args, gestion: Gestion, **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("shown_state", gestion.state_id)
        super().__init__(*args, **kwargs)
        # Every state of the type is accepted (the service says in words that the gestión
        # is already in the one chosen); the others are offered.
        states = GestionState.objects.filter(gestion_type_id=gestion.gestion_type_id)
        self.fields["state"].queryset = states
        self.fields["shown_state"].queryset = states
        self.fields["state"].choices = [("", "—")] + [
            (s.pk, f"{s.name} ({Outcome(s.outcome).label})")
            for s in selectors.correction_states(gestion)
        ]
        self.fields["rejection_reason"].queryset = RejectionReason.objects.filter(
            gestion_type_id=gestion.gestion_type_id, is_active=True
        )

    def clean(self):
        cleaned = super().clean()
        state = cleaned.get("state")
        if state is None:
            return cleaned
        if state.outcome == Outcome.REJECTED:
            if not cleaned.get("rejection_reason") and "rejection_reason" not in self.errors:
                self.add_error("rejection_reason", _("Indique el motivo de rechazo."))
        else:
            # Chosen for a rejected state, then another state picked: it does not apply.
            cleaned["rejection_reason"] = None
        return cleaned

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "state": data["state"],
            "shown_state": data["shown_state"],
            "reason": data["reason"],
            "rejection_reason": data["rejection_reason"],
        }


def _result_label(result: ActionResult) -> str:
    if result.changes_state and result.to_state:
        label = f"{result.name} → {result.to_state.name}"
    else:
        label = f"{result.name} ({_('sin cambio de estado')})"
    if result.alerts_customer:
        label += f" · {_('avisa al cliente')}"
    return label


class GestionFilter(django_filters.FilterSet):
    """The search and filters of the gestión lists (my work and all gestiones)."""

    q = search.SearchFilter(method="search")
    gestion_type = django_filters.ModelChoiceFilter(
        label=_("Tipo"), queryset=GestionType.objects.all(), empty_label=_("Todos los tipos")
    )
    state = django_filters.ModelChoiceFilter(
        label=_("Estado"),
        queryset=GestionState.objects.select_related("gestion_type"),
        empty_label=_("Todos los estados"),
    )
    outcome = django_filters.ChoiceFilter(
        label=_("Situación"), choices=Outcome.choices, empty_label=_("Todas")
    )
    # Who left and still holds gestiones too, under «Ya no atienden».
    agent = PersonWithFormerFilter(
        label=_("Gestor"),
        queryset=lambda request: former_people.with_former(
            selectors.agents(), Exists(Gestion.objects.filter(agent=OuterRef("pk")))
        ),
        empty_label=_("Todos"),
    )
    branch = django_filters.ModelChoiceFilter(
        label=_("Sucursal"), queryset=Branch.objects.all(), empty_label=_("Todas")
    )
    late = django_filters.ChoiceFilter(
        label=_("Vencimiento"),
        method="filter_late",
        choices=[("late", _("Atrasadas")), ("on_time", _("Al día"))],
        empty_label=_("Todas"),
    )

    class Meta:
        model = Gestion
        fields = ["q", "gestion_type", "state", "outcome", "agent", "branch", "late"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "state" in self.form.fields:
            # "Creado" exists in every process: name the process too.
            self.form.fields["state"].label_from_instance = state_label

    def search(self, queryset, name, value):
        return selectors.search_gestiones(queryset, value)

    def filter_late(self, queryset, name, value):
        now = timezone.now()
        late = {"outcome": Outcome.OPEN, "is_time_controlled": True, "due_at__lt": now}
        if value == "late":
            return queryset.filter(**late)
        return queryset.filter(outcome=Outcome.OPEN).exclude(**late)


class MyWorkFilter(GestionFilter):
    """My work: open gestiones only, all the agent's own, so fewer filters."""

    outcome = None
    agent = None
    branch = None
    # Only the states a gestión is worked in: my work holds no closed ones.
    state = django_filters.ModelChoiceFilter(
        label=_("Estado"),
        queryset=GestionState.objects.filter(outcome=Outcome.OPEN).select_related("gestion_type"),
        empty_label=_("Todos los estados"),
    )

    class Meta:
        model = Gestion
        fields = ["q", "gestion_type", "state", "late"]


def state_label(state: GestionState) -> str:
    return f"{state.gestion_type.name} · {state.name}"
