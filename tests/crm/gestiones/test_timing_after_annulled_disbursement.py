"""An annulled disbursement (credits.services.loans.annul_disbursement: the loan back to «Por
desembolsar») is no disbursement in the application times, and moves none of the earlier
moments: the loan got ready to disburse (the signature, without a contract on record) when
it first did, not when the annulment moved it back there. A new disbursement counts from
its own moment."""

from credits.models import LedgerEntry, Loan
from credits.services import loans as loan_services
from crm.gestiones.models import ApplicationTime
from tests.crm.gestiones.test_application_times import (  # noqa: F401 (fixtures)
    HOUR,
    application,
    at,
    frozen,
    hours_after,
    refresh,
    world,
)
from tests.factories import LoanFactory

LEAD = at(2)
READY = hours_after(LEAD, 20)


def fact() -> tuple:
    return ApplicationTime.objects.values_list(
        "signed_at", "disbursed_at", "disbursement_seconds"
    ).get()


def test_an_annulled_disbursement_counts_for_nothing_and_a_new_one_from_its_moment(
    world,  # noqa: F811 (the fixture, imported)
    supervisor,
):
    loan = LoanFactory(product=world.vehicular, status=Loan.Status.READY_TO_DISBURSE)
    # Its move to "ready to disburse" (no contract on record): the signature's moment.
    LedgerEntry.objects.create(loan=loan, kind=LedgerEntry.Kind.STATUS, created_at=READY)
    application(world, LEAD, approved_after=5, loan=loan)
    loan_services.disburse(loan=loan, actor=supervisor, disbursed_at=hours_after(LEAD, 30))
    refresh(full=True)
    disbursed = fact()

    loan_services.annul_disbursement(
        loan=Loan.objects.get(pk=loan.pk), actor=supervisor, reason="Otra fecha"
    )
    refresh()
    annulled = fact()
    loan_services.disburse(
        loan=Loan.objects.get(pk=loan.pk), actor=supervisor, disbursed_at=hours_after(LEAD, 80)
    )
    refresh()
    again = fact()

    assert disbursed == (READY, hours_after(LEAD, 30), 30 * HOUR)
    assert annulled == (READY, None, None)  # the signature stays; no disbursement
    assert again == (READY, hours_after(LEAD, 80), 80 * HOUR)
