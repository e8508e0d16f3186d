"""Loan products, loans, their installments and their contracts (signed through DocuSeal)."""

import operator
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from credits.schedule import MAX_ANNUAL_RATE, MAX_PRINCIPAL, MAX_TERM, FeeType, Frequency, Method
from crm import display
from crm.models import Branch, Customer
from lib import files
from lib.money import MONEY, RATE, Currency

ZERO = Decimal("0.00")
# A new product's negotiable range until an administrator sets its own: 0 % to 100 %.
DEFAULT_MAX_RATE = Decimal(100)
# Late interest starts after at most a year of grace: more is a typo, not a policy.
MAX_GRACE_DAYS = 365
# A loan product's approval target (LoanProduct.approval_target_hours): an hour to a
# year; more is a slip of the keyboard (2400 for 24), not a target.
APPROVAL_TARGET_MIN_HOURS = 1
APPROVAL_TARGET_MAX_HOURS = 24 * 365


class Component(models.TextChoices):
    """The parts of what an installment asks for; also the allocation order's vocabulary."""

    LATE_INTEREST = "late_interest", _("Interés moratorio")
    FEE = "fee", _("Comisiones")
    INTEREST = "interest", _("Interés")
    PRINCIPAL = "principal", _("Capital")


# The components' values, read once: `Component.values` rebuilds its list (and every
# label) on each read, ~5 µs, and a loan page's schedule totals read it ~280 times.
COMPONENTS = tuple(Component.values)
# An installment's columns of each component, read together (Installment.total_due/paid).
_DUE_COLUMNS = operator.attrgetter(*(f"{c}_due" for c in COMPONENTS))
_PAID_COLUMNS = operator.attrgetter(*(f"{c}_paid" for c in COMPONENTS))

DEFAULT_ALLOCATION_ORDER = [
    Component.LATE_INTEREST,
    Component.FEE,
    Component.INTEREST,
    Component.PRINCIPAL,
]


class Bucket(models.TextChoices):
    """Aging buckets by days past due."""

    CURRENT = "current", _("Al día")
    D1_30 = "1_30", _("1–30 días")
    D31_60 = "31_60", _("31–60 días")
    D61_90 = "61_90", _("61–90 días")
    D90_PLUS = "90_plus", _("Más de 90 días")

    @classmethod
    def for_days(cls, days: int) -> "Bucket":
        if days <= 0:
            return cls.CURRENT
        if days <= 30:
            return cls.D1_30
        if days <= 60:
            return cls.D31_60
        if days <= 90:
            return cls.D61_90
        return cls.D90_PLUS


def validate_allocation_order(value: list) -> None:
    # A JSON field: an admin may type a number or an object where the list goes.
    if not isinstance(value, list) or sorted(map(str, value)) != sorted(Component.values):
        raise ValidationError(
            _("El orden de imputación debe nombrar una vez cada componente: %(c)s.")
            # The codes are what is typed in the JSON list; the names say what each is.
            % {"c": ", ".join(f"{c.value} ({c.label})" for c in Component)}
        )


