"""Credit applications, from the lead to the disbursement: the writes.

A lead (the calculator's "Quiero un crédito", a campaign's answer, an advisor's walk-in
form) goes through `receive_lead`. Its document decides what happens:

- no customer has it: the customer is registered and the lead converted at once;
- a customer has it and the typed names (case, accents and spaces aside) and contact data
  agree: converted at once, for that customer;
- a customer has it and the data differ: the lead waits, *por confirmar*, for an advisor
  or supervisor to confirm it is that customer (`confirm_lead`: the customer's identity
  stays as it is, the differences go on the timeline) or to discard it (`discard_lead`).

Converting opens a credit-application gestión (the type marked
`GestionType.is_credit_application`) through `crm.gestiones.services.create_gestion`,
which gives it to an agent by the workload rule and notifies them, writes its
`CreditApplication`, and queues the applicant a confirmation through the one
customer-message service (`crm.messages`). Every step is on the customer's timeline.

Approval makes the draft loan (`approval.py`); the loan's disbursement moves the gestión to
its disbursed state (`loan_disbursed`, registered into `credits` from the app's `ready`).
"""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from credits.calculator import services as calculator_services
from credits.models import Loan, LoanProduct
from crm import display
from crm import messages as crm_messages
from crm import services as crm_services
from crm.gestiones import selectors as gestion_selectors
from crm.gestiones import services as gestion_services
from crm.gestiones.applications import approval, leads, selectors
from crm.gestiones.campaigns import selectors as campaign_selectors
from crm.gestiones.models import (
    Campaign,
    CreditApplication,
    CreditLead,
    FollowUp,
    Gestion,
    GestionState,
    GestionType,
    Notification,
    Outcome,
)
from crm.gestiones.notifications import services as notification_services
from crm.models import Channel, Customer, Interaction
from lib import people

Source = CreditApplication.Source

# A lead repeated within this time (same customer, source, product, amount and term) is
# the same form sent twice: the first one stands.
REPEAT_WINDOW = datetime.timedelta(hours=1)
# The channel a new customer gets, by where the lead came from (code, name).
SOURCE_CHANNELS = {
    Source.CALCULATOR: ("web", "Web"),
    Source.WALK_IN: ("sucursal", "Sucursal"),
    Source.CALL_CENTER: ("call-center", "Call center"),
}
REASON_CHARS = 300
NOT_CONFIGURED = "credit_application_not_configured"


@dataclass(frozen=True)
class Intake:
    """What became of a lead: converted (with its application) or waiting for a person."""

    lead: CreditLead
    # The confirmation to the applicant, when the lead was converted now.
    confirmation: crm_messages.Sending | None = None
    # The same lead had arrived moments before: nothing new was made.
    is_repeated: bool = False

    @property
    def application(self) -> CreditApplication | None:
        return self.lead.application

    @property
    def is_to_confirm(self) -> bool:
        return self.lead.status == CreditLead.Status.TO_CONFIRM


def credit_application_type() -> GestionType:
    """Return the process credit leads open; ValidationError when none is configured."""
    gestion_type = GestionType.objects.filter(is_credit_application=True, is_active=True).first()
    if gestion_type is None or gestion_type.initial_state() is None:
        raise ValidationError(
            _(
                "No hay un tipo de gestión activo marcado como «solicitud de crédito» con su "
                "estado inicial: configúrelo en admin (Tipos de gestión)."
            ),
            code=NOT_CONFIGURED,
        )
    return gestion_type


