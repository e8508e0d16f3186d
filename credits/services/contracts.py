"""Loan contracts signed through DocuSeal: sending, sending again, and what the webhook says."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from credits.models import (
    Loan,
    LoanContract,
)
from credits.services import ledger, loans
from crm import services as crm_services
from crm.models import Interaction
from integrations import docuseal, webhooks
from integrations.errors import ProviderError, TemporaryProviderError
from integrations.models import WebhookEvent
from lib import queue


def is_docuseal_configured() -> bool:
    """Tell whether contracts can go out: DocuSeal's API key and template are set."""
    return bool(settings.DOCUSEAL_API_KEY and settings.DOCUSEAL_TEMPLATE_ID)


def _require_docuseal() -> None:
    if not is_docuseal_configured():
        raise ValidationError(
            _(
                "DocuSeal no está configurado (faltan DOCUSEAL_API_KEY o DOCUSEAL_TEMPLATE_ID): "
                "el contrato no se envió. Pida a un administrador que lo configure; si el "
                "cliente firma en papel, un supervisor lo registra con «Firmado en físico»."
            )
        )


@transaction.atomic
def send_for_signature(*, loan: Loan, actor: AbstractBaseUser | None) -> LoanContract:
    """Move a draft to "awaiting signature" and queue the contract for DocuSeal.

    Nothing moves when DocuSeal is not configured: the contract could never go out.
    """
    loan = ledger.locked(loan)
    if not loan.customer.email:
        raise ValidationError(
            _("El cliente no tiene correo electrónico: regístrelo para enviarle el contrato.")
        )
    _require_docuseal()
    ledger.move_status(
        loan,
        Loan.Status.AWAITING_SIGNATURE,
        actor=actor,
        reason=_("Contrato en cola para firma electrónica (DocuSeal)"),
    )
    contract = LoanContract.objects.create(loan=loan, signer_email=loan.customer.email)
    queue.enqueue("credits.send_contract", contract_id=contract.pk)
    return contract


def contract_values(loan: Loan) -> dict[str, str]:
    """Return the template's pre-filled fields: DocuSeal field name → value.

    The DocuSeal template must name its fields like these keys (see the README).
    """
    customer = loan.customer
    plan = loans.schedule_for(loan)
    values = {
        "Nombre": customer.full_name,
        "Documento": f"{customer.get_document_type_display()} {customer.document_number}",
        "Direccion": ", ".join(p for p in (customer.address, customer.city) if p),
        "Correo": customer.email,
        "Codigo de pago": loan.payment_code,
        "Moneda": loan.currency,
        "Monto": f"{loan.principal:.2f}",
        "Tasa anual": f"{loan.annual_rate.normalize():f} %",
        "Plazo": str(loan.term),
        "Frecuencia": loan.get_frequency_display(),
        "Cuota": f"{plan.installment:.2f}",
        "Primer vencimiento": loan.first_due_date.strftime("%d/%m/%Y"),
        "Total a pagar": f"{plan.total:.2f}",
    }
    if loan.has_vehicle:
        values["Vehiculo"] = " ".join(
            str(v) for v in (loan.vehicle_brand, loan.vehicle_model, loan.vehicle_year) if v
        )
        values["Placa"] = loan.vehicle_plate
        values["VIN"] = loan.vehicle_vin
    return values


def send_contract(*, contract_id: int) -> None:
    """Create the DocuSeal submission of a pending contract; safe to run twice.

    A temporary provider error propagates (the task retries); a definitive one marks the
    contract failed, with the error, for someone to fix the data and send it again.
    """
    with transaction.atomic():
        contract = (
            LoanContract.objects.select_for_update()
            .select_related("loan__customer")
            .get(pk=contract_id)
        )
        if contract.status != LoanContract.Status.PENDING:
            return
        loan = contract.loan
        try:
            created = docuseal.create_submission(
                template_id=settings.DOCUSEAL_TEMPLATE_ID,
                role=settings.DOCUSEAL_SIGNER_ROLE,
                submitter_email=contract.signer_email,
                submitter_name=loan.customer.full_name,
                submitter_phone=str(loan.customer.phone or ""),
                values=contract_values(loan),
                external_id=contract.external_id,
                message_subject=_("Contrato de su crédito %(code)s") % {"code": loan.payment_code},
                readonly_values=True,
            )
        except TemporaryProviderError:
            raise
        except ProviderError as exc:
            contract.status = LoanContract.Status.FAILED
            contract.error = str(exc)
            contract.save(update_fields=["status", "error"])
            crm_services.record_interaction(
                customer=loan.customer,
                kind=Interaction.Kind.SYSTEM,
                summary=_("No se pudo enviar a firma el contrato del crédito %(code)s: %(e)s")
                % {"code": loan.payment_code, "e": exc},
                payload={"loan": loan.pk, "contract": contract.pk},
            )
            return
        contract.submission_id = created.submission_id
        contract.status = LoanContract.Status.SENT
        contract.sent_at = timezone.now()
        contract.error = ""
        contract.save(update_fields=["submission_id", "status", "sent_at", "error"])
        crm_services.record_interaction(
            customer=loan.customer,
            kind=Interaction.Kind.EMAIL,
            direction=Interaction.Direction.OUTBOUND,
            summary=_("Contrato del crédito %(code)s enviado a firma a %(email)s")
            % {"code": loan.payment_code, "email": contract.signer_email},
            payload={"loan": loan.pk, "contract": contract.pk, "submission": created.submission_id},
        )


