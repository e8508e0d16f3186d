"""A disbursement recorded by mistake (another day, another amount, money never handed over)
is annulled while nothing followed it: the loan goes back to «Por desembolsar», its schedule
and what it owed (late interest since included) are taken back in the ledger, and it can be
disbursed again; anything that followed it refuses the annulment in words."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from credits import selectors
from credits.investors import selectors as investor_selectors
from credits.investors import services as investor_services
from credits.models import (
    Bucket,
    Installment,
    LedgerEntry,
    Loan,
    Payment,
    PortfolioSnapshot,
)
from credits.services import delinquency
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from crm.models import Interaction
from tests.credits.conftest import TODAY, at, pay
from tests.credits.test_ledger import assert_ledger_matches
from tests.credits.test_ledger_invariants import check_invariants
from tests.factories import InvestorFactory, LoanFactory, LoanProductFactory
from tests.races import at_once

# LoanFactory's loan: 10,000 from 1 January 2026, 12 monthly installments from 1 February;
# on TODAY (15 June) five are due. Disbursed by mistake on 1 January, really on 10 February.
WRONG_DAY, RIGHT_DAY = date(2026, 1, 1), date(2026, 2, 10)
REASON = "Se registró con otra fecha: el dinero se entregó el 10/02"


@pytest.fixture
def ready_loan(db):
    return LoanFactory(
        product=LoanProductFactory(late_annual_rate=Decimal("36")),
        status=Loan.Status.READY_TO_DISBURSE,
    )


@pytest.fixture
def disbursed(ready_loan, supervisor, frozen_today):
    """The loan disbursed on the wrong day, its late interest charged by last night's run."""
    loan = loan_services.disburse(loan=ready_loan, actor=supervisor, disbursed_on=WRONG_DAY)
    delinquency.update_delinquency(today=TODAY)
    return Loan.objects.get(pk=loan.pk)


def _annul(loan: Loan, actor, reason: str = REASON) -> Loan:
    return loan_services.annul_disbursement(loan=loan, actor=actor, reason=reason)


def _owed_in_the_ledger(loan: Loan) -> Decimal:
    return sum(LedgerEntry.objects.filter(loan=loan).values_list("owed", flat=True), Decimal("0"))


def _loans_in_portfolio(day: date) -> int:
    return sum(row["loans"] for row in selectors.portfolio_summary(day).buckets)


# --- The service --------------------------------------------------------------------------


def test_the_loan_goes_back_to_be_disbursed_with_nothing_owed(disbursed, supervisor):
    late = sum(row.late_interest_due for row in selectors.live_installments(disbursed))
    assert late > 0 and disbursed.days_past_due > 0

    loan = _annul(disbursed, supervisor)

    loan.refresh_from_db()
    assert loan.status == Loan.Status.READY_TO_DISBURSE
    assert (loan.disbursed_at, loan.days_past_due, loan.bucket) == (None, 0, Bucket.CURRENT)
    assert not selectors.live_installments(loan).exists()
    # The schedule stays, superseded, and the ledger took back all it owed, late interest too.
    assert Installment.objects.filter(loan=loan, is_superseded=True).count() == 12
    assert _owed_in_the_ledger(loan) == 0
    reversed_late = LedgerEntry.objects.filter(
        loan=loan, kind=LedgerEntry.Kind.ANNULMENT, component="late_interest"
    )
    assert -sum(e.owed for e in reversed_late) == late
    assert_ledger_matches(loan)


def test_disbursed_again_on_the_right_day_the_ledger_holds_as_for_any_loan(disbursed, supervisor):
    _annul(disbursed, supervisor)

    loan = loan_services.disburse(
        loan=Loan.objects.get(pk=disbursed.pk), actor=supervisor, disbursed_on=RIGHT_DAY
    )
    delinquency.update_delinquency(today=TODAY)
    pay(Loan.objects.get(pk=loan.pk), "1000.00", date(2026, 3, 1))

    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    assert loan.disbursed_on == RIGHT_DAY
    assert selectors.live_installments(loan).count() == 12
    assert Installment.objects.filter(loan=loan).count() == 24
    check_invariants(loan, TODAY)


def test_the_customer_timeline_says_who_when_and_why(disbursed, supervisor):
    _annul(disbursed, supervisor)

    entry = Interaction.objects.filter(customer=disbursed.customer).latest("pk")
    assert entry.summary == f"Crédito {disbursed.payment_code}: Vigente → Por desembolsar"
    assert entry.actor == supervisor
    assert entry.occurred_at == timezone.now()
    assert entry.payload["reason"] == f"Anulación del desembolso del 01/01/2026: {REASON}"


