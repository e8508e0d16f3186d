"""The payment-event life cycle of any receivable: links, payments to verify, promises,
agreements and call-back requests.

A receivable is named by `receivable_kind` ("loan"; recovery adds its campaigns) and
`receivable_id`, never by a foreign key: `collections_app.receivables` is the registry
that knows how to read and pay each kind, so this app does not import the apps above it.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Tag
from lib import files
from lib.indexes import NullsOrderedIndex
from lib.money import Currency

ZERO = Decimal("0.00")
MONEY = {"max_digits": 14, "decimal_places": 2}


class Portfolio(models.TextChoices):
    CURRENT = "vigente", _("Cartera vigente")
    WRITTEN_OFF = "castigada", _("Cartera castigada")


class Origin(models.TextChoices):
    """Where an event started: the events settings and the effectiveness figures read it."""

    AGENT = "agent", _("Agente")
    BOT = "bot", _("Bot de cobranza")
    PORTAL = "portal", _("Portal del cliente")
    WEBHOOK = "webhook", _("Pasarela de pago")
    SYSTEM = "system", _("Sistema")


def receipt_upload_to(report: "ReportedPayment", filename: str) -> str:
    # Private: under a random folder, served only by views.reported_receipt.
    return files.private_name("comprobantes", filename)


class ReceivableRef(models.Model):
    """What every event names: the customer and the receivable it is about."""

    customer = models.ForeignKey(
        "crm.Customer", verbose_name=_("cliente"), on_delete=models.PROTECT, related_name="+"
    )
    receivable_kind = models.CharField(_("tipo de deuda"), max_length=20)
    receivable_id = models.PositiveBigIntegerField(_("deuda"))
    # Copied from the receivable when the event is made (a loan's payment code), so lists
    # show and search it without asking every receivable kind.
    receivable_code = models.CharField(_("código de pago"), max_length=30)
    # The receivable's currency, so amounts are written with it without asking the kind.
    currency = models.CharField(_("moneda"), max_length=3, blank=True)
    portfolio = models.CharField(
        _("cartera"), max_length=10, choices=Portfolio, default=Portfolio.CURRENT
    )
    origin = models.CharField(_("origen"), max_length=10, choices=Origin, default=Origin.AGENT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registrado por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("creado"), default=timezone.now, db_index=True)

    class Meta:
        abstract = True


class ApiRequest(models.Model):
    """Which API client asked for the row, and under which `Idempotency-Key`: the same key
    from the same client again is this row, whenever it comes (a retry whose answer was
    lost); `request_hash` tells a retry from another request that reuses the key."""

    api_client = models.ForeignKey(
        "integrations.ApiClient",
        verbose_name=_("cliente de la API"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # NULL without a key, so those rows stay out of the unique (client, key) constraint.
    idempotency_key = models.CharField(  # noqa: DJ001
        _("clave de idempotencia"), max_length=100, null=True, blank=True
    )
    request_hash = models.CharField(_("huella del pedido"), max_length=64, blank=True)

    class Meta:
        abstract = True


# The gateways a link may use, as their brands write them (the screens show these).
GATEWAY_NAMES = {"mercadopago": "MercadoPago", "clear": "Clear"}


class PaymentLink(ReceivableRef):
    """A checkout at a payment gateway for an amount we fixed; the payer cannot change it."""

    class Concept(models.TextChoices):
        TOTAL = "total", _("Deuda total")
        INSTALLMENT = "installment", _("Cuota")
        CUSTOM = "custom", _("Monto libre")
        AGREEMENT = "agreement", _("Convenio")

    class Status(models.TextChoices):
        CREATING = "creating", _("Creándose")
        ACTIVE = "active", _("Activo")
        PAID = "paid", _("Pagado")
        EXPIRED = "expired", _("Vencido")
        CANCELLED = "cancelled", _("Anulado")
        FAILED = "failed", _("No se pudo crear")

    reference = models.CharField(_("referencia"), max_length=40, unique=True)
    concept = models.CharField(_("concepto"), max_length=12, choices=Concept)
    installment_number = models.PositiveIntegerField(_("cuota"), null=True, blank=True)
    agreement = models.ForeignKey(
        "PaymentAgreement",
        verbose_name=_("convenio"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="links",
    )
    amount = models.DecimalField(_("monto"), **MONEY, validators=[MinValueValidator(0)])
    provider = models.CharField(_("pasarela"), max_length=20)
    payer_email = models.EmailField(_("correo del pagador"), blank=True)
    status = models.CharField(
        _("estado"), max_length=10, choices=Status, default=Status.CREATING, db_index=True
    )
    expires_at = models.DateTimeField(_("vence"))
    url = models.URLField(_("enlace"), max_length=500, blank=True)
    provider_id = models.CharField(_("id en la pasarela"), max_length=120, blank=True)
    # Why it ended as it did: the gateway's error (failed) or the agent's reason (cancelled).
    status_reason = models.CharField(_("motivo"), max_length=255, blank=True)
    # The gateway's payment that paid it, and ours it became (a loan payment's id).
    provider_payment_id = models.CharField(max_length=120, blank=True)
    payment_id = models.PositiveBigIntegerField(null=True, blank=True)
    paid_at = models.DateTimeField(_("pagado"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("link de pago")
        verbose_name_plural = _("links de pago")
        indexes = [
            models.Index(fields=["receivable_kind", "receivable_id"], name="coll_link_receivable"),
            models.Index(fields=["customer", "-created_at"], name="coll_link_customer"),
            # A search that is a code or a reference, looked up first (selectors._searched).
            models.Index(Upper("receivable_code"), name="coll_link_code"),
            models.Index(Upper("reference"), name="coll_link_reference_upper"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="coll_link_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.amount} {self.currency})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.ACTIVE and self.expires_at > timezone.now()

    @property
    def is_withdrawable(self) -> bool:
        """Whether it may still be withdrawn (`WITHDRAWABLE_LINK`)."""
        return self.status in WITHDRAWABLE_LINK

    @property
    def provider_name(self) -> str:
        """The gateway as its brand writes it ("MercadoPago"), not its code."""
        return GATEWAY_NAMES.get(self.provider, self.provider)


# A link not yet paid, failed, expired or cancelled: one an agent or a campaign's finish
# may still withdraw (`collections_app.services.cancel_payment_link`).
WITHDRAWABLE_LINK = (PaymentLink.Status.ACTIVE, PaymentLink.Status.CREATING)


class ReportedPayment(ReceivableRef, ApiRequest):
    """A payment the debtor says was made (*pago a verificar*), waiting for an agent."""

    class Method(models.TextChoices):
        TRANSFER = "transfer", _("Transferencia")
        DEPOSIT = "deposit", _("Depósito bancario")
        CASH = "cash", _("Efectivo")
        OTHER = "other", _("Otro")

    class Status(models.TextChoices):
        PENDING = "pending", _("Por verificar")
        APPROVED = "approved", _("Verificado")
        REJECTED = "rejected", _("Rechazado")

    amount = models.DecimalField(_("monto"), **MONEY)
    paid_on = models.DateField(_("fecha de pago"))
    method = models.CharField(_("medio"), max_length=10, choices=Method)
    reference = models.CharField(_("n.º de operación"), max_length=80, blank=True)
    receipt = models.FileField(_("comprobante"), upload_to=receipt_upload_to)
    # The receipt's SHA-256: the same file sent again for the same debt is the same report.
    receipt_sha256 = models.CharField(_("huella del comprobante"), max_length=64, blank=True)
    contact_email = models.EmailField(_("correo de contacto"), blank=True)
    status = models.CharField(
        _("estado"), max_length=10, choices=Status, default=Status.PENDING, db_index=True
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revisado por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("revisado"), null=True, blank=True)
    reject_reason = models.CharField(_("motivo del rechazo"), max_length=255, blank=True)
    payment_id = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("pago a verificar")
        verbose_name_plural = _("pagos a verificar")
        indexes = [
            models.Index(
                fields=["receivable_kind", "receivable_id"], name="coll_report_receivable"
            ),
            # The list's order (selectors.reported_list), expression for expression, so a
            # page is read along it instead of sorting every report joined to its customer.
            NullsOrderedIndex(
                models.Case(
                    models.When(status="pending", then=models.Value(0)),
                    default=models.Value(1),
                    output_field=models.IntegerField(),
                ),
                models.Case(models.When(status="pending", then=models.F("created_at"))).asc(
                    nulls_last=True
                ),
                models.F("created_at").desc(),
                models.F("id").desc(),
                name="coll_report_queue",
            ),
            # A search that is a code, looked up first (selectors._searched).
            models.Index(Upper("receivable_code"), name="coll_report_code"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="coll_report_amount_positive"),
            models.UniqueConstraint(
                fields=["api_client", "idempotency_key"], name="coll_report_idempotency_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receivable_code}: {self.amount} ({self.get_status_display()})"


class PaymentPromise(ReceivableRef):
    """A promise to pay an amount by a day (*compromiso de pago*); kept or broken after it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Vigente")
        KEPT = "kept", _("Cumplido")
        BROKEN = "broken", _("Incumplido")
        CANCELLED = "cancelled", _("Anulado")

    amount = models.DecimalField(_("monto"), **MONEY)
    promised_on = models.DateField(_("fecha comprometida"), db_index=True)
    status = models.CharField(
        _("estado"), max_length=10, choices=Status, default=Status.PENDING, db_index=True
    )
    # What was paid to the receivable from the promise until its day, once it was checked.
    paid_amount = models.DecimalField(_("pagado"), **MONEY, default=ZERO)
    resolved_at = models.DateTimeField(_("resuelto"), null=True, blank=True)
    agreement = models.ForeignKey(
        "PaymentAgreement",
        verbose_name=_("convenio"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="promises",
    )
    notes = models.CharField(_("observaciones"), max_length=255, blank=True)

    class Meta:
        ordering = ["promised_on", "id"]
        verbose_name = _("compromiso de pago")
        verbose_name_plural = _("compromisos de pago")
        indexes = [
            models.Index(
                fields=["receivable_kind", "receivable_id"], name="coll_promise_receivable"
            ),
            # A tab's rows in its order (selectors.promise_list): «Vigentes» going up,
            # «Incumplidos» going down.
            models.Index(fields=["status", "promised_on", "id"], name="coll_promise_status_day"),
            # A search that is a code, looked up first (selectors._searched).
            models.Index(Upper("receivable_code"), name="coll_promise_code"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="coll_promise_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.receivable_code}: {self.amount} al {self.promised_on:%d/%m/%Y}"

    @property
    def is_cancellable(self) -> bool:
        """Say whether an agent may withdraw it: in course, and not an agreement's
        installment (that one is resolved with its agreement)."""
        return self.status == self.Status.PENDING and self.agreement_id is None


class AgreementRule(models.Model):
    """How payment agreements (*convenios*) may be offered; an administrator sets them."""

    name = models.CharField(_("nombre"), max_length=80, unique=True)
    max_installments = models.PositiveSmallIntegerField(
        _("cuotas máximas"), validators=[MinValueValidator(1), MaxValueValidator(36)]
    )
    min_down_payment_percent = models.DecimalField(
        _("pie mínimo (% de la deuda vencida)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        default=Decimal("10.00"),
    )
    late_interest_discount_percent = models.DecimalField(
        _("descuento sobre el interés moratorio (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        default=ZERO,
    )
    min_days_past_due = models.PositiveIntegerField(
        _("días de atraso mínimos"),
        default=1,
        validators=[MaxValueValidator(3650)],
        help_text=_("Se ofrece solo a deudas con al menos estos días de atraso."),
    )
    days_between_installments = models.PositiveSmallIntegerField(
        _("días entre cuotas"), default=30, validators=[MinValueValidator(7), MaxValueValidator(90)]
    )
    is_active = models.BooleanField(_("activa"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("regla de convenio")
        verbose_name_plural = _("reglas de convenio")

    def __str__(self) -> str:
        return self.name


class PaymentAgreement(ReceivableRef):
    """A debt's overdue part paid as a down payment plus installments, on agreed days.

    It waits for its down payment (the first link); once paid, the late-interest discount
    is granted and each installment becomes a promise to pay, whose outcome decides the
    agreement's.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Esperando el pie")
        ACTIVE = "active", _("Vigente")
        COMPLETED = "completed", _("Cumplido")
        BROKEN = "broken", _("Incumplido")
        CANCELLED = "cancelled", _("Anulado")

    rule = models.ForeignKey(
        AgreementRule, verbose_name=_("regla"), on_delete=models.PROTECT, related_name="+"
    )
    installments = models.PositiveSmallIntegerField(_("cuotas"))
    debt_amount = models.DecimalField(_("deuda vencida"), **MONEY)
    discount_amount = models.DecimalField(_("descuento"), **MONEY, default=ZERO)
    down_payment = models.DecimalField(_("pie"), **MONEY)
    installment_amount = models.DecimalField(_("cuota"), **MONEY)
    # The plan as offered: [{"number": 1, "due_on": "2026-12-04", "amount": "100.00"}, ...]
    plan = models.JSONField(_("plan"), default=list)
    status = models.CharField(
        _("estado"), max_length=10, choices=Status, default=Status.PENDING, db_index=True
    )
    activated_at = models.DateTimeField(_("activado"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resuelto"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("convenio de pago")
        verbose_name_plural = _("convenios de pago")
        constraints = [
            # One agreement in course per receivable: a second would promise the same money.
            models.UniqueConstraint(
                fields=["receivable_kind", "receivable_id"],
                condition=Q(status__in=["pending", "active"]),
                name="coll_agreement_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receivable_code}: {self.installments} cuotas"

    @property
    def total(self) -> Decimal:
        return self.debt_amount - self.discount_amount


class CallbackRequest(ApiRequest):
    """A debtor asked to be called: by the bot, the portal or an agent on their behalf."""

    class Status(models.TextChoices):
        OPEN = "open", _("Pendiente")
        DONE = "done", _("Llamado")
        CANCELLED = "cancelled", _("Descartado")

    customer = models.ForeignKey(
        "crm.Customer", verbose_name=_("cliente"), on_delete=models.PROTECT, related_name="+"
    )
    phone = models.CharField(_("teléfono"), max_length=20)
    preferred_at = models.DateTimeField(_("horario preferido"), null=True, blank=True)
    preferred_time = models.CharField(_("franja preferida"), max_length=60, blank=True)
    origin = models.CharField(_("origen"), max_length=10, choices=Origin, default=Origin.BOT)
    portfolio = models.CharField(
        _("cartera"), max_length=10, choices=Portfolio, default=Portfolio.CURRENT
    )
    status = models.CharField(
        _("estado"), max_length=10, choices=Status, default=Status.OPEN, db_index=True
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("asignado a"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    outcome = models.CharField(_("resultado"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("creado"), default=timezone.now, db_index=True)
    closed_at = models.DateTimeField(_("cerrado"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cerrado por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("pedido de llamada")
        verbose_name_plural = _("pedidos de llamada")
        indexes = [
            # The list's order (selectors.callback_list), expression for expression, so a
            # page is read along it instead of sorting every request joined to its customer.
            NullsOrderedIndex(
                models.Case(
                    models.When(status="open", then=models.Value(0)),
                    default=models.Value(1),
                    output_field=models.IntegerField(),
                ),
                models.Case(models.When(status="open", then=models.F("created_at"))).asc(
                    nulls_last=True
                ),
                models.F("closed_at").desc(nulls_last=True),
                models.F("id").desc(),
                name="coll_callback_queue",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["api_client", "idempotency_key"], name="coll_callback_idempotency_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.phone} ({self.get_status_display()})"


class PortalCode(models.Model):
    """A one-time code that proves a portal visitor holds the customer's phone or e-mail."""

    customer = models.ForeignKey(
        "crm.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("cliente")
    )
    # Only a hash is kept: the code travels once, to the customer.
    code_hash = models.CharField(max_length=64)
    channel = models.CharField(_("canal"), max_length=20)
    sent_to = models.CharField(_("enviado a"), max_length=120)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("código del portal")
        verbose_name_plural = _("códigos del portal")
        indexes = [models.Index(fields=["customer", "-created_at"], name="coll_portal_code_cust")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.created_at:%Y-%m-%d %H:%M}"


# --- Conversations -------------------------------------------------------------------------


class ConversationLabel(models.Model):
    """A label agents put on conversations ("Reclamo", "Negociando")."""

    name = models.CharField(_("nombre"), max_length=60, unique=True)
    color = models.CharField(_("color"), max_length=12, choices=Tag.Color, default=Tag.Color.GREY)

    class Meta:
        ordering = ["name"]
        verbose_name = _("etiqueta de conversación")
        verbose_name_plural = _("etiquetas de conversación")

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    """A customer's messages seen as one conversation: who works it, what is unread.

    Kept current by `conversations.services` as `crm.messages` records each message, so
    the inbox lists conversations without aggregating a million messages.
    """

    customer = models.OneToOneField(
        "crm.Customer",
        verbose_name=_("cliente"),
        on_delete=models.CASCADE,
        related_name="conversation",
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("asignada a"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    labels = models.ManyToManyField(
        ConversationLabel, verbose_name=_("etiquetas"), blank=True, related_name="conversations"
    )
    last_message_at = models.DateTimeField(_("último mensaje"), default=timezone.now)
    last_message_preview = models.CharField(_("último mensaje (texto)"), max_length=200, blank=True)
    last_channel = models.CharField(_("último canal"), max_length=10, blank=True)
    last_direction = models.CharField(_("última dirección"), max_length=10, blank=True)
    last_inbound_at = models.DateTimeField(_("último mensaje entrante"), null=True, blank=True)
    # WhatsApp allows free text only within 24 hours of the customer's last message there.
    last_whatsapp_inbound_at = models.DateTimeField(null=True, blank=True, editable=False)
    unread_count = models.PositiveIntegerField(_("sin leer"), default=0)
    # Since when the customer's oldest unanswered message waits (None: nothing waits).
    awaiting_reply_since = models.DateTimeField(
        _("esperando respuesta desde"), null=True, blank=True
    )
    message_count = models.PositiveIntegerField(_("mensajes"), default=0)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        verbose_name = _("conversación")
        verbose_name_plural = _("conversaciones")
        indexes = [
            models.Index(fields=["-last_message_at", "-id"], name="coll_conv_recent"),
            models.Index(fields=["assigned_to", "-last_message_at", "-id"], name="coll_conv_agent"),
            models.Index(fields=["awaiting_reply_since"], name="coll_conv_awaiting"),
        ]

    def __str__(self) -> str:
        return str(self.customer)


# --- Strategies: segments, templates, events settings, flows -------------------------------


class Segment(models.Model):
    """Rules that pick debtors; flows send to the customers it matches on the day they run.

    Loan rules (days past due, bucket, balance, product, branch) hold for one of the
    customer's live loans; customer rules (tags, last contact, promises) for the customer.
    A customer tagged `Cartera castigada` is never in a segment (strategies.segments).
    """

    class PromiseStatus(models.TextChoices):
        ANY = "", _("Cualquiera")
        NONE = "none", _("Sin compromiso pendiente")
        PENDING = "pending", _("Con compromiso pendiente")
        BROKEN = "broken", _("Con compromiso incumplido (30 días)")
        KEPT = "kept", _("Con compromiso cumplido (30 días)")

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    description = models.TextField(_("descripción"), blank=True)
    min_days_past_due = models.IntegerField(
        _("días de atraso desde"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(3650)],
    )
    max_days_past_due = models.IntegerField(
        _("días de atraso hasta"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(3650)],
    )
    buckets = models.JSONField(_("tramos de morosidad"), default=list, blank=True)
    min_balance = models.DecimalField(
        _("saldo desde"),
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("999999999.99"))],
    )
    max_balance = models.DecimalField(
        _("saldo hasta"),
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("999999999.99"))],
    )
    # A balance is in its loan's currency: the bounds hold for loans in this one only.
    balance_currency = models.CharField(
        _("moneda del saldo"), max_length=3, choices=Currency, default=Currency.PEN
    )
    products = models.ManyToManyField(
        "credits.LoanProduct", verbose_name=_("productos"), blank=True, related_name="+"
    )
    branches = models.ManyToManyField(
        "crm.Branch", verbose_name=_("sucursales"), blank=True, related_name="+"
    )
    tags = models.ManyToManyField(
        "crm.Tag", verbose_name=_("con alguna de las etiquetas"), blank=True, related_name="+"
    )
    excluded_tags = models.ManyToManyField(
        "crm.Tag", verbose_name=_("sin las etiquetas"), blank=True, related_name="+"
    )
    # Last contact: no interaction in the last N days / some in the last N days.
    no_contact_days = models.PositiveIntegerField(
        _("sin contacto en los últimos (días)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )
    contacted_within_days = models.PositiveIntegerField(
        _("con contacto en los últimos (días)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )
    promise_status = models.CharField(
        _("compromisos"), max_length=10, choices=PromiseStatus, blank=True, default=""
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("creado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("creado"), default=timezone.now)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("segmento")
        verbose_name_plural = _("segmentos")

    def __str__(self) -> str:
        return self.name


class MessageTemplate(models.Model):
    """A message with variables (`{nombre}`, `{saldo}`…), for one channel and portfolio.

    An unknown variable is refused when the template is saved (strategies.templating).
    A WhatsApp template is sent as the template approved at Meta under `whatsapp_name`,
    its variables as the body's parameters {{1}}, {{2}}… in the order they appear here.
    """

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        EMAIL = "email", _("Correo")

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    channel = models.CharField(_("canal"), max_length=10, choices=Channel)
    portfolio = models.CharField(
        _("cartera"), max_length=10, choices=Portfolio, default=Portfolio.CURRENT
    )
    subject = models.CharField(_("asunto"), max_length=200, blank=True)
    body = models.TextField(_("texto"), max_length=4000)
    whatsapp_name = models.CharField(
        _("plantilla aprobada en WhatsApp"), max_length=120, blank=True
    )
    whatsapp_language = models.CharField(_("idioma en WhatsApp"), max_length=10, default="es")
    is_active = models.BooleanField(_("activa"), default=True)
    created_at = models.DateTimeField(_("creada"), default=timezone.now)
    updated_at = models.DateTimeField(_("actualizada"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("plantilla")
        verbose_name_plural = _("plantillas")

    def __str__(self) -> str:
        return self.name


class EventSetting(models.Model):
    """Which template the debtor gets when a payment event happens, per portfolio."""

    class Event(models.TextChoices):
        PROMISE = "promise", _("Compromiso de pago")
        TO_VERIFY = "to_verify", _("Pago por verificar")
        REJECTED = "rejected", _("Pago no verificado")
        VERIFIED = "verified", _("Pago verificado total")

    portfolio = models.CharField(_("cartera"), max_length=10, choices=Portfolio)
    event = models.CharField(_("evento"), max_length=12, choices=Event)
    template = models.ForeignKey(
        MessageTemplate,
        verbose_name=_("plantilla"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="event_settings",
    )
    is_active = models.BooleanField(_("activo"), default=True)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    class Meta:
        ordering = ["portfolio", "event"]
        verbose_name = _("ajuste de evento")
        verbose_name_plural = _("ajustes de eventos")
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "event"], name="coll_event_setting_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_portfolio_display()}: {self.get_event_display()}"


# The calendar of flows: days relative to the due date (fixed by the seed, no setting).
FLOW_FIRST_DAY = -15
FLOW_LAST_DAY = 180


class Flow(models.Model):
    """A segment and the steps it gets, at days relative to each installment's due date."""

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    description = models.TextField(_("descripción"), blank=True)
    segment = models.ForeignKey(
        Segment, verbose_name=_("segmento"), on_delete=models.PROTECT, related_name="flows"
    )
    is_active = models.BooleanField(_("activo"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("creado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("creado"), default=timezone.now)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)
    # The day "Ejecutar hoy" was asked for, until that run has gone through every step:
    # beat's sweep runs it if its task was lost (collections_app.strategies.flows).
    run_requested_on = models.DateField(_("ejecución pedida para"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("flujo")
        verbose_name_plural = _("flujos")

    def __str__(self) -> str:
        return self.name


class FlowStep(models.Model):
    """One message of a flow: a template sent `day_offset` days from the due date."""

    flow = models.ForeignKey(
        Flow, verbose_name=_("flujo"), on_delete=models.CASCADE, related_name="steps"
    )
    day_offset = models.IntegerField(
        _("día respecto del vencimiento"),
        validators=[MinValueValidator(FLOW_FIRST_DAY), MaxValueValidator(FLOW_LAST_DAY)],
        help_text=_("Negativo: antes del vencimiento (−3); 0: el día; positivo: después (+5)."),
    )
    template = models.ForeignKey(
        MessageTemplate,
        verbose_name=_("plantilla"),
        on_delete=models.PROTECT,
        related_name="flow_steps",
    )

    class Meta:
        ordering = ["flow", "day_offset", "id"]
        verbose_name = _("paso del flujo")
        verbose_name_plural = _("pasos del flujo")
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "day_offset", "template"], name="coll_flow_step_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.flow}: {self.day_offset:+d} {self.template}"


class FlowRun(models.Model):
    """One step's run on one day: what it selected, queued and skipped, and why."""

    class Status(models.TextChoices):
        RUNNING = "running", _("En curso")
        DONE = "done", _("Terminado")
        FAILED = "failed", _("Fallido")

    step = models.ForeignKey(
        FlowStep, verbose_name=_("paso"), on_delete=models.CASCADE, related_name="runs"
    )
    run_on = models.DateField(_("día"))
    status = models.CharField(_("estado"), max_length=10, choices=Status, default=Status.RUNNING)
    selected = models.PositiveIntegerField(_("seleccionados"), default=0)
    queued = models.PositiveIntegerField(_("en cola"), default=0)
    held = models.PositiveIntegerField(_("retenidos hasta la mañana"), default=0)
    skipped_opted_out = models.PositiveIntegerField(_("omitidos: no contactar"), default=0)
    skipped_no_address = models.PositiveIntegerField(_("omitidos: sin dirección"), default=0)
    skipped_capped = models.PositiveIntegerField(_("omitidos: límite diario"), default=0)
    # Customers another flow (or step) already reminded today of the same installment.
    skipped_repeated = models.PositiveIntegerField(
        _("omitidos: ya recordados hoy por otro flujo"), default=0
    )
    # The flows that reminded them first, as the run's screen names them: "«A», «B»".
    repeated_by = models.CharField(_("recordados antes por"), max_length=500, blank=True)
    started_at = models.DateTimeField(_("inicio"), default=timezone.now)
    finished_at = models.DateTimeField(_("fin"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    # Where a run taken up again goes on: customers are taken in id order, and each chunk
    # moves this to its last customer in the transaction that sends and counts it.
    last_customer_id = models.PositiveBigIntegerField(_("último cliente procesado"), default=0)
    # When a chunk last committed (or the run was started or taken up): a run "running"
    # with no progress for flows.STALE_RUN belongs to a worker that died.
    heartbeat_at = models.DateTimeField(_("último avance"), null=True, blank=True)
    # Raised each time the run is taken up: a chunk commits only for the current attempt,
    # so a worker thought dead that wakes up sends nothing twice.
    attempt = models.PositiveIntegerField(_("intento"), default=1)

    class Meta:
        ordering = ["-run_on", "-id"]
        verbose_name = _("ejecución de flujo")
        verbose_name_plural = _("ejecuciones de flujos")
        constraints = [
            models.UniqueConstraint(fields=["step", "run_on"], name="coll_flow_run_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.step} {self.run_on}"

    @property
    def skipped(self) -> int:
        """Every customer the run selected and did not message, whatever the reason."""
        return (
            self.skipped_opted_out
            + self.skipped_no_address
            + self.skipped_capped
            + self.skipped_repeated
        )


class FlowReminder(models.Model):
    """A flow's message to a customer about one installment (loan and due date) on one day:
    the first flow step to claim it sends, any other that day skips that customer.

    Claimed in the chunk's transaction before it sends (the unique constraint decides
    between two runs at once) and kept only for the customers the chunk queued a message
    to (one opted out, without address or capped may still get another flow's channel).
    """

    run = models.ForeignKey(
        FlowRun, verbose_name=_("ejecución"), on_delete=models.CASCADE, related_name="reminders"
    )
    # No database constraint (Django still deletes them with their customer or loan): each
    # row's check locked its customer and loan FOR KEY SHARE, and the batch then updates the
    # customer (its last interaction), which turned every lock into a multixact; 100,000
    # claims took the flows' run from 27 to 40 s. The rows live two days.
    customer = models.ForeignKey(
        "crm.Customer",
        verbose_name=_("cliente"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    loan = models.ForeignKey(
        "credits.Loan",
        verbose_name=_("crédito"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    due_date = models.DateField(_("vencimiento"))
    sent_on = models.DateField(_("día"))

    class Meta:
        verbose_name = _("recordatorio de flujo")
        verbose_name_plural = _("recordatorios de flujos")
        constraints = [
            models.UniqueConstraint(
                fields=["sent_on", "customer", "loan", "due_date"],
                name="coll_flow_reminder_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.loan_id} {self.due_date} {self.sent_on}"
