"""Input of the flow screens: the list's filters, a flow with its steps, and the period of
the effectiveness figures (query strings included)."""

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_app.models import FLOW_FIRST_DAY, FLOW_LAST_DAY, Flow, FlowStep, Segment
from collections_app.screens import (  # noqa: F401 (the flow screens read them here)
    CONFIRM_FIELD,
    SEARCH_CHARS,
    is_confirmed,
)
from collections_app.strategies import flows
from collections_app.strategies import forms as strategy_forms
from crm.forms import ServiceErrorsMixin
from lib import fields as lib_fields

# The most steps a flow takes: the calendar has 196 days, but no one writes that many.
MAX_STEPS = 30
# Blank step rows offered: a new flow's usual −3, 0, +5, +15; one more when editing.
NEW_FLOW_ROWS = 4
EDIT_FLOW_ROWS = 2
# The effectiveness figures: the default period and attribution, and their bounds.
DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366
DEFAULT_ATTRIBUTION_DAYS = 7
MIN_ATTRIBUTION_DAYS = 1
MAX_ATTRIBUTION_DAYS = 60
# The oldest day the figures take: no message in the system is older.
FIRST_DAY = date(2000, 1, 1)
DATE_WIDGET = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}


# --- The list ------------------------------------------------------------------------------


class FlowFilterForm(forms.Form):
    ACTIVE = "active"
    INACTIVE = "inactive"

    q = forms.CharField(
        label=_("Buscar"),
        required=False,
        max_length=SEARCH_CHARS,
        error_messages={
            "max_length": _("Escriba como máximo %(limit_value)d caracteres para buscar.")
        },
    )
    status = forms.ChoiceField(
        label=_("Estado"),
        required=False,
        choices=[("", _("Todos")), (ACTIVE, _("Activos")), (INACTIVE, _("Inactivos"))],
    )

    def filters(self) -> dict[str, Any] | None:
        """Return the filters flows.flow_list takes; None when the query string is not valid."""
        if not self.is_valid():
            return None
        return dict(self.cleaned_data)


# --- A flow and its steps ------------------------------------------------------------------


