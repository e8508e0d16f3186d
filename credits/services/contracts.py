"""Loan contracts signed through DocuSeal: sending, sending again, and what the webhook says.

A contract is one DocuSeal submission signed by everyone the loan needs, in this order:
the borrower, the co-signer (*aval*) when the product asks for one or the loan names one,
and the lender's representative when `DOCUSEAL_LENDER_SIGNER_EMAIL` is set. It is signed
when all of them are; then the loan is ready to disburse.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from credits.models import (
    Loan,
    LoanContract,
    LoanContractSigner,
    LoanProduct,
)
from credits.services import ledger, loans
from crm import services as crm_services
from crm.models import Interaction
from integrations import docuseal, webhooks
from integrations.errors import ProviderError, TemporaryProviderError
from integrations.models import WebhookEvent
from lib import queue


def template_id_for(product: LoanProduct | None) -> int | None:
    """Return the DocuSeal template of a product's contracts: its own, else the default."""
    if product is not None and product.contract_template_id:
        return product.contract_template_id
    return settings.DOCUSEAL_TEMPLATE_ID or None


def is_docuseal_configured(product: LoanProduct | None = None) -> bool:
    """Tell whether contracts can go out: DocuSeal's API key and a template are set."""
    return bool(settings.DOCUSEAL_API_KEY and template_id_for(product))


def _require_docuseal(product: LoanProduct | None = None) -> None:
    if not is_docuseal_configured(product):
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

    Nothing moves when DocuSeal is not configured, or a signer the contract needs has no
    e-mail: the contract could never go out.
    """
    loan = ledger.locked(loan)
    signers = signers_for(loan)
    _require_docuseal(loan.product)
    ledger.move_status(
        loan,
        Loan.Status.AWAITING_SIGNATURE,
        actor=actor,
        reason=_("Contrato en cola para firma electrónica (DocuSeal)"),
    )
    contract = _new_contract(loan, signers)
    queue.enqueue("credits.send_contract", contract_id=contract.pk)
    return contract


def signers_for(loan: Loan) -> list[LoanContractSigner]:
    """Return who signs the loan's contract, in signing order (unsaved rows).

    Raise ValidationError when the borrower, or a co-signer the product asks for, has no
    e-mail to be asked at.
    """
    customer = loan.customer
    if not customer.email:
        raise ValidationError(
            _("El cliente no tiene correo electrónico: regístrelo para enviarle el contrato.")
        )
    kind = LoanContractSigner.Kind
    signers = [
        LoanContractSigner(
            kind=kind.BORROWER,
            role=settings.DOCUSEAL_SIGNER_ROLE,
            name=customer.full_name,
            email=customer.email,
        )
    ]
    if loan.product.requires_cosigner or loan.has_cosigner:
        if not (loan.cosigner_name.strip() and loan.cosigner_email):
            raise ValidationError(
                _(
                    "El producto %(product)s exige un aval que firme el contrato: registre su "
                    "nombre y su correo con «Registrar aval», en los datos del crédito."
                )
                % {"product": loan.product.name}
                if loan.product.requires_cosigner
                else _(
                    "Registre el nombre y el correo del aval para enviarle el contrato: "
                    "«Cambiar aval», en los datos del crédito."
                )
            )
        signers.append(
            LoanContractSigner(
                kind=kind.COSIGNER,
                role=settings.DOCUSEAL_COSIGNER_ROLE,
                name=loan.cosigner_name.strip(),
                email=loan.cosigner_email,
            )
        )
    lender_email = getattr(settings, "DOCUSEAL_LENDER_SIGNER_EMAIL", "")
    if lender_email:
        signers.append(
            LoanContractSigner(
                kind=kind.LENDER,
                role=settings.DOCUSEAL_LENDER_ROLE,
                name=settings.DOCUSEAL_LENDER_SIGNER_NAME or _("Representante del prestamista"),
                email=lender_email,
            )
        )
    return signers


def _new_contract(loan: Loan, signers: list[LoanContractSigner]) -> LoanContract:
    contract = LoanContract.objects.create(loan=loan, signer_email=loan.customer.email)
    for signer in signers:
        signer.contract = contract
    LoanContractSigner.objects.bulk_create(signers)
    return contract


def signer_emails(contract: LoanContract) -> str:
    """Return the e-mails the contract asks to sign, in signing order ("a, b y c")."""
    return _joined([s.email for s in contract.signers.all()] or [contract.signer_email])


def planned_signer_emails(loan: Loan) -> str:
    """Return who the loan's contract would ask to sign ("" while one of them has no e-mail)."""
    try:
        return _joined([s.email for s in signers_for(loan)])
    except ValidationError:
        return ""


