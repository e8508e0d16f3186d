"""Reads of surveys: the list, an invitation by its link, and the report's figures."""

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.gestiones.models import (
    Answer,
    Gestion,
    GestionType,
    Question,
    Survey,
    SurveyInvitation,
)
from lib import money, repeats

TWO_PLACES = Decimal("0.01")


def invitation_by_token(token: str) -> SurveyInvitation:
    """Return the invitation behind a survey link, with its questions; 404 when unknown."""
    return get_object_or_404(
        SurveyInvitation.objects.select_related(
            "survey", "gestion__gestion_type", "gestion__customer"
        ).prefetch_related(
            Prefetch("survey__questions", queryset=Question.objects.order_by("order", "id"))
        ),
        token=token,
    )


def invitation_for(gestion: Gestion) -> SurveyInvitation | None:
    """Return the gestión's invitation with its survey, questions and answers; None if none."""
    return (
        SurveyInvitation.objects.filter(gestion=gestion)
        .select_related("survey")
        .prefetch_related(
            Prefetch("survey__questions", queryset=Question.objects.order_by("order", "id")),
            Prefetch(
                "answers",
                queryset=Answer.objects.select_related("question").order_by(
                    "question__order", "question_id"
                ),
            ),
        )
        .first()
    )


def survey_list() -> QuerySet[Survey]:
    """Return the surveys with their question, sent and answered counts."""
    return Survey.objects.annotate(
        question_count=Count("questions", distinct=True),
        sent_count=Count(
            "invitations", filter=Q(invitations__sent_at__isnull=False), distinct=True
        ),
        answered_count=Count(
            "invitations", filter=Q(invitations__answered_at__isnull=False), distinct=True
        ),
    )


def identical_survey(name: str, data: Mapping[str, Any], questions: Sequence[Any]) -> Survey | None:
    """Return the survey named `name` whose fields (`data`, a survey form's cleaned values)
    and questions (`questions`, the form's rows) are those typed, as the save stores them;
    None when any differs. The new-survey form sent twice finds the one the first saved."""
    name = repeats.sent_name(name)
    if name is None:
        return None
    survey = (
        Survey.objects.prefetch_related(
            Prefetch("questions", queryset=Question.objects.order_by("order", "id"))
        )
        .filter(name=name)
        .first()
    )
    if survey is None:
        return None
    typed = (
        (data.get("intro") or "").strip(),
        # Left blank, the save stores the default thanks.
        (data.get("thanks") or "").strip() or _("¡Gracias por sus respuestas!"),
        bool(data.get("is_active", True)),
    )
    if typed != (survey.intro, survey.thanks, survey.is_active):
        return None
    rows = [
        (
            row.text.strip(),
            row.kind,
            row.choices.strip() if row.kind == Question.Kind.CHOICE else "",
            row.scale_min,
            row.scale_max,
            row.is_required,
            row.order,
        )
        for row in questions
    ]
    stored = [
        (q.text, q.kind, q.choices, q.scale_min, q.scale_max, q.is_required, q.order)
        for q in survey.questions.all()
    ]
    return survey if sorted(rows) == sorted(stored) else None


def survey_for(pk: int) -> Survey:
    """Return a survey with its questions in order; 404 when unknown."""
    return get_object_or_404(
        Survey.objects.prefetch_related(
            Prefetch("questions", queryset=Question.objects.order_by("order", "id"))
        ),
        pk=pk,
    )


@dataclass(frozen=True)
class ReportFilters:
    """Which invitations a report counts: sent within the dates, of the gestión type."""

    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    gestion_type: GestionType | None = None


@dataclass
class ScaleFigures:
    question: Question
    answers: int
    average: Decimal | None
    # (value, count) for every value of the scale, zeros included.
    distribution: list[tuple[int, int]]


@dataclass
class ChoiceFigures:
    question: Question
    answers: int
    # (option, count, percent of the question's answers); answers to options since
    # removed are listed after the current ones.
    rows: list[tuple[str, int, Decimal]]


@dataclass
class SurveyReport:
    """A survey's figures: invitations sent, answered and rate, and per question."""

    survey: Survey
    sent: int
    answered: int
    response_rate: Decimal | None
    scales: list[ScaleFigures] = field(default_factory=list)
    choices: list[ChoiceFigures] = field(default_factory=list)
    text_questions: list[Question] = field(default_factory=list)


