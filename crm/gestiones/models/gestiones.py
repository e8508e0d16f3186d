"""A gestión: one process run with one customer, its follow-ups, their files, the in-app
notifications about it, and the monthly goals agents are measured against."""

import datetime
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.gestiones.models.processes import (
    USER,
    Action,
    ActionResult,
    GestionState,
    GestionType,
    Outcome,
    RejectionReason,
)
from crm.models import Branch, Channel, Customer, Product
from lib import files, people
from lib.indexes import NullsOrderedIndex
from lib.money import MONEY, Currency


class Gestion(models.Model):
    """One process run with one customer: its state, who works it and until when."""

    # customer, agent and campaign are indexed by the composite indexes in Meta (each leads
    # one): no index of their own.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("cliente"),
        on_delete=models.PROTECT,
        related_name="gestiones",
        db_index=False,
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
        db_index=False,
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
        db_index=False,
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
            # The lists' sorts by amount and by due date, blanks last either way
            # (crm.gestiones.tables.GestionTable): an index per direction.
            models.Index(fields=["amount_requested", "id"], name="gestiones_amount_idx"),
            NullsOrderedIndex(
                F("amount_requested").desc(nulls_last=True),
                F("id").desc(),
                name="gestiones_amount_desc_idx",
            ),
            models.Index(fields=["due_at", "id"], name="gestiones_due_idx"),
            # The board's columns (selectors.board): a state's gestiones by due date, undated
            # last (where PostgreSQL's ascending puts NULLs), then the latest closed, then by
            # number.
            models.Index(
                fields=["state", "due_at", "-closed_at", "id"], name="gestiones_state_board_idx"
            ),
            NullsOrderedIndex(
                F("due_at").desc(nulls_last=True), F("id").desc(), name="gestiones_due_desc_idx"
            ),
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
    # The gestión's agent once this follow-up was recorded: who was in charge from then on
    # (the time dashboard credits each stay to the agent in charge when it began). Empty:
    # no agent yet, or not recorded (a follow-up that moves neither state nor agent from
    # elsewhere, a row older than this field on a gestión already closed). Read only
    # through the gestión's index; people are deactivated, not deleted: no index of its own.
    agent = models.ForeignKey(
        USER,
        verbose_name=_("gestor a cargo"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
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
    # Private: under a random folder, served only by attachment_download (lib/files.py).
    return files.private_name(f"gestiones/{instance.follow_up.gestion_id}", filename)


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
        return f"{people.display_name(self.agent)} · {self.product} · {self.month:02d}/{self.year}"
