"""Surveys sent by link when a gestión closes, their answers and their report.

Writes (`invite`, `answer_survey`, `save_survey`) are one transaction each; reads
(`invitation_by_token`, `invitation_for`, `survey_list`, `report`…) come with their joins
done, so a page costs a fixed number of queries.
"""

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import services as crm_services
from crm.gestiones.models import (
    Answer,
    FollowUp,
    Gestion,
    GestionType,
    Question,
    Survey,
    SurveyInvitation,
)
from crm.models import Interaction
from lib import money, queue

TWO_PLACES = Decimal("0.01")
# Longest free-text answer kept; the public form enforces the same limit.
MAX_TEXT_ANSWER = 2000


# --- Sending --------------------------------------------------------------------------


def invite(*, gestion: Gestion, now: datetime.datetime | None = None) -> SurveyInvitation | None:
    """Send the gestión's survey to the customer by e-mail link, once; None without one.

    Called inside the follow-up that closes the gestión; the e-mail waits for the commit.
    """
    survey = gestion.survey
    if survey is None or not survey.is_active:
        return None
    now = now or timezone.now()
    invitation, created = SurveyInvitation.objects.get_or_create(
        gestion=gestion, defaults={"survey": survey, "created_at": now}
    )
    if not created or not gestion.customer.email:
        return invitation
    link = settings.SITE_URL.rstrip("/") + reverse("survey_answer", args=[invitation.token])
    subject = _("¿Cómo le atendimos? Encuesta sobre su gestión n.º %(id)s") % {"id": gestion.pk}
    body = _(
        "Estimado(a) %(name)s:\n\nSu gestión n.º %(id)s (%(type)s) ha concluido. "
        "Nos ayudaría mucho que responda esta breve encuesta:\n\n%(link)s\n\nGracias."
    ) % {
        "name": gestion.customer.full_name,
        "id": gestion.pk,
        "type": gestion.gestion_type.name,
        "link": link,
    }
    email = gestion.customer.email
    queue.enqueue("gestiones.send_email", subject=subject, body=body, recipients=[email])
    SurveyInvitation.objects.filter(pk=invitation.pk).update(sent_at=now)
    invitation.sent_at = now
    return invitation


# --- Answering ------------------------------------------------------------------------


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


@transaction.atomic
def answer_survey(
    *,
    invitation: SurveyInvitation,
    answers: Mapping[int, Any],
    now: datetime.datetime | None = None,
) -> list[Answer]:
    """Store a customer's answers, once, and note them on the gestión and the timeline.

    `answers` maps question ids to values: an int for a scale, the chosen option for a
    choice, the text for a text question; a missing or empty value leaves an optional
    question unanswered. Refused when the survey was already answered: the invitation is
    claimed with a conditional update first, so two submissions at once store one set.
    """
    now = now or timezone.now()
    claimed = SurveyInvitation.objects.filter(pk=invitation.pk, answered_at__isnull=True).update(
        answered_at=now
    )
    if not claimed:
        raise ValidationError(_("Esta encuesta ya fue respondida. ¡Gracias!"), code="answered")
    # Invalid answers raise here and roll the claim back with the transaction.
    rows = _clean_answers(list(invitation.survey.questions.order_by("order", "id")), answers)
    invitation.answered_at = now
    made = Answer.objects.bulk_create(
        [Answer(invitation=invitation, question=q, number=n, text=t) for q, n, t in rows]
    )

    gestion = Gestion.objects.select_related("state", "customer", "channel").get(
        pk=invitation.gestion_id
    )
    lines = [f"{q.text}: {t or n}" for q, n, t in rows]
    notes = _("Encuesta «%(survey)s» respondida.") % {"survey": invitation.survey.name}
    if lines:
        notes += "\n" + "\n".join(lines)
    FollowUp.objects.create(
        gestion=gestion,
        kind=FollowUp.Kind.SURVEY,
        from_state=gestion.state,
        state=gestion.state,
        notes=notes,
        data={str(q.pk): (n if t == "" else t) for q, n, t in rows},
        created_at=now,
    )
    crm_services.record_interaction(
        customer=gestion.customer,
        kind=Interaction.Kind.FOLLOW_UP,
        direction=Interaction.Direction.INBOUND,
        channel=gestion.channel,
        summary=_("Gestión #%(id)s: el cliente respondió la encuesta «%(survey)s»")
        % {"id": gestion.pk, "survey": invitation.survey.name},
        payload={
            "gestion": gestion.pk,
            "encuesta": invitation.survey.name,
            "respuestas": {q.text: str(t or n)[:300] for q, n, t in rows},
        },
        occurred_at=now,
    )
    return made