@transaction.atomic
def resend_contract(*, loan: Loan, actor: AbstractBaseUser | None) -> LoanContract:
    """Send the contract of a loan awaiting signature again (after a failure or a decline)."""
    loan = ledger.locked(loan)
    if loan.status != Loan.Status.AWAITING_SIGNATURE:
        raise ValidationError(_("Solo se reenvía el contrato de un crédito «Por firmar»."))
    if loan.contracts.filter(status__in=[LoanContract.Status.PENDING, LoanContract.Status.SENT]):
        raise ValidationError(_("Hay un contrato en curso: espere la firma o su rechazo."))
    if not loan.customer.email:
        raise ValidationError(_("El cliente no tiene correo electrónico."))
    _require_docuseal()
    contract = LoanContract.objects.create(loan=loan, signer_email=loan.customer.email)
    queue.enqueue("credits.send_contract", contract_id=contract.pk)
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Contrato del crédito %(code)s en cola para reenviarse a firma (DocuSeal)")
        % {"code": loan.payment_code},
        payload={"loan": loan.pk, "contract": contract.pk},
        actor=actor,
    )
    return contract


def process_docuseal_event(event: WebhookEvent) -> None:
    """Apply a stored DocuSeal webhook to its contract; a duplicate or late one changes nothing.

    All parties signed: keep the signed PDF and its link, and move a loan still awaiting
    signature to "ready to disburse". A decline or an expiry marks the contract so.
    """
    parsed = docuseal.parse_event(event.raw_body.encode())
    contract = (
        LoanContract.objects.select_for_update()
        .select_related("loan__customer")
        .filter(submission_id=parsed.submission_id)
        .first()
    )
    if contract is None:
        raise webhooks.IgnoreEvent(f"No contract for DocuSeal submission {parsed.submission_id}.")
    loan = contract.loan
    if parsed.all_completed:
        if contract.status == LoanContract.Status.COMPLETED:
            raise webhooks.IgnoreEvent("The contract was already signed.")
        url = parsed.combined_document_url or (parsed.documents[0][1] if parsed.documents else "")
        if url:
            contract.signed_file.save(
                f"{loan.payment_code}-contrato.pdf", ContentFile(docuseal.download(url)), save=False
            )
        contract.status = LoanContract.Status.COMPLETED
        contract.document_url = url
        contract.audit_log_url = parsed.audit_log_url
        contract.completed_at = parsed.timestamp
        contract.save()
        crm_services.record_interaction(
            customer=loan.customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Contrato del crédito %(code)s firmado por todas las partes")
            % {"code": loan.payment_code},
            payload={"loan": loan.pk, "contract": contract.pk, "document": url},
            occurred_at=parsed.timestamp,
        )
        loan = ledger.locked(loan)
        if loan.status == Loan.Status.AWAITING_SIGNATURE:
            ledger.move_status(
                loan, Loan.Status.READY_TO_DISBURSE, actor=None, reason=_("Contrato firmado")
            )
        return
    if parsed.event_type == "form.declined" and contract.status != LoanContract.Status.COMPLETED:
        contract.status = LoanContract.Status.DECLINED
        contract.save(update_fields=["status"])
        summary = _("El cliente rechazó firmar el contrato del crédito %(code)s")
    elif (
        parsed.event_type == "submission.expired"
        and contract.status != LoanContract.Status.COMPLETED
    ):
        contract.status = LoanContract.Status.EXPIRED
        contract.save(update_fields=["status"])
        summary = _("Venció el plazo para firmar el contrato del crédito %(code)s")
    elif parsed.event_type == "form.completed":
        summary = _("Un firmante completó el contrato del crédito %(code)s")
    else:
        raise webhooks.IgnoreEvent(f"Nothing to do for {parsed.event_type}.")
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=summary % {"code": loan.payment_code},
        payload={"loan": loan.pk, "contract": contract.pk, "event": parsed.event_type},
        occurred_at=parsed.timestamp,
    )