def test_investors_deployed_capital_is_as_before_the_disbursement(disbursed, supervisor):
    investor = InvestorFactory()
    investor_services.add_participation(
        loan=disbursed, investor=investor, actor=supervisor, share=Decimal("50")
    )
    assert investor_selectors.investor_summary(investor).capital_deployed == Decimal("5000.00")

    _annul(disbursed, supervisor)

    summary = investor_selectors.investor_summary(investor)
    assert (summary.capital_deployed, summary.loans, summary.outstanding) == (0, 0, 0)
    assert disbursed.participations.count() == 1


def test_the_portfolio_snapshots_from_the_disbursement_day_go_stale(disbursed, supervisor):
    before, since = (
        PortfolioSnapshot.objects.create(as_of=WRONG_DAY - timedelta(days=1), is_stale=False),
        PortfolioSnapshot.objects.create(as_of=WRONG_DAY, is_stale=False),
    )

    _annul(disbursed, supervisor)

    before.refresh_from_db()
    since.refresh_from_db()
    assert (before.is_stale, since.is_stale) == (False, True)


def test_the_portfolio_and_the_loans_list_leave_it_out(disbursed, supervisor):
    assert _loans_in_portfolio(TODAY) == 1
    assert Loan.objects.filter(bucket=disbursed.bucket).count() == 1

    _annul(disbursed, supervisor)

    assert (_loans_in_portfolio(TODAY), _loans_in_portfolio(date(2026, 3, 1))) == (0, 0)
    assert not Loan.objects.filter(bucket=disbursed.bucket).exists()


def test_a_past_day_counts_the_loan_once_after_it_is_disbursed_again(disbursed, supervisor):
    _annul(disbursed, supervisor)
    loan = loan_services.disburse(
        loan=Loan.objects.get(pk=disbursed.pk), actor=supervisor, disbursed_on=RIGHT_DAY
    )
    # A payment received after the day looked at: the report of that day corrects for it.
    pay(Loan.objects.get(pk=loan.pk), "900.00", date(2026, 4, 1))

    summary = selectors.portfolio_summary(date(2026, 3, 1))

    assert (_loans_in_portfolio(date(2026, 3, 1)), summary.outstanding) == (
        1,
        Decimal("10000.00"),
    )


def test_the_linked_gestion_is_not_touched(ready_loan, supervisor, asesor, frozen_today):
    from crm.gestiones import examples
    from crm.gestiones import services as gestion_services
    from crm.gestiones.applications import services as application_services

    process = examples.build_process(
        examples.CREDIT_APPLICATION, agents=[asesor], supervisors=[supervisor]
    )
    gestion = gestion_services.create_gestion(
        customer=ready_loan.customer,
        gestion_type=process,
        actor=asesor,
        data={"ingreso_mensual": "3500.00", "destino": "Consumo"},
    )
    application_services.link_loan(gestion=gestion, loan=ready_loan, actor=asesor)
    loan = loan_services.disburse(loan=ready_loan, actor=supervisor, disbursed_on=WRONG_DAY)
    gestion.refresh_from_db()
    state, steps = gestion.state_id, gestion.follow_ups.count()

    _annul(loan, supervisor)
    loan_services.disburse(
        loan=Loan.objects.get(pk=loan.pk), actor=supervisor, disbursed_on=RIGHT_DAY
    )

    gestion.refresh_from_db()
    assert (gestion.state_id, gestion.follow_ups.count()) == (state, steps)


# --- Refused ------------------------------------------------------------------------------


def _applied(loan: Loan) -> None:
    pay(loan, "100.00", TODAY)


def _annulled(loan: Loan) -> None:
    payment = pay(loan, "100.00", TODAY)
    payment_services.annul_payment(payment=payment, actor=None, reason="rebotó")


def _waived(loan: Loan) -> None:
    delinquency.waive_late_interest(loan=loan, amount=Decimal("1.00"), actor=None, reason="c")


def _written_off(loan: Loan) -> None:
    loan_services.write_off(loan=loan, actor=None, reason="incobrable")


def _imported(loan: Loan) -> None:
    Loan.objects.filter(pk=loan.pk).update(schedule_source=Loan.ScheduleSource.IMPORTED)


