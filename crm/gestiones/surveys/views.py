"""The survey screens: the customer's answer page, and the staff's list, editor and report."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from crm.gestiones.deletions import kinds as deletion_kinds
from crm.gestiones.deletions import views as deletion_views
from crm.gestiones.models import Survey
from crm.gestiones.surveys import forms, selectors, services, tables
from lib import lists, ratelimit

# Answers a single address may send per hour: enough for a family sharing a connection.
SURVEY_RATE_LIMIT = "30/h"


TEXT_ANSWERS_PAGE_SIZE = 20


# No reCAPTCHA here: the link's token is the secret (24 random bytes, sent only to the
# customer), so a bot without it reaches nothing; the rate limit slows down guessing.
@login_not_required
@require_http_methods(["GET", "POST"])
def survey_answer(request: HttpRequest, token: str) -> HttpResponse:
    """Show a survey link's questions and store the customer's answers, once."""
    invitation = selectors.invitation_by_token(token)
    if invitation.answered_at:
        return render(request, "gestiones/survey_answered.html", {"invitation": invitation})
    if not invitation.survey.is_active:
        # Switched off: its links, sent before, take no more answers.
        return render(request, "gestiones/survey_closed.html", {"invitation": invitation})
    questions = list(invitation.survey.questions.all())
    form = forms.SurveyAnswerForm(request.POST or None, questions=questions)
    if request.method == "POST":
        if not ratelimit.allow(request, scope="survey", rate=SURVEY_RATE_LIMIT):
            return render(
                request, "gestiones/survey_too_many.html", {"invitation": invitation}, status=429
            )
        if form.is_valid():
            try:
                services.answer_survey(invitation=invitation, answers=form.answers())
            except ValidationError as exc:
                if exc.code != "answered":
                    form.add_service_error(exc)
                else:
                    return redirect("survey_answer", token=token)
            else:
                return redirect("survey_answer", token=token)
    return render(request, "gestiones/survey_answer.html", {"invitation": invitation, "form": form})


@require_GET
@permission_required("gestiones.view_survey", raise_exception=True)
def survey_list(request: HttpRequest) -> HttpResponse:
    return lists.render_list(
        request,
        filterset=forms.SurveyFilter(request.GET, queryset=selectors.survey_list()),
        table_class=tables.SurveyTable,
        page_template="gestiones/survey_list.html",
        export_name="encuestas",
        results_template="gestiones/partials/survey_results.html",
    )


@permission_required("gestiones.add_survey", raise_exception=True)
def survey_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@permission_required("gestiones.change_survey", raise_exception=True)
def survey_update(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, selectors.survey_for(pk))


def _edit(request: HttpRequest, survey: Survey | None) -> HttpResponse:
    """Edit a survey and its questions together; both must be valid to save either."""
    survey_name = survey.name if survey else ""  # the form writes what was typed on it
    form = forms.SurveyForm(request.POST or None, instance=survey)
    formset = forms.QuestionFormSet(request.POST or None, instance=survey, prefix="q")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        rows, removed = forms.question_rows(formset)
        try:
            saved = services.save_survey(
                survey=survey,
                data=form.cleaned_data,
                questions=rows,
                removed=removed,
                actor=request.user,
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Encuesta «%(name)s» guardada.") % {"name": saved.name})
            return redirect("gestiones:survey_report", pk=saved.pk)
    if survey is None and request.method == "POST" and "name" in form.errors:
        # The new survey sent twice (a double click, the back button and send): the first
        # saved it, so the second finds its name taken by the same survey.
        twin = (
            selectors.identical_survey(
                request.POST.get("name", ""), form.cleaned_data, forms.question_rows(formset)[0]
            )
            if formset.is_valid()
            else None
        )
        if twin is not None:
            messages.info(
                request,
                _(
                    "La encuesta «%(name)s» ya está guardada con estas mismas preguntas: no se "
                    "creó otra."
                )
                % {"name": twin.name},
            )
            return redirect("gestiones:survey_report", pk=twin.pk)
    return render(
        request,
        "gestiones/survey_form.html",
        {"form": form, "formset": formset, "survey": survey, "survey_name": survey_name},
    )


@require_http_methods(["GET", "POST"])
@permission_required("gestiones.delete_survey", raise_exception=True)
def survey_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for confirmation, then delete a survey never sent (the audit records it)."""
    try:
        survey = selectors.survey_for(pk)
    except Http404:
        return deletion_views.deleted_a_moment_ago(
            request,
            kind=deletion_kinds.SURVEY,
            object_id=pk,
            done_url=reverse("gestiones:survey_list"),
        )
    consequences = []
    if survey.gestion_types.exists():
        consequences.append(
            _("Los tipos de gestión que la enviaban al cerrar dejarán de enviar encuesta.")
        )
    return deletion_views.confirm_deletion(
        request,
        what=_("la encuesta"),
        name=survey.name,
        details=services.deletion_details(survey),
        consequences=consequences,
        problem=services.deletion_problem(survey),
        delete=lambda: services.delete_survey(survey=survey, actor=request.user),
        cancel_url=reverse("gestiones:survey_report", args=[survey.pk]),
        done_url=reverse("gestiones:survey_list"),
        done_message=_("Encuesta eliminada: %(name)s.") % {"name": survey.name},
    )


@require_GET
@permission_required("gestiones.view_survey", raise_exception=True)
@vary_on_headers("HX-Request")
def survey_report(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a survey's figures for the filters: rate, averages, distributions, texts."""
    survey = selectors.survey_for(pk)
    form = forms.ReportFilterForm(request.GET)
    filters = form.filters()
    text_answers = Paginator(
        selectors.text_answers(survey, filters), TEXT_ANSWERS_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    context = {
        "survey": survey,
        "form": form,
        "text_answers": text_answers,
        "query": _query_without_page(request),
    }
    htmx = request.htmx
    if htmx and htmx.target == "survey-text-answers" and not htmx.history_restore_request:
        return render(request, "gestiones/partials/survey_text_answers.html", context)
    result = selectors.report(survey=survey, filters=filters)
    context |= {
        "report": result,
        # (figures, chart, the id of the chart's JSON element) per scale question.
        "scale_charts": [
            (figures, _scale_chart(figures), f"scale-chart-{figures.question.pk}")
            for figures in result.scales
        ],
    }
    return render(request, "gestiones/survey_report.html", context)


def _scale_chart(figures: selectors.ScaleFigures) -> dict:
    """Return the static/js/charts.js bar chart of a scale question's distribution."""
    return {
        "type": "bar",
        "labels": [str(value) for value, _n in figures.distribution],
        "datasets": [
            {"label": _("Respuestas"), "data": [n for _v, n in figures.distribution]},
        ],
        "options": {"xLabel": _("Valor"), "yLabel": _("Respuestas")},
    }


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
