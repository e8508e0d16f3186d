"""Surveys sent by link when a gestión closes, their answers and their report.

Writes (`invite`, `answer_survey`, `save_survey`) are one transaction each; reads
(`invitation_by_token`, `invitation_for`, `survey_list`, `report`…) come with their joins
done, so a page costs a fixed number of queries."""

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm import deletions as deletion_services
from crm import messages as crm_messages
from crm import services as crm_services
from crm.gestiones.deletions import kinds as deletion_kinds
from crm.gestiones.models import (
    Answer,
    FollowUp,
    Gestion,
    Question,
    Survey,
    SurveyInvitation,
)
from crm.models import Interaction
from lib import repeats

# Longest free-text answer kept; the public form enforces the same limit.
MAX_TEXT_ANSWER = 2000


def invite(*, gestion: Gestion, now: datetime.datetime | None = None) -> SurveyInvitation | None:
    """Queue the gestión's survey to the customer as an e-mailed link, once; None without one.

    Called inside the follow-up that closes the gestión; the e-mail waits for the commit.
    A customer without e-mail, or who asked not to be contacted, gets the invitation
    without `sent_at`.
    """
    survey = gestion.survey
    if survey is None or not survey.is_active:
        return None
    now = now or timezone.now()
    invitation, created = SurveyInvitation.objects.get_or_create(
        gestion=gestion, defaults={"survey": survey, "created_at": now}
    )
    if not created:
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
    sending = crm_messages.send_customer_message(
        customer=gestion.customer,
        channel=crm_messages.EMAIL,
        subject=subject,
        body=body,
        payload={"gestion": gestion.pk, "encuesta": survey.name},
        occurred_at=now,
        dedupe_key=f"gestiones:survey-invitation:{invitation.pk}",
    )
    if not sending.is_queued:
        # No e-mail, or the customer asked not to be contacted: the timeline says which.
        return invitation
    # When the invitation was queued: whether it went out shows on the customer's timeline.
    SurveyInvitation.objects.filter(pk=invitation.pk).update(sent_at=now)
    invitation.sent_at = now
    return invitation


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
    actor: AbstractBaseUser | None = None,
) -> Survey:
    """Create a survey, or update one, with its questions.

    A question already answered keeps its kind, its scale and the options answered, and
    cannot be removed: the report reads its answers by them (its text may be corrected).
    A removed question is recorded in the deletions audit.
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
    stored = {
        pk: (kind, scale)
        for pk, kind, *scale in (
            Question.objects.filter(survey_id=survey.pk).values_list(
                "pk", "kind", "scale_min", "scale_max"
            )
            if survey.pk
            else ()
        )
    }
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
        if row.question.pk in answered:
            _refuse_rereading_answers(row, *stored[row.question.pk])

    survey.name = name
    survey.intro = (data.get("intro") or "").strip()
    survey.thanks = (data.get("thanks") or "").strip() or _("¡Gracias por sus respuestas!")
    survey.is_active = bool(data.get("is_active", True))
    repeats.save_or_refuse(
        survey, field="name", message=_("Ya existe una encuesta con ese nombre.")
    )
    for question in removed:
        deletion_services.record_deletion(
            kind=deletion_kinds.QUESTION,
            object_id=question.pk,
            name=question.text,
            details=[
                (_("Encuesta"), survey.name),
                (_("Tipo de pregunta"), question.get_kind_display()),
            ],
            actor=actor,
        )
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


def _refuse_rereading_answers(row: QuestionData, kind: str, scale: list[int | None]) -> None:
    """Refuse a change to an answered question that would make its answers read otherwise:
    its kind, its scale (a 4 of 1–5 is not a 4 of 1–10), an option someone chose."""
    if kind != row.kind:
        raise ValidationError(
            _("La pregunta «%(q)s» ya tiene respuestas; no se puede cambiar su tipo.")
            % {"q": row.text}
        )
    if kind == Question.Kind.SCALE and [row.scale_min, row.scale_max] != scale:
        raise ValidationError(
            _(
                "La pregunta «%(q)s» ya tiene respuestas; no se puede cambiar su escala "
                "(de %(low)s a %(high)s)."
            )
            % {"q": row.text, "low": scale[0], "high": scale[1]}
        )
    if kind == Question.Kind.CHOICE:
        offered = {line.strip().casefold() for line in row.choices.splitlines()}
        chosen = (
            Answer.objects.filter(question_id=row.question.pk)
            .exclude(text="")
            .values_list("text", flat=True)
            .distinct()
            .order_by("text")
        )
        missing = [text for text in chosen if text.strip().casefold() not in offered]
        if missing:
            raise ValidationError(
                ngettext(
                    "La pregunta «%(q)s» ya tiene respuestas con la opción %(options)s; "
                    "no se puede quitar ni cambiar.",
                    "La pregunta «%(q)s» ya tiene respuestas con las opciones %(options)s; "
                    "no se pueden quitar ni cambiar.",
                    len(missing),
                )
                % {"q": row.text, "options": ", ".join(f"«{text}»" for text in missing)}
            )


def deletion_problem(survey: Survey) -> str:
    """Return why a survey cannot be deleted ("" when it can): one sent keeps its answers."""
    sent = survey.invitations.count()
    if not sent:
        return ""
    return _(
        "La encuesta «%(name)s» ya se envió a %(n)s clientes y sus respuestas se conservan: "
        "no se puede eliminar. Desactívela para que no se envíe más."
    ) % {"name": survey.name, "n": sent}


@transaction.atomic
def delete_survey(*, survey: Survey, actor: AbstractBaseUser | None) -> None:
    """Delete a survey never sent, recording who did and what it was.

    The gestión types that sent it stop sending a survey when their gestiones close.
    """
    survey = Survey.objects.select_for_update().filter(pk=survey.pk).first()
    if survey is None:
        return  # deleted a moment ago by someone else, who has the record
    problem = deletion_problem(survey)
    if problem:
        raise ValidationError(problem)
    deletion_services.record_deletion(
        kind=deletion_kinds.SURVEY,
        object_id=survey.pk,
        name=survey.name,
        details=deletion_details(survey),
        actor=actor,
    )
    survey.delete()


def deletion_details(survey: Survey) -> list[tuple[str, str]]:
    """Return what a survey holds, as the deletion's confirmation and its record show it."""
    questions = list(survey.questions.order_by("order", "id").values_list("text", flat=True))
    types = list(survey.gestion_types.order_by("name").values_list("name", flat=True))
    return [
        (_("Preguntas"), " · ".join(questions) or "—"),
        (_("Activa"), _("Sí") if survey.is_active else _("No")),
        (_("Se enviaba al cerrar"), ", ".join(types) or "—"),
    ]