def report_invitations(survey: Survey, filters: ReportFilters) -> QuerySet[SurveyInvitation]:
    """Return the survey's invitations sent within the filters (local dates, inclusive)."""
    invitations = SurveyInvitation.objects.filter(survey=survey, sent_at__isnull=False)
    if filters.date_from:
        invitations = invitations.filter(sent_at__gte=_local_midnight(filters.date_from))
    if filters.date_to:
        next_day = filters.date_to + datetime.timedelta(days=1)
        invitations = invitations.filter(sent_at__lt=_local_midnight(next_day))
    if filters.gestion_type:
        invitations = invitations.filter(gestion__gestion_type=filters.gestion_type)
    return invitations


def report(*, survey: Survey, filters: ReportFilters | None = None) -> SurveyReport:
    """Return the survey's figures over the invitations sent within `filters`.

    The response rate is answered ÷ sent, in percent to one place (half up); a choice's
    shares are to one place too, adding up to 100.0. Averages are over the answers given,
    to two places; an optional question left blank does not count. Four queries, however
    many questions and answers.
    """
    filters = filters or ReportFilters()
    invitations = report_invitations(survey, filters)
    counts = invitations.aggregate(
        sent=Count("id"), answered=Count("id", filter=Q(answered_at__isnull=False))
    )
    sent, answered = counts["sent"], counts["answered"]
    result = SurveyReport(
        survey=survey, sent=sent, answered=answered, response_rate=percent(answered, sent)
    )
    # In order by the model's ordering, or as survey_for() prefetched them.
    questions = list(survey.questions.all())
    answers = Answer.objects.filter(invitation__in=invitations.values("pk"))
    numbers: dict[int, dict[int, int]] = {}
    texts: dict[int, dict[str, int]] = {}
    for row in (
        answers.filter(question__kind=Question.Kind.SCALE, number__isnull=False)
        .values("question_id", "number")
        .annotate(n=Count("id"))
        .order_by()
    ):
        numbers.setdefault(row["question_id"], {})[row["number"]] = row["n"]
    for row in (
        answers.filter(question__kind=Question.Kind.CHOICE)
        .exclude(text="")
        .values("question_id", "text")
        .annotate(n=Count("id"))
        .order_by()
    ):
        texts.setdefault(row["question_id"], {})[row["text"]] = row["n"]

    for question in questions:
        if question.kind == Question.Kind.SCALE:
            result.scales.append(_scale_figures(question, numbers.get(question.pk, {})))
        elif question.kind == Question.Kind.CHOICE:
            result.choices.append(_choice_figures(question, texts.get(question.pk, {})))
        else:
            result.text_questions.append(question)
    return result


def text_answers(survey: Survey, filters: ReportFilters) -> QuerySet[Answer]:
    """Return the free-text answers within the filters, newest first, with their gestión."""
    return (
        Answer.objects.filter(
            invitation__in=report_invitations(survey, filters).values("pk"),
            question__kind=Question.Kind.TEXT,
        )
        .exclude(text="")
        .select_related(
            "question",
            "invitation__gestion__customer",
            "invitation__gestion__gestion_type",
        )
        .order_by("-invitation__answered_at", "-id")
    )


# Survey percentages show one decimal: a rate half up (None when nothing was sent), the
# choices' shares by largest remainders.
PLACES = 1
percent = partial(money.percent, places=PLACES)


def _scale_figures(question: Question, counts: Mapping[int, int]) -> ScaleFigures:
    total = sum(counts.values())
    average = None
    if total:
        weighted = sum(value * n for value, n in counts.items())
        average = (Decimal(weighted) / Decimal(total)).quantize(TWO_PLACES, ROUND_HALF_UP)
    values = range(question.scale_min, question.scale_max + 1)
    distribution = [(value, counts.get(value, 0)) for value in values]
    # Answers outside today's range (the scale was edited) still show.
    distribution += sorted((v, n) for v, n in counts.items() if v not in values)
    return ScaleFigures(
        question=question, answers=total, average=average, distribution=distribution
    )


def _choice_figures(question: Question, counts: Mapping[str, int]) -> ChoiceFigures:
    total = sum(counts.values())
    options = question.choice_list()
    options += sorted(option for option in counts if option not in options)
    answers = [counts.get(option, 0) for option in options]
    # Largest remainders: the shares add up to 100.0 (rounded one by one, three thirds made
    # 99.9, and 82.3 + 9.9 + 7.9 made 100.1).
    shares = money.shares_of_100(answers, places=PLACES)
    rows = list(zip(options, answers, shares, strict=True))
    return ChoiceFigures(question=question, answers=total, rows=rows)


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