@pytest.mark.parametrize(
    ("happened", "message"),
    [
        (_applied, r"ya tiene 1 pago registrado \(aunque se haya anulado\)"),
        (_annulled, r"ya tiene 1 pago registrado \(aunque se haya anulado\)"),
        (_waived, "tiene un descuento de interés moratorio"),
        (_written_off, "Solo se anula el desembolso de un crédito «Vigente»"),
        (_imported, "tiene el cronograma importado"),
    ],
)
def test_anything_that_followed_the_disbursement_refuses_it_in_words(
    disbursed, supervisor, happened, message
):
    happened(Loan.objects.get(pk=disbursed.pk))
    entries = LedgerEntry.objects.filter(loan=disbursed).count()

    with pytest.raises(ValidationError, match=message):
        _annul(Loan.objects.get(pk=disbursed.pk), supervisor)

    assert LedgerEntry.objects.filter(loan=disbursed).count() == entries
    assert Loan.objects.get(pk=disbursed.pk).disbursed_at is not None


def test_an_app_above_credits_refuses_it_while_it_keeps_something_open(disbursed, supervisor):
    def open_link(loan: Loan) -> str:
        return f"El crédito {loan.payment_code} tiene un enlace de pago vigente."

    loan_services.register_annulment_check("test-open-link", open_link)
    try:
        with pytest.raises(ValidationError, match="tiene un enlace de pago vigente"):
            _annul(disbursed, supervisor)
    finally:
        loan_services.unregister_annulment_check("test-open-link")
    assert Loan.objects.get(pk=disbursed.pk).status == Loan.Status.ACTIVE


def test_a_second_annulment_says_when_and_by_whom_the_first_was_made(disbursed, supervisor):
    _annul(disbursed, supervisor)

    with pytest.raises(ValidationError) as refused:
        _annul(Loan.objects.get(pk=disbursed.pk), supervisor)

    assert refused.value.messages == [
        f"El desembolso del crédito {disbursed.payment_code} ya fue anulado el 15/06/2026 a "
        f"las 12:00 por {supervisor.get_full_name() or supervisor.username}."
    ]


def test_a_reason_is_required(disbursed, supervisor):
    with pytest.raises(ValidationError, match="Indique el motivo de la anulación del desembolso"):
        _annul(disbursed, supervisor, reason="  ")


def test_the_plain_status_change_does_not_undo_a_disbursement(disbursed):
    with pytest.raises(ValidationError, match="Use la acción propia de ese estado"):
        loan_services.change_status(loan=disbursed, to=Loan.Status.READY_TO_DISBURSE, actor=None)


# --- The screens --------------------------------------------------------------------------


def _confirm_url(loan: Loan) -> str:
    return reverse("credits:loan_transition", args=[loan.pk]) + "?action=annul_disbursement"


def _post(client, loan: Loan, **data):
    return client.post(
        reverse("credits:loan_transition", args=[loan.pk]),
        {"action": "annul_disbursement", **data},
        follow=True,
    )


def test_the_loan_page_offers_it_to_who_may_disburse(client, disbursed, supervisor, asesor):
    client.force_login(supervisor)
    offered = client.get(disbursed.get_absolute_url())
    client.force_login(asesor)
    not_offered = client.get(disbursed.get_absolute_url())

    assertContains(offered, 'id="annul-disbursement-action"')
    assertContains(offered, "Anular desembolso")
    assertNotContains(not_offered, 'id="annul-disbursement-action"')


def test_the_loan_page_does_not_offer_it_once_a_payment_was_recorded(client, disbursed, supervisor):
    _applied(disbursed)
    client.force_login(supervisor)

    response = client.get(disbursed.get_absolute_url())

    assertNotContains(response, 'id="annul-disbursement-action"')


@pytest.mark.parametrize("role", ["asesor", "cobranzas"])
def test_who_may_not_disburse_may_not_annul_a_disbursement(client, disbursed, role, request):
    client.force_login(request.getfixturevalue(role))

    page = client.get(_confirm_url(disbursed))
    sent = _post(client, disbursed, reason=REASON, confirm="yes")

    assert (page.status_code, sent.status_code) == (403, 403)
    assert Loan.objects.get(pk=disbursed.pk).status == Loan.Status.ACTIVE


def test_the_confirmation_page_says_what_is_undone_and_asks_for_the_reason(
    client, disbursed, supervisor
):
    client.force_login(supervisor)

    response = client.get(_confirm_url(disbursed))

    assertTemplateUsed(response, "credits/confirm_action.html")
    assertContains(response, f"¿Anular el desembolso del crédito {disbursed.payment_code}?")
    assertContains(response, "01/01/2026")
    assertContains(response, "El crédito vuelve a «Por desembolsar»")
    assertContains(response, "Interés moratorio cargado")
    # Works without JavaScript: its own form sends the action, the reason and the confirm.
    assertContains(response, 'name="action" value="annul_disbursement"')
    assertContains(response, 'name="reason"')
    assertContains(response, 'name="confirm" value="yes"')
    assertContains(response, "Sí, anular el desembolso")
    assert Loan.objects.get(pk=disbursed.pk).status == Loan.Status.ACTIVE


