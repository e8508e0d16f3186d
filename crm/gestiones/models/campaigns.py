"""Marketing campaigns, the customers they reached, and life-cycle events per loan product."""

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.gestiones.models.gestiones import Gestion
from crm.gestiones.models.processes import (
    USER,
    GestionType,
    PlaceholderValidator,
    email_body_validator,
)
from crm.models import Branch, Channel, Customer, Product, Tag

MAX_OFFSET_DAYS = 3650
# What each message may say: the values the sending services fill in.
CAMPAIGN_PLACEHOLDERS = ("nombre", "cliente", "campana")
LIFECYCLE_PLACEHOLDERS = ("nombre", "cliente", "producto", "credito")


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
    message_subject = models.CharField(
        _("asunto del mensaje"),
        max_length=200,
        blank=True,
        validators=[PlaceholderValidator(CAMPAIGN_PLACEHOLDERS)],
    )
    message_body = models.TextField(
        _("mensaje"),
        blank=True,
        validators=[email_body_validator(), PlaceholderValidator(CAMPAIGN_PLACEHOLDERS)],
        help_text=_("Se envía por correo. Admite {nombre}, {cliente} y {campana}."),
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
    # Set while a launch has customers to reach, refreshed by each batch it commits, cleared
    # when it ends: a launch with no batch for campaigns.selectors.LAUNCH_STALE has lost its
    # worker, and beat's sweep sends it again (in the database, so a cache outage loses
    # nothing).
    launch_heartbeat_at = models.DateTimeField(
        _("último avance del lanzamiento"), null=True, blank=True, editable=False
    )
    # How many times beat's sweep sent the launch again since its last batch committed;
    # after campaigns.services.MAX_LAUNCH_RESUMES it stops trying (`launch_given_up_at`)
    # and says so on the campaign's page: a launch failing on the same customers every time
    # is a fault for a person to look at, not one to retry every 5 minutes for ever.
    launch_resumes = models.PositiveSmallIntegerField(
        _("reanudaciones del lanzamiento"), default=0, editable=False
    )
    launch_given_up_at = models.DateTimeField(
        _("lanzamiento detenido"), null=True, blank=True, editable=False
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
        # Written to the log: the e-mail backend delivers to nobody (console, dummy).
        LOGGED = "logged", _("Registrado, no enviado (correo no configurado)")
        FAILED = "failed", _("Fallido")
        SKIPPED = "skipped", _("Omitido: sin correo")
        # Nothing for this customer (no message, no gestión): they asked not to be contacted.
        OPTED_OUT = "opted_out", _("Omitido: pidió no ser contactado")
        # The customer already got the day's messages (crm.MessagePolicy's daily limit).
        CAPPED = "capped", _("Omitido: límite diario de mensajes")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaña"), on_delete=models.CASCADE, related_name="targets"
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("cliente"),
        on_delete=models.CASCADE,
        related_name="campaign_targets",
    )
    gestion = models.ForeignKey(
        Gestion,
        verbose_name=_("gestión"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    message_status = models.CharField(
        _("estado del mensaje"), max_length=10, choices=MessageStatus, default=MessageStatus.NONE
    )
    message_error = models.CharField(_("error del envío"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("enviado"), null=True, blank=True)
    created_at = models.DateTimeField(_("creado"), default=timezone.now)

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
    offset_days = models.PositiveIntegerField(
        _("días"),
        default=0,
        # Ten years either side: 10⁹ days overflowed the daily task's date arithmetic.
        validators=[MaxValueValidator(MAX_OFFSET_DAYS, _("Hasta %(limit_value)s días (10 años)."))],
    )
    gestion_type = models.ForeignKey(
        GestionType,
        verbose_name=_("crear gestión de tipo"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    message_subject = models.CharField(
        _("asunto del mensaje"),
        max_length=200,
        blank=True,
        validators=[PlaceholderValidator(LIFECYCLE_PLACEHOLDERS)],
    )
    message_body = models.TextField(
        _("mensaje"),
        blank=True,
        validators=[email_body_validator(), PlaceholderValidator(LIFECYCLE_PLACEHOLDERS)],
        help_text=_("Se envía por correo. Admite {nombre}, {cliente}, {producto} y {credito}."),
    )
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        ordering = ["loan_product", "kind", "offset_days"]
        verbose_name = _("evento de ciclo de vida")
        verbose_name_plural = _("eventos de ciclo de vida")
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

    event = models.ForeignKey(
        LifecycleEvent, verbose_name=_("evento"), on_delete=models.CASCADE, related_name="runs"
    )
    loan = models.ForeignKey(
        "credits.Loan", verbose_name=_("crédito"), on_delete=models.CASCADE, related_name="+"
    )
    gestion = models.ForeignKey(
        Gestion,
        verbose_name=_("gestión"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Queued, in fact: whether it went out is on the customer's timeline.
    is_message_sent = models.BooleanField(_("mensaje en cola"), default=False)
    ran_at = models.DateTimeField(_("ejecutado"), default=timezone.now)

    class Meta:
        verbose_name = _("evento de ciclo de vida realizado")
        verbose_name_plural = _("eventos de ciclo de vida realizados")
        constraints = [
            models.UniqueConstraint(fields=["event", "loan"], name="gestiones_lifecycle_run_unique")
        ]

    def __str__(self) -> str:
        return f"{self.event} · {self.loan_id}"
