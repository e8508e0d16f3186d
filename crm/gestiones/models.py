"""Gestiones: configurable customer processes, their follow-ups, time control and workload,
goals, document templates, campaigns, life-cycle events and surveys.

A process is configured, not coded: a `GestionType` has its states, the actions allowed in
each state and the results each action may have (the seed's follow-up table: *Acción /
Resultado / Estado / Cambia estado / Alerta cliente*). `services.record_follow_up` applies
one row of that table to a `Gestion`.
"""

import datetime
import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Branch, Channel, Customer, Product, Tag
from lib.money import MONEY, Currency

USER = settings.AUTH_USER_MODEL


class Outcome(models.TextChoices):
    """What a state means for the gestión: still open, or closed with a result."""

    OPEN = "open", _("En curso")
    SUCCESS = "success", _("Exitosa")
    REJECTED = "rejected", _("Rechazada")
    CLOSED = "closed", _("Cerrada")


CLOSED_OUTCOMES = (Outcome.SUCCESS, Outcome.REJECTED, Outcome.CLOSED)


class GestionType(models.Model):
    """A process (*tipo de gestión*): credit application, service request, renewal…"""

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    code = models.SlugField(_("código"), max_length=40, unique=True)
    description = models.TextField(_("descripción"), blank=True)
    product = models.ForeignKey(
        Product,
        verbose_name=_("producto principal"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gestion_types",
        help_text=_("Se agrega a cada gestión nueva de este tipo."),
    )
    is_time_controlled = models.BooleanField(
        _("control de tiempo"),
        default=True,
        help_text=_("Valor inicial de «control de tiempo» en las gestiones nuevas."),
    )
    default_currency = models.CharField(
        _("moneda"), max_length=3, choices=Currency, default=Currency.PEN
    )
    supervisors = models.ManyToManyField(
        USER, verbose_name=_("supervisores del tipo"), blank=True, related_name="+"
    )
    survey = models.ForeignKey(
        "Survey",
        verbose_name=_("encuesta al cerrar"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="gestion_types",
        help_text=_("Se envía por enlace al cliente cuando la gestión se cierra."),
    )
    # Minutes before the due time at which "about to be late" alerts go out.
    warn_before_minutes = models.PositiveIntegerField(
        _("aviso antes del vencimiento (minutos)"), default=120
    )
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tipo de gestión")
        verbose_name_plural = _("tipos de gestión")

    def __str__(self) -> str:
        return self.name

    def initial_state(self) -> "GestionState | None":
        return self.states.filter(is_initial=True).first()


class GestionState(models.Model):
    """A state of a process (*estado de seguimiento*), with its time allowed and its people."""

    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("tipo de gestión"),
        on_delete=models.CASCADE,
        related_name="states",
    )
    name = models.CharField(_("nombre"), max_length=120)
    order = models.PositiveIntegerField(_("orden"), default=0)
    is_initial = models.BooleanField(_("inicial"), default=False)
    outcome = models.CharField(_("resultado"), max_length=10, choices=Outcome, default=Outcome.OPEN)
    # Time allowed in the state (*tiempo de duración*); all zero means no limit.
    duration_days = models.PositiveIntegerField(_("días"), default=0)
    duration_hours = models.PositiveIntegerField(_("horas"), default=0)
    duration_minutes = models.PositiveIntegerField(_("minutos"), default=0)
    supervisors = models.ManyToManyField(
        USER, verbose_name=_("supervisores del estado"), blank=True, related_name="+"
    )
    agents = models.ManyToManyField(
        USER,
        verbose_name=_("gestores del estado"),
        blank=True,
        through="StateAgent",
        related_name="gestion_states",
    )
    color = models.CharField(_("color"), max_length=12, default="secondary")

    class Meta:
        ordering = ["gestion_type", "order", "id"]
        verbose_name = _("estado")
        verbose_name_plural = _("estados")
        constraints = [
            models.UniqueConstraint(
                fields=["gestion_type", "name"], name="gestiones_state_unique_name"
            ),
            models.UniqueConstraint(
                fields=["gestion_type"],
                condition=Q(is_initial=True),
                name="gestiones_state_one_initial",
                violation_error_message=_("El tipo de gestión ya tiene un estado inicial."),
            ),
            models.CheckConstraint(
                condition=~Q(is_initial=True, outcome__in=CLOSED_OUTCOMES),
                name="gestiones_state_initial_is_open",
                violation_error_message=_("El estado inicial no puede ser de cierre."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def duration(self) -> datetime.timedelta | None:
        """Return the time allowed in this state, or None when it has no limit."""
        delta = datetime.timedelta(
            days=self.duration_days, hours=self.duration_hours, minutes=self.duration_minutes
        )
        return delta or None

    @property
    def is_closing(self) -> bool:
        return self.outcome in CLOSED_OUTCOMES


class StateAgent(models.Model):
    """An agent who works a state and receives its gestiones while `is_active`."""

    state = models.ForeignKey(GestionState, on_delete=models.CASCADE, related_name="state_agents")
    agent = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="state_agents")
    is_active = models.BooleanField(_("recibe gestiones"), default=True)

    class Meta:
        verbose_name = _("gestor del estado")
        verbose_name_plural = _("gestores del estado")
        constraints = [
            models.UniqueConstraint(fields=["state", "agent"], name="gestiones_state_agent_unique")
        ]

    def __str__(self) -> str:
        return f"{self.state} · {self.agent}"


class Action(models.Model):
    """An action an agent performs (*acción*), allowed in some states of its type."""

    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("tipo de gestión"),
        on_delete=models.CASCADE,
        related_name="actions",
    )
    name = models.CharField(_("acción"), max_length=120)
    from_states = models.ManyToManyField(
        GestionState,
        verbose_name=_("permitida en los estados"),
        related_name="actions",
        help_text=_("Estados en los que se puede registrar esta acción."),
    )
    order = models.PositiveIntegerField(_("orden"), default=0)
    is_active = models.BooleanField(_("activa"), default=True)

    class Meta:
        ordering = ["gestion_type", "order", "id"]
        verbose_name = _("acción")
        verbose_name_plural = _("acciones")
        constraints = [
            models.UniqueConstraint(
                fields=["gestion_type", "name"], name="gestiones_action_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ActionResult(models.Model):
    """One row of the follow-up table: action → result → state, and what it triggers."""

    action = models.ForeignKey(
        Action, verbose_name=_("acción"), on_delete=models.CASCADE, related_name="results"
    )
    name = models.CharField(_("resultado"), max_length=120)
    to_state = models.ForeignKey(
        GestionState,
        verbose_name=_("estado"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    changes_state = models.BooleanField(_("cambia estado"), default=True)
    alerts_customer = models.BooleanField(_("alerta cliente"), default=False)
    customer_message = models.TextField(
        _("mensaje al cliente"),
        blank=True,
        help_text=_(
            "Texto del aviso; admite {cliente}, {gestion}, {tipo}, {estado} y {resultado}."
        ),
    )
    order = models.PositiveIntegerField(_("orden"), default=0)

    class Meta:
        ordering = ["action", "order", "id"]
        verbose_name = _("resultado")
        verbose_name_plural = _("tabla de seguimiento")
        constraints = [
            models.UniqueConstraint(fields=["action", "name"], name="gestiones_result_unique_name"),
            models.CheckConstraint(
                condition=Q(changes_state=False) | Q(to_state__isnull=False),
                name="gestiones_result_state_when_changing",
                violation_error_message=_("Indique el estado al que pasa la gestión."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} → {self.name}"

    def clean(self) -> None:
        if (
            self.to_state_id
            and self.action_id
            and self.to_state.gestion_type_id != self.action.gestion_type_id
        ):
            raise ValidationError(
                {"to_state": _("El estado debe ser del mismo tipo de gestión que la acción.")}
            )


class RejectionReason(models.Model):
    """Why a gestión of a type was rejected (*motivo de rechazo*)."""

    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("tipo de gestión"),
        on_delete=models.CASCADE,
        related_name="rejection_reasons",
    )
    name = models.CharField(_("motivo"), max_length=120)
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        ordering = ["gestion_type", "name"]
        verbose_name = _("motivo de rechazo")
        verbose_name_plural = _("motivos de rechazo")
        constraints = [
            models.UniqueConstraint(
                fields=["gestion_type", "name"], name="gestiones_reason_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class FormField(models.Model):
    """A field of a type's dynamic form, captured on the gestión or on each follow-up."""

    class Scope(models.TextChoices):
        GESTION = "gestion", _("Gestión")
        FOLLOW_UP = "follow_up", _("Seguimiento")

    class Kind(models.TextChoices):
        TEXT = "text", _("Texto")
        LONG_TEXT = "long_text", _("Texto largo")
        INTEGER = "integer", _("Número entero")
        DECIMAL = "decimal", _("Número decimal")
        DATE = "date", _("Fecha")
        BOOLEAN = "boolean", _("Sí / No")
        CHOICE = "choice", _("Lista de opciones")

    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("tipo de gestión"),
        on_delete=models.CASCADE,
        related_name="fields",
    )
    scope = models.CharField(
        _("se captura en"), max_length=10, choices=Scope, default=Scope.GESTION
    )
    name = models.SlugField(
        _("clave"), max_length=40, help_text=_("Nombre interno; también el marcador en plantillas.")
    )
    label = models.CharField(_("etiqueta"), max_length=120)
    kind = models.CharField(_("tipo de dato"), max_length=10, choices=Kind, default=Kind.TEXT)
    is_required = models.BooleanField(_("obligatorio"), default=False)
    choices = models.TextField(_("opciones"), blank=True, help_text=_("Una opción por línea."))
    help_text = models.CharField(_("ayuda"), max_length=200, blank=True)
    order = models.PositiveIntegerField(_("orden"), default=0)

    class Meta:
        ordering = ["gestion_type", "scope", "order", "id"]
        verbose_name = _("campo del formulario")
        verbose_name_plural = _("formulario dinámico")
        constraints = [
            models.UniqueConstraint(
                fields=["gestion_type", "scope", "name"], name="gestiones_field_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        if self.kind == self.Kind.CHOICE and not self.choice_list():
            raise ValidationError({"choices": _("Una lista de opciones necesita opciones.")})

    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


class Gestion(models.Model):
    """One process run with one customer: its state, who works it and until when."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("cliente"), on_delete=models.PROTECT, related_name="gestiones"
    )
    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("tipo de gestión"),
        on_delete=models.PROTECT,
        related_name="gestiones",
    )
    state = models.ForeignKey(
        GestionState, verbose_name=_("estado"), on_delete=models.PROTECT, related_name="gestiones"
    )
    # The state's outcome, copied: the work lists and dashboards filter on it without a join.
    outcome = models.CharField(_("resultado"), max_length=10, choices=Outcome, default=Outcome.OPEN)
    agent = models.ForeignKey(
        USER,
        verbose_name=_("gestor a cargo"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gestiones",
    )
    branch = models.ForeignKey(
        Branch,
        verbose_name=_("sucursal"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gestiones",
    )
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("canal"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gestiones",
    )
    subject = models.CharField(_("asunto"), max_length=200, blank=True)
    is_time_controlled = models.BooleanField(_("control de tiempo"), default=True)
    # When the current agent got it: the distribution's round robin reads the latest per agent.
    assigned_at = models.DateTimeField(_("asignada"), null=True, blank=True, editable=False)
    state_entered_at = models.DateTimeField(_("en el estado desde"), default=timezone.now)
    due_at = models.DateTimeField(_("vencimiento"), null=True, blank=True)
    # Which alerts went out for the current due date; a new state clears them.
    warned_at = models.DateTimeField(
        _("aviso de vencimiento"), null=True, blank=True, editable=False
    )
    late_alerted_at = models.DateTimeField(
        _("aviso de atraso"), null=True, blank=True, editable=False
    )
    amount_requested = models.DecimalField(_("monto solicitado"), **MONEY, null=True, blank=True)
    amount_approved = models.DecimalField(_("monto aprobado"), **MONEY, null=True, blank=True)
    currency = models.CharField(_("moneda"), max_length=3, choices=Currency, default=Currency.PEN)
    products = models.ManyToManyField(
        Product, verbose_name=_("productos"), blank=True, related_name="gestiones"
    )
    loans = models.ManyToManyField(
        "credits.Loan", verbose_name=_("cuentas (créditos)"), blank=True, related_name="gestiones"
    )
    campaign = models.ForeignKey(
        "Campaign",
        verbose_name=_("campaña"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="gestiones",
    )
    survey = models.ForeignKey(
        "Survey",
        verbose_name=_("encuesta"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="gestiones",
    )
    rejection_reason = models.ForeignKey(
        RejectionReason,
        verbose_name=_("motivo de rechazo"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gestiones",
    )
    data = models.JSONField(_("datos del formulario"), default=dict, blank=True)
    created_by = models.ForeignKey(
        USER,
        verbose_name=_("creada por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("creada"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("actualizada"), auto_now=True)
    last_follow_up_at = models.DateTimeField(_("último seguimiento"), null=True, blank=True)
    closed_at = models.DateTimeField(_("cerrada"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("gestión")
        verbose_name_plural = _("gestiones")
        permissions = [
            ("view_all_gestiones", _("Puede ver las gestiones de todos los gestores")),
            ("reassign_gestion", _("Puede reasignar gestiones")),
            ("view_gestion_reports", _("Puede ver los tableros de gestiones")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_requested__isnull=True) | Q(amount_requested__gte=0),
                name="gestiones_gestion_requested_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount_approved__isnull=True) | Q(amount_approved__gte=0),
                name="gestiones_gestion_approved_not_negative",
            ),
        ]
        indexes = [
            # "My work": an agent's open gestiones by due date (late first).
            models.Index(
                fields=["agent", "due_at", "id"],
                condition=Q(outcome="open"),
                name="gestiones_open_agent_due_idx",
            ),
            # The distribution's tie-break: each agent's latest assignment.
            models.Index(fields=["agent", "assigned_at"], name="gestiones_agent_assigned_idx"),
            # The late-alert sweep: open, time-controlled gestiones by due date.
            models.Index(
                fields=["due_at"],
                condition=Q(outcome="open", is_time_controlled=True),
                name="gestiones_open_due_idx",
            ),
            # Dashboards: a date range, then grouped by type and state, branch or agent.
            models.Index(
                fields=["created_at", "gestion_type", "state"], name="gestiones_created_type_idx"
            ),
            models.Index(fields=["customer", "-created_at"], name="gestiones_customer_idx"),
            models.Index(fields=["campaign", "state"], name="gestiones_campaign_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.gestion_type} · {self.customer.full_name}"

    def get_absolute_url(self) -> str:
        return reverse("gestiones:detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.outcome == Outcome.OPEN

    def is_late(self, now: datetime.datetime | None = None) -> bool:
        """Return whether the gestión is open, timed and past its due date."""
        now = now or timezone.now()
        return bool(self.is_open and self.is_time_controlled and self.due_at and self.due_at < now)


class FollowUp(models.Model):
    """One step of a gestión (*seguimiento*): what was done, its result and the state reached."""

    class Kind(models.TextChoices):
        STEP = "step", _("Seguimiento")
        CREATED = "created", _("Creación")
        ASSIGNMENT = "assignment", _("Asignación")
        DOCUMENT = "document", _("Documento generado")
        SURVEY = "survey", _("Encuesta")

    gestion = models.ForeignKey(
        Gestion, verbose_name=_("gestión"), on_delete=models.CASCADE, related_name="follow_ups"
    )
    kind = models.CharField(_("tipo"), max_length=12, choices=Kind, default=Kind.STEP)
    action = models.ForeignKey(
        Action,
        verbose_name=_("acción"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    result = models.ForeignKey(
        ActionResult,
        verbose_name=_("resultado"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    from_state = models.ForeignKey(
        GestionState,
        verbose_name=_("estado anterior"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    state = models.ForeignKey(
        GestionState, verbose_name=_("estado"), on_delete=models.PROTECT, related_name="+"
    )
    rejection_reason = models.ForeignKey(
        RejectionReason,
        verbose_name=_("motivo de rechazo"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    notes = models.TextField(_("notas"), blank=True)
    data = models.JSONField(_("datos del formulario"), default=dict, blank=True)
    is_customer_alerted = models.BooleanField(_("cliente alertado"), default=False)
    actor = models.ForeignKey(
        USER,
        verbose_name=_("registrado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("fecha"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("seguimiento")
        verbose_name_plural = _("seguimientos")
        indexes = [
            models.Index(fields=["gestion", "-created_at", "-id"], name="gestiones_followup_idx")
        ]

    def __str__(self) -> str:
        if self.result_id:
            return f"{self.action} → {self.result.name}"
        return self.get_kind_display()

    @property
    def changed_state(self) -> bool:
        return self.from_state_id is not None and self.from_state_id != self.state_id


def attachment_upload_to(instance: "Attachment", filename: str) -> str:
    return f"gestiones/{instance.follow_up.gestion_id}/{filename}"


class Attachment(models.Model):
    """A file on a follow-up: uploaded by an agent, or a document generated from a template."""

    follow_up = models.ForeignKey(
        FollowUp,
        verbose_name=_("seguimiento"),
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    file = models.FileField(_("archivo"), upload_to=attachment_upload_to, max_length=255)
    name = models.CharField(_("nombre"), max_length=200)
    uploaded_by = models.ForeignKey(
        USER,
        verbose_name=_("subido por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("fecha"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("adjunto")
        verbose_name_plural = _("adjuntos")

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """An in-app alert for a user: assigned, about to be late, late."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", _("Asignación")
        DUE_SOON = "due_soon", _("Por vencer")
        LATE = "late", _("Atrasada")
        INFO = "info", _("Aviso")

    recipient = models.ForeignKey(
        USER, verbose_name=_("para"), on_delete=models.CASCADE, related_name="gestion_notifications"
    )
    gestion = models.ForeignKey(
        Gestion,
        verbose_name=_("gestión"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
    )
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind)
    message = models.CharField(_("mensaje"), max_length=300)
    created_at = models.DateTimeField(_("fecha"), default=timezone.now)
    read_at = models.DateTimeField(_("leída"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notificación")
        verbose_name_plural = _("notificaciones")
        indexes = [
            models.Index(
                fields=["recipient", "-created_at"],
                condition=Q(read_at__isnull=True),
                name="gestiones_notif_unread_idx",
            ),
            models.Index(fields=["recipient", "-created_at", "-id"], name="gestiones_notif_idx"),
        ]

    def __str__(self) -> str:
        return self.message


class Goal(models.Model):
    """A monthly target (*meta*) of an agent for a product, and the state that counts."""

    agent = models.ForeignKey(
        USER, verbose_name=_("gestor"), on_delete=models.CASCADE, related_name="goals"
    )
    product = models.ForeignKey(
        Product, verbose_name=_("producto"), on_delete=models.PROTECT, related_name="goals"
    )
    year = models.PositiveIntegerField(
        _("año"), validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    month = models.PositiveSmallIntegerField(
        _("mes"), validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    target_local = models.DecimalField(_("meta en moneda local"), **MONEY, default=Decimal("0.00"))
    target_usd = models.DecimalField(_("meta en dólares"), **MONEY, default=Decimal("0.00"))
    target_prospects = models.PositiveIntegerField(_("meta de prospectos"), default=0)
    target_customers = models.PositiveIntegerField(_("meta de clientes"), default=0)
    success_state = models.ForeignKey(
        GestionState, verbose_name=_("estado exitoso"), on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-year", "-month", "agent"]
        verbose_name = _("meta")
        verbose_name_plural = _("metas")
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "product", "year", "month"],
                name="gestiones_goal_unique",
                violation_error_message=_("Ese gestor ya tiene una meta para ese producto y mes."),
            ),
            models.CheckConstraint(
                condition=Q(target_local__gte=0) & Q(target_usd__gte=0),
                name="gestiones_goal_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} · {self.product} · {self.month:02d}/{self.year}"


def template_upload_to(instance: "DocumentTemplate", filename: str) -> str:
    return f"plantillas/{filename}"


class DocumentTemplate(models.Model):
    """A DOCX with placeholders (contract, collection letter, promissory note)."""

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    description = models.CharField(_("descripción"), max_length=255, blank=True)
    file = models.FileField(
        _("plantilla DOCX"),
        upload_to=template_upload_to,
        validators=[FileExtensionValidator(["docx"])],
    )
    gestion_types = models.ManyToManyField(
        GestionType, verbose_name=_("tipos de gestión"), related_name="document_templates"
    )
    roles = models.ManyToManyField(
        Group,
        verbose_name=_("roles que lo generan"),
        blank=True,
        related_name="+",
        help_text=_("Vacío: cualquier rol que trabaje la gestión."),
    )
    is_active = models.BooleanField(_("activa"), default=True)
    created_at = models.DateTimeField(_("creada"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("plantilla de documento")
        verbose_name_plural = _("plantillas de documentos")

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    """A marketing campaign: outbound (a segment gets a message or a gestión each) or
    inbound (a public form creates customers and gestiones)."""

    class Kind(models.TextChoices):
        OUTBOUND = "outbound", _("Saliente (Out Bound)")
        INBOUND = "inbound", _("Entrante (In Bound)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Borrador")
        ACTIVE = "active", _("Activa")
        FINISHED = "finished", _("Finalizada")

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    slug = models.SlugField(_("dirección pública"), max_length=60, unique=True)
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind)
    status = models.CharField(_("estado"), max_length=10, choices=Status, default=Status.DRAFT)
    description = models.TextField(_("descripción"), blank=True)
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("canal"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    # What each customer gets: a gestión of this type (a task), a message, or both.
    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("crear gestión de tipo"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    message_subject = models.CharField(_("asunto del mensaje"), max_length=200, blank=True)
    message_body = models.TextField(
        _("mensaje"), blank=True, help_text=_("Admite {nombre}, {cliente} y {campana}.")
    )
    # The outbound segment: customers matching every filter given (an empty filter matches all).
    segment_branches = models.ManyToManyField(
        Branch, verbose_name=_("sucursales"), blank=True, related_name="+"
    )
    segment_channels = models.ManyToManyField(
        Channel, verbose_name=_("canales de origen"), blank=True, related_name="+"
    )
    segment_tags = models.ManyToManyField(
        Tag, verbose_name=_("etiquetas"), blank=True, related_name="+"
    )
    segment_products = models.ManyToManyField(
        Product, verbose_name=_("con gestiones del producto"), blank=True, related_name="+"
    )
    segment_city = models.CharField(_("ciudad"), max_length=120, blank=True)
    # The inbound form's agents; empty means the agents of the gestión type's initial state.
    agents = models.ManyToManyField(
        USER, verbose_name=_("gestores de la campaña"), blank=True, related_name="+"
    )
    starts_on = models.DateField(_("desde"), null=True, blank=True)
    ends_on = models.DateField(_("hasta"), null=True, blank=True)
    launched_at = models.DateTimeField(_("lanzada"), null=True, blank=True, editable=False)
    launched_by = models.ForeignKey(
        USER,
        verbose_name=_("lanzada por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("creada"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaña")
        verbose_name_plural = _("campañas")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("gestiones:campaign_detail", args=[self.pk])


class CampaignTarget(models.Model):
    """A customer reached by a campaign: the gestión created and the message sent."""

    class MessageStatus(models.TextChoices):
        NONE = "none", _("Sin mensaje")
        QUEUED = "queued", _("En cola")
        SENT = "sent", _("Enviado")
        FAILED = "failed", _("Fallido")
        SKIPPED = "skipped", _("Omitido")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="targets")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="campaign_targets"
    )
    gestion = models.ForeignKey(
        Gestion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message_status = models.CharField(
        max_length=10, choices=MessageStatus, default=MessageStatus.NONE
    )
    message_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("destinatario de campaña")
        verbose_name_plural = _("destinatarios de campaña")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="gestiones_target_unique")
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.customer}"


class LifecycleEvent(models.Model):
    """A predefined contact in a product line's life (*ciclo de vida*), at a set time."""

    class Kind(models.TextChoices):
        THANKS = "thanks", _("Agradecimiento de formalización")
        SERVICE = "service", _("Gestión de servicio predefinida")
        RENEWAL = "renewal", _("Gestión de renovación")

    class Anchor(models.TextChoices):
        DISBURSED = "disbursed", _("días después del desembolso")
        MATURITY = "maturity", _("días antes del último vencimiento")

    name = models.CharField(_("nombre"), max_length=120)
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind)
    loan_product = models.ForeignKey(
        "credits.LoanProduct",
        verbose_name=_("línea de producto"),
        on_delete=models.CASCADE,
        related_name="lifecycle_events",
    )
    anchor = models.CharField(
        _("referencia"), max_length=10, choices=Anchor, default=Anchor.DISBURSED
    )
    offset_days = models.PositiveIntegerField(_("días"), default=0)
    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("crear gestión de tipo"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    message_subject = models.CharField(_("asunto del mensaje"), max_length=200, blank=True)
    message_body = models.TextField(
        _("mensaje"), blank=True, help_text=_("Admite {nombre} y {producto}.")
    )
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        ordering = ["loan_product", "kind", "offset_days"]
        verbose_name = _("evento de ciclo de vida")
        verbose_name_plural = _("ciclo de vida")
        constraints = [
            models.CheckConstraint(
                condition=Q(gestion_type__isnull=False) | ~Q(message_body=""),
                name="gestiones_lifecycle_does_something",
                violation_error_message=_(
                    "Indique un tipo de gestión a crear, un mensaje o ambos."
                ),
            )
        ]

    def __str__(self) -> str:
        return self.name


class LifecycleRun(models.Model):
    """A life-cycle event done for one loan: unique, so the daily sweep never repeats it."""

    event = models.ForeignKey(LifecycleEvent, on_delete=models.CASCADE, related_name="runs")
    loan = models.ForeignKey("credits.Loan", on_delete=models.CASCADE, related_name="+")
    gestion = models.ForeignKey(
        Gestion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_message_sent = models.BooleanField(default=False)
    ran_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("evento de ciclo de vida realizado")
        verbose_name_plural = _("eventos de ciclo de vida realizados")
        constraints = [
            models.UniqueConstraint(fields=["event", "loan"], name="gestiones_lifecycle_run_unique")
        ]

    def __str__(self) -> str:
        return f"{self.event} · {self.loan_id}"


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

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    text = models.CharField(_("pregunta"), max_length=255)
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind)
    choices = models.TextField(
        _("opciones"), blank=True, help_text=_("Una por línea (tipo Opción).")
    )
    scale_min = models.PositiveSmallIntegerField(_("escala desde"), default=1)
    scale_max = models.PositiveSmallIntegerField(_("escala hasta"), default=5)
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
            )
        ]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        if self.kind == self.Kind.CHOICE and not self.choice_list():
            raise ValidationError({"choices": _("Una pregunta de opción necesita opciones.")})

    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


def new_survey_token() -> str:
    return secrets.token_urlsafe(24)


class SurveyInvitation(models.Model):
    """A survey sent for one closed gestión: the link's token and when it was answered."""

    gestion = models.OneToOneField(
        Gestion, on_delete=models.CASCADE, related_name="survey_invitation"
    )
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="invitations")
    token = models.CharField(max_length=64, unique=True, default=new_survey_token, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("encuesta enviada")
        verbose_name_plural = _("encuestas enviadas")

    def __str__(self) -> str:
        return f"{self.survey} · #{self.gestion_id}"


class Answer(models.Model):
    invitation = models.ForeignKey(
        SurveyInvitation, on_delete=models.CASCADE, related_name="answers"
    )
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    number = models.IntegerField(null=True, blank=True)
    text = models.TextField(blank=True)

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