def test_a_first_click_without_the_confirmation_annuls_nothing(client, disbursed, supervisor):
    client.force_login(supervisor)

    response = _post(client, disbursed, reason=REASON)

    assertTemplateUsed(response, "credits/confirm_action.html")
    assert Loan.objects.get(pk=disbursed.pk).status == Loan.Status.ACTIVE


def test_confirmed_without_a_reason_the_page_asks_for_it(client, disbursed, supervisor):
    client.force_login(supervisor)

    response = _post(client, disbursed, reason="", confirm="yes")

    assertTemplateUsed(response, "credits/confirm_action.html")
    assertContains(response, "Indique el motivo de la anulación del desembolso.")
    assert Loan.objects.get(pk=disbursed.pk).status == Loan.Status.ACTIVE


def test_confirmed_with_its_reason_the_disbursement_is_annulled(client, disbursed, supervisor):
    client.force_login(supervisor)

    response = _post(client, disbursed, reason=REASON, confirm="yes")

    assertContains(
        response,
        f"Desembolso del crédito {disbursed.payment_code} anulado: el crédito está «Por "
        "desembolsar».",
    )
    # The loan's page offers the disbursement again, with its day.
    assertContains(response, 'name="disbursed_on"')
    assert Loan.objects.get(pk=disbursed.pk).status == Loan.Status.READY_TO_DISBURSE


def test_sent_again_it_says_it_was_done_never_a_server_error(client, disbursed, supervisor):
    client.force_login(supervisor)
    _post(client, disbursed, reason=REASON, confirm="yes")
    entries = LedgerEntry.objects.filter(loan=disbursed).count()

    again = _post(client, disbursed, reason=REASON, confirm="yes")
    page = client.get(_confirm_url(disbursed), follow=True)

    for response in (again, page):
        assert response.status_code == 200
        assertContains(
            response, f"El desembolso del crédito {disbursed.payment_code} ya fue anulado"
        )
    assert LedgerEntry.objects.filter(loan=disbursed).count() == entries


def test_the_confirmation_page_of_a_loan_with_payments_says_why_not(client, disbursed, supervisor):
    _applied(disbursed)
    client.force_login(supervisor)

    response = client.get(_confirm_url(disbursed), follow=True)

    assertTemplateUsed(response, "credits/loan_detail.html")
    assertContains(response, "ya tiene 1 pago registrado")


# --- Two clicks at once -------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL only")
@pytest.mark.parametrize("round_", range(3))
def test_two_annulments_at_once_annul_it_once(transactional_db, round_):
    today = timezone.localdate()
    loan = LoanFactory(
        product=LoanProductFactory(late_annual_rate=Decimal("36")),
        status=Loan.Status.READY_TO_DISBURSE,
        start_date=today - timedelta(days=40),
        first_due_date=today - timedelta(days=10),
    )
    at_noon = timezone.make_aware(datetime.combine(loan.start_date, time(12)))
    loan = loan_services.disburse(loan=loan, actor=None, disbursed_at=at_noon)

    def annul():
        return _annul(Loan.objects.get(pk=loan.pk), None)

    done, errors = at_once(annul, annul)

    assert len(done) == 1
    assert len(errors) == 1 and "ya fue anulado" in errors[0]
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.READY_TO_DISBURSE
    assert LedgerEntry.objects.filter(loan=loan, kind=LedgerEntry.Kind.STATUS).count() == 2
    assert _owed_in_the_ledger(loan) == 0
    assert_ledger_matches(loan)


def test_payments_wait_for_the_disbursement_again(disbursed, supervisor):
    _annul(disbursed, supervisor)

    with pytest.raises(ValidationError):
        pay(Loan.objects.get(pk=disbursed.pk), "100.00", TODAY)

    assert not Payment.objects.filter(loan=disbursed).exists()


def test_the_nightly_run_leaves_it_alone(disbursed, supervisor):
    _annul(disbursed, supervisor)
    entries = LedgerEntry.objects.filter(loan=disbursed).count()

    with at(TODAY + timedelta(days=1), 1):
        delinquency.update_delinquency()

    loan = Loan.objects.get(pk=disbursed.pk)
    assert (loan.days_past_due, loan.bucket) == (0, Bucket.CURRENT)
    assert LedgerEntry.objects.filter(loan=disbursed).count() == entries