def _clean_answers(
    questions: Sequence[Question], answers: Mapping[int, Any]
) -> list[tuple[Question, int | None, str]]:
    """Return (question, number, text) per answered question; raise on a bad or missing one.

    Errors are keyed `question_<id>`, the public form's field names.
    """
    errors: dict[str, str] = {}
    rows = []
    for question in questions:
        key = f"question_{question.pk}"
        value = answers.get(question.pk)
        if value is None or (isinstance(value, str) and not value.strip()):
            if question.is_required:
                errors[key] = _("Responda esta pregunta.")
            continue
        if question.kind == Question.Kind.SCALE:
            try:
                number = int(value)
            except (TypeError, ValueError):
                number = None
            if number is None or not question.scale_min <= number <= question.scale_max:
                errors[key] = _("Elija un valor entre %(min)s y %(max)s.") % {
                    "min": question.scale_min,
                    "max": question.scale_max,
                }
                continue
            rows.append((question, number, ""))
        elif question.kind == Question.Kind.CHOICE:
            text = str(value).strip()
            if text not in question.choice_list():
                errors[key] = _("Elija una de las opciones.")
                continue
            rows.append((question, None, text))
        else:
            text = str(value).strip()
            if len(text) > MAX_TEXT_ANSWER:
                errors[key] = _("Escriba como máximo %(n)s caracteres.") % {"n": MAX_TEXT_ANSWER}
                continue
            rows.append((question, None, text))
    if errors:
        raise ValidationError(errors)
    return rows


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


# --- Configuring ----------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionData:
    """One question as typed in the survey form; `question` is None for a new one."""

    question: Question | None
    text: str
    kind: str
    choices: str = ""
    scale_min: int = 1
    scale_max: int = 5
    is_required: bool = True
    order: int = 0


@transaction.atomic
def save_survey(
    *,
    survey: Survey | None,
    data: Mapping[str, Any],
    questions: Sequence[QuestionData],
    removed: Iterable[Question] = (),
) -> Survey:
    """Create a survey, or update one, with its questions.

    A question already answered keeps its kind and cannot be removed: the report reads
    its answers by that kind.
    """
    survey = survey or Survey()
    name = (data.get("name") or "").strip()
    if not name:
        raise ValidationError({"name": _("Escriba el nombre de la encuesta.")})
    if Survey.objects.filter(name__iexact=name).exclude(pk=survey.pk).exists():
        raise ValidationError({"name": _("Ya existe una encuesta con ese nombre.")})
    removed = [q for q in removed if q.pk and q.survey_id == survey.pk]
    if not [q for q in questions if q.question not in removed]:
        raise ValidationError(_("La encuesta necesita al menos una pregunta."))
    # Read from the database: a form may already have written the new values on the rows.
    stored = dict(
        Question.objects.filter(survey_id=survey.pk).values_list("pk", "kind") if survey.pk else ()
    )
    answered = set(
        Answer.objects.filter(question_id__in=stored)
        .values_list("question_id", flat=True)
        .distinct()
    )
    for question in removed:
        if question.pk in answered:
            raise ValidationError(
                _("La pregunta «%(q)s» ya tiene respuestas; no se puede eliminar.")
                % {"q": question.text}
            )
    for row in questions:
        if row.question is None:
            continue
        if row.question.pk not in stored:
            raise ValidationError(_("La pregunta no pertenece a esta encuesta."))
        if row.question.pk in answered and stored[row.question.pk] != row.kind:
            raise ValidationError(
                _("La pregunta «%(q)s» ya tiene respuestas; no se puede cambiar su tipo.")
                % {"q": row.text}
            )

    survey.name = name
    survey.intro = (data.get("intro") or "").strip()
    survey.thanks = (data.get("thanks") or "").strip() or _("¡Gracias por sus respuestas!")
    survey.is_active = bool(data.get("is_active", True))
    survey.save()
    Question.objects.filter(pk__in=[q.pk for q in removed]).delete()
    for row in questions:
        question = row.question or Question(survey=survey)
        question.text = row.text.strip()
        question.kind = row.kind
        question.choices = row.choices.strip() if row.kind == Question.Kind.CHOICE else ""
        question.scale_min = row.scale_min
        question.scale_max = row.scale_max
        question.is_required = row.is_required
        question.order = row.order
        try:
            question.full_clean(exclude=["survey"])
        except ValidationError as exc:
            raise ValidationError(
                _("Pregunta «%(q)s»: %(errors)s")
                % {"q": question.text or "—", "errors": " ".join(exc.messages)}
            ) from exc
        try:
            question.save()
        except IntegrityError as exc:
            raise ValidationError(
                _("Pregunta «%(q)s»: la escala debe ir de un número menor a uno mayor.")
                % {"q": question.text}
            ) from exc
    return survey


# --- Reading --------------------------------------------------------------------------


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

    The response rate is answered ÷ sent, in percent to one place (half up). Averages
    are over the answers given, to two places; an optional question left blank does not
    count. Four queries, however many questions and answers.
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


# Survey rates show one decimal, half up; None when nothing was sent.
percent = partial(money.percent, places=1)


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
    rows = [
        (option, counts.get(option, 0), percent(counts.get(option, 0), total) or Decimal("0.0"))
        for option in options
    ]
    return ChoiceFigures(question=question, answers=total, rows=rows)


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