@transaction.atomic
def receive_lead(
    *,
    source: str,
    data: Mapping[str, Any],
    received_at: datetime.datetime,
    actor: AbstractBaseUser | None = None,
    campaign: Campaign | None = None,
) -> Intake:
    """Take a credit lead: convert it into a customer's application, or keep it to confirm.

    `data` is what was typed: document_type, document_number, first_name, last_name,
    phone, email, product (a loan product's id), amount, term; optionally annual_rate,
    cosigner_name, cosigner_email, cosigner_document and notes. ValidationError names
    each bad field. The same lead sent again within an hour changes nothing.
    """
    if source not in Source.values:
        raise ValidationError(_("Origen de lead desconocido: %(s)s.") % {"s": source})
    lead_data = leads.clean(data)
    gestion_type = credit_application_type()
    customer = _customer_with_document(lead_data, lock=True)
    if customer is not None:
        repeated = _repeated_lead(customer, source, lead_data, received_at)
        if repeated is not None:
            return Intake(lead=repeated, is_repeated=True)
    is_new = customer is None
    if customer is None:
        channel = campaign.channel if campaign else _channel_for(source)
        try:
            customer = crm_services.create_customer(
                actor=actor, data={**lead_data.customer_data(), "channel": channel}
            )
        except ValidationError:
            # The same person sent the form twice at once: the other request registered them.
            customer = _customer_with_document(lead_data, lock=True)
            if customer is None:
                raise
            is_new = False
            repeated = _repeated_lead(customer, source, lead_data, received_at)
            if repeated is not None:
                return Intake(lead=repeated, is_repeated=True)
    found = {} if is_new else leads.differences(customer, lead_data)
    lead = CreditLead.objects.create(
        source=source,
        received_at=received_at,
        data=lead_data.as_json(),
        status=CreditLead.Status.TO_CONFIRM,
        customer=customer,
    )
    _record_reception(lead, customer, lead_data, found, actor=actor, campaign=campaign)
    if found:
        _notify_to_confirm(lead, lead_data, gestion_type, now=received_at)
        return Intake(lead=lead)
    return _convert(
        lead, customer, lead_data, gestion_type, actor=actor, campaign=campaign, now=received_at
    )


def receive_calculator_lead(
    *, source: str, data: Mapping[str, Any], received_at: datetime.datetime
) -> calculator_services.CreditLeadReceipt:
    """The calculator's credit-lead receiver (registered in `credits` by the app's `ready`)."""
    try:
        intake = receive_lead(source=source, data=data, received_at=received_at)
    except ValidationError as exc:
        if getattr(exc, "code", None) == NOT_CONFIGURED:
            # Said to a visitor: how to configure it is for the staff to read.
            raise ValidationError(
                _("Por ahora no recibimos solicitudes de crédito en línea. Intente más tarde.")
            ) from exc
        raise
    confirmation = intake.confirmation
    return calculator_services.CreditLeadReceipt(
        is_confirmation_queued=bool(confirmation and confirmation.is_queued)
    )


def receive_campaign_lead(
    *, campaign: Campaign, data: Mapping[str, Any], received_at: datetime.datetime
) -> Intake:
    """Take a credit lead answering an inbound campaign: its channel, its agents."""
    if not campaign_selectors.is_open_for_inbound(campaign, today=timezone.localdate(received_at)):
        raise ValidationError(
            _("La campaña «%(name)s» no recibe registros.") % {"name": campaign.name}
        )
    return receive_lead(
        source=Source.CAMPAIGN, data=data, received_at=received_at, campaign=campaign
    )


def is_credit_campaign(campaign: Campaign) -> bool:
    """Tell whether an inbound campaign opens credit applications (its answers are leads)."""
    return bool(campaign.gestion_type_id and campaign.gestion_type.is_credit_application)


def receive_campaign_form(campaign: Campaign, form) -> Intake:
    """Take a credit campaign's public form (`credits.calculator.forms.CreditLeadForm`)."""
    return receive_campaign_lead(
        campaign=campaign, data=form.lead_data(), received_at=timezone.now()
    )


