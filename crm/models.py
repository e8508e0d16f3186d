from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from crm import search, validators


class Branch(models.Model):
    """A branch office (*sucursal*)."""

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    code = models.SlugField(_("código"), max_length=20, unique=True)
    city = models.CharField(_("ciudad"), max_length=120, blank=True)
    address = models.CharField(_("dirección"), max_length=255, blank=True)
    is_active = models.BooleanField(_("activa"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("sucursal")
        verbose_name_plural = _("sucursales")

    def __str__(self) -> str:
        return self.name


class Channel(models.Model):
    """A contact channel (*canal*): web, sucursal, call center, WhatsApp…"""

    name = models.CharField(_("nombre"), max_length=80, unique=True)
    code = models.SlugField(_("código"), max_length=30, unique=True)
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("canal")
        verbose_name_plural = _("canales")

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """A product line (*línea de producto*)."""

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    code = models.SlugField(_("código"), max_length=30, unique=True)
    description = models.TextField(_("descripción"), blank=True)
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("producto")
        verbose_name_plural = _("productos")

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """A label on customers, e.g. `Cartera castigada` (set by the recovery app)."""

    class Color(models.TextChoices):
        GREY = "secondary", _("Gris")
        BLUE = "primary", _("Azul")
        GREEN = "success", _("Verde")
        YELLOW = "warning", _("Amarillo")
        RED = "danger", _("Rojo")
        CYAN = "info", _("Celeste")

    name = models.CharField(_("nombre"), max_length=60, unique=True)
    color = models.CharField(_("color"), max_length=12, choices=Color, default=Color.GREY)

    class Meta:
        ordering = ["name"]
        verbose_name = _("etiqueta")
        verbose_name_plural = _("etiquetas")

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """A person or company the lender deals with: prospect, borrower or debtor."""

    class DocumentType(models.TextChoices):
        DNI = "dni", _("DNI")
        CE = "ce", _("Carné de extranjería")
        RUC = "ruc", _("RUC")
        PASSPORT = "passport", _("Pasaporte")

    document_type = models.CharField(
        _("tipo de documento"), max_length=10, choices=DocumentType, default=DocumentType.DNI
    )
    document_number = models.CharField(_("número de documento"), max_length=20)
    first_name = models.CharField(_("nombres"), max_length=120)
    last_name = models.CharField(_("apellidos"), max_length=120, blank=True)
    phone = PhoneNumberField(_("celular"), blank=True)
    phone_secondary = PhoneNumberField(_("teléfono alternativo"), blank=True)
    email = models.EmailField(_("correo electrónico"), blank=True, db_index=True)
    address = models.CharField(_("dirección"), max_length=255, blank=True)
    city = models.CharField(_("ciudad"), max_length=120, blank=True)
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("canal"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customers",
    )
    branch = models.ForeignKey(
        Branch,
        verbose_name=_("sucursal"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customers",
    )
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("asesor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customers",
    )
    tags = models.ManyToManyField(
        Tag, verbose_name=_("etiquetas"), blank=True, related_name="customers"
    )
    last_interaction_at = models.DateTimeField(_("última interacción"), null=True, blank=True)
    # Names, document, e-mail and phone digits, normalized: what the list's search reads.
    search_text = models.TextField(editable=False, default="")
    created_at = models.DateTimeField(_("creado"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        verbose_name = _("cliente")
        verbose_name_plural = _("clientes")
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "document_number"],
                name="crm_customer_unique_document",
                violation_error_code="duplicate_document",
                violation_error_message=_(
                    "Ya existe un cliente con ese tipo y número de documento."
                ),
            ),
        ]
        indexes = [
            # The list's default order and its name search.
            models.Index(fields=["last_name", "first_name", "id"], name="crm_cust_name_idx"),
            # Search by document number alone, whatever its type.
            models.Index(fields=["document_number"], name="crm_cust_docnum_idx"),
            models.Index(fields=["last_interaction_at", "id"], name="crm_cust_last_inter_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.get_document_type_display()} {self.document_number})"

    def get_absolute_url(self) -> str:
        return reverse("crm:customer_detail", args=[self.pk])

    def clean(self) -> None:
        self.document_number = validators.normalize_document_number(self.document_number)
        validators.validate_document(self.document_type, self.document_number)

    def build_search_text(self) -> str:
        """Return the normalized text the customer search matches against.

        Phones go in twice: with the country code and as dialled nationally.
        """
        phones = []
        for phone in (self.phone, self.phone_secondary):
            if phone:
                phones.append(str(phone.country_code) + str(phone.national_number))
                phones.append(str(phone.national_number))
        parts = [self.first_name, self.last_name, self.document_number, self.email, *phones]
        return search.normalize(" ".join(p for p in parts if p))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def initials(self) -> str:
        return (self.first_name[:1] + self.last_name[:1]).upper()


class Interaction(models.Model):
    """One event on a customer's timeline. Written only by `crm.services.record_interaction`."""

    class Kind(models.TextChoices):
        NOTE = "note", _("Nota")
        CALL = "call", _("Llamada")
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        EMAIL = "email", _("Correo")
        PORTAL_VISIT = "portal_visit", _("Visita al portal")
        PAYMENT = "payment", _("Pago")
        FOLLOW_UP = "follow_up", _("Seguimiento")
        APPOINTMENT = "appointment", _("Cita")
        SYSTEM = "system", _("Sistema")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Entrante")
        OUTBOUND = "outbound", _("Saliente")
        INTERNAL = "internal", _("Interna")

    customer = models.ForeignKey(
        Customer, verbose_name=_("cliente"), on_delete=models.CASCADE, related_name="interactions"
    )
    kind = models.CharField(_("tipo"), max_length=20, choices=Kind)
    channel = models.ForeignKey(
        Channel,
        verbose_name=_("canal"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="interactions",
    )
    direction = models.CharField(
        _("dirección"), max_length=10, choices=Direction, default=Direction.INTERNAL
    )
    summary = models.CharField(_("resumen"), max_length=500)
    payload = models.JSONField(_("datos"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registrado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="interactions",
        help_text=_("Vacío cuando lo registró el sistema."),
    )
    occurred_at = models.DateTimeField(_("fecha"), default=timezone.now)
    created_at = models.DateTimeField(_("registrado"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("interacción")
        verbose_name_plural = _("interacciones")
        indexes = [
            # The timeline: one customer's events, newest first, paged by (occurred_at, id).
            models.Index(fields=["customer", "-occurred_at", "-id"], name="crm_inter_timeline_idx"),
            models.Index(fields=["kind", "-occurred_at"], name="crm_inter_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"

    @property
    def is_system(self) -> bool:
        return self.actor_id is None

    @property
    def icon(self) -> str:
        """Return the Bootstrap Icons name shown for this kind on the timeline."""
        return _KIND_ICONS.get(self.kind, "dot")

    def payload_items(self) -> list[tuple[str, str]]:
        """Return the payload as (key, text) pairs for display, skipping nested values."""
        return [
            (str(k), str(v))
            for k, v in (self.payload or {}).items()
            if not isinstance(v, dict | list)
        ]


_KIND_ICONS = {
    Interaction.Kind.NOTE: "sticky",
    Interaction.Kind.CALL: "telephone",
    Interaction.Kind.SMS: "chat-left-text",
    Interaction.Kind.WHATSAPP: "whatsapp",
    Interaction.Kind.EMAIL: "envelope",
    Interaction.Kind.PORTAL_VISIT: "globe",
    Interaction.Kind.PAYMENT: "cash-coin",
    Interaction.Kind.FOLLOW_UP: "clipboard-check",
    Interaction.Kind.APPOINTMENT: "calendar-event",
    Interaction.Kind.SYSTEM: "gear",
}
