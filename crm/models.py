import datetime
from pathlib import PurePosixPath

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce, Upper
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from crm import validators
from lib import files, search
from lib.indexes import NullsOrderedIndex


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


# The tag that says a customer asked not to be contacted; Customer.has_opted_out is kept in
# step with it (crm.services), so segments and filters by tag keep meaning the same.
OPT_OUT_TAG = "No contactar"


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


class CustomerQuerySet(models.QuerySet):
    """Customers, and which of them are current: a record merged into another one
    (crm.merge) is never found, picked or written to; the kept record answers for it."""

    def current(self) -> "CustomerQuerySet":
        """Leave out the records merged into another one."""
        return self.filter(merged_into__isnull=True)

    def resolved(self) -> "CustomerQuerySet":
        """Return the current records of those matched so far: a merged record found (by
        its document, phone or e-mail) gives the record it was merged into, and each one
        comes once, in no given order. One query (a subquery on `self`).

        A merge moves the records merged before into the kept one too, so `merged_into`
        always names a current record.
        """
        kept = (
            self.order_by()
            .annotate(
                kept_id=Coalesce("merged_into_id", "pk", output_field=models.BigIntegerField())
            )
            .values("kept_id")
        )
        return self.model._default_manager.filter(pk__in=kept, merged_into__isnull=True)


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
    # Indexed as UPPER(email) below: customers are found by it with `email__iexact`.
    email = models.EmailField(_("correo electrónico"), blank=True)
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
    # Consent: a customer who asked not to be contacted gets no message from any outbound
    # path (crm.messages skips them); the `No contactar` tag is kept in step with it.
    has_opted_out = models.BooleanField(
        _("no contactar"),
        default=False,
        help_text=_("El cliente pidió no recibir mensajes ni campañas."),
    )
    opted_out_at = models.DateTimeField(_("no contactar desde"), null=True, blank=True)
    last_interaction_at = models.DateTimeField(_("última interacción"), null=True, blank=True)
    # Names, document, e-mail and phone digits, normalized: what the list's search reads.
    search_text = models.TextField(editable=False, default="")
    # Set when this record was merged into another one (crm.merge): everything it had moved
    # there; it stays for its history, out of the list and the search.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("fusionado en"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    merged_at = models.DateTimeField(_("fusionado el"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("creado"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        verbose_name = _("cliente")
        verbose_name_plural = _("clientes")
        permissions = [
            (
                "change_customer_identity",
                _("Puede cambiar el documento y los nombres de un cliente con créditos"),
            ),
            ("merge_customer", _("Puede fusionar dos registros del mismo cliente")),
        ]
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
            # The list's "última interacción" order, newest first with the never contacted
            # last (crm.tables.CustomerTable.order_last_interaction_at); read backwards,
            # oldest first with the never contacted first.
            NullsOrderedIndex(
                F("last_interaction_at").desc(nulls_last=True),
                F("id").desc(),
                name="crm_cust_last_contact_idx",
            ),
            # An inbound e-mail, an appointment or a lead finds its customer by the address
            # whatever its case (`email__iexact`: UPPER(email) = UPPER(…) on PostgreSQL). The
            # plain and LIKE indexes the field had served neither, and cost every write.
            models.Index(Upper("email"), name="crm_cust_email_upper_idx"),
            # An inbound SMS or WhatsApp, the bot and a lead find their customer by either
            # phone (crm.messages.customer_for_address): without these, a scan of every
            # customer (25 ms at 200,000). Only the customers who have that phone are in
            # each, so a customer without a second phone costs its writes nothing here.
            models.Index(
                fields=["phone"], name="crm_cust_phone_idx", condition=~models.Q(phone="")
            ),
            models.Index(
                fields=["phone_secondary"],
                name="crm_cust_phone2_idx",
                condition=~models.Q(phone_secondary=""),
            ),
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
    """One event on a customer's timeline. Written only by `crm.services.record_interaction`.

    `crm.messages` also marks its message entries sent or not sent once the outbox knows.
    How an entry reads on the 360 page (its sentence and details) is `crm.timeline`'s.
    """

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
        BOT = "bot", _("Bot de cobranza")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Entrante")
        OUTBOUND = "outbound", _("Saliente")
        INTERNAL = "internal", _("Interna")

    # No index of its own: the two indexes below start with it.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("cliente"),
        on_delete=models.CASCADE,
        related_name="interactions",
        db_index=False,
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
    # The whole text when it is longer than a summary holds (a long note): the summary then
    # keeps its beginning, and the timeline shows this.
    text = models.TextField(_("texto completo"), blank=True)
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
            # The 360 page's count per kind, read from the index alone (0.5 ms, not 1.2 ms,
            # for 5,000 events).
            models.Index(fields=["customer", "kind"], name="crm_inter_customer_kind_idx"),
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