@transaction.atomic
def confirm_lead(
    *, lead: CreditLead, actor: AbstractBaseUser, now: datetime.datetime | None = None
) -> Intake:
    """Confirm a lead to confirm is its document's customer, and convert it.

    The customer's data stay as they are; what the lead typed differently is written on
    the timeline, old and new, for a person to update the customer if it is right.
    """
    now = now or timezone.now()
    lead = _locked_lead(lead)
    customer = lead.customer
    if customer is None:
        raise ValidationError(_("El cliente de este lead ya no existe: descártelo."))
    lead_data = leads.read(lead.data)
    product = LoanProduct.objects.filter(pk=lead_data.product_id, is_active=True).first()
    if product is None:
        raise ValidationError(_("El producto de crédito del lead ya no está activo: descártelo."))
    leads.check_terms(
        product, amount=lead_data.amount, term=lead_data.term, annual_rate=lead_data.annual_rate
    )
    gestion_type = credit_application_type()
    found = leads.differences(customer, lead_data)
    lead.decided_by = people.signed_in(actor)
    lead.decided_at = now
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_(
            "Lead de crédito #%(id)s confirmado como este cliente por %(who)s; sus datos "
            "no se cambiaron"
        )
        % {"id": lead.pk, "who": people.display_name(actor)},
        payload={"credit_lead": lead.pk, **leads.shown(found)},
        actor=actor,
        occurred_at=now,
    )
    return _convert(lead, customer, lead_data, gestion_type, actor=actor, campaign=None, now=now)


@transaction.atomic
def discard_lead(
    *,
    lead: CreditLead,
    actor: AbstractBaseUser,
    reason: str,
    now: datetime.datetime | None = None,
) -> CreditLead:
    """Discard a lead to confirm (not this customer, a prank, a duplicate), saying why."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Indique por qué se descarta el lead.")})
    if len(reason) > REASON_CHARS:
        raise ValidationError(
            {"reason": _("Escriba como máximo %(n)s caracteres.") % {"n": REASON_CHARS}}
        )
    lead = _locked_lead(lead)
    lead.status = CreditLead.Status.DISCARDED
    lead.decided_by = people.signed_in(actor)
    lead.decided_at = now
    lead.save(update_fields=["status", "decided_by", "decided_at"])
    if lead.customer_id:
        crm_services.record_interaction(
            customer=lead.customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Lead de crédito #%(id)s descartado: %(reason)s")
            % {"id": lead.pk, "reason": reason},
            # The reason under its own key too, for the lead's page (selectors.discard_reason).
            payload={
                "credit_lead": lead.pk,
                **_typed_person(leads.read(lead.data)),
                selectors.DISCARD_REASON: reason,
            },
            actor=actor,
            occurred_at=now,
        )
    return lead


@transaction.atomic
def reopen_lead(
    *,
    lead: CreditLead,
    actor: AbstractBaseUser,
    reason: str,
    now: datetime.datetime | None = None,
) -> CreditLead:
    """Put a lead discarded by mistake back to confirm, saying why: the discard stays on the
    customer's timeline, and this entry under it."""
    now = now or timezone.now()
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": _("Indique por qué se reabre el lead.")})
    if len(reason) > REASON_CHARS:
        raise ValidationError(
            {"reason": _("Escriba como máximo %(n)s caracteres.") % {"n": REASON_CHARS}}
        )
    lead = CreditLead.objects.select_for_update().get(pk=lead.pk)
    if lead.status != CreditLead.Status.DISCARDED:
        raise ValidationError(
            _("El lead #%(id)s está «%(status)s»: solo un lead descartado se reabre.")
            % {"id": lead.pk, "status": lead.get_status_display()}
        )
    if lead.customer_id is None:
        raise ValidationError(
            _("El cliente de este lead ya no existe: no queda nada que confirmar.")
        )
    discarded_by = people.display_name(lead.decided_by) if lead.decided_by_id else "—"
    discarded_at = timezone.localtime(lead.decided_at).strftime("%d/%m/%Y %H:%M")
    lead.status = CreditLead.Status.TO_CONFIRM
    lead.decided_by = None
    lead.decided_at = None
    lead.save(update_fields=["status", "decided_by", "decided_at"])
    crm_services.record_interaction(
        customer=Customer.objects.get(pk=lead.customer_id),
        kind=Interaction.Kind.SYSTEM,
        summary=_(
            "Lead de crédito #%(id)s reabierto por %(who)s (lo descartó %(by)s el %(when)s): "
            "%(reason)s"
        )
        % {
            "id": lead.pk,
            "who": people.display_name(actor),
            "by": discarded_by,
            "when": discarded_at,
            "reason": reason,
        },
        payload={"credit_lead": lead.pk, "motivo": reason},
        actor=actor,
        occurred_at=now,
    )
    return lead


