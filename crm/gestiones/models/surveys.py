"""Satisfaction surveys, the invitation sent for a closed gestión, and its answers."""

import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.gestiones.models.gestiones import Gestion

# Every value of a scale is a button on the customer's page and a bar in the report: a
# scale ends at 10 at most (0 to 10, the recommendation scale). 1 to 1,000,000 was taken
# and made a 100 MB page.
SCALE_TOP = 10
# A choice question's options are buttons too.
MAX_CHOICES = 20
MAX_CHOICE_CHARS = 200


class Survey(models.Model):
    """A satisfaction survey sent by link when a gestión closes."""

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    intro = models.TextField(_("presentación"), blank=True)
    thanks = models.CharField(
        _("agradecimiento"), max_length=255, default=_("¡Gracias por sus respuestas!")
    )
    is_active = models.BooleanField(_("activa"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("encuesta")
        verbose_name_plural = _("encuestas")

    def __str__(self) -> str:
        return self.name


class Question(models.Model):
    class Kind(models.TextChoices):
        SCALE = "scale", _("Escala")
        CHOICE = "choice", _("Opción")
        TEXT = "text", _("Texto")

    survey = models.ForeignKey(
        Survey, verbose_name=_("encuesta"), on_delete=models.CASCADE, related_name="questions"
    )
    text = models.CharField(_("pregunta"), max_length=255)
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind)
    choices = models.TextField(
        _("opciones"), blank=True, help_text=_("Una por línea (tipo Opción).")
    )
    scale_min = models.PositiveSmallIntegerField(
        _("escala desde"),
        default=1,
        validators=[
            MaxValueValidator(SCALE_TOP - 1, _("La escala empieza como máximo en %(limit_value)s."))
        ],
    )
    scale_max = models.PositiveSmallIntegerField(
        _("escala hasta"),
        default=5,
        validators=[
            MaxValueValidator(SCALE_TOP, _("La escala llega como máximo a %(limit_value)s."))
        ],
    )
    is_required = models.BooleanField(_("obligatoria"), default=True)
    order = models.PositiveIntegerField(_("orden"), default=0)

    class Meta:
        ordering = ["survey", "order", "id"]
        verbose_name = _("pregunta")
        verbose_name_plural = _("preguntas")
        constraints = [
            models.CheckConstraint(
                condition=Q(scale_min__lt=models.F("scale_max")),
                name="gestiones_question_scale_range",
                violation_error_message=_("La escala debe ir de un número menor a uno mayor."),
            )
        ]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        if self.kind != self.Kind.CHOICE:
            return
        options = self.choice_list()
        if not options:
            raise ValidationError({"choices": _("Una pregunta de opción necesita opciones.")})
        if len(options) > MAX_CHOICES:
            raise ValidationError(
                {
                    "choices": _("Escriba como máximo %(max)s opciones; hay %(n)s.")
                    % {"max": MAX_CHOICES, "n": len(options)}
                }
            )
        if max(len(option) for option in options) > MAX_CHOICE_CHARS:
            raise ValidationError(
                {
                    "choices": _("Cada opción lleva como máximo %(max)s caracteres.")
                    % {"max": MAX_CHOICE_CHARS}
                }
            )

    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


def new_survey_token() -> str:
    return secrets.token_urlsafe(24)


class SurveyInvitation(models.Model):
    """A survey sent for one closed gestión: the link's token and when it was answered."""

    gestion = models.OneToOneField(
        Gestion,
        verbose_name=_("gestión"),
        on_delete=models.CASCADE,
        related_name="survey_invitation",
    )
    survey = models.ForeignKey(
        Survey, verbose_name=_("encuesta"), on_delete=models.PROTECT, related_name="invitations"
    )
    token = models.CharField(
        _("clave del enlace"),
        max_length=64,
        unique=True,
        default=new_survey_token,
        editable=False,
    )
    sent_at = models.DateTimeField(_("enviada"), null=True, blank=True)
    answered_at = models.DateTimeField(_("respondida"), null=True, blank=True)
    created_at = models.DateTimeField(_("creada"), default=timezone.now)

    class Meta:
        verbose_name = _("encuesta enviada")
        verbose_name_plural = _("encuestas enviadas")

    def __str__(self) -> str:
        return f"{self.survey} · #{self.gestion_id}"


class Answer(models.Model):
    invitation = models.ForeignKey(
        SurveyInvitation,
        verbose_name=_("encuesta enviada"),
        on_delete=models.CASCADE,
        related_name="answers",
    )
    question = models.ForeignKey(
        Question, verbose_name=_("pregunta"), on_delete=models.PROTECT, related_name="answers"
    )
    number = models.IntegerField(_("respuesta numérica"), null=True, blank=True)
    text = models.TextField(_("respuesta escrita"), blank=True)

    class Meta:
        verbose_name = _("respuesta")
        verbose_name_plural = _("respuestas")
        constraints = [
            models.UniqueConstraint(
                fields=["invitation", "question"], name="gestiones_answer_unique"
            )
        ]

    def __str__(self) -> str:
        return self.text or str(self.number)
