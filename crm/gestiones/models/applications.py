"""Credit applications: the gestión that asks for a loan, from the lead to the disbursement.

A lead (`CreditLead`: the calculator's "Quiero un crédito" form, a campaign's answer) is
what a prospect typed; it becomes a customer and an application at once, or waits for a
person when its document belongs to a customer whose data differs (never overwritten
without confirmation).

One row per credit-application gestión, holding what the loan will be made of (product,
amount, term, rate) and the moments the time metrics are measured from: when the lead
arrived, when the application was approved; its draft loan (linked both ways: the loan
is also in `Gestion.loans`) gives the signature and disbursement moments.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from credits.schedule import MAX_ANNUAL_RATE, MAX_TERM
from crm.gestiones.models.gestiones import USER, Gestion
from crm.models import Customer
from lib.money import MONEY, RATE


class Source(models.TextChoices):
    CALCULATOR = "calculator", _("Calculadora web")
    CAMPAIGN = "campaign", _("Campaña")
    CALL_CENTER = "call_center", _("Call center")
    WALK_IN = "walk_in", _("Asesor")


class CreditApplication(models.Model):
    Source = Source

    gestion = models.OneToOneField(
        Gestion, verbose_name=_("gestión"), on_delete=models.CASCADE, related_name="application"
    )
    source = models.CharField(_("origen"), max_length=12, choices=Source, default=Source.WALK_IN)
    # When the lead reached us (the form sent, the campaign answered); the gestión's
    # creation when an advisor opened the application by hand.
    lead_received_at = models.DateTimeField(_("lead recibido"), default=timezone.now)
    loan_product = models.ForeignKey(
        "credits.LoanProduct",
        verbose_name=_("producto de crédito"),
        on_delete=models.PROTECT,
        related_name="applications",
    )
    amount = models.DecimalField(_("monto"), **MONEY, validators=[MinValueValidator(0)])
    term = models.PositiveIntegerField(
        _("plazo (cuotas)"), validators=[MinValueValidator(1), MaxValueValidator(MAX_TERM)]
    )
    # Empty: the product's rate.
    annual_rate = models.DecimalField(
        _("tasa nominal anual (%)"),
        **RATE,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_ANNUAL_RATE)],
    )
    # The co-signer (*aval*), when the product asks for one: a signer of the contract.
    cosigner_name = models.CharField(_("aval: nombre"), max_length=200, blank=True)
    cosigner_email = models.EmailField(_("aval: correo"), blank=True)
    cosigner_document = models.CharField(_("aval: documento"), max_length=20, blank=True)
    # The draft loan made when the application was approved.
    loan = models.OneToOneField(
        "credits.Loan",
        verbose_name=_("crédito"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="application",
    )
    approved_at = models.DateTimeField(_("aprobada"), null=True, blank=True)
    created_at = models.DateTimeField(_("creada"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("solicitud de crédito")
        verbose_name_plural = _("solicitudes de crédito")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="gestiones_application_amount_pos"
            ),
        ]
        indexes = [
            models.Index(fields=["lead_received_at"], name="gestiones_app_lead_at"),
        ]

    def __str__(self) -> str:
        return f"{self.gestion} · {self.loan_product}"


class CreditLead(models.Model):
    """What a prospect asked for, as typed, until it is an application (or discarded)."""

    Source = Source

    class Status(models.TextChoices):
        # The document is a customer's whose name or contact data differ: a person decides.
        TO_CONFIRM = "to_confirm", _("Por confirmar cliente")
        CONVERTED = "converted", _("Convertido en solicitud")
        DISCARDED = "discarded", _("Descartado")

    source = models.CharField(_("origen"), max_length=12, choices=Source)
    received_at = models.DateTimeField(_("recibido"), default=timezone.now)
    # What the prospect typed: names, document, phone, email, product, amount, term.
    data = models.JSONField(_("datos"), default=dict)
    status = models.CharField(
        _("estado"), max_length=12, choices=Status, default=Status.TO_CONFIRM, db_index=True
    )
    # The customer whose document the lead gave, when one exists (to confirm or converted).
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("cliente"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="credit_leads",
    )
    application = models.OneToOneField(
        CreditApplication,
        verbose_name=_("solicitud"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="lead",
    )
    decided_by = models.ForeignKey(
        USER,
        verbose_name=_("decidido por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decidido"), null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("lead de crédito")
        verbose_name_plural = _("leads de crédito")
        indexes = [models.Index(fields=["received_at"], name="gestiones_lead_received")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_source_display()}"
