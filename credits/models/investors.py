"""Investors, their shares of loans, what each payment gave them, and their liquidations."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from credits.models.loans import ZERO, Loan
from credits.models.payments import Payment
from crm.models import Customer
from lib import search
from lib.money import MONEY, Currency


class Investor(models.Model):
    """A person or company whose money funds loans."""

    class Kind(models.TextChoices):
        PERSON = "person", _("Persona natural")
        COMPANY = "company", _("Empresa")

    kind = models.CharField(_("tipo"), max_length=10, choices=Kind, default=Kind.PERSON)
    name = models.CharField(_("nombre o razón social"), max_length=200)
    document_type = models.CharField(
        _("tipo de documento"),
        max_length=10,
        choices=Customer.DocumentType,
        default=Customer.DocumentType.DNI,
    )
    document_number = models.CharField(_("número de documento"), max_length=20)
    email = models.EmailField(_("correo electrónico"), blank=True)
    phone = models.CharField(_("teléfono"), max_length=30, blank=True)
    bank_name = models.CharField(_("banco"), max_length=80, blank=True)
    bank_account = models.CharField(_("cuenta"), max_length=40, blank=True)
    bank_cci = models.CharField(_("CCI"), max_length=20, blank=True)
    currency = models.CharField(_("moneda"), max_length=3, choices=Currency, default=Currency.PEN)
    is_active = models.BooleanField(_("activo"), default=True)
    # Name, document, e-mail and phone digits, normalized: what the list's search reads;
    # whoever writes an investor sets it (credits.investors.services, the admin, the seed).
    search_text = models.TextField(editable=False, default="")
    created_at = models.DateTimeField(_("creado"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("inversionista")
        verbose_name_plural = _("inversionistas")
        constraints = [
            models.UniqueConstraint(
                fields=["document_type", "document_number"], name="credits_investor_document"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("credits:investor_detail", args=[self.pk])

    def build_search_text(self) -> str:
        """Return the normalized text the investor search matches against."""
        return self.search_text_for(
            name=self.name, document_number=self.document_number, email=self.email, phone=self.phone
        )

    @staticmethod
    def search_text_for(*, name: str, document_number: str, email: str, phone: str) -> str:
        """Return the search text of an investor with these data: the phone as its digits,
        so "+51 999-123-456" is found by "999123456" (lib.search.terms joins a typed number)."""
        parts = [name, document_number, email, search.digits_of(phone or "")]
        return search.normalize(" ".join(p for p in parts if p))


class Participation(models.Model):
    """The part of a loan an investor funds."""

    investor = models.ForeignKey(
        Investor,
        verbose_name=_("inversionista"),
        on_delete=models.PROTECT,
        related_name="participations",
    )
    loan = models.ForeignKey(
        Loan, verbose_name=_("crédito"), on_delete=models.PROTECT, related_name="participations"
    )
    amount = models.DecimalField(_("monto invertido"), **MONEY)
    # The share of every payment this participation receives, in percent of the principal.
    share = models.DecimalField(
        _("participación (%)"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    created_at = models.DateTimeField(_("creado"), default=timezone.now)

    class Meta:
        ordering = ["loan", "-share", "id"]
        verbose_name = _("participación")
        verbose_name_plural = _("participaciones")
        constraints = [
            models.UniqueConstraint(fields=["investor", "loan"], name="credits_participation_once"),
            models.CheckConstraint(
                condition=Q(share__gt=0) & Q(share__lte=100), name="credits_participation_share"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.investor} · {self.loan.payment_code} · {self.share}%"


class Liquidation(models.Model):
    """An investor's statement for a period: what they earned and what is paid out."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Borrador")
        PAID = "paid", _("Pagada")

    investor = models.ForeignKey(
        Investor,
        verbose_name=_("inversionista"),
        on_delete=models.PROTECT,
        related_name="liquidations",
    )
    period_start = models.DateField(_("desde"))
    period_end = models.DateField(_("hasta"))
    principal = models.DecimalField(_("capital devuelto"), **MONEY, default=ZERO)
    interest = models.DecimalField(_("interés bruto"), **MONEY, default=ZERO)
    platform_fee = models.DecimalField(_("comisión de la plataforma"), **MONEY, default=ZERO)
    net_amount = models.DecimalField(_("neto a pagar"), **MONEY, default=ZERO)
    status = models.CharField(_("estado"), max_length=10, choices=Status, default=Status.DRAFT)
    paid_at = models.DateTimeField(_("pagada"), null=True, blank=True)
    payout_reference = models.CharField(_("n.º de operación del abono"), max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("creada"), default=timezone.now)

    class Meta:
        ordering = ["-period_end", "investor__name"]
        verbose_name = _("liquidación")
        verbose_name_plural = _("liquidaciones")
        constraints = [
            models.CheckConstraint(
                condition=Q(period_start__lte=F("period_end")), name="credits_liquidation_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.investor} · {self.period_start:%d/%m/%Y}–{self.period_end:%d/%m/%Y}"

    def get_absolute_url(self) -> str:
        return reverse("credits:liquidation_detail", args=[self.pk])


class Distribution(models.Model):
    """What one applied payment gave one participation; a reversal has negative amounts."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="distributions")
    participation = models.ForeignKey(
        Participation, on_delete=models.PROTECT, related_name="distributions"
    )
    investor = models.ForeignKey(Investor, on_delete=models.PROTECT, related_name="distributions")
    principal = models.DecimalField(_("capital"), **MONEY)
    interest = models.DecimalField(_("interés"), **MONEY)
    platform_fee = models.DecimalField(_("comisión de la plataforma"), **MONEY)
    net = models.DecimalField(_("neto"), **MONEY)
    reversal_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal"
    )
    liquidation = models.ForeignKey(
        Liquidation, on_delete=models.PROTECT, null=True, blank=True, related_name="lines"
    )
    # The day the money moved: the payment's date, or the annulment's for a reversal.
    value_date = models.DateField(_("fecha valor"), default=timezone.localdate)
    created_at = models.DateTimeField(_("registrado"), default=timezone.now)

    class Meta:
        ordering = ["value_date", "id"]
        verbose_name = _("reparto")
        verbose_name_plural = _("repartos")
        indexes = [
            models.Index(fields=["investor", "value_date"], name="credits_dist_investor_date")
        ]

    def __str__(self) -> str:
        return f"{self.investor} · {self.net}"
