import json
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.payloads import without_nul


class WebhookEvent(models.Model):
    """A webhook call a provider made to us, stored once per provider event id (the inbox)."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Recibido")
        PROCESSING = "processing", _("Procesando")
        PROCESSED = "processed", _("Procesado")
        IGNORED = "ignored", _("Ignorado")
        FAILED = "failed", _("Fallido")

    provider = models.CharField(_("proveedor"), max_length=40)
    event_id = models.CharField(_("id del evento"), max_length=255)
    # The body as text: the signature is checked on the exact bytes before anything is
    # stored, and every provider sends UTF-8, so the text is those bytes; anything that
    # is not UTF-8 shows as U+FFFD instead of failing the delivery.
    raw_body = models.TextField(_("cuerpo"), blank=True)
    headers = models.JSONField(_("cabeceras"), default=dict, blank=True)
    received_at = models.DateTimeField(_("recibido el"), default=timezone.now)
    status = models.CharField(
        _("estado"), max_length=20, choices=Status.choices, default=Status.RECEIVED
    )
    attempts = models.PositiveIntegerField(_("intentos"), default=0)
    last_attempt_at = models.DateTimeField(_("último intento"), null=True, blank=True)
    last_error = models.TextField(_("último error"), blank=True)
    processed_at = models.DateTimeField(_("procesado el"), null=True, blank=True)

    class Meta:
        verbose_name = _("evento de webhook")
        verbose_name_plural = _("eventos de webhook")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="integrations_webhook_unique_event"
            ),
        ]
        indexes = [
            # The admin list and the retry sweep filter by status and sort by date.
            models.Index(fields=["status", "received_at"], name="integrations_webhook_status"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id}"

    def payload(self) -> dict[str, Any]:
        """Return the body parsed as a JSON object, without NUL characters in its texts
        (`payloads.without_nul`, as the webhook door read it); raise ValueError if it is
        not one."""
        data = json.loads(self.raw_body)
        if not isinstance(data, dict):
            raise ValueError("The webhook body is not a JSON object.")
        return without_nul(data)


class OutboxMessage(models.Model):
    """A call to a provider waiting to be made, written in the same transaction as its cause."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("En cola")
        SENDING = "sending", _("Enviando")
        SENT = "sent", _("Enviado")
        FAILED = "failed", _("Fallido")

    destination = models.CharField(_("destino"), max_length=100)
    payload = models.JSONField(_("contenido"), default=dict, blank=True)
    dedupe_key = models.CharField(
        _("clave de unicidad"),
        max_length=255,
        blank=True,
        help_text=_("Si se indica, el mismo mensaje lógico se escribe una sola vez."),
    )
    status = models.CharField(
        _("estado"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveIntegerField(_("intentos"), default=0)
    next_attempt_at = models.DateTimeField(_("próximo intento"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("último intento"), null=True, blank=True)
    last_error = models.TextField(_("último error"), blank=True)
    created_at = models.DateTimeField(_("creado el"), default=timezone.now)
    sent_at = models.DateTimeField(_("enviado el"), null=True, blank=True)

    class Meta:
        verbose_name = _("mensaje saliente")
        verbose_name_plural = _("mensajes salientes")
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="integrations_outbox_unique_dedupe_key",
            ),
        ]
        indexes = [
            # The delivery sweep: queued messages whose next attempt is due, oldest first.
            models.Index(fields=["status", "next_attempt_at"], name="integrations_outbox_due"),
        ]

    def __str__(self) -> str:
        return f"{self.destination} #{self.pk}"


class ApiClient(models.Model):
    """A program allowed into the JSON API with its own token (the collection bot, a partner).

    Only the token's SHA-256 is kept: the token is shown once, when it is made
    (integrations.api_clients), and whoever loses it gets a new one.
    """

    name = models.CharField(_("nombre"), max_length=100, unique=True)
    token_prefix = models.CharField(
        _("prefijo del token"),
        max_length=8,
        editable=False,
        help_text=_("Los primeros caracteres del token, para reconocerlo."),
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(_("activo"), default=True)
    scopes = models.CharField(
        _("permisos"),
        max_length=200,
        validators=[
            RegexValidator(
                r"^\s*[a-z_]+(\s*,\s*[a-z_]+)*\s*$",
                _("Escriba los permisos separados por comas, p. ej. «collections»."),
            )
        ],
        help_text=_(
            "Separados por comas. «collections»: la API del bot de cobranza; «recovery»: las "
            "campañas de cartera castigada; «book»: clientes y créditos (importar y leer)."
        ),
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        _("solicitudes por minuto"),
        default=120,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
    )
    created_at = models.DateTimeField(_("creado el"), default=timezone.now, editable=False)
    # Written at most once a minute (api_clients.touch), not on every request.
    last_used_at = models.DateTimeField(_("último uso"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("cliente de la API")
        verbose_name_plural = _("clientes de la API")

    def __str__(self) -> str:
        return self.name

    @property
    def scope_list(self) -> list[str]:
        return [scope.strip() for scope in self.scopes.split(",") if scope.strip()]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scope_list
