"""The append-only ledger: every change to what a loan owes or was paid, with who and why."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from credits.models.loans import ZERO, Installment, Loan
from credits.models.payments import Payment
from lib.money import MONEY


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