class FlowForm(ServiceErrorsMixin, forms.ModelForm):
    description = strategy_forms.description_field()

    class Meta:
        model = Flow
        fields = ["name", "description", "segment"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        error_messages = {
            "name": {
                "required": _("Indique el nombre del flujo."),
                "unique": _("Ya existe un flujo con ese nombre."),
            },
            "segment": {
                "required": _("Elija el segmento al que se envía."),
                "invalid_choice": _("Elija un segmento de la lista."),
            },
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.order_by("name")
        self.fields["segment"].help_text = _(
            "Los clientes con la etiqueta «Cartera castigada» nunca reciben flujos."
        )


class TemplateChoiceField(forms.ModelChoiceField):
    """A template picker that shows each template's channel: "Recordatorio −3 · SMS"."""

    def label_from_instance(self, obj) -> str:
        return f"{obj.name} · {obj.get_channel_display()}"


class StepForm(forms.ModelForm):
    # A text input without inputmode="numeric" (lib.fields): a phone's digit keyboard has no
    # minus sign, and the days before the due date are negative.
    day_offset = lib_fields.IntegerField(
        label=_("Día"),
        min_value=FLOW_FIRST_DAY,
        max_value=FLOW_LAST_DAY,
        error_messages={
            "required": _("Indique el día del paso."),
            "invalid": _("Escriba el día como un número entero (−3, 0, 5…)."),
            "min_value": _("El calendario es fijo: el día va de −15 a +180."),
            "max_value": _("El calendario es fijo: el día va de −15 a +180."),
        },
    )
    template = TemplateChoiceField(
        label=_("Plantilla"),
        queryset=flows.step_templates(),
        error_messages={
            "required": _("Elija la plantilla del paso."),
            "invalid_choice": _("Elija una plantilla activa de cartera vigente."),
        },
    )

    class Meta:
        model = FlowStep
        fields = ["day_offset", "template"]


class BaseStepFormSet(forms.BaseInlineFormSet):
    """The steps of a flow: at least one, no two alike; templates of the current portfolio."""

    # Django's own speak of "formularios" and of its ManagementForm's fields.
    default_error_messages = {
        "missing_management_form": _(
            "Los pasos llegaron incompletos: vuelva a abrir el flujo e inténtelo de nuevo."
        ),
        "too_many_forms": _("Un flujo tiene como máximo %(num)d pasos."),
        "too_few_forms": _("Agregue al menos un paso: un día y la plantilla que se envía."),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = [step.template_id for step in self.get_queryset()] if self.instance.pk else []
        templates = flows.step_templates(current)
        for form in [*self.forms, self.empty_form]:
            form.fields["template"].queryset = templates

    def validate_unique(self) -> None:
        # Django's check names the columns ("day_offset y template"); clean() says it in
        # words, and the service and the database constraint refuse it again.
        return

    def clean(self) -> None:
        super().clean()
        if any(self.errors) or not self.management_form.is_valid():
            return  # a refusal of this clean() would replace the management form's
        seen = set()
        for form in self.kept_forms():
            key = (form.cleaned_data["day_offset"], form.cleaned_data["template"].pk)
            if key in seen:
                raise forms.ValidationError(
                    _("Hay dos pasos el mismo día con la misma plantilla: quite uno."),
                    code="duplicate",
                )
            seen.add(key)
        if not seen:
            raise forms.ValidationError(
                _("Agregue al menos un paso: un día y la plantilla que se envía."), code="empty"
            )

    def kept_forms(self) -> list[StepForm]:
        """Return the filled rows not marked for removal."""
        return [
            form
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and (form.instance.pk or form.has_changed())
        ]

    def steps(self) -> tuple[list[flows.StepData], list[FlowStep]]:
        """Return a valid formset's steps to keep and those marked for removal."""
        kept = [
            flows.StepData(
                step=form.instance if form.instance.pk else None,
                day_offset=form.cleaned_data["day_offset"],
                template=form.cleaned_data["template"],
            )
            for form in self.kept_forms()
        ]
        removed = [
            form.instance
            for form in self.forms
            if form.instance.pk and form.cleaned_data.get("DELETE")
        ]
        return kept, removed


def step_formset(data=None, *, flow: Flow | None) -> BaseStepFormSet:
    """Return the steps' formset of `flow` (None: a new flow), bound to `data` if given."""
    formset_class = forms.inlineformset_factory(
        Flow,
        FlowStep,
        form=StepForm,
        formset=BaseStepFormSet,
        extra=EDIT_FLOW_ROWS if flow else NEW_FLOW_ROWS,
        can_delete=True,
        max_num=MAX_STEPS,
        validate_max=True,
    )
    return formset_class(data, instance=flow or Flow(), prefix="steps")


class ActiveForm(forms.Form):
    """Turn a flow on or off (the confirmation page sends it again, confirmed)."""

    active = forms.TypedChoiceField(
        choices=[("1", _("Activar")), ("0", _("Desactivar"))],
        coerce=lambda value: value == "1",
        error_messages={"required": _("Elija activar o desactivar.")},
    )


# --- Effectiveness -------------------------------------------------------------------------


class EffectivenessForm(forms.Form):
    since = forms.DateField(
        label=_("Desde"),
        required=False,
        widget=forms.DateInput(**DATE_WIDGET),
        error_messages={"invalid": _("Escriba una fecha válida.")},
    )
    until = forms.DateField(
        label=_("Hasta"),
        required=False,
        widget=forms.DateInput(**DATE_WIDGET),
        error_messages={"invalid": _("Escriba una fecha válida.")},
    )
    days = lib_fields.IntegerField(
        label=_("Días de atribución"),
        required=False,
        min_value=MIN_ATTRIBUTION_DAYS,
        max_value=MAX_ATTRIBUTION_DAYS,
        help_text=_("Respuestas, compromisos y pagos que llegan hasta N días después."),
        error_messages={
            "invalid": _("Escriba un número de días entero."),
            "min_value": _("Los días de atribución van de 1 a 60."),
            "max_value": _("Los días de atribución van de 1 a 60."),
        },
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        today = timezone.localdate()
        for name in ("since", "until"):
            day = cleaned.get(name)
            if day is not None and not FIRST_DAY <= day <= today:
                self.add_error(
                    name,
                    _("Elija una fecha entre el %(first)s y hoy.")
                    % {"first": FIRST_DAY.strftime("%d/%m/%Y")},
                )
        if self.errors:
            return cleaned
        since, until = _period(cleaned.get("since"), cleaned.get("until"))
        if until < since:
            self.add_error("until", _("La fecha final es anterior a la inicial."))
        elif (until - since).days + 1 > MAX_PERIOD_DAYS:
            self.add_error(
                "since", _("Elija un período de hasta %(days)s días.") % {"days": MAX_PERIOD_DAYS}
            )
        return cleaned

    def period(self) -> tuple[date, date, int]:
        """Return (since, until, attribution days): what was asked for when valid, else the
        last 30 days and 7 days of attribution."""
        data = self.cleaned_data if self.is_valid() else {}
        since, until = _period(data.get("since"), data.get("until"))
        return since, until, data.get("days") or DEFAULT_ATTRIBUTION_DAYS


def _period(since: date | None, until: date | None) -> tuple[date, date]:
    """Fill in what was left blank: until today, since 30 days before `until`."""
    until = until or timezone.localdate()
    return since or until - timedelta(days=DEFAULT_PERIOD_DAYS - 1), until