def _joined(emails: list[str]) -> str:
    if len(emails) == 1:
        return emails[0]
    return _("%(first)s y %(last)s") % {"first": ", ".join(emails[:-1]), "last": emails[-1]}


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
    if loan.has_cosigner:
        values["Aval"] = loan.cosigner_name
        values["Documento del aval"] = loan.cosigner_document
    return values


def send_contract(*, contract_id: int) -> None:
    """Create the DocuSeal submission of a pending contract; safe to run twice.

    A temporary provider error propagates (the task retries); a definitive one marks the
    contract failed, with the error, for someone to fix the data and send it again. A send
    that follows another one first asks DocuSeal for the submission that one may have
    made before it was cut off, so the signers are not e-mailed twice.
    """
    with transaction.atomic():
        # Committed before DocuSeal is called, so a send cut off after the call leaves
        # its trace for the next one.
        contract = LoanContract.objects.select_for_update().filter(pk=contract_id).first()
        if contract is None or contract.status != LoanContract.Status.PENDING:
            return  # deleted (with its loan) since it was queued, or sent already
        may_exist = contract.send_attempted_at is not None
        contract.send_attempted_at = timezone.now()
        contract.save(update_fields=["send_attempted_at"])
    with transaction.atomic():
        # Held while DocuSeal is called: a second send waits, then finds the contract sent.
        contract = (
            LoanContract.objects.select_for_update(of=("self",))
            .select_related("loan__customer", "loan__product")
            .filter(pk=contract_id)
            .first()
        )
        if contract is None or contract.status != LoanContract.Status.PENDING:
            return
        loan = contract.loan
        rows = _signer_rows(contract)
        try:
            submission = (
                docuseal.find_signing(external_id=contract.external_id) if may_exist else None
            )
            if submission is None:
                # Nothing went out: the signers are asked at their e-mails of now (one
                # may have been corrected since the contract was queued, or its send was
                # cut off).
                try:
                    rows = _current_signer_rows(contract, rows)
                except ValidationError as exc:
                    _mark_failed(contract, error=" ".join(exc.messages))
                    return
            signers = _docuseal_signers(loan, rows)
            if submission is None:
                submission = docuseal.create_signing(
                    template_id=template_id_for(loan.product),
                    signers=signers,
                    message_subject=_("Contrato del crédito %(code)s")
                    % {"code": loan.payment_code},
                    readonly_values=True,
                )
        except TemporaryProviderError:
            raise
        except ProviderError as exc:
            _mark_failed(contract, error=str(exc))
            return
        _mark_sent(contract, submission, rows=rows, signers=signers)


def _mark_sent(
    contract: LoanContract,
    submission: docuseal.Submission,
    *,
    rows: list[LoanContractSigner] | None = None,
    signers: list[docuseal.Signer] | None = None,
    summary: str = "",
    actor: AbstractBaseUser | None = None,
) -> None:
    """Record the contract as sent in DocuSeal's `submission`, and say so on the timeline.

    `summary` (with %(code)s and %(email)s) replaces the usual "enviado a firma" line.
    """
    loan = contract.loan
    if rows is None:
        rows = _signer_rows(contract)
    if signers is None:
        signers = _docuseal_signers(loan, rows)
    for row, signer in zip(rows, signers, strict=True):
        created = submission.signer_for(signer)
        if created is not None:
            row.submitter_id = created.submitter_id
            row.save(update_fields=["submitter_id"])
    contract.submission_id = submission.submission_id
    contract.status = LoanContract.Status.SENT
    contract.sent_at = timezone.now()
    contract.error = ""
    contract.save(update_fields=["submission_id", "status", "sent_at", "error"])
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.EMAIL,
        direction=Interaction.Direction.OUTBOUND,
        summary=(summary or _("Contrato del crédito %(code)s enviado a firma a %(email)s"))
        % {"code": loan.payment_code, "email": signer_emails(contract)},
        payload={
            "loan": loan.pk,
            "contract": contract.pk,
            "submission": submission.submission_id,
        },
        actor=actor,
    )