@transaction.atomic
def update_application(
    *,
    application: CreditApplication,
    actor: AbstractBaseUser,
    product: LoanProduct,
    amount: Decimal,
    term: int,
    annual_rate: Decimal | None,
    cosigner_name: str = "",
    cosigner_email: str = "",
    cosigner_document: str = "",
    now: datetime.datetime | None = None,
) -> CreditApplication:
    """Change what an application not yet approved asks for, within the product's limits.

    An application approved whose loan was then cancelled (from the loan's page) changes
    too: its gestión is still in the approving state, which alone made the loan; saved, it
    gets a new draft loan from what it now asks for (`approval.enter_state`), or it would
    stay approved with no loan to sign or disburse."""
    now = now or timezone.now()
    gestion = gestion_selectors.locked_gestion(application.gestion, "customer")
    application = CreditApplication.objects.select_related("loan_product", "loan").get(
        pk=application.pk
    )
    if not gestion.is_open:
        raise ValidationError(_("La gestión está cerrada: su solicitud ya no cambia."))
    if application.loan is not None and application.loan.status != Loan.Status.CANCELLED:
        raise ValidationError(
            _("La solicitud ya fue aprobada con el crédito %(code)s: ya no cambia.")
            % {"code": application.loan.payment_code}
        )
    leads.check_terms(product, amount=amount, term=term, annual_rate=annual_rate)
    # Its loan was cancelled while the gestión stayed approved: a new draft is made below.
    remake = application.loan is not None and gestion.state.is_approval
    new = {
        "loan_product": product,
        "amount": amount,
        "term": term,
        "annual_rate": annual_rate,
        "cosigner_name": (cosigner_name or "").strip(),
        "cosigner_email": (cosigner_email or "").strip().lower(),
        "cosigner_document": (cosigner_document or "").strip(),
    }
    changes = {}
    currencies = {"old": application.loan_product.currency, "new": product.currency}
    old_subject = _subject(application.loan_product, application.amount, application.term)
    for field, value in new.items():
        old = getattr(application, field)
        if old != value:
            label = str(CreditApplication._meta.get_field(field).verbose_name)
            if field == "amount":
                shown_old = _money(currencies["old"], old)
                shown_new = _money(currencies["new"], value)
            else:
                shown_old, shown_new = _shown(old), _shown(value)
            changes[label] = f"{shown_old} → {shown_new}"
            setattr(application, field, value)
    if changes:
        application.full_clean(exclude=["gestion", "loan"])
        application.save()
        updated: dict[str, Any] = {"amount_requested": amount, "currency": product.currency}
        if gestion.subject == old_subject:
            # The subject still says what the application asked for: it follows the change.
            updated["subject"] = _subject(product, amount, term)
        Gestion.objects.filter(pk=gestion.pk).update(**updated, updated_at=now)
        crm_services.record_interaction(
            customer=gestion.customer,
            kind=Interaction.Kind.FOLLOW_UP,
            summary=_("Solicitud de crédito de la gestión #%(id)s modificada") % {"id": gestion.pk},
            payload={"gestion": gestion.pk, **changes},
            actor=actor,
            occurred_at=now,
        )
    if remake:
        approval.enter_state(gestion, gestion.state, actor=actor, amount_approved=None, now=now)
        # What is approved now is the new loan's amount.
        Gestion.objects.filter(pk=gestion.pk).update(amount_approved=application.amount)
        application.refresh_from_db(fields=["loan"])
    return application


