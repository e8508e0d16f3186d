"""Reads of credit applications: the leads waiting for a person, a gestión's application,
a loan's gestiones, and who may see or work them."""

import datetime
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from credits import selectors as credit_selectors
from credits.models import Loan, LoanProduct
from credits.services import loans as loan_services
from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.applications import leads
from crm.gestiones.models import (
    CreditApplication,
    CreditLead,
    Gestion,
    GestionState,
    Outcome,
)
from crm.models import Interaction
from lib import people, repeats, search


def leads_to_confirm(*, q: str = "", source: str = "") -> QuerySet[CreditLead]:
    """Return the leads waiting for a person to confirm their customer, oldest first.

    `q` finds a lead by the document number or the names typed, or its customer's name
    (that one without regard to accents or capitals); `source` keeps one origin.
    """
    leads = CreditLead.objects.filter(status=CreditLead.Status.TO_CONFIRM)
    if source in CreditLead.Source.values:
        leads = leads.filter(source=source)
    for word in q.split()[:5]:
        leads = leads.filter(
            Q(data__document_number__icontains=word)
            | Q(data__first_name__icontains=word)
            | Q(data__last_name__icontains=word)
            | Q(customer__search_text__contains=search.normalize(word))
        )
    return leads.select_related("customer").order_by("received_at", "pk")


def recent_decisions() -> QuerySet[CreditLead]:
    """Return the leads a person confirmed or discarded, newest first."""
    return (
        CreditLead.objects.filter(decided_at__isnull=False)
        .select_related("customer", "decided_by", "application__gestion")
        .order_by("-decided_at", "-pk")
    )


# A lead decided this recently by the same person, asked to be decided again by them, is
# the same button pressed twice (a double click, the back button and send).
DECISION_REPEAT_WINDOW = datetime.timedelta(minutes=1)


def just_decided(lead: CreditLead, user: AbstractBaseUser) -> CreditLead | None:
    """Return the lead as `user` decided it a moment ago (confirmed or discarded), if so."""
    return repeats.made_within(
        CreditLead.objects.select_related("application__gestion").filter(
            pk=lead.pk, decided_by=people.signed_in(user)
        ),
        DECISION_REPEAT_WINDOW,
        field="decided_at",
    )


def lead_for(user: AbstractBaseUser, pk: int) -> CreditLead:
    """Return the lead `pk` if `user` may see leads, else 404."""
    if not user.has_perm("gestiones.view_creditlead"):
        raise Http404
    return get_object_or_404(
        CreditLead.objects.select_related("customer", "decided_by", "application__gestion"),
        pk=pk,
    )


# The key of a discarded lead's timeline entry that keeps its reason (services.discard_lead).
DISCARD_REASON = "discard_reason"


def discard_reason(lead: CreditLead) -> str:
    """Return why the lead was discarded, as its entry on the customer's timeline says; ""
    when it was not discarded (or its customer, and with it the entry, is gone). Entries
    recorded before the reason had its own key say it after their sentence's beginning."""
    if lead.status != CreditLead.Status.DISCARDED or not lead.customer_id:
        return ""
    prefix = _("Lead de crédito #%(id)s descartado: %(reason)s") % {"id": lead.pk, "reason": ""}
    entry = (
        Interaction.objects.filter(customer_id=lead.customer_id, kind=Interaction.Kind.SYSTEM)
        .filter(
            Q(payload__credit_lead=lead.pk, payload__has_key=DISCARD_REASON)
            # Under "lead" before credit leads had a key of their own (crm.timeline).
            | Q(payload__lead=lead.pk, payload__has_key=DISCARD_REASON)
            | Q(summary__startswith=prefix)
        )
        .order_by("-occurred_at", "-pk")
        .only("summary", "text", "payload")
        .first()
    )
    if entry is None:
        return ""
    reason = (entry.payload or {}).get(DISCARD_REASON)
    if isinstance(reason, str):
        return reason
    return (entry.text or entry.summary).removeprefix(prefix)


def lead_comparison(lead: CreditLead) -> list[tuple[str, str, str, bool]]:
    """Return the lead beside its customer: (label, on file, typed, differs) per field."""
    data = leads.read(lead.data)
    customer = lead.customer
    found = leads.differences(customer, data) if customer else {}
    rows = []
    for field in ("document_number", *leads.COMPARED_FIELDS):
        typed = getattr(data, field)
        if field == "phone":
            on_file = leads.phone_text(customer.phone) if customer else ""
        else:
            on_file = (getattr(customer, field) or "") if customer else ""
        rows.append((leads.field_label(field), on_file, typed, field in found))
    return rows


def lead_request(lead: CreditLead) -> tuple[leads.LeadData, LoanProduct | None]:
    """Return what the lead asks for, and its loan product (None if it is gone)."""
    data = leads.read(lead.data)
    return data, LoanProduct.objects.filter(pk=data.product_id).first()


def application_of(gestion: Gestion) -> CreditApplication | None:
    """Return the gestión's credit application with its product and loan, or None.

    Only a gestión of the credit-application type has one (services.receive_lead):
    the others, most of a page's views, cost no query.
    """
    if not gestion.gestion_type.is_credit_application:
        return None
    application = (
        CreditApplication.objects.select_related("loan_product", "loan")
        .filter(gestion_id=gestion.pk)
        .first()
    )
    if application is not None:
        # For its card: what the product, changed since, no longer allows.
        application.outgrown_terms = outgrown_terms(application, gestion)
    return application


