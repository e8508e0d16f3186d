"""Write-offs in bulk (*castigo en lote*): the batch, with who, when, why and what it matched,
and one row per loan it covers with what became of it (credits/write_offs/services.py runs it)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from credits.models.loans import ZERO, Loan, LoanProduct
from crm.models import Branch
from lib.money import MONEY, Currency


class WriteOffBatch(models.Model):
    """The active loans one person chose to write off together, and how the run went.

    Its life: queued → running → done, or failed when its worker stopped too many times
    (lib.progress.send_again). The loans it covers are fixed when it is confirmed (its
    items); each is written off in its own transaction, so what was done stays done.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("En cola")
        RUNNING = "running", _("En curso")
        DONE = "done", _("Terminado")
        FAILED = "failed", _("Interrumpido")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("castigado por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("confirmado"), default=timezone.now)
    reason = models.CharField(_("motivo"), max_length=200)
    # The criteria, as confirmed.
    currency = models.CharField(_("moneda"), max_length=3, choices=Currency)
    product = models.ForeignKey(
        LoanProduct,
        verbose_name=_("producto"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    branch = models.ForeignKey(
        Branch,
        verbose_name=_("sucursal"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    min_days_past_due = models.PositiveIntegerField(_("días de atraso mínimos"))
    # The payment codes pasted, if any: only those loans were looked at.
    payment_codes = models.JSONField(_("códigos de pago"), default=list, blank=True)
    # What the confirmation page showed: the loans and what they owed then.
    loan_count = models.PositiveIntegerField(_("créditos"))
    principal_at_confirmation = models.DecimalField(_("capital al confirmar"), **MONEY)
    total_at_confirmation = models.DecimalField(_("saldo al confirmar"), **MONEY)
    # The run.
    status = models.CharField(
        _("estado"), max_length=10, choices=Status, default=Status.QUEUED, db_index=True
    )
    started_at = models.DateTimeField(_("iniciado"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminado"), null=True, blank=True)
    # How many times beat sent the batch again after it went without progress.
    attempts = models.PositiveSmallIntegerField(_("reenvíos"), default=0)
    failure = models.TextField(_("motivo del fallo"), blank=True)
    # Counted from the items when the run ends.
    written_off_count = models.PositiveIntegerField(_("castigados"), default=0)
    skipped_count = models.PositiveIntegerField(_("omitidos"), default=0)
    principal_written_off = models.DecimalField(_("capital castigado"), **MONEY, default=ZERO)
    total_written_off = models.DecimalField(_("saldo castigado"), **MONEY, default=ZERO)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("castigo en lote")
        verbose_name_plural = _("castigos en lote")
        constraints = [
            models.CheckConstraint(
                condition=Q(min_days_past_due__gte=1), name="credits_writeoffbatch_days_pos"
            ),
        ]

    def __str__(self) -> str:
        return _("Castigo en lote #%(n)s") % {"n": self.pk}

    def get_absolute_url(self) -> str:
        return reverse("credits:write_off_batch", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def progress_cache_key(self) -> str:
        return f"credits:write-off:{self.pk}:progress"


class WriteOffItem(models.Model):
    """One loan of a batch: waiting, written off (with what it owed then), or skipped and why."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Por castigar")
        WRITTEN_OFF = "written_off", _("Castigado")
        SKIPPED = "skipped", _("Omitido")

    batch = models.ForeignKey(
        WriteOffBatch, verbose_name=_("lote"), on_delete=models.CASCADE, related_name="items"
    )
    loan = models.ForeignKey(
        Loan, verbose_name=_("crédito"), on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(
        _("resultado"), max_length=12, choices=Outcome, default=Outcome.PENDING
    )
    # Why a skipped loan was not written off ("Pagado desde la vista previa.").
    note = models.CharField(_("motivo"), max_length=255, blank=True)
    principal = models.DecimalField(_("capital castigado"), **MONEY, default=ZERO)
    total = models.DecimalField(_("saldo castigado"), **MONEY, default=ZERO)
    done_at = models.DateTimeField(_("hecho"), null=True, blank=True)

    class Meta:
        ordering = ["batch", "id"]
        verbose_name = _("crédito del castigo en lote")
        verbose_name_plural = _("créditos del castigo en lote")
        constraints = [
            models.UniqueConstraint(fields=["batch", "loan"], name="credits_writeoffitem_unique"),
        ]
        indexes = [
            models.Index(fields=["batch", "outcome"], name="credits_writeoffitem_outcome"),
        ]

    def __str__(self) -> str:
        return f"#{self.batch_id} · {self.loan_id}"