@transaction.atomic
def link_loan(
    *,
    gestion: Gestion,
    loan: Loan,
    actor: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> Gestion:
    """Link one of the customer's loans to a gestión (*cuentas por gestión*)."""
    now = now or timezone.now()
    gestion = gestion_selectors.locked_gestion(gestion, "customer", "state")
    if loan.customer_id != gestion.customer_id:
        raise ValidationError({"loan": _("Solo se vinculan créditos del mismo cliente.")})
    if gestion.loans.filter(pk=loan.pk).exists():
        raise ValidationError(
            {"loan": _("El crédito %(code)s ya está vinculado.") % {"code": loan.payment_code}}
        )
    if loan.status == Loan.Status.CANCELLED:
        raise ValidationError(
            {
                "loan": _("El crédito %(code)s está anulado: no se vincula.")
                % {"code": loan.payment_code}
            }
        )
    gestion.loans.add(loan)
    _note_accounts(
        gestion,
        _("Crédito %(code)s vinculado a la gestión") % {"code": loan.payment_code},
        loan=loan,
        actor=actor,
        now=now,
    )
    return gestion


@transaction.atomic
def unlink_loan(
    *,
    gestion: Gestion,
    loan: Loan,
    actor: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> Gestion:
    """Unlink a loan from a gestión; the loan of its credit application stays linked."""
    now = now or timezone.now()
    gestion = gestion_selectors.locked_gestion(gestion, "customer", "state")
    if not gestion.loans.filter(pk=loan.pk).exists():
        raise ValidationError(
            _("El crédito %(code)s no está vinculado a la gestión.") % {"code": loan.payment_code}
        )
    if CreditApplication.objects.filter(gestion_id=gestion.pk, loan_id=loan.pk).exists():
        raise ValidationError(
            _(
                "El crédito %(code)s es el de la solicitud de esta gestión: no se desvincula "
                "(si ya no va, anúlelo en su página)."
            )
            % {"code": loan.payment_code}
        )
    gestion.loans.remove(loan)
    _note_accounts(
        gestion,
        _("Crédito %(code)s desvinculado de la gestión") % {"code": loan.payment_code},
        loan=loan,
        actor=actor,
        now=now,
    )
    return gestion


def loan_disbursed(loan: Loan, actor: AbstractBaseUser | None) -> None:
    """Move the loan's open gestiones to their disbursed state, where their process has one.

    Registered into `credits.services.loans` (`register_disbursement_hook`): it runs in the
    disbursement's transaction.
    """
    for gestion in loan.gestiones.filter(outcome=Outcome.OPEN).order_by("pk"):
        state = GestionState.objects.filter(
            gestion_type_id=gestion.gestion_type_id, is_disbursement=True
        ).first()
        if state is None:
            continue
        at = max(loan.disbursed_at or timezone.now(), gestion.state_entered_at)
        gestion_services.move_to_state(
            gestion=gestion,
            state=state,
            actor=actor,
            notes=_("Crédito %(code)s desembolsado") % {"code": loan.payment_code},
            now=at,
        )


def _convert(
    lead: CreditLead,
    customer: Customer,
    lead_data: leads.LeadData,
    gestion_type: GestionType,
    *,
    actor: AbstractBaseUser | None,
    campaign: Campaign | None,
    now: datetime.datetime,
) -> Intake:
    """Open the lead's credit-application gestión and application; queue the confirmation."""
    product = LoanProduct.objects.get(pk=lead_data.product_id)
    subject = _subject(product, lead_data.amount, lead_data.term)
    gestion = gestion_services.create_gestion(
        customer=customer,
        gestion_type=gestion_type,
        actor=actor,
        candidates=campaign_selectors.campaign_agents(campaign) if campaign else None,
        channel=campaign.channel if campaign else None,
        campaign=campaign,
        subject=subject,
        amount_requested=lead_data.amount,
        currency=product.currency,
        # The type's own form (income, purpose...) is completed by the advisor later.
        require_data=False,
        now=now,
    )
    if lead_data.notes:
        FollowUp.objects.filter(gestion=gestion, kind=FollowUp.Kind.CREATED).update(
            notes=f"{subject}\n\n{lead_data.notes}"
        )
    application = CreditApplication.objects.create(
        gestion=gestion,
        source=lead.source,
        lead_received_at=lead.received_at,
        loan_product=product,
        amount=lead_data.amount,
        term=lead_data.term,
        annual_rate=lead_data.annual_rate,
        cosigner_name=lead_data.cosigner_name,
        cosigner_email=lead_data.cosigner_email,
        cosigner_document=lead_data.cosigner_document,
        created_at=now,
    )
    lead.status = CreditLead.Status.CONVERTED
    lead.customer = customer
    lead.application = application
    lead.save()
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.FOLLOW_UP,
        summary=_("Lead de crédito #%(lead)s convertido en la solicitud de la gestión #%(id)s")
        % {"lead": lead.pk, "id": gestion.pk},
        payload={"gestion": gestion.pk, "credit_lead": lead.pk},
        actor=actor,
        occurred_at=now,
    )
    confirmation = crm_messages.send_customer_message(
        customer=customer,
        channel=crm_messages.EMAIL,
        subject=_("Recibimos su solicitud de crédito n.º %(id)s") % {"id": gestion.pk},
        body=_(
            "Estimado(a) %(name)s: recibimos su solicitud de crédito n.º %(id)s por "
            "%(amount)s en %(term)s (%(product)s). Un asesor la revisará y se comunicará "
            "con usted."
        )
        % {
            "name": customer.full_name,
            "id": gestion.pk,
            "amount": _money(product.currency, lead_data.amount),
            "term": _installments(lead_data.term),
            "product": product.name,
        },
        actor=actor,
        payload={"gestion": gestion.pk},
        occurred_at=now,
        dedupe_key=f"credit-application-{application.pk}-received",
    )
    return Intake(lead=lead, confirmation=confirmation)


def _customer_with_document(lead_data: leads.LeadData, *, lock: bool) -> Customer | None:
    # A record merged into another answers as the kept one (crm.merge).
    customers = Customer.objects.filter(
        document_type=lead_data.document_type, document_number=lead_data.document_number
    ).resolved()
    if lock:
        customers = customers.select_for_update()
    return customers.first()


def _repeated_lead(
    customer: Customer, source: str, lead_data: leads.LeadData, received_at: datetime.datetime
) -> CreditLead | None:
    """Return the same lead received moments before, if any (a form sent twice)."""
    typed = lead_data.as_json()
    return (
        CreditLead.objects.filter(
            customer=customer,
            source=source,
            received_at__gte=received_at - REPEAT_WINDOW,
            received_at__lte=received_at + REPEAT_WINDOW,
            data__product=typed["product"],
            data__amount=typed["amount"],
            data__term=typed["term"],
        )
        .exclude(status=CreditLead.Status.DISCARDED)
        .select_related("application")
        .order_by("received_at", "pk")
        .first()
    )


def _locked_lead(lead: CreditLead) -> CreditLead:
    lead = CreditLead.objects.select_for_update().get(pk=lead.pk)
    if lead.status != CreditLead.Status.TO_CONFIRM:
        raise ValidationError(
            _("El lead #%(id)s ya está «%(status)s»: no queda nada por decidir.")
            % {"id": lead.pk, "status": lead.get_status_display()}
        )
    if lead.customer_id:
        lead.customer = Customer.objects.get(pk=lead.customer_id)
    return lead


def _record_reception(
    lead: CreditLead,
    customer: Customer,
    lead_data: leads.LeadData,
    found: dict[str, tuple[str, str]],
    *,
    actor: AbstractBaseUser | None,
    campaign: Campaign | None,
) -> None:
    product = LoanProduct.objects.get(pk=lead_data.product_id)
    values = {
        "id": lead.pk,
        "source": lead.get_source_display(),
        "product": product.name,
        "amount": _money(product.currency, lead_data.amount),
        "term": _installments(lead_data.term),
    }
    summary = _(
        "Lead de crédito #%(id)s recibido (%(source)s): %(product)s, %(amount)s en %(term)s"
    )
    if found:
        summary += _(" · por confirmar: sus datos difieren de los del cliente")
    payload: dict[str, Any] = {"credit_lead": lead.pk, **_typed_person(lead_data)}
    if campaign is not None:
        payload[_("campaña")] = campaign.name
    if found:
        payload.update(leads.shown(found))
    crm_services.record_interaction(
        customer=customer,
        kind=Interaction.Kind.NOTE,
        direction=Interaction.Direction.INTERNAL
        if lead.source == Source.WALK_IN
        else Interaction.Direction.INBOUND,
        channel=campaign.channel if campaign else None,
        summary=summary % values,
        payload=payload,
        actor=actor,
        occurred_at=lead.received_at,
    )


def _notify_to_confirm(
    lead: CreditLead,
    lead_data: leads.LeadData,
    gestion_type: GestionType,
    *,
    now: datetime.datetime,
) -> None:
    notification_services.notify(
        recipients=gestion_selectors.type_supervisors(gestion_type),
        gestion=None,
        kind=Notification.Kind.INFO,
        message=_(
            "Lead de crédito #%(id)s por confirmar: %(name)s (%(document)s) escribió datos "
            "distintos de los del cliente con ese documento."
        )
        % {
            "id": lead.pk,
            "name": lead_data.full_name,
            "document": lead_data.document_number,
        },
        now=now,
    )


def _note_accounts(
    gestion: Gestion,
    notes: str,
    *,
    loan: Loan,
    actor: AbstractBaseUser,
    now: datetime.datetime,
) -> None:
    """Write a change of the gestión's loans in its history and on the customer's timeline."""
    FollowUp.objects.create(
        gestion=gestion,
        kind=FollowUp.Kind.STEP,
        from_state=gestion.state,
        state=gestion.state,
        notes=notes,
        actor=people.signed_in(actor),
        created_at=now,
    )
    Gestion.objects.filter(pk=gestion.pk).update(last_follow_up_at=now, updated_at=now)
    crm_services.record_interaction(
        customer=gestion.customer,
        kind=Interaction.Kind.FOLLOW_UP,
        summary=_("Gestión #%(id)s · %(notes)s") % {"id": gestion.pk, "notes": notes},
        payload={"gestion": gestion.pk, "loan": loan.pk},
        actor=actor,
        occurred_at=now,
    )


def _typed_person(lead_data: leads.LeadData) -> dict[str, str]:
    return {
        _("nombre indicado"): lead_data.full_name,
        _("correo indicado"): lead_data.email or "—",
        _("celular indicado"): lead_data.phone or "—",
    }


def _channel_for(source: str) -> Channel | None:
    known = SOURCE_CHANNELS.get(source)
    if known is None:
        return None
    channel, _created = Channel.objects.get_or_create(code=known[0], defaults={"name": known[1]})
    return channel


def _subject(product: LoanProduct, amount: Decimal, term: int) -> str:
    """Return an application's gestión subject: "Consumo: S/ 10,000.00 en 12 cuotas"."""
    return _("%(product)s: %(amount)s en %(term)s") % {
        "product": product.name,
        "amount": _money(product.currency, amount),
        "term": _installments(term),
    }


def _money(currency: str, amount: Decimal) -> str:
    """Return an amount as the screens write it ("S/ 1,234.50")."""
    return display.money_text(amount, currency)


def _installments(term: int) -> str:
    return ngettext("%(n)s cuota", "%(n)s cuotas", term) % {"n": term}


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, Decimal):
        # A rate: 26.5, not 26.5000.
        return f"{value.normalize():f}"
    return str(value)