class LoanProduct(models.Model):
    """A credit product: its rate, method, frequency, limits and charges."""

    name = models.CharField(_("nombre"), max_length=120, unique=True)
    currency = models.CharField(_("moneda"), max_length=3, choices=Currency, default=Currency.PEN)
    annual_rate = models.DecimalField(
        _("tasa nominal anual (%)"),
        **RATE,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_ANNUAL_RATE)],
        help_text=_("La que se ofrece; la de cada crédito puede negociarse dentro del rango."),
    )
    # The range a loan's negotiated rate must stay in (services.loans.validate_terms).
    min_rate = models.DecimalField(
        _("tasa mínima (%)"),
        **RATE,
        default=ZERO,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_ANNUAL_RATE)],
    )
    max_rate = models.DecimalField(
        _("tasa máxima (%)"),
        **RATE,
        default=DEFAULT_MAX_RATE,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_ANNUAL_RATE)],
    )
    method = models.CharField(_("método de amortización"), max_length=10, choices=Method)
    frequency = models.CharField(
        _("frecuencia de pago"), max_length=10, choices=Frequency, default=Frequency.MONTHLY
    )
    min_term = models.PositiveIntegerField(
        _("plazo mínimo (cuotas)"), default=1, validators=[MinValueValidator(1)]
    )
    max_term = models.PositiveIntegerField(
        _("plazo máximo (cuotas)"), default=60, validators=[MaxValueValidator(MAX_TERM)]
    )
    min_amount = models.DecimalField(
        _("monto mínimo"),
        **MONEY,
        default=Decimal("100.00"),
        validators=[MinValueValidator(0), MaxValueValidator(MAX_PRINCIPAL)],
    )
    max_amount = models.DecimalField(
        _("monto máximo"),
        **MONEY,
        default=Decimal("500000.00"),
        validators=[MaxValueValidator(MAX_PRINCIPAL)],
    )
    fee_type = models.CharField(
        _("tipo de comisión"), max_length=10, choices=FeeType, default=FeeType.NONE
    )
    fee_value = models.DecimalField(
        _("comisión (monto o %)"), **RATE, default=ZERO, validators=[MinValueValidator(0)]
    )
    late_annual_rate = models.DecimalField(
        _("tasa moratoria anual (%)"), **RATE, default=ZERO, validators=[MinValueValidator(0)]
    )
    grace_days = models.PositiveIntegerField(_("días de gracia"), default=0)
    allocation_order = models.JSONField(
        _("orden de imputación de pagos"),
        default=list,
        blank=True,
        validators=[validate_allocation_order],
        help_text=_(
            "Vacío: interés moratorio → comisiones → interés → capital. Un cambio se aplica "
            "también a los créditos ya desembolsados, desde su próximo pago."
        ),
    )
    platform_fee_percent = models.DecimalField(
        _("comisión de la plataforma (% del interés)"),
        **RATE,
        default=ZERO,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_(
            "Lo que la plataforma retiene del interés antes de repartirlo a inversionistas. "
            "Un cambio se aplica también a los créditos ya desembolsados: a lo que sus "
            "inversionistas reciban desde el próximo pago y a lo que ven por cobrar; lo ya "
            "repartido no cambia."
        ),
    )
    # The KPI a credit application is measured against: lead to approval within this time.
    approval_target_hours = models.PositiveIntegerField(
        _("meta de aprobación (horas)"),
        default=24,
        # The admin's form says both bounds in words (credits.admin.LoanProductAdminForm).
        validators=[
            MinValueValidator(APPROVAL_TARGET_MIN_HOURS),
            MaxValueValidator(APPROVAL_TARGET_MAX_HOURS),
        ],
        help_text=_("Tiempo máximo desde el lead hasta la aprobación de una solicitud."),
    )
    # Who signs its contracts besides the borrower (and the lender's representative, when
    # DOCUSEAL_LENDER_SIGNER_EMAIL is set): a co-signer (*aval*) when this is on.
    requires_cosigner = models.BooleanField(
        _("exige aval"),
        default=False,
        help_text=_("Sus créditos necesitan un aval, que también firma el contrato."),
    )
    # A template with the roles its contracts need (an *aval* role when it asks for one).
    contract_template_id = models.PositiveBigIntegerField(
        _("plantilla DocuSeal del contrato"),
        null=True,
        blank=True,
        help_text=_("N.º de la plantilla en DocuSeal; vacío: la de DOCUSEAL_TEMPLATE_ID."),
    )
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("producto de crédito")
        verbose_name_plural = _("productos de crédito")
        constraints = [
            models.CheckConstraint(
                condition=Q(min_term__lte=F("max_term")), name="credits_product_term_range"
            ),
            models.CheckConstraint(
                condition=Q(min_amount__lte=F("max_amount")), name="credits_product_amount_range"
            ),
            models.CheckConstraint(
                condition=Q(min_rate__lte=F("annual_rate")) & Q(annual_rate__lte=F("max_rate")),
                name="credits_product_rate_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # The allocation order left empty, as its help invites, is the default order; the
        # admin's JSON box sends None for it, which the column does not take.
        if self.allocation_order is None:
            self.allocation_order = []
        # A field left empty has its own error already; only filled-in ranges are compared.
        errors = {}
        if None not in (self.min_term, self.max_term) and self.min_term > self.max_term:
            errors["max_term"] = _("El plazo máximo es menor que el mínimo.")
        if None not in (self.min_amount, self.max_amount) and self.min_amount > self.max_amount:
            errors["max_amount"] = _("El monto máximo es menor que el mínimo.")
        if None not in (self.min_rate, self.annual_rate, self.max_rate):
            if self.min_rate > self.max_rate:
                errors["max_rate"] = _("La tasa máxima es menor que la mínima.")
            elif not self.min_rate <= self.annual_rate <= self.max_rate:
                errors["annual_rate"] = _(
                    "La tasa ofrecida debe estar entre la mínima y la máxima del producto."
                )
        # The bounds a typo would cross (5000 for 50): what the rate fields already have.
        if self.late_annual_rate is not None and self.late_annual_rate > MAX_ANNUAL_RATE:
            errors["late_annual_rate"] = _(
                "La tasa moratoria no puede pasar de %(max)s %% anual."
            ) % {"max": MAX_ANNUAL_RATE}
        if self.fee_type == FeeType.PERCENT and self.fee_value is not None and self.fee_value > 100:
            errors["fee_value"] = _("Una comisión porcentual no puede pasar del 100 %.")
        # A fixed fee is owed on every installment: above the smallest loan it is a typo
        # (1500 for 15.00), and that loan would owe its principal again at each due date.
        if (
            self.fee_type == FeeType.FIXED
            and None not in (self.fee_value, self.min_amount)
            and self.fee_value > self.min_amount
        ):
            errors["fee_value"] = _(
                "La comisión fija por cuota (%(fee)s) supera el monto mínimo del producto "
                "(%(min)s)."
            ) % {"fee": display.amount(self.fee_value), "min": display.amount(self.min_amount)}
        if self.grace_days is not None and self.grace_days > MAX_GRACE_DAYS:
            errors["grace_days"] = _("Los días de gracia no pueden pasar de %(max)s.") % {
                "max": MAX_GRACE_DAYS
            }
        if errors:
            raise ValidationError(errors)

    def get_allocation_order(self) -> list[str]:
        return list(self.allocation_order) or [str(c) for c in DEFAULT_ALLOCATION_ORDER]


LOAN_STATUSES = (
    "draft",
    "awaiting_signature",
    "ready_to_disburse",
    "active",
    "paid",
    "written_off",
    "cancelled",
)


class Loan(models.Model):
    """A loan to a customer, from its draft to its last payment."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Borrador")
        AWAITING_SIGNATURE = "awaiting_signature", _("Por firmar")
        READY_TO_DISBURSE = "ready_to_disburse", _("Por desembolsar")
        ACTIVE = "active", _("Vigente")
        PAID = "paid", _("Pagado")
        WRITTEN_OFF = "written_off", _("Castigado")
        CANCELLED = "cancelled", _("Anulado")

    class ScheduleSource(models.TextChoices):
        ENGINE = "engine", _("Calculado")
        IMPORTED = "imported", _("Importado")

    # The legal moves; anything else is refused by services.change_status.
    TRANSITIONS = {
        Status.DRAFT: {Status.AWAITING_SIGNATURE, Status.READY_TO_DISBURSE, Status.CANCELLED},
        Status.AWAITING_SIGNATURE: {Status.READY_TO_DISBURSE, Status.DRAFT, Status.CANCELLED},
        Status.READY_TO_DISBURSE: {Status.ACTIVE, Status.CANCELLED},
        # A disbursement recorded by mistake, nothing after it, is annulled
        # (services.loans.annul_disbursement): the loan waits to be disbursed again.
        Status.ACTIVE: {Status.PAID, Status.WRITTEN_OFF, Status.READY_TO_DISBURSE},
        # An annulled last payment re-opens the loan as it was.
        Status.PAID: {Status.ACTIVE, Status.WRITTEN_OFF},
        Status.WRITTEN_OFF: {Status.PAID},
        Status.CANCELLED: set(),
    }
    # Statuses whose installments are owed.
    LIVE = (Status.ACTIVE, Status.WRITTEN_OFF)
    # Statuses of a loan that was disbursed: it has a schedule and a place in the portfolio.
    DISBURSED = (Status.ACTIVE, Status.PAID, Status.WRITTEN_OFF)

    # Indexed by (customer, status) and (status, bucket): no index of their own.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("cliente"),
        on_delete=models.PROTECT,
        related_name="loans",
        db_index=False,
    )
    product = models.ForeignKey(
        LoanProduct, verbose_name=_("producto"), on_delete=models.PROTECT, related_name="loans"
    )
    # Ours: 10 digits with a Luhn check digit; an imported loan keeps its source system's.
    payment_code = models.CharField(_("código de pago"), max_length=30, unique=True)
    currency = models.CharField(_("moneda"), max_length=3, choices=Currency, default=Currency.PEN)
    principal = models.DecimalField(_("capital"), **MONEY, validators=[MinValueValidator(0)])
    annual_rate = models.DecimalField(_("tasa nominal anual (%)"), **RATE)
    term = models.PositiveIntegerField(_("plazo (cuotas)"))
    method = models.CharField(_("método de amortización"), max_length=10, choices=Method)
    frequency = models.CharField(_("frecuencia"), max_length=10, choices=Frequency)
    fee_type = models.CharField(_("tipo de comisión"), max_length=10, choices=FeeType)
    fee_value = models.DecimalField(_("comisión"), **RATE, default=ZERO)
    late_annual_rate = models.DecimalField(_("tasa moratoria anual (%)"), **RATE, default=ZERO)
    grace_days = models.PositiveIntegerField(_("días de gracia"), default=0)
    start_date = models.DateField(_("fecha de inicio"))
    first_due_date = models.DateField(_("primer vencimiento"))
    # Imported loans whose source system's schedule differs from our engine's keep theirs.
    schedule_source = models.CharField(
        _("cronograma"), max_length=10, choices=ScheduleSource, default=ScheduleSource.ENGINE
    )
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("asesor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="loans",
    )
    branch = models.ForeignKey(
        Branch,
        verbose_name=_("sucursal"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="loans",
    )
    status = models.CharField(_("estado"), max_length=20, choices=Status, default=Status.DRAFT)
    status_changed_at = models.DateTimeField(_("cambio de estado"), default=timezone.now)
    disbursed_at = models.DateTimeField(_("desembolsado"), null=True, blank=True)
    paid_at = models.DateTimeField(_("pagado"), null=True, blank=True)
    # What was paid beyond everything owed, when the payer chose to keep it as credit.
    credit_balance = models.DecimalField(_("saldo a favor"), **MONEY, default=ZERO)
    # Kept current by the daily delinquency task; reports compute the same in SQL.
    days_past_due = models.PositiveIntegerField(_("días de atraso"), default=0)
    bucket = models.CharField(
        _("tramo de morosidad"), max_length=10, choices=Bucket, default=Bucket.CURRENT
    )
    # The vehicle pledged, when there is one.
    vehicle_brand = models.CharField(_("marca"), max_length=60, blank=True)
    vehicle_model = models.CharField(_("modelo"), max_length=60, blank=True)
    vehicle_year = models.PositiveIntegerField(
        _("año"), null=True, blank=True, validators=[MinValueValidator(1950)]
    )
    vehicle_plate = models.CharField(_("placa"), max_length=12, blank=True)
    vehicle_vin = models.CharField(_("VIN"), max_length=17, blank=True)
    # The co-signer (*aval*), on the loan itself: its contract names them and asks them to
    # sign, whether the loan came from a credit application or was typed in directly.
    cosigner_name = models.CharField(_("aval: nombre"), max_length=200, blank=True)
    cosigner_email = models.EmailField(_("aval: correo"), blank=True)
    cosigner_document = models.CharField(_("aval: documento"), max_length=20, blank=True)
    notes = models.TextField(_("observaciones"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registrado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("creado"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("actualizado"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("crédito")
        verbose_name_plural = _("créditos")
        permissions = [
            ("disburse_loan", _("Puede desembolsar créditos")),
            ("cancel_loan", _("Puede anular créditos (antes del desembolso)")),
            ("write_off_loan", _("Puede castigar créditos")),
            ("view_portfolio", _("Puede ver el reporte de cartera")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=LOAN_STATUSES), name="credits_loan_status_valid"
            ),
            models.CheckConstraint(condition=Q(principal__gt=0), name="credits_loan_principal_pos"),
            models.CheckConstraint(condition=Q(term__gte=1), name="credits_loan_term_pos"),
            models.CheckConstraint(
                condition=Q(credit_balance__gte=0), name="credits_loan_credit_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "bucket"], name="credits_loan_status_bucket"),
            models.Index(fields=["customer", "status"], name="credits_loan_customer_status"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_code} · {self.customer}"

    def get_absolute_url(self) -> str:
        return reverse("credits:loan_detail", args=[self.pk])

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.Status(self.status)]

    @property
    def first_due_passed(self) -> bool:
        """Whether the first installment's day is before today: a loan disbursed now would
        start with it overdue (the schedule keeps the signed dates)."""
        return self.first_due_date < timezone.localdate()

    @property
    def has_vehicle(self) -> bool:
        return bool(self.vehicle_plate or self.vehicle_vin or self.vehicle_brand)

    @property
    def has_cosigner(self) -> bool:
        return bool(self.cosigner_name or self.cosigner_email)

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE

    @property
    def disbursed_on(self) -> date | None:
        """Return the local day the loan was disbursed (its start date if no moment was kept)."""
        if self.disbursed_at is not None:
            return timezone.localdate(self.disbursed_at)
        return self.start_date if self.status in self.DISBURSED else None


class Installment(models.Model):
    """One installment of a loan's schedule, with what it asks for and what was paid."""

    class Kind(models.TextChoices):
        REGULAR = "regular", _("Cuota")
        PREPAYMENT = "prepayment", _("Prepago de capital")

    loan = models.ForeignKey(
        Loan, verbose_name=_("crédito"), on_delete=models.CASCADE, related_name="installments"
    )
    number = models.PositiveIntegerField(_("número"))
    kind = models.CharField(_("tipo"), max_length=12, choices=Kind, default=Kind.REGULAR)
    due_date = models.DateField(_("vencimiento"))
    principal_due = models.DecimalField(_("capital"), **MONEY)
    interest_due = models.DecimalField(_("interés"), **MONEY)
    fee_due = models.DecimalField(_("comisiones"), **MONEY, default=ZERO)
    late_interest_due = models.DecimalField(_("interés moratorio"), **MONEY, default=ZERO)
    principal_paid = models.DecimalField(_("capital pagado"), **MONEY, default=ZERO)
    interest_paid = models.DecimalField(_("interés pagado"), **MONEY, default=ZERO)
    fee_paid = models.DecimalField(_("comisiones pagadas"), **MONEY, default=ZERO)
    late_interest_paid = models.DecimalField(_("mora pagada"), **MONEY, default=ZERO)
    # Set when nothing is left to pay; cleared again if an annulment re-opens it.
    paid_on = models.DateField(_("pagada el"), null=True, blank=True)
    # Late interest is accrued up to this day (the daily task moves it forward), on running
    # totals counted from the due date (credits.services.delinquency): nothing else is kept.
    late_accrued_through = models.DateField(null=True, blank=True, editable=False)
    # A prepayment that re-schedules replaces the open installments: the old rows stay,
    # superseded, so annulling that payment can bring them back exactly.
    is_superseded = models.BooleanField(_("reemplazada"), default=False)
    created_by_payment = models.ForeignKey(
        "Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    superseded_by_payment = models.ForeignKey(
        "Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["loan", "number"]
        verbose_name = _("cuota")
        verbose_name_plural = _("cuotas")
        constraints = [
            models.UniqueConstraint(
                fields=["loan", "number"],
                condition=Q(is_superseded=False),
                name="credits_installment_number_unique_live",
            ),
            models.CheckConstraint(
                condition=Q(principal_paid__lte=F("principal_due"))
                & Q(interest_paid__lte=F("interest_due"))
                & Q(fee_paid__lte=F("fee_due"))
                & Q(late_interest_paid__lte=F("late_interest_due")),
                name="credits_installment_not_overpaid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["loan", "due_date"],
                condition=Q(is_superseded=False),
                name="credits_inst_live_due",
            ),
            models.Index(
                fields=["due_date"],
                condition=Q(is_superseded=False, paid_on__isnull=True),
                name="credits_inst_open_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.loan.payment_code} #{self.number}"

    def due(self, component: str) -> Decimal:
        return getattr(self, f"{component}_due")

    def paid(self, component: str) -> Decimal:
        return getattr(self, f"{component}_paid")

    def pending(self, component: str) -> Decimal:
        return self.due(component) - self.paid(component)

    @property
    def total_due(self) -> Decimal:
        return sum(_DUE_COLUMNS(self), ZERO)

    @property
    def total_paid(self) -> Decimal:
        return sum(_PAID_COLUMNS(self), ZERO)

    @property
    def total_pending(self) -> Decimal:
        return self.total_due - self.total_paid

    def days_late(self, today) -> int:
        if self.paid_on is not None or self.due_date >= today:
            return 0
        return (today - self.due_date).days


def contract_upload_to(contract: "LoanContract", filename: str) -> str:
    # Private: under a random folder, served only by views.contract_file (lib/files.py).
    return files.private_name("contratos", filename)


class LoanContract(models.Model):
    """A contract sent for electronic signature (DocuSeal) and its signed document."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Por enviar")
        SENT = "sent", _("Enviado a firma")
        COMPLETED = "completed", _("Firmado")
        DECLINED = "declined", _("Rechazado")
        EXPIRED = "expired", _("Vencido")
        # Archived in DocuSeal before everyone signed: its signers can no longer sign.
        ARCHIVED = "archived", _("Archivado en DocuSeal")
        # Voided in DocuSeal before everyone signed: its signers can no longer sign.
        VOIDED = "voided", _("Anulado en DocuSeal")
        FAILED = "failed", _("Error al enviar")

    # A send's Celery retries are at most ~2 minutes apart (credits.tasks.send_contract): a
    # contract "Por enviar" with no attempt for this long has no send under way.
    SEND_STALLED_AFTER = timedelta(minutes=15)

    loan = models.ForeignKey(
        Loan, verbose_name=_("crédito"), on_delete=models.PROTECT, related_name="contracts"
    )
    provider = models.CharField(max_length=20, default="docuseal")
    submission_id = models.BigIntegerField(_("n.º de envío"), null=True, blank=True, unique=True)
    status = models.CharField(_("estado"), max_length=10, choices=Status, default=Status.PENDING)
    signer_email = models.EmailField(_("firmante"))
    # DocuSeal's links expire: the signed PDF is kept here, the link for reference.
    signed_file = models.FileField(_("contrato firmado"), upload_to=contract_upload_to, blank=True)
    document_url = models.URLField(_("enlace del documento"), max_length=1000, blank=True)
    audit_log_url = models.URLField(_("registro de auditoría"), max_length=1000, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("creado"), default=timezone.now)
    sent_at = models.DateTimeField(_("enviado"), null=True, blank=True)
    # When a send to DocuSeal last started, committed before the call: a later send first
    # asks DocuSeal whether that one created the submission, and a contract still "Por
    # enviar" SEND_STALLED_AFTER later had its send cut off.
    send_attempted_at = models.DateTimeField(_("último intento de envío"), null=True, blank=True)
    completed_at = models.DateTimeField(_("firmado"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("contrato")
        verbose_name_plural = _("contratos")

    def __str__(self) -> str:
        return f"{self.loan.payment_code} · {self.get_status_display()}"

    @property
    def external_id(self) -> str:
        """Our id for the borrower in DocuSeal, echoed back in its webhooks."""
        return f"cartera-contract-{self.pk}"

    def is_send_stalled(self, now: datetime | None = None) -> bool:
        """Whether the contract is still "Por enviar" with no send under way: its send was
        cut off (a worker lost, a failed publish) and it may be sent again."""
        if self.status != self.Status.PENDING:
            return False
        started = self.send_attempted_at or self.created_at
        return started < (now or timezone.now()) - self.SEND_STALLED_AFTER

    @property
    def send_stalled(self) -> bool:
        """`is_send_stalled()` now, for templates."""
        return self.is_send_stalled()


class LoanContractSigner(models.Model):
    """One person who signs a contract: the borrower, the co-signer, the lender's
    representative; each is a *submitter* of the contract's DocuSeal submission."""

    class Kind(models.TextChoices):
        BORROWER = "borrower", _("Titular")
        COSIGNER = "cosigner", _("Aval")
        LENDER = "lender", _("Representante del prestamista")

    class Status(models.TextChoices):
        PENDING = "pending", _("Por firmar")
        COMPLETED = "completed", _("Firmó")
        DECLINED = "declined", _("Rechazó")

    contract = models.ForeignKey(
        LoanContract, verbose_name=_("contrato"), on_delete=models.CASCADE, related_name="signers"
    )
    kind = models.CharField(_("firma como"), max_length=10, choices=Kind)
    # The template's role this signer fills (DOCUSEAL_SIGNER_ROLE, _COSIGNER_ROLE, _LENDER_ROLE).
    role = models.CharField(_("rol en la plantilla"), max_length=100)
    name = models.CharField(_("nombre"), max_length=200)
    email = models.EmailField(_("correo"))
    # DocuSeal's id for this signer in the submission, once it was created.
    submitter_id = models.BigIntegerField(_("n.º de firmante"), null=True, blank=True)
    status = models.CharField(_("estado"), max_length=10, choices=Status, default=Status.PENDING)
    completed_at = models.DateTimeField(_("firmó"), null=True, blank=True)

    class Meta:
        ordering = ["contract", "id"]
        verbose_name = _("firmante")
        verbose_name_plural = _("firmantes")
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "kind"], name="credits_contract_signer_unique_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name} <{self.email}>"

    @property
    def external_id(self) -> str:
        """Our id for this signer in DocuSeal: the borrower keeps the contract's own."""
        if self.kind == self.Kind.BORROWER:
            return f"cartera-contract-{self.contract_id}"
        return f"cartera-contract-{self.contract_id}-{self.kind}"
