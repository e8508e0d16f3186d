"""Payments received for a loan, how each was applied to its installments, and the
append-only ledger of every change to what a loan owes or was paid, with who and why."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from credits.models.loans import ZERO, Component, Installment, Loan
from lib import files
from lib.money import MONEY


def receipt_upload_to(payment: "Payment", filename: str) -> str:
    # Private: under a random folder, served only by views.payment_receipt (lib/files.py).
    return files.private_name("recibos", filename)


class PaymentQuerySet(models.QuerySet):
    def received(self) -> "PaymentQuerySet":
        """Payments that brought money in: all but those spending a loan's credit balance,
        which is money a payment before brought (and counted) already. Whatever adds up
        what was paid or collected reads this, so the same money is never counted twice."""
        return self.exclude(source=Payment.Source.CREDIT_BALANCE)


class Payment(models.Model):
    """Money received for a loan, and how it was applied."""

    class Source(models.TextChoices):
        CASH = "cash", _("Efectivo")
        TRANSFER = "transfer", _("Transferencia")
        DEPOSIT = "deposit", _("Depósito bancario")
        MERCADOPAGO = "mercadopago", _("MercadoPago")
        # A brand, not a word: through gettext, Django's own Spanish catalog made it «Limpiar».
        CLEAR = "clear", "Clear"
        CREDIT_BALANCE = "credit_balance", _("Saldo a favor")
        OTHER = "other", _("Otro")

    class Overpayment(models.TextChoices):
        SHORTEN_TERM = "shorten_term", _("Prepagar capital y reducir el plazo")
        LOWER_INSTALLMENT = "lower_installment", _("Prepagar capital y reducir la cuota")
        CREDIT = "credit", _("Dejar como saldo a favor")

    class Status(models.TextChoices):
        APPLIED = "applied", _("Aplicado")
        ANNULLED = "annulled", _("Anulado")

    loan = models.ForeignKey(
        Loan, verbose_name=_("crédito"), on_delete=models.PROTECT, related_name="payments"
    )
    amount = models.DecimalField(_("monto"), **MONEY, validators=[MinValueValidator(0)])
    received_on = models.DateField(_("fecha de pago"))
    source = models.CharField(_("origen"), max_length=20, choices=Source)
    reference = models.CharField(_("n.º de operación"), max_length=80, blank=True)
    # A provider's id for the payment (MercadoPago…): the same one is never applied twice.
    external_id = models.CharField(max_length=120, null=True, blank=True, unique=True)
    receipt = models.FileField(_("comprobante"), upload_to=receipt_upload_to, blank=True)
    receipt_url = models.URLField(_("enlace al comprobante"), blank=True)
    overpayment = models.CharField(
        _("excedente"), max_length=20, choices=Overpayment, default=Overpayment.CREDIT
    )
    status = models.CharField(
        _("estado"), max_length=10, choices=Status, default=Status.APPLIED, db_index=True
    )
    # What the payment left beyond the installments it paid, and where that went.
    prepaid_principal = models.DecimalField(_("capital prepagado"), **MONEY, default=ZERO)
    credited = models.DecimalField(_("a saldo a favor"), **MONEY, default=ZERO)
    # What was received beyond everything the loan owed, accepted as such by who recorded
    # it (services.payments.apply_payment's `accept_overpayment`); part of `credited`.
    overpaid = models.DecimalField(_("pagado en exceso"), **MONEY, default=ZERO)
    # The loan's credit balance spent with the payment, which then settled the loan: what
    # the portal, the bot and a total link asked for was what was owed minus the credit
    # (services.payments.apply_payment). Annulled, the payment gives it back.
    credit_spent = models.DecimalField(_("saldo a favor usado"), **MONEY, default=ZERO)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registrado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("registrado"), default=timezone.now)
    annulled_at = models.DateTimeField(_("anulado"), null=True, blank=True)
    annulled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("anulado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    annul_reason = models.CharField(_("motivo de anulación"), max_length=255, blank=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["-received_on", "-id"]
        verbose_name = _("pago")
        verbose_name_plural = _("pagos")
        permissions = [("annul_payment", _("Puede anular pagos"))]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credits_payment_amount_pos"),
            models.CheckConstraint(
                condition=Q(overpaid__gte=0) & Q(overpaid__lte=F("credited")),
                name="credits_payment_overpaid_credited",
            ),
            models.CheckConstraint(
                condition=Q(credit_spent__gte=0), name="credits_payment_credit_spent_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["received_on"], name="credits_payment_received")]

    def __str__(self) -> str:
        return f"{self.loan.payment_code} · {self.amount} · {self.received_on}"

    @property
    def is_applied(self) -> bool:
        return self.status == self.Status.APPLIED


class PaymentAllocation(models.Model):
    """The part of a payment applied to one component of one installment."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    installment = models.ForeignKey(
        Installment, on_delete=models.PROTECT, related_name="allocations"
    )
    component = models.CharField(max_length=15, choices=Component)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["payment", "installment__number", "id"]
        verbose_name = _("imputación")
        verbose_name_plural = _("imputaciones")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credits_allocation_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.installment} {self.component} {self.amount}"


class LedgerEntry(models.Model):
    """An append-only record of one change to what is owed or paid on a loan.

    `owed` and `paid` are signed deltas of one component of one installment (or of the
    loan's credit balance when `component` is "credit"); summing them gives back every
    installment's due and paid amounts.
    """

    class Kind(models.TextChoices):
        DISBURSEMENT = "disbursement", _("Desembolso")
        PAYMENT = "payment", _("Pago")
        ALLOCATION = "allocation", _("Imputación")
        ANNULMENT = "annulment", _("Anulación")
        FEE = "fee", _("Comisión")
        LATE_INTEREST = "late_interest", _("Interés moratorio")
        RESCHEDULE = "reschedule", _("Reprogramación")
        CREDIT = "credit", _("Saldo a favor")
        WRITE_OFF = "write_off", _("Castigo")
        STATUS = "status", _("Cambio de estado")

    CREDIT_COMPONENT = "credit"

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="ledger_entries")
    installment = models.ForeignKey(
        Installment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    kind = models.CharField(_("tipo"), max_length=15, choices=Kind)
    component = models.CharField(_("componente"), max_length=15, blank=True)
    owed = models.DecimalField(_("adeudado (Δ)"), **MONEY, default=ZERO)
    paid = models.DecimalField(_("pagado (Δ)"), **MONEY, default=ZERO)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("usuario"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(_("motivo"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("fecha"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("asiento")
        verbose_name_plural = _("libro de movimientos")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.component} {self.owed}/{self.paid}"

    def save(self, *args, **kwargs) -> None:
        # Append-only: a correction is a new entry, never an edit.
        if self.pk is not None:
            raise ValidationError(_("Los asientos del libro no se modifican."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(_("Los asientos del libro no se eliminan."))
