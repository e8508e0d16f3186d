"""The survey screens' input: the public answer form, the survey editor, list and report filters."""

from collections.abc import Sequence
from typing import Any

import django_filters
from django import forms
from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.utils.translation import gettext_lazy as _

from crm.forms import ServiceErrorsMixin
from crm.gestiones import forms as gestion_forms
from crm.gestiones.models import GestionType, Question, Survey
from crm.gestiones.surveys import selectors, services
from lib import fields as lib_fields
from lib import search
from lib.stale import KeepsOthersChanges

# --- The customer's answers -------------------------------------------------------------


def answer_field(question: Question) -> forms.Field:
    """Return the form field that asks `question`, with its Spanish messages."""
    messages = {
        "required": _("Responda esta pregunta."),
        "invalid_choice": _("Elija una de las opciones."),
    }
    common: dict[str, Any] = {
        "label": question.text,
        "required": question.is_required,
        "error_messages": messages,
    }
    if question.kind == Question.Kind.SCALE:
        values = range(question.scale_min, question.scale_max + 1)
        return forms.TypedChoiceField(
            choices=[(value, str(value)) for value in values],
            coerce=int,
            empty_value=None,
            widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
            help_text=_("De %(min)s (menos) a %(max)s (más).")
            % {"min": question.scale_min, "max": question.scale_max},
            **common,
        )
    if question.kind == Question.Kind.CHOICE:
        return forms.ChoiceField(
            choices=[(option, option) for option in question.choice_list()],
            widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
            **common,
        )
    return forms.CharField(
        max_length=services.MAX_TEXT_ANSWER,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        error_messages={
            **messages,
            "max_length": _("Escriba como máximo %(limit_value)d caracteres."),
        },
        **{k: v for k, v in common.items() if k != "error_messages"},
    )


class SurveyAnswerForm(ServiceErrorsMixin, forms.Form):
    """One field per question of the survey, named `question_<id>`."""

    def __init__(self, *args: Any, questions: Sequence[Question], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for question in self.questions:
            self.fields[f"question_{question.pk}"] = answer_field(question)

    def answers(self) -> dict[int, Any]:
        """Return the cleaned answers by question id, as `services.answer_survey` takes them."""
        return {q.pk: self.cleaned_data.get(f"question_{q.pk}") for q in self.questions}


# --- The survey editor ------------------------------------------------------------------


# The presentation the customer reads above the questions: a paragraph or two.
MAX_INTRO_CHARS = 2000
# Questions are numbered 1, 2, 3… on the page; the order only sorts them.
MAX_ORDER = 1000


class SurveyForm(KeepsOthersChanges, ServiceErrorsMixin, forms.ModelForm):
    """A survey's own fields (its questions are a formset of their own). What another
    person saved while the form was open stays (`lib.stale`)."""

    class Meta:
        model = Survey
        fields = ["name", "intro", "thanks", "is_active"]
        widgets = {"intro": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        intro = self.fields["intro"]
        intro.max_length = MAX_INTRO_CHARS
        intro.validators.append(MaxLengthValidator(MAX_INTRO_CHARS))
        intro.widget.attrs["maxlength"] = MAX_INTRO_CHARS


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = ["order", "text", "kind", "choices", "scale_min", "scale_max", "is_required"]
        # Typed as text and read by lib.fields ("1.000" is not 1; see lib.fields).
        field_classes = {
            "order": lib_fields.IntegerField,
            "scale_min": lib_fields.IntegerField,
            "scale_max": lib_fields.IntegerField,
        }
        widgets = {"choices": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["order"].validators.append(MaxValueValidator(MAX_ORDER))

    def clean_choices(self) -> str:
        """Refuse an option written twice: the customer would see it twice, and the
        report would count its answers once per line."""
        choices = self.cleaned_data.get("choices") or ""
        seen: set[str] = set()
        for line in choices.splitlines():
            option = line.strip()
            if option.casefold() in seen:
                raise forms.ValidationError(
                    _("La opción «%(option)s» está repetida; escríbala una sola vez.")
                    % {"option": option}
                )
            if option:
                seen.add(option.casefold())
        return choices


QuestionFormSet = forms.inlineformset_factory(
    Survey, Question, form=QuestionForm, extra=2, can_delete=True
)


def question_rows(
    formset: forms.BaseInlineFormSet,
) -> tuple[list[services.QuestionData], list[Question]]:
    """Return a valid formset's questions to keep and those marked for removal."""
    rows, removed = [], []
    for form in formset.forms:
        existing = form.instance if form.instance.pk else None
        if existing is None and not form.has_changed():
            continue
        if form.cleaned_data.get("DELETE"):
            if existing:
                removed.append(existing)
            continue
        data = form.cleaned_data
        rows.append(
            services.QuestionData(
                question=existing,
                text=data["text"],
                kind=data["kind"],
                choices=data.get("choices") or "",
                scale_min=data["scale_min"],
                scale_max=data["scale_max"],
                is_required=data["is_required"],
                order=data["order"],
            )
        )
    return rows, removed


class SurveyFilter(django_filters.FilterSet):
    q = search.SearchFilter(method="search")
    is_active = django_filters.ChoiceFilter(
        label=_("Estado"),
        choices=[("1", _("Activas")), ("0", _("Inactivas"))],
        empty_label=_("Todas"),
        method="active",
    )

    class Meta:
        model = Survey
        fields = ["q", "is_active"]

    def search(self, queryset, name, value):
        return search.in_small_table(queryset, value, "name", "intro")

    def active(self, queryset, name, value):
        return queryset.filter(is_active=value == "1")


# --- The report -------------------------------------------------------------------------


class ReportFilterForm(forms.Form):
    date_from = forms.DateField(
        label=_("Enviadas desde"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=_("Enviadas hasta"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    gestion_type = forms.ModelChoiceField(
        label=_("Tipo de gestión"),
        queryset=GestionType.objects.order_by("name"),
        required=False,
        empty_label=_("Todos los tipos"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("date_from", "date_to"):
            problem = gestion_forms.filter_day_error(data.get(name))
            if problem:
                self.add_error(name, problem)
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError(_("La fecha «desde» es posterior a la fecha «hasta»."))
        return data

    def filters(self) -> selectors.ReportFilters:
        """Return the filters of a valid form; none when the query string is invalid."""
        if not self.is_valid():
            return selectors.ReportFilters()
        return selectors.ReportFilters(
            date_from=self.cleaned_data["date_from"],
            date_to=self.cleaned_data["date_to"],
            gestion_type=self.cleaned_data["gestion_type"],
        )
