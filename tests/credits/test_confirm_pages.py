"""Actions that cannot be undone ask on a page of their own, with the figures, before acting:
annulling a loan payment, writing off or cancelling a loan, marking a liquidation paid and
undoing an import. A GET shows the page; a POST acts only with the page's confirm field."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from credits.investors import services as investor_services
from credits.models import Liquidation, Loan, Payment
from crm.models import Customer, ImportBatch
from tests.credits.conftest import TODAY, pay
from tests.crm.test_imports import HEADER, run, xlsx
from tests.factories import InvestorFactory, LoanFactory, UserFactory

pytestmark = pytest.mark.usefixtures("frozen_today")


@pytest.fixture
def loan(make_active_loan):
    return make_active_loan()


def _annul_url(payment: Payment) -> str:
    return reverse("credits:payment_annul", args=[payment.loan_id, payment.pk])


def _transition_url(loan: Loan) -> str:
    return reverse("credits:loan_transition", args=[loan.pk])


def _text(response) -> str:
    return " ".join(response.content.decode().split())


# --- Annul a loan payment -------------------------------------------------------------------


def test_a_payment_annulment_posted_without_its_confirmation_only_asks(client, supervisor, loan):
    payment = pay(loan, "100.00", TODAY)
    client.force_login(supervisor)

    response = client.post(_annul_url(payment), {"reason": "Error de digitación"})

    payment.refresh_from_db()
    assert payment.status == Payment.Status.APPLIED
    assert response.status_code == 200
    assertContains(response, "¿Anular el pago")
    assertContains(response, 'name="confirm" value="yes"')
    assertContains(response, 'value="Error de digitación"')


def test_the_annulment_page_gives_the_amount_the_day_and_the_investors_reversal(
    client, supervisor, make_active_loan
):
    loan = make_active_loan()
    lucia = InvestorFactory(name="Lucía Paredes")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    payment = pay(loan, "945.60", TODAY)
    client.force_login(supervisor)

    response = client.get(_annul_url(payment))

    text = _text(response)
    assert response.status_code == 200
    assert "S/ 945.60" in text.replace("\xa0", " ")
    assert TODAY.strftime("%d/%m/%Y") in text
    assert "Lucía Paredes" in text
    assert "entra en la próxima liquidación de cada uno" in text
    assert "No se puede deshacer" in text
    assertContains(response, f'href="{loan.get_absolute_url()}">Cancelar</a>')
    assertContains(response, 'name="reason"')
    payment.refresh_from_db()
    assert payment.status == Payment.Status.APPLIED


def test_a_confirmed_annulment_without_a_reason_says_so_on_its_page(client, supervisor, loan):
    payment = pay(loan, "100.00", TODAY)
    client.force_login(supervisor)

    response = client.post(_annul_url(payment), {"reason": "", "confirm": "yes"})

    assert response.status_code == 200
    assertContains(response, "Indique el motivo de la anulación.")
    assertContains(response, "¿Anular el pago")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.APPLIED


def test_a_confirmed_annulment_annuls(client, supervisor, loan):
    payment = pay(loan, "100.00", TODAY)
    client.force_login(supervisor)

    response = client.post(_annul_url(payment), {"reason": "Cheque sin fondos", "confirm": "yes"})

    payment.refresh_from_db()
    assert payment.status == Payment.Status.ANNULLED
    assert response.url == loan.get_absolute_url()


def test_the_annulment_page_of_an_annulled_payment_says_it_is_done(client, supervisor, loan):
    payment = pay(loan, "100.00", TODAY)
    client.force_login(supervisor)
    client.post(_annul_url(payment), {"reason": "Error", "confirm": "yes"})

    response = client.get(_annul_url(payment), follow=True)

    assertContains(response, "Este pago ya fue anulado el ")


def test_the_loan_page_links_to_the_annulment_page_without_a_one_click_form(
    client, supervisor, loan
):
    payment = pay(loan, "100.00", TODAY)
    client.force_login(supervisor)

    page = client.get(loan.get_absolute_url())

    assertContains(page, f'href="{_annul_url(payment)}"')
    assertNotContains(page, f'action="{_annul_url(payment)}"')


def test_who_may_not_annul_gets_403_on_the_page_and_on_the_post(client, asesor, loan):
    payment = pay(loan, "100.00", TODAY)
    client.force_login(asesor)

    shown = client.get(_annul_url(payment))
    posted = client.post(_annul_url(payment), {"reason": "Error", "confirm": "yes"})

    assert (shown.status_code, posted.status_code) == (403, 403)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.APPLIED


# --- Write off ------------------------------------------------------------------------------


def test_a_write_off_posted_without_its_confirmation_only_asks(client, supervisor, loan):
    client.force_login(supervisor)

    response = client.post(_transition_url(loan), {"action": "write_off", "reason": "Incobrable"})

    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    assert response.status_code == 200
    assertContains(response, "¿Castigar el crédito")
    assertContains(response, 'value="Incobrable"')


def test_the_write_off_page_gives_the_balance_written_off_and_says_it_cannot_be_undone(
    client, supervisor, loan
):
    from credits import selectors

    owed = selectors.loan_balance(loan, TODAY).total_due
    client.force_login(supervisor)

    response = client.get(_transition_url(loan), {"action": "write_off"})

    text = _text(response).replace("\xa0", " ")
    assert response.status_code == 200
    assert f'Saldo que se castiga</dt><dd class="col-6 text-end text-break">S/ {owed:,.2f}' in (
        text
    )
    assert "No se puede deshacer: un crédito castigado no vuelve a la cartera vigente." in text
    assertContains(response, 'name="action" value="write_off"')
    assertContains(response, 'name="reason"')
    assertContains(response, f'href="{loan.get_absolute_url()}">Cancelar</a>')


def test_a_confirmed_write_off_without_a_reason_says_so_on_its_page(client, supervisor, loan):
    client.force_login(supervisor)

    response = client.post(
        _transition_url(loan), {"action": "write_off", "reason": " ", "confirm": "yes"}
    )

    assert response.status_code == 200
    assertContains(response, "Indique el motivo del castigo.")
    assertContains(response, "¿Castigar el crédito")
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE


def test_a_confirmed_write_off_writes_off(client, supervisor, loan):
    client.force_login(supervisor)

    client.post(
        _transition_url(loan), {"action": "write_off", "reason": "Incobrable", "confirm": "yes"}
    )

    loan.refresh_from_db()
    assert loan.status == Loan.Status.WRITTEN_OFF


def test_the_write_off_page_of_a_written_off_loan_says_it_is_no_longer_possible(
    client, supervisor, loan
):
    client.force_login(supervisor)
    client.post(
        _transition_url(loan), {"action": "write_off", "reason": "Incobrable", "confirm": "yes"}
    )

    response = client.get(_transition_url(loan), {"action": "write_off"}, follow=True)

    assertContains(response, "está «Castigado»: ya no se puede castigar.")


def test_who_may_not_write_off_gets_403_on_the_page_and_on_the_post(client, asesor, loan):
    client.force_login(asesor)

    shown = client.get(_transition_url(loan), {"action": "write_off"})
    posted = client.post(
        _transition_url(loan), {"action": "write_off", "reason": "x", "confirm": "yes"}
    )

    assert (shown.status_code, posted.status_code) == (403, 403)
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE


def test_a_get_of_the_life_cycle_url_without_an_action_that_asks_first_is_refused(
    client, supervisor, loan
):
    client.force_login(supervisor)

    assert client.get(_transition_url(loan)).status_code == 405
    assert client.get(_transition_url(loan), {"action": "apply_credit"}).status_code == 405


# --- Cancel a loan --------------------------------------------------------------------------


def test_a_cancel_posted_without_its_confirmation_only_asks(client, supervisor):
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE, principal=Decimal("5000.00"))
    client.force_login(supervisor)

    response = client.post(_transition_url(loan), {"action": "cancel", "reason": "Desistió"})

    loan.refresh_from_db()
    assert loan.status == Loan.Status.READY_TO_DISBURSE
    text = _text(response).replace("\xa0", " ")
    assert "S/ 5,000.00" in text
    assert "no se podrá desembolsar ni reactivar" in text


def test_a_confirmed_cancel_cancels(client, supervisor):
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE)
    client.force_login(supervisor)

    client.post(_transition_url(loan), {"action": "cancel", "reason": "Desistió", "confirm": "yes"})

    loan.refresh_from_db()
    assert loan.status == Loan.Status.CANCELLED


def test_an_advisor_sees_the_cancel_page_of_their_own_draft_only(client, asesor):
    own = LoanFactory(advisor=asesor)
    another = LoanFactory(advisor=UserFactory(role="Asesor"))
    client.force_login(asesor)

    assert client.get(_transition_url(own), {"action": "cancel"}).status_code == 200
    assert client.get(_transition_url(another), {"action": "cancel"}).status_code == 403
    refused = client.post(
        _transition_url(another), {"action": "cancel", "reason": "x", "confirm": "yes"}
    )
    assert refused.status_code == 403


def test_the_loan_page_links_to_the_write_off_and_cancel_pages(client, supervisor, loan):
    draft = LoanFactory()
    client.force_login(supervisor)

    active_page = client.get(loan.get_absolute_url())
    draft_page = client.get(draft.get_absolute_url())

    assertContains(active_page, f'href="{_transition_url(loan)}?action=write_off"')
    assertNotContains(active_page, 'value="write_off"')
    assertContains(draft_page, f'href="{_transition_url(draft)}?action=cancel"')
    assertNotContains(draft_page, 'value="cancel"')


# --- Mark a liquidation paid ----------------------------------------------------------------


@pytest.fixture
def liquidation(make_active_loan):
    loan = make_active_loan(principal=Decimal("10000.00"))
    lucia = InvestorFactory(name="Lucía Paredes", bank_name="BCP", bank_account="191-1234567-0-12")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    pay(loan, "2000.00", TODAY)
    return investor_services.create_liquidation(
        investor=lucia, period_start=date(2026, 6, 1), period_end=TODAY, actor=None
    )


def _pay_url(liquidation: Liquidation) -> str:
    return reverse("credits:liquidation_pay", args=[liquidation.pk])


def test_the_payout_page_gives_the_net_and_to_whom(client, supervisor, liquidation):
    client.force_login(supervisor)

    response = client.get(_pay_url(liquidation))

    text = _text(response).replace("\xa0", " ")
    assert response.status_code == 200
    assert liquidation.net_amount > 0
    assert f"S/ {liquidation.net_amount:,.2f} a Lucía Paredes" in text
    assert "191-1234567-0-12" in text
    assert "No se puede deshacer" in text
    assertContains(response, 'name="reference"')
    assertContains(response, f'href="{liquidation.get_absolute_url()}">Cancelar</a>')


def test_a_payout_posted_without_its_confirmation_only_asks(client, supervisor, liquidation):
    client.force_login(supervisor)

    response = client.post(_pay_url(liquidation), {"reference": "OP-1"})

    assert response.status_code == 200
    assertContains(response, 'value="OP-1"')
    liquidation.refresh_from_db()
    assert liquidation.status == Liquidation.Status.DRAFT


def test_a_confirmed_payout_without_a_reference_says_so_on_its_page(
    client, supervisor, liquidation
):
    client.force_login(supervisor)

    response = client.post(_pay_url(liquidation), {"reference": "", "confirm": "yes"})

    assert response.status_code == 200
    assertContains(response, "Indique el número de operación del abono.")
    assertContains(response, 'name="confirm" value="yes"')
    liquidation.refresh_from_db()
    assert liquidation.status == Liquidation.Status.DRAFT


def test_who_may_not_pay_liquidations_gets_403_on_the_page_and_on_the_post(
    client, cobranzas, liquidation
):
    client.force_login(cobranzas)

    shown = client.get(_pay_url(liquidation))
    posted = client.post(_pay_url(liquidation), {"reference": "OP-1", "confirm": "yes"})

    assert (shown.status_code, posted.status_code) == (403, 403)
    liquidation.refresh_from_db()
    assert liquidation.status == Liquidation.Status.DRAFT


def test_the_liquidation_page_links_to_the_payout_page(client, supervisor, liquidation):
    client.force_login(supervisor)

    page = client.get(liquidation.get_absolute_url())

    assertContains(page, f'href="{_pay_url(liquidation)}"')
    assertNotContains(page, f'action="{_pay_url(liquidation)}"')


# --- Undo an import -------------------------------------------------------------------------


@pytest.fixture
def batch(supervisor):
    rows = [
        HEADER,
        ["DNI", "41234567", "Marta", "Ccori Vela", "", "", ""],
        ["CE", "001234567", "Jean", "Dupont", "", "", ""],
    ]
    return run(xlsx(rows), supervisor)


def _undo_url(batch: ImportBatch) -> str:
    return reverse("crm:import_undo", args=[batch.pk])


def test_the_undo_page_gives_the_counts(client, supervisor, batch):
    client.force_login(supervisor)

    response = client.get(_undo_url(batch))

    assert response.status_code == 200
    assertContains(response, "Se eliminarán 2 registros creados y se restaurarán 0 registros")
    assertContains(response, 'name="confirm" value="yes"')
    assertContains(response, f'href="{batch.get_absolute_url()}">Cancelar</a>')
    assert Customer.objects.count() == 2


def test_an_undo_posted_without_its_confirmation_only_asks(client, supervisor, batch):
    client.force_login(supervisor)

    response = client.post(_undo_url(batch))

    assert response.status_code == 200
    assertContains(response, "¿Deshacer la importación")
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DONE
    assert Customer.objects.count() == 2


def test_a_confirmed_undo_undoes(client, supervisor, batch):
    client.force_login(supervisor)

    client.post(_undo_url(batch), {"confirm": "yes"})

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.UNDONE
    assert Customer.objects.count() == 0


def test_who_may_not_import_gets_403_on_the_undo_page_and_on_the_post(client, cobranzas, batch):
    client.force_login(cobranzas)

    shown = client.get(_undo_url(batch))
    posted = client.post(_undo_url(batch), {"confirm": "yes"})

    assert (shown.status_code, posted.status_code) == (403, 403)
    assert Customer.objects.count() == 2


def test_the_import_page_links_to_the_undo_page(client, supervisor, batch):
    client.force_login(supervisor)

    page = client.get(batch.get_absolute_url())

    assertContains(page, f'href="{_undo_url(batch)}"')
    assertNotContains(page, f'action="{_undo_url(batch)}"')