@transaction.atomic
def give_up_contract(*, contract_id: int, error: str) -> None:
    """Mark failed, with why, a pending contract DocuSeal could not be reached for.

    The send's retries are spent: the contract shows "Error al enviar" and the timeline
    says so, instead of "Por enviar" for ever; it may be sent again from the loan. DocuSeal
    is asked once more first: the last attempt may have made the submission (its answer
    could not be read), and then the contract is sent, not failed.
    """
    contract = (
        LoanContract.objects.select_for_update(of=("self",))
        .select_related("loan__customer", "loan__product")
        .filter(pk=contract_id, status=LoanContract.Status.PENDING)
        .first()
    )
    if contract is None:
        return
    if _submission_made_for(contract) is not None:
        return
    _mark_failed(
        contract,
        error=_("DocuSeal no confirmó el envío tras varios intentos: %(error)s") % {"error": error},
    )


def _submission_made_for(contract: LoanContract) -> docuseal.Submission | None:
    """Adopt the submission an earlier send of `contract` made in DocuSeal, if any; return it.

    None also when DocuSeal cannot be asked (the caller then says what it would have said).
    """
    if contract.send_attempted_at is None:
        return None
    try:
        submission = docuseal.find_signing(external_id=contract.external_id)
    except ProviderError:
        return None
    if submission is not None:
        _mark_sent(contract, submission)
    return submission


# The sweep gives up on a contract still "Por enviar" this long after it was made: its
# sends keep being cut off, and someone must look at it.
SEND_GIVE_UP_AFTER = timedelta(hours=2)