def outgrown_terms(application: CreditApplication, gestion: Gestion) -> list[str]:
    """Return why the product, as it is now, would refuse the application still to be
    approved (deactivated, its range narrowed): what approving it would say, said on its
    card before. [] for one approved into a loan, or whose gestión is closed."""
    if not gestion.is_open:
        return []
    if application.loan is not None and application.loan.status != Loan.Status.CANCELLED:
        return []
    try:
        loan_services.validate_terms(
            product=application.loan_product,
            principal=application.amount,
            term=application.term,
            annual_rate=application.annual_rate,
        )
    except ValidationError as exc:
        return exc.messages
    return []


# A loan made from an application that has not been disbursed yet.
WAITING_LOAN = (Loan.Status.DRAFT, Loan.Status.AWAITING_SIGNATURE, Loan.Status.READY_TO_DISBURSE)


def closing_cancels_loan(state: GestionState) -> bool:
    """Return whether a gestión entering `state` gives up its application's waiting loan:
    a closing state other than a success or the disbursement (rejected, withdrawn)."""
    return state.is_closing and not state.is_disbursement and state.outcome != Outcome.SUCCESS


def loan_cancelled_by(gestion: Gestion, state: GestionState) -> Loan | None:
    """Return the loan that moving `gestion` to `state` cancels (`approval.enter_state`): its
    application's loan still waiting to be disbursed, when `state` closes it without one."""
    if not closing_cancels_loan(state):
        return None
    application = (
        CreditApplication.objects.select_related("loan").filter(gestion_id=gestion.pk).first()
    )
    loan = application.loan if application else None
    return loan if loan is not None and loan.status in WAITING_LOAN else None


def loan_gestiones(user: AbstractBaseUser, loan: Loan) -> list[Gestion]:
    """Return the gestiones `user` may see that the loan is linked to, newest first."""
    return list(
        gestion_selectors.visible_gestiones(user)
        .filter(loans=loan)
        .select_related("gestion_type", "state", "agent")
        .order_by("-created_at", "-pk")
    )


def loan_application(loan: Loan, gestiones: list[Gestion]) -> CreditApplication | None:
    """Return the application the loan was made from, when its gestión is among `gestiones`
    (those the user may see)."""
    return (
        CreditApplication.objects.select_related("gestion", "loan_product")
        .filter(loan=loan, gestion_id__in=[g.pk for g in gestiones])
        .first()
    )


def loan_for(user: AbstractBaseUser, pk: int) -> Loan:
    """Return the loan `pk` if `user` may see it, else 404 (credits' own access helper)."""
    return credit_selectors.loan_for(user, pk)


def linkable_loans(gestion: Gestion) -> QuerySet[Loan]:
    """Return the customer's loans not yet linked to the gestión, newest first; not a
    cancelled one (it never was an account: `services.link_loan` refuses it too)."""
    return (
        Loan.objects.filter(customer_id=gestion.customer_id)
        .exclude(status=Loan.Status.CANCELLED)
        .exclude(gestiones=gestion)
        .only("payment_code", "status", "principal", "currency", "created_at")
        .order_by("-created_at", "-pk")
    )


def customer_loan(gestion: Gestion, loan_id: str | int | None) -> Loan | None:
    """Return the gestión's customer's loan `loan_id` (as posted), linked or not; None when
    it is not theirs or not a number."""
    if not str(loan_id or "").isdigit():
        return None
    return (
        Loan.objects.filter(customer_id=gestion.customer_id, pk=int(loan_id))
        .only("payment_code", "customer_id")
        .first()
    )


def is_editable(gestion: Gestion, application: CreditApplication) -> bool:
    """Return whether the application may still change: its gestión open, and no loan made
    from it (or only a cancelled one). `services.update_application` holds the rule."""
    if not gestion.is_open:
        return False
    loan = application.loan
    return loan is None or loan.status == Loan.Status.CANCELLED


def can_work(user: AbstractBaseUser, gestion: Gestion) -> bool:
    """Return whether `user` may change the gestión's application and loans: its agent, or
    a supervisor of it (also once it is closed: loans may be linked later)."""
    if not user.has_perm("gestiones.change_gestion"):
        return False
    if gestion.agent_id == user.pk or user.has_perm("gestiones.reassign_gestion"):
        return True
    return gestion_selectors.is_supervisor_of(user, gestion)


@dataclass(frozen=True)
class ApprovalWait:
    """How long an application took (or has taken so far) from its lead to its approval,
    against its product's target."""

    hours: int
    target_hours: int
    is_approved: bool

    @property
    def is_breached(self) -> bool:
        return self.hours >= self.target_hours


def approval_wait(
    application: CreditApplication, now: datetime.datetime | None = None
) -> ApprovalWait:
    end = application.approved_at or now or timezone.now()
    elapsed = max(end - application.lead_received_at, datetime.timedelta(0))
    return ApprovalWait(
        hours=int(elapsed.total_seconds() // 3600),
        target_hours=application.loan_product.approval_target_hours,
        is_approved=application.approved_at is not None,
    )