class Message(models.Model):
    """One message to or from a customer, on any channel: what the conversations inbox lists.

    Written only by `crm.messages`: outbound when a message is queued (with its timeline
    entry), inbound when a provider's webhook brings one. Providers' delivery callbacks
    move an outbound message along queued → sent → delivered → read, or to failed.
    `origin`/`origin_id` name what sent it (a flow step, an event setting) for the
    effectiveness figures, without a foreign key into the apps above this one.
    """

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        EMAIL = "email", _("Correo")
        BOT = "bot", _("Bot de cobranza")
        PORTAL = "portal", _("Portal")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Entrante")
        OUTBOUND = "outbound", _("Saliente")

    class Status(models.TextChoices):
        QUEUED = "queued", _("En cola")
        SENT = "sent", _("Enviado")
        DELIVERED = "delivered", _("Entregado")
        READ = "read", _("Leído")
        FAILED = "failed", _("Fallido")
        RECEIVED = "received", _("Recibido")
        # The provider answered with success, but its answer could not be read: it most
        # likely has the message, and no delivery report will come (no id to match).
        UNKNOWN = "unknown", _("Sin confirmar")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("cliente"),
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
    )
    channel = models.CharField(_("canal"), max_length=10, choices=Channel)
    direction = models.CharField(_("dirección"), max_length=10, choices=Direction)
    status = models.CharField(_("estado"), max_length=10, choices=Status)
    subject = models.CharField(_("asunto"), max_length=200, blank=True)
    body = models.TextField(_("mensaje"), blank=True)
    # Where it went or came from: a phone in E.164, an e-mail address.
    address = models.CharField(_("dirección de contacto"), max_length=254, blank=True)
    provider = models.CharField(_("proveedor"), max_length=30, blank=True)
    provider_message_id = models.CharField(_("id en el proveedor"), max_length=120, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    interaction = models.OneToOneField(
        Interaction,
        verbose_name=_("interacción"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="message",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("enviado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    origin = models.CharField(_("origen"), max_length=60, blank=True)
    origin_id = models.BigIntegerField(_("id del origen"), null=True, blank=True)
    # Counted in the customer's daily limit (messages we push: flows, campaigns).
    is_capped = models.BooleanField(_("cuenta en el límite diario"), default=False)
    created_at = models.DateTimeField(_("creado"), default=timezone.now)
    # When it goes out: later than created_at when quiet hours held it until morning.
    due_at = models.DateTimeField(_("sale el"), default=timezone.now)
    sent_at = models.DateTimeField(_("enviado"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("entregado"), null=True, blank=True)
    read_at = models.DateTimeField(_("leído"), null=True, blank=True)
    failed_at = models.DateTimeField(_("fallido"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("mensaje")
        verbose_name_plural = _("mensajes")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="crm_message_unique_provider_id",
            ),
        ]
        indexes = [
            # A conversation's thread, newest first.
            models.Index(fields=["customer", "-created_at", "-id"], name="crm_message_thread_idx"),
            # The daily limit: a customer's messages going out on a day.
            models.Index(fields=["customer", "due_at"], name="crm_message_due_idx"),
            # Effectiveness: the messages of one flow step or event setting.
            models.Index(fields=["origin", "origin_id"], name="crm_message_origin_idx"),
            # Effectiveness: was a message answered (the customer's replies after it)? One
            # probe per message; the thread's index read every outbound message in between.
            models.Index(
                fields=["customer", "created_at"],
                condition=models.Q(direction="inbound"),
                name="crm_message_replies_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.get_direction_display()} #{self.pk}"

    @property
    def is_inbound(self) -> bool:
        return self.direction == self.Direction.INBOUND


class MessagePolicy(models.Model):
    """When and how often customers may be messaged: one row, edited under Estrategias.

    Quiet hours hold messages until morning (local time, TIME_ZONE); the daily limit
    caps the messages we push to one customer in a day (flows and campaigns; answers to
    what the customer did are not capped). With `is_sms_unaccented` an SMS is written
    without the letters that send it as UCS-2 ("á" as "a").
    """

    quiet_start = models.TimeField(_("silencio desde"), default=datetime.time(20, 0))
    quiet_end = models.TimeField(_("silencio hasta"), default=datetime.time(8, 0))
    daily_limit = models.PositiveSmallIntegerField(
        _("mensajes por día y cliente"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
    )
    # Days without messages: weekdays (0 Monday … 6 Sunday) and dates, each [ISO date,
    # name] (holidays). A message written on one waits for the next day with messages.
    quiet_weekdays = models.JSONField(_("días de la semana sin mensajes"), default=list, blank=True)
    quiet_dates = models.JSONField(_("feriados sin mensajes"), default=list, blank=True)
    # The lender's choice: one "á" sends a whole SMS as UCS-2, in parts of 70 characters
    # instead of 160 (crm.messages.sms_text, lib.gsm). Off: texts go as written.
    is_sms_unaccented = models.BooleanField(_("SMS sin tildes"), default=False)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    class Meta:
        verbose_name = _("política de mensajes")
        verbose_name_plural = _("política de mensajes")

    def __str__(self) -> str:
        return str(_("Política de mensajes"))

    def is_quiet_day(self, day: datetime.date) -> bool:
        """Whether no message goes out on `day` (a quiet weekday, or a holiday)."""
        if day.weekday() in (self.quiet_weekdays or ()):
            return True
        if not self.quiet_dates:
            return False
        if not hasattr(self, "_quiet_date_set"):
            self._quiet_date_set = {str(row[0]) for row in self.quiet_dates if row}
        return day.isoformat() in self._quiet_date_set

    @classmethod
    def current(cls) -> "MessagePolicy":
        """The policy; made on first use from MESSAGES_QUIET_HOURS and MESSAGES_DAILY_LIMIT."""
        start, end = settings.MESSAGES_QUIET_HOURS or (datetime.time(0), datetime.time(0))
        policy, _created = cls.objects.get_or_create(
            pk=1,
            defaults={
                "quiet_start": start,
                "quiet_end": end,
                "daily_limit": settings.MESSAGES_DAILY_LIMIT,
            },
        )
        return policy


class Appointment(models.Model):
    """A meeting booked through Cal.com. Written only by `crm.services`, from its webhooks."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Agendada")
        RESCHEDULED = "rescheduled", _("Reprogramada")
        CANCELLED = "cancelled", _("Cancelada")

    # Empty while the person who booked is not a registered customer ("cliente por
    # registrar"): see crm.services.process_calcom_event.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("cliente"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="appointments",
    )
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("asesor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="appointments",
    )
    # The booking's current uid: a reschedule replaces it with the new booking's.
    calcom_uid = models.CharField(_("uid en Cal.com"), max_length=100, unique=True)
    # The uid it had before the last reschedule, so a late event about it is recognized.
    previous_calcom_uid = models.CharField(
        _("uid anterior en Cal.com"), max_length=100, blank=True, db_index=True
    )
    calcom_booking_id = models.PositiveBigIntegerField(
        _("reserva en Cal.com"), null=True, blank=True
    )
    title = models.CharField(_("título"), max_length=255)
    starts_at = models.DateTimeField(_("inicio"))
    ends_at = models.DateTimeField(_("fin"))
    status = models.CharField(_("estado"), max_length=12, choices=Status, default=Status.SCHEDULED)
    location = models.CharField(_("lugar"), max_length=255, blank=True)
    video_url = models.URLField(_("enlace de la videollamada"), max_length=500, blank=True)
    notes = models.TextField(_("notas"), blank=True)
    cancellation_reason = models.TextField(_("motivo de cancelación"), blank=True)
    # Who booked, as Cal.com's booking form gave it: what an unregistered person is.
    attendee_name = models.CharField(_("nombre de quien reservó"), max_length=200, blank=True)
    attendee_email = models.EmailField(_("correo de quien reservó"), blank=True)
    attendee_phone = models.CharField(_("teléfono de quien reservó"), max_length=32, blank=True)
    organizer_email = models.EmailField(_("correo del organizador"), blank=True)
    # Cal.com's createdAt of the last event applied: an older one arriving late is skipped.
    calcom_event_at = models.DateTimeField(_("último evento de Cal.com"))
    created_at = models.DateTimeField(_("registrada"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("actualizada"), auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        verbose_name = _("cita")
        verbose_name_plural = _("citas")
        permissions = [
            ("view_all_appointments", _("Puede ver las citas de todos los asesores")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gte=models.F("starts_at")),
                name="crm_appointment_ends_after_start",
            ),
        ]
        indexes = [
            # An advisor's agenda, and a customer's card on the 360 page, by date.
            models.Index(fields=["advisor", "starts_at", "id"], name="crm_appt_advisor_idx"),
            models.Index(fields=["customer", "starts_at"], name="crm_appt_customer_idx"),
            models.Index(fields=["starts_at", "id"], name="crm_appt_starts_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({timezone.localtime(self.starts_at):%Y-%m-%d %H:%M})"

    @property
    def person_name(self) -> str:
        """Return the customer's name, or the name the unregistered attendee gave."""
        return self.customer.full_name if self.customer else self.attendee_name

    @property
    def starts_on(self):
        """Return the local day the appointment starts: the agenda groups by it."""
        return timezone.localtime(self.starts_at).date()

    @property
    def is_cancelled(self) -> bool:
        return self.status == self.Status.CANCELLED

    @property
    def status_color(self) -> str:
        """Return the Bootstrap color of the status badge."""
        return _STATUS_COLORS.get(self.status, "secondary")


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
    Interaction.Kind.BOT: "robot",
}

_STATUS_COLORS = {
    Appointment.Status.SCHEDULED: "primary",
    Appointment.Status.RESCHEDULED: "warning",
    Appointment.Status.CANCELLED: "secondary",
}


# --- Imports of the lender's book (crm.imports) ------------------------------------------


def import_upload_to(instance: "ImportBatch", filename: str) -> str:
    # A folder of its own per upload, named at random (lib/files.py): private, unguessable.
    return files.private_name("imports", filename)


def import_errors_upload_to(instance: "ImportBatch", filename: str) -> str:
    # Next to the uploaded file, in its folder.
    return f"{PurePosixPath(instance.file.name).parent}/{filename}"


class ImportBatch(models.Model):
    """One uploaded file imported into the book (customers; other apps register more kinds).

    Its life: uploaded (columns to map) → queued → running → done or failed; a done batch
    may be undone while nothing has happened to its records since. While it runs, its
    progress lives in the cache (`crm.imports.services.save_progress`).
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Por asignar columnas")
        QUEUED = "queued", _("En cola")
        RUNNING = "running", _("En curso")
        DONE = "done", _("Terminada")
        FAILED = "failed", _("Falló")
        UNDONE = "undone", _("Deshecha")

    kind = models.CharField(_("tipo"), max_length=20)
    file = models.FileField(_("archivo"), upload_to=import_upload_to, max_length=255)
    file_name = models.CharField(_("nombre del archivo"), max_length=255)
    file_sha256 = models.CharField(max_length=64, editable=False, db_index=True)
    # The file's header as read (one text per column) and the user's choice per field:
    # field name → column index.
    header = models.JSONField(_("encabezado"), default=list, blank=True)
    mapping = models.JSONField(_("columnas"), default=dict, blank=True)
    # The header row and the first rows after it, as read at upload
    # (`lib.spreadsheets.Head.encoded`): the preview of the columns reads them, not the file.
    head = models.JSONField(_("primeras filas"), default=dict, blank=True, editable=False)
    # The tables that came with the main file (a loan's installments, its payments), by
    # part name: {"file": stored name or "", "sheet": sheet of the main workbook or "",
    # "file_name", "header", "mapping"} each.
    parts = models.JSONField(_("tablas adicionales"), default=dict, blank=True)
    skip_invalid = models.BooleanField(_("omitir filas con errores"), default=False)
    # The kind's own choices for this run (`registry.Option`), option name → checked.
    options = models.JSONField(_("opciones"), default=dict, blank=True)
    status = models.CharField(
        _("estado"), max_length=10, choices=Status, default=Status.UPLOADED, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("importada por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("subida"), default=timezone.now)
    started_at = models.DateTimeField(_("iniciada"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminada"), null=True, blank=True)
    # False when bad rows stopped the import (skip_invalid off): then nothing was written.
    is_applied = models.BooleanField(_("aplicada"), default=False)
    row_count = models.PositiveIntegerField(_("filas"), default=0)
    created_count = models.PositiveIntegerField(_("creados"), default=0)
    updated_count = models.PositiveIntegerField(_("actualizados"), default=0)
    unchanged_count = models.PositiveIntegerField(_("sin cambios"), default=0)
    conflict_count = models.PositiveIntegerField(_("conflictos"), default=0)
    skipped_count = models.PositiveIntegerField(_("filas omitidas"), default=0)
    error_row_count = models.PositiveIntegerField(_("filas con errores"), default=0)
    # The first bad rows, [line, message] each; all of them are in errors_file (.xlsx).
    error_preview = models.JSONField(_("primeros errores"), default=list, blank=True)
    errors_file = models.FileField(
        _("filas con errores (.xlsx)"),
        upload_to=import_errors_upload_to,
        max_length=255,
        blank=True,
    )
    failure = models.TextField(_("motivo del fallo"), blank=True)
    # How many times beat sent the batch again after it went without progress
    # (crm.imports.services.resume_abandoned, lib.progress.send_again).
    attempts = models.PositiveSmallIntegerField(_("reenvíos"), default=0)
    undone_at = models.DateTimeField(_("deshecha"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("deshecha por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("importación")
        verbose_name_plural = _("importaciones")
        permissions = [("run_import", _("Puede importar clientes y créditos desde archivos"))]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"

    def get_absolute_url(self) -> str:
        return reverse("crm:import_detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.UNDONE)

    @property
    def progress_cache_key(self) -> str:
        return f"crm:import:{self.pk}:progress"


class ImportRecord(models.Model):
    """What one batch did to one record: created, updated, or an identity left as it was.

    `before` keeps the values an update replaced (an undo puts them back); `after` the
    record's `updated_at` as the import left it (an undo refuses a record changed since).
    A conflict is an identity change the file asks for and no import makes by itself: a
    person accepts or rejects it.
    """

    class Action(models.TextChoices):
        CREATED = "created", _("Creado")
        UPDATED = "updated", _("Actualizado")

    class Conflict(models.TextChoices):
        NONE = "", _("Sin conflicto")
        PENDING = "pending", _("Por decidir")
        ACCEPTED = "accepted", _("Aceptado")
        REJECTED = "rejected", _("Rechazado")

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="records")
    line = models.PositiveIntegerField(_("línea"))
    object_id = models.BigIntegerField(_("registro"))
    action = models.CharField(_("acción"), max_length=10, choices=Action, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    conflict = models.JSONField(_("conflicto"), default=dict, blank=True)
    conflict_status = models.CharField(
        _("decisión"), max_length=10, choices=Conflict, default=Conflict.NONE, blank=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decidido por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decidido"), null=True, blank=True)

    class Meta:
        ordering = ["batch", "line", "id"]
        verbose_name = _("registro importado")
        verbose_name_plural = _("registros importados")
        indexes = [models.Index(fields=["batch", "conflict_status"], name="crm_importrec_conflict")]

    def __str__(self) -> str:
        return f"#{self.batch_id}:{self.line}"


class ImportMapping(models.Model):
    """The columns a user chose for a kind of file, offered the next time it is uploaded.

    Kept by kind and by the file's header (normalized), so a file with the same columns
    gets the same choices; the newest of the kind is the fallback for a new layout.
    """

    kind = models.CharField(_("tipo"), max_length=20)
    header_key = models.CharField(max_length=64)
    mapping = models.JSONField(default=dict)
    header = models.JSONField(default=list)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "header_key"], name="crm_importmapping_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.header_key[:8]}"


# --- List exports too large for a web request (lib.exports, crm.exports) -----------------
# Here, in the customer core, because lib holds no models and every list of every app
# may queue one: the core is the lowest app with tables, as for ImportBatch.


def export_upload_to(instance: "ExportJob", filename: str) -> str:
    # A folder of its own per file, named at random (lib/files.py): private, unguessable.
    return files.private_name("exports", filename)


class ExportJob(models.Model):
    """A list's CSV or XLSX over the web's limit, written by a worker for the one who asked.

    Its life: queued → running → done (the file kept EXPORT_KEEP_DAYS days) or failed
    (with the reason, in Spanish). The worker rebuilds the list from `path` and `query` as
    `created_by`, with that person's permissions at the time it runs.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("En cola")
        RUNNING = "running", _("En curso")
        DONE = "done", _("Lista")
        FAILED = "failed", _("Falló")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("pedida por"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    list_name = models.CharField(_("lista"), max_length=100)
    path = models.CharField(_("ruta"), max_length=500)
    query = models.TextField(_("filtros"), blank=True)
    file_format = models.CharField(_("formato"), max_length=10)
    status = models.CharField(
        _("estado"), max_length=10, choices=Status, default=Status.QUEUED, db_index=True
    )
    rows_written = models.PositiveIntegerField(_("filas escritas"), default=0)
    total = models.PositiveIntegerField(_("filas"), default=0)
    file = models.FileField(_("archivo"), upload_to=export_upload_to, max_length=255, blank=True)
    file_name = models.CharField(_("nombre del archivo"), max_length=255, blank=True)
    failure = models.TextField(_("motivo del fallo"), blank=True)
    created_at = models.DateTimeField(_("pedida"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(_("iniciada"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminada"), null=True, blank=True)
    # How many times beat sent the job again after it went without progress
    # (crm.exports.services.resume_abandoned).
    attempts = models.PositiveSmallIntegerField(_("reenvíos"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("exportación")
        verbose_name_plural = _("exportaciones")
        indexes = [models.Index(fields=["created_by", "-created_at"], name="crm_export_by_user")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.list_name}.{self.file_format}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int | None:
        """How much of the file is written (None while the total is unknown)."""
        if not self.total:
            return None
        return min(100, self.rows_written * 100 // self.total)


class DeletionRecord(models.Model):
    """A configuration row someone deleted: what it was, who deleted it and when.

    Written only by `crm.deletions.record_deletion`, in the same transaction as the
    deletion. `kind` is a code the owning app registers with its label
    (`crm.deletions.register_deletion_kind`): the core lists none of the apps above it.
    The table kept its name from when gestiones owned it.
    """

    kind = models.CharField(_("qué"), max_length=30)
    object_id = models.PositiveBigIntegerField(_("n.º que tenía"))
    name = models.CharField(_("nombre"), max_length=255)
    # Its values when it was deleted, as (label, text) pairs a person reads.
    details = models.JSONField(_("datos que tenía"), default=list, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("eliminado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The name at the time: the record outlives a user deleted later.
    deleted_by_name = models.CharField(_("nombre de quien eliminó"), max_length=150, blank=True)
    deleted_at = models.DateTimeField(_("eliminado"), default=timezone.now)

    class Meta:
        db_table = "gestiones_deletionrecord"
        ordering = ["-deleted_at", "-id"]
        verbose_name = _("eliminación")
        verbose_name_plural = _("eliminaciones")
        indexes = [models.Index(fields=["-deleted_at", "-id"], name="gestiones_deletion_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def detail_items(self) -> list[tuple[str, str]]:
        """Return the stored values as (label, text) pairs."""
        return [(str(label), str(text)) for label, text in (self.details or [])]
