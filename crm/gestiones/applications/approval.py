"""What a credit application's gestión does when it moves along its process.

Approving it (entering a state marked `GestionState.is_approval`, the example process's
*Aprobado análisis*) stamps the application's `approved_at` and makes its draft loan from
the application's product, amount, term, rate and co-signer, linked both ways
(`CreditApplication.loan` and `Gestion.loans`); terms outside the product's limits refuse
the approval. The disbursed state (`GestionState.is_disbursement`) is reached only through
the loan's disbursement, never by hand while the loan waits.

`crm.gestiones.services.record_follow_up` calls `check_move` before it writes a step and
`enter_state` once the gestión is in its new state (a `StateRule` the app registers from
its `ready`), in the same transaction: a refused approval leaves nothing written.
"""

import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from credits.models import Loan
from credits.services import loans as loan_services
from crm import display
from crm import services as crm_services
from crm.gestiones.applications import selectors
from crm.gestiones.models import CreditApplication, Gestion, GestionState
from crm.models import Interaction
from lib import people


def check_move(
    gestion: Gestion, to_state: GestionState, *, amount_approved: Decimal | None = None
) -> None:
    """Refuse to move a credit application by hand to its disbursed state before its loan is,
    out of it while its loan stands disbursed (a supervisor's *Corregir estado*), and an
    approved amount other than the one its approval lends (`check_amount`)."""
    if amount_approved is not None:
        check_amount(gestion, to_state, amount_approved)
    if to_state.pk == gestion.state_id:
        return
    if gestion.state.is_disbursement and not to_state.is_disbursement:
        _refuse_leaving_disbursed(gestion, to_state)
    if not to_state.is_disbursement:
        return
    application = (
        CreditApplication.objects.select_related("loan").filter(gestion_id=gestion.pk).first()
    )
    if application is None:
        return
    loan = application.loan
    if loan is None:
        raise ValidationError(
            _(
                "La solicitud de la gestión #%(id)s aún no tiene crédito: se aprueba primero, y "
                "pasa a «%(state)s» cuando su crédito se desembolsa."
            )
            % {"id": gestion.pk, "state": to_state.name}
        )
    if loan.status not in Loan.DISBURSED:
        raise ValidationError(
            _(
                "El crédito %(code)s de esta solicitud está «%(status)s»: la gestión pasa a "
                "«%(state)s» sola cuando se desembolsa el crédito."
            )
            % {
                "code": loan.payment_code,
                "status": loan.get_status_display(),
                "state": to_state.name,
            }
        )


def _refuse_leaving_disbursed(gestion: Gestion, to_state: GestionState) -> None:
    """A disbursed loan's application stays in its disbursed state: moved out, the gestión
    would say rejected or open while the money is lent. Annulling the disbursement (on the
    loan's page) comes first."""
    loan = (
        Loan.objects.filter(application__gestion_id=gestion.pk, status__in=Loan.DISBURSED)
        .only("payment_code")
        .first()
    )
    if loan is not None:
        raise ValidationError(
            _(
                "El crédito %(code)s de esta solicitud está desembolsado: la gestión no pasa a "
                "«%(state)s» mientras lo esté. Si el desembolso fue un error, anúlelo primero "
                "en la página del crédito."
            )
            % {"code": loan.payment_code, "state": to_state.name}
        )


def check_amount(gestion: Gestion, to_state: GestionState, amount: Decimal) -> None:
    """Refuse an approved amount on a credit application except with the step that approves
    it: that amount is its loan's principal. Typed on another step it only changed the
    gestión's figure (and the dashboards'), while the loan kept what was approved."""
    application = (
        CreditApplication.objects.select_related("loan").filter(gestion_id=gestion.pk).first()
    )
    if application is None:
        return
    loan = application.loan
    if loan is not None and loan.status != Loan.Status.CANCELLED:
        if amount != loan.principal:
            raise ValidationError(
                {
                    "amount_approved": _(
                        "La solicitud ya se aprobó con el crédito %(code)s por %(amount)s: "
                        "el monto aprobado es el de ese crédito. Deje el campo vacío."
                    )
                    % {
                        "code": loan.payment_code,
                        "amount": display.money_text(loan.principal, loan.currency),
                    }
                }
            )
        return
    if to_state.pk == gestion.state_id or not to_state.is_approval:
        raise ValidationError(
            {
                "amount_approved": _(
                    "El monto aprobado se indica con el resultado que aprueba la solicitud; "
                    "deje el campo vacío en este paso."
                )
            }
        )


