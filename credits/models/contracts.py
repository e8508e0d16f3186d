"""A loan's contract and its signature through DocuSeal."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from credits.models.loans import Loan


class LoanContract(models.Model):
    """A contract sent for electronic signature (DocuSeal) and its signed document."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Por enviar")
        SENT = "sent", _("Enviado a firma")
        COMPLETED = "completed", _("Firmado")
        DECLINED = "declined", _("Rechazado")
        EXPIRED = "expired", _("Vencido")
        FAILED = "failed", _("Error al enviar")

    loan = models.ForeignKey(
        Loan, verbose_name=_("crédito"), on_delete=models.PROTECT, related_name="contracts"
    )
    provider = models.CharField(max_length=20, default="docuseal")
    submission_id = models.BigIntegerField(_("n.º de envío"), null=True, blank=True, unique=True)
    status = models.CharField(_("estado"), max_length=10, choices=Status, default=Status.PENDING)
    signer_email = models.EmailField(_("firmante"))
    # DocuSeal's links expire: the signed PDF is kept here, the link for reference.
    signed_file = models.FileField(_("contrato firmado"), upload_to="contracts/%Y/%m", blank=True)
    document_url = models.URLField(_("enlace del documento"), max_length=1000, blank=True)
    audit_log_url = models.URLField(_("registro de auditoría"), max_length=1000, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("creado"), default=timezone.now)
    sent_at = models.DateTimeField(_("enviado"), null=True, blank=True)
    completed_at = models.DateTimeField(_("firmado"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("contrato")
        verbose_name_plural = _("contratos")

    def __str__(self) -> str:
        return f"{self.loan.payment_code} · {self.get_status_display()}"

    @property
    def external_id(self) -> str:
        """Our id for the signer in DocuSeal, echoed back in its webhooks."""
        return f"cartera-contract-{self.pk}"