def send_stalled_contracts(*, now: datetime | None = None) -> int:
    """Send again the contracts whose send was cut off; return how many.

    A contract "Por enviar" with no send for LoanContract.SEND_STALLED_AFTER lost its task
    (a worker killed, a publish that failed after the commit). One made more than
    SEND_GIVE_UP_AFTER ago is marked failed instead, and the timeline says so. Two sweeps
    at once send each contract once: each claims it by moving its last attempt to now.
    """
    now = now or timezone.now()
    since = now - LoanContract.SEND_STALLED_AFTER
    stalled = LoanContract.objects.filter(status=LoanContract.Status.PENDING).filter(
        Q(send_attempted_at__lt=since) | Q(send_attempted_at__isnull=True, created_at__lt=since)
    )
    sent = 0
    for contract_id in list(stalled.values_list("pk", flat=True)):
        with transaction.atomic():
            # Skipped while a send holds it (it is being sent right now).
            contract = (
                stalled.select_for_update(skip_locked=True)
                .select_related("loan__customer")
                .filter(pk=contract_id)
                .first()
            )
            if contract is None:
                continue
            if contract.created_at < now - SEND_GIVE_UP_AFTER:
                _mark_failed(
                    contract,
                    error=_(
                        "El envío a DocuSeal se interrumpió una y otra vez durante %(hours)s "
                        "horas y se dejó de reintentar."
                    )
                    % {"hours": int(SEND_GIVE_UP_AFTER.total_seconds() // 3600)},
                )
                continue
            _queue_send_again(contract, now=now)
            sent += 1
    return sent


def _queue_send_again(contract: LoanContract, *, now: datetime) -> None:
    # The claim: no longer stalled, so another sweep or a "Reenviar" leaves it alone, and
    # the send first looks for a submission the cut-off one may have made.
    contract.send_attempted_at = now
    contract.save(update_fields=["send_attempted_at"])
    queue.enqueue("credits.send_contract", contract_id=contract.pk)


def _mark_failed(contract: LoanContract, *, error: str) -> None:
    loan = contract.loan
    contract.status = LoanContract.Status.FAILED
    contract.error = error
    contract.save(update_fields=["status", "error"])
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("No se pudo enviar a firma el contrato del crédito %(code)s: %(e)s")
        % {"code": loan.payment_code, "e": error},
        payload={"loan": loan.pk, "contract": contract.pk},
    )


def _docuseal_signers(loan: Loan, rows: list[LoanContractSigner]) -> list[docuseal.Signer]:
    borrower = LoanContractSigner.Kind.BORROWER
    return [
        docuseal.Signer(
            role=row.role,
            email=row.email,
            name=row.name,
            external_id=row.external_id,
            phone=str(loan.customer.phone or "") if row.kind == borrower else "",
            # The contract's figures are the borrower's fields of the template.
            values=contract_values(loan) if row.kind == borrower else {},
        )
        for row in rows
    ]


def _current_signer_rows(
    contract: LoanContract, rows: list[LoanContractSigner]
) -> list[LoanContractSigner]:
    """Return the contract's signers as the loan names them now, replacing the stored rows
    where a name or e-mail changed since the contract was made (nothing was sent to
    them). Raise ValidationError when a signer now has no e-mail."""
    current = signers_for(contract.loan)

    def who(signer: LoanContractSigner) -> tuple[str, str, str, str]:
        return (signer.kind, signer.role, signer.name, signer.email.lower())

    if [who(row) for row in rows] == [who(signer) for signer in current]:
        return rows
    contract.signers.all().delete()
    for signer in current:
        signer.contract = contract
    LoanContractSigner.objects.bulk_create(current)
    contract.signer_email = contract.loan.customer.email
    contract.save(update_fields=["signer_email"])
    return list(contract.signers.order_by("id"))


def _signer_rows(contract: LoanContract) -> list[LoanContractSigner]:
    """Return the contract's signers; a contract queued before signers were kept has its
    borrower only, made now."""
    rows = list(contract.signers.order_by("id"))
    if rows:
        return rows
    customer = contract.loan.customer
    return [
        LoanContractSigner.objects.create(
            contract=contract,
            kind=LoanContractSigner.Kind.BORROWER,
            role=settings.DOCUSEAL_SIGNER_ROLE,
            name=customer.full_name,
            email=contract.signer_email,
        )
    ]


@transaction.atomic
def resend_contract(*, loan: Loan, actor: AbstractBaseUser | None) -> LoanContract:
    """Send the contract of a loan awaiting signature again (after a failure or a decline).

    A contract whose send was cut off ("Por enviar" for LoanContract.SEND_STALLED_AFTER) is
    sent again itself, not replaced: DocuSeal may have made its submission already. So may
    a send that ended "Error al enviar" (DocuSeal's answer could not be read): DocuSeal is
    asked first, and a submission it has is taken as that contract's, sent.
    """
    loan = ledger.locked(loan)
    if loan.status != Loan.Status.AWAITING_SIGNATURE:
        raise ValidationError(_("Solo se reenvía el contrato de un crédito «Por firmar»."))
    # Locked first: a send under way holds its contract, and is then seen as sent below.
    pending = list(loan.contracts.select_for_update().filter(status=LoanContract.Status.PENDING))
    if loan.contracts.filter(status=LoanContract.Status.SENT).exists():
        raise ValidationError(_("Hay un contrato en curso: espere la firma o su rechazo."))
    if pending:
        return _resend_stalled(pending[0], actor=actor)
    signers = signers_for(loan)
    _require_docuseal(loan.product)
    last = loan.contracts.select_for_update().order_by("-created_at", "-pk").first()
    if last is not None and _was_made_in_docuseal(last, actor=actor):
        return last
    contract = _new_contract(loan, signers)
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


def _was_made_in_docuseal(contract: LoanContract, *, actor: AbstractBaseUser | None) -> bool:
    """Say whether a failed contract's send made its submission after all, adopting it.

    Raise ValidationError when DocuSeal cannot be asked: sending another contract could
    ask everyone to sign twice.
    """
    if contract.status != LoanContract.Status.FAILED or contract.send_attempted_at is None:
        return False
    try:
        submission = docuseal.find_signing(external_id=contract.external_id)
    except ProviderError as exc:
        raise ValidationError(
            _(
                "No se pudo consultar a DocuSeal si ya tiene el contrato anterior (%(error)s): "
                "no se envió otro, para no pedir la firma dos veces. Vuelva a intentarlo en "
                "unos minutos."
            )
            % {"error": exc}
        ) from exc
    if submission is None:
        return False
    _mark_sent(
        contract,
        submission,
        summary=_(
            "El contrato del crédito %(code)s sí llegó a DocuSeal, que pidió la firma a "
            "%(email)s: no se envió otro"
        ),
        actor=actor,
    )
    return True


def _resend_stalled(contract: LoanContract, *, actor: AbstractBaseUser | None) -> LoanContract:
    loan = contract.loan
    if not contract.is_send_stalled():
        raise ValidationError(
            _(
                "El contrato está en cola para enviarse a DocuSeal: espere unos minutos. Si "
                "en %(minutes)s minutos no se envió, podrá enviarlo de nuevo."
            )
            % {"minutes": int(LoanContract.SEND_STALLED_AFTER.total_seconds() // 60)}
        )
    _require_docuseal(loan.product)
    _queue_send_again(contract, now=timezone.now())
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_(
            "El contrato del crédito %(code)s no se pudo enviar a DocuSeal (el envío se "
            "interrumpió): en cola para enviarse de nuevo"
        )
        % {"code": loan.payment_code},
        payload={"loan": loan.pk, "contract": contract.pk},
        actor=actor,
    )
    return contract


def process_docuseal_event(event: WebhookEvent) -> None:
    """Apply a stored DocuSeal webhook to its contract; a duplicate or late one changes nothing.

    All parties signed: keep the signed PDF and its link, and move a loan still awaiting
    signature to "ready to disburse". One signer signed: mark them. A decline or an expiry
    marks the contract so. A submission archived or voided in DocuSeal can no longer be
    signed: a contract still waiting for signatures is marked archived or voided (a later
    one is left as it is), and may be sent again.
    Each of these says so on the customer's timeline.
    """
    parsed = docuseal.parse_event(event.raw_body.encode())
    contract = (
        LoanContract.objects.select_for_update(of=("self",))
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
        contract.signers.exclude(status=LoanContractSigner.Status.COMPLETED).update(
            status=LoanContractSigner.Status.COMPLETED, completed_at=parsed.timestamp
        )
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
    signer = _event_signer(contract, parsed)
    values = {"code": loan.payment_code, "who": _who(signer)}
    if parsed.event_type == "form.declined" and contract.status != LoanContract.Status.COMPLETED:
        contract.status = LoanContract.Status.DECLINED
        contract.save(update_fields=["status"])
        if signer is not None:
            signer.status = LoanContractSigner.Status.DECLINED
            signer.save(update_fields=["status"])
        summary = _("%(who)s rechazó firmar el contrato del crédito %(code)s")
    elif (
        parsed.event_type == "submission.expired"
        and contract.status != LoanContract.Status.COMPLETED
    ):
        contract.status = LoanContract.Status.EXPIRED
        contract.save(update_fields=["status"])
        summary = _("Venció el plazo para firmar el contrato del crédito %(code)s")
    elif parsed.event_type == docuseal.SUBMISSION_ARCHIVED:
        if contract.status != LoanContract.Status.SENT:
            # Signed, declined or expired before: archiving it in DocuSeal tidies up.
            raise webhooks.IgnoreEvent(
                f"The contract is {contract.status}: archiving its submission changes nothing."
            )
        contract.status = LoanContract.Status.ARCHIVED
        contract.save(update_fields=["status"])
        summary = _(
            "El envío a firma del contrato del crédito %(code)s se archivó en DocuSeal: ya no "
            "se puede firmar"
        )
    elif parsed.event_type == docuseal.SUBMISSION_VOIDED:
        if contract.status != LoanContract.Status.SENT:
            # Signed, declined, expired or already voided: this changes nothing.
            raise webhooks.IgnoreEvent(
                f"The contract is {contract.status}: voiding its submission changes nothing."
            )
        contract.status = LoanContract.Status.VOIDED
        contract.save(update_fields=["status"])
        if parsed.reason:
            summary = _(
                "El envío a firma del contrato del crédito %(code)s se anuló en DocuSeal "
                "(motivo: «%(reason)s»): ya no se puede firmar"
            )
            values["reason"] = parsed.reason
        else:
            summary = _(
                "El envío a firma del contrato del crédito %(code)s se anuló en DocuSeal: ya "
                "no se puede firmar"
            )
    elif parsed.event_type == "form.completed":
        if signer is not None:
            if signer.status == LoanContractSigner.Status.COMPLETED:
                raise webhooks.IgnoreEvent("That signer had signed already.")
            signer.status = LoanContractSigner.Status.COMPLETED
            signer.completed_at = parsed.timestamp
            signer.save(update_fields=["status", "completed_at"])
        summary = _("%(who)s firmó el contrato del crédito %(code)s")
    else:
        raise webhooks.IgnoreEvent(f"Nothing to do for {parsed.event_type}.")
    crm_services.record_interaction(
        customer=loan.customer,
        kind=Interaction.Kind.SYSTEM,
        summary=summary % values,
        payload={"loan": loan.pk, "contract": contract.pk, "event": parsed.event_type},
        occurred_at=parsed.timestamp,
    )


def _event_signer(
    contract: LoanContract, parsed: docuseal.DocusealEvent
) -> LoanContractSigner | None:
    """Return the signer a form.* event is about: by DocuSeal's id, else our external id."""
    signers = list(contract.signers.all())
    for signer in signers:
        if parsed.submitter_id is not None and signer.submitter_id == parsed.submitter_id:
            return signer
    for signer in signers:
        if parsed.external_id and signer.external_id == parsed.external_id:
            return signer
    return None


def _who(signer: LoanContractSigner | None) -> str:
    if signer is None:
        return _("Un firmante")
    return _("%(name)s (%(kind)s)") % {
        "name": signer.name,
        "kind": signer.get_kind_display().lower(),
    }