def enter_state(
    gestion: Gestion,
    state: GestionState,
    *,
    actor: AbstractBaseUser | None,
    amount_approved: Decimal | None,
    now: datetime.datetime,
) -> CreditApplication | None:
    """Approve the gestión's application when `state` approves: make its draft loan.

    Return the application approved, or None (not an approving state, no application).
    An application approved before keeps its loan, unless that loan was cancelled. A
    gestión closed without a disbursement (rejected, withdrawn) cancels the loan its
    application was still waiting on: no draft is left behind to be signed or disbursed.
    """
    if selectors.closing_cancels_loan(state):
        _cancel_waiting_loan(gestion, state, actor=actor)
        return None
    if not state.is_approval:
        return None
    application = (
        CreditApplication.objects.select_for_update(of=("self",))
        .select_related("loan_product")
        .filter(gestion_id=gestion.pk)
        .first()
    )
    if application is None:
        return None
    current = Loan.objects.filter(pk=application.loan_id).only("status").first()
    if current is not None and current.status != Loan.Status.CANCELLED:
        return application
    principal = application.amount if amount_approved is None else amount_approved
    try:
        loan = loan_services.create_loan(
            actor=actor,
            customer=gestion.customer,
            product=application.loan_product,
            principal=principal,
            term=application.term,
            start_date=timezone.localdate(now),
            annual_rate=application.annual_rate,
            advisor=_loan_advisor(gestion, actor),
            branch=gestion.branch if gestion.branch and gestion.branch.is_active else None,
            cosigner={
                "name": application.cosigner_name,
                "email": application.cosigner_email,
                "document": application.cosigner_document,
            },
            notes=_("Solicitud de crédito de la gestión #%(id)s.") % {"id": gestion.pk},
            # One loan per application, which the approval itself guards.
            repeat_ok=True,
        )
    except ValidationError as exc:
        raise ValidationError(
            _(
                "No se puede aprobar la solicitud de la gestión #%(id)s: %(why)s Corrija la "
                "solicitud (producto, monto, plazo, tasa o aval) y vuelva a registrar el "
                "seguimiento."
            )
            % {"id": gestion.pk, "why": " ".join(exc.messages)},
            code="application_terms",
        ) from exc
    application.loan = loan
    if application.approved_at is None:
        application.approved_at = now
    application.save(update_fields=["loan", "approved_at"])
    gestion.loans.add(loan)
    Gestion.objects.filter(pk=gestion.pk, amount_approved__isnull=True).update(
        amount_approved=principal
    )
    crm_services.record_interaction(
        customer=gestion.customer,
        kind=Interaction.Kind.FOLLOW_UP,
        summary=_(
            "Solicitud de crédito de la gestión #%(id)s aprobada: crédito %(code)s en borrador "
            "(%(amount)s, %(term)s, %(rate)s %% anual)"
        )
        % {
            "id": gestion.pk,
            "code": loan.payment_code,
            "amount": display.money_text(loan.principal, loan.currency),
            "term": ngettext("%(n)s cuota", "%(n)s cuotas", loan.term) % {"n": loan.term},
            "rate": format(loan.annual_rate.normalize(), "f"),
        },
        payload={"gestion": gestion.pk, "loan": loan.pk},
        actor=actor,
        occurred_at=now,
    )
    return application


def _loan_advisor(gestion: Gestion, actor: AbstractBaseUser | None) -> AbstractBaseUser | None:
    """Return who the application's loan is credited to: the gestión's agent; when they left
    (inactive, or without the advisor's role), the customer's advisor; when that one left
    too, the person approving it. None leaves it to `create_loan` (the customer's advisor,
    or nobody, said on the loan's timeline entry)."""
    agent = gestion.agent
    if agent is not None and loan_services.may_advise(agent):
        return agent
    if loan_services.customer_advisor_for_loan(gestion.customer)[0] is not None:
        return None
    actor = people.signed_in(actor)
    if actor is not None and loan_services.may_advise(actor):
        return actor
    return None


def _cancel_waiting_loan(
    gestion: Gestion, state: GestionState, *, actor: AbstractBaseUser | None
) -> None:
    loan = selectors.loan_cancelled_by(gestion, state)
    if loan is None:
        return
    loan_services.change_status(
        loan=loan,
        to=Loan.Status.CANCELLED,
        actor=actor,
        reason=_("La solicitud de la gestión #%(id)s se cerró: %(state)s.")
        % {"id": gestion.pk, "state": state.name},
    )
