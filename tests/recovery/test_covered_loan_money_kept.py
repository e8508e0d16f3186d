"""Money for a written-off loan a campaign covers is recorded, not applied: a link withdrawn
when the campaign began, paid anyway (a gateway's checkout cannot be closed), leaves the
whole amount as the loan's credit balance, nothing allocated, the timeline saying so and
the collections team e-mailed; a refund takes it back. A payment to verify for the loan
is not approved onto it. The webhook's end-to-end case is in
test_campaign_withdraws_covered_loan_offers.py. The clock is frozen on TODAY.
"""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from collections_app import services as collection_services
from collections_app.models import Origin, ReportedPayment
from credits import selectors as credit_selectors
from credits.models import Installment, LedgerEntry, Loan, Payment, PaymentAllocation
from credits.services import payments as payment_services
from integrations import payment_gateways
from integrations.models import OutboxMessage
from tests import receipts
from tests.collections_app.test_payment_events import approved, link_for, receipt
from tests.recovery.conftest import TODAY, make_campaign

TEAM = "cobranzas@cartera.test"  # config/test_settings.COLLECTIONS_TEAM_EMAILS


def installments(loan) -> list[tuple]:
    return list(
        Installment.objects.filter(loan=loan)
        .order_by("pk")
        .values_list(
            "pk", "is_superseded", "principal_paid", "interest_paid", "late_interest_due", "paid_on"
        )
    )


@pytest.fixture
def withdrawn(written_off, debtor):
    """A total link on the written-off loan, withdrawn by the campaign made after it."""
    link = link_for(debtor, written_off)
    make_campaign(debtor, payment_code=written_off.payment_code)
    link.refresh_from_db()
    return link


def test_money_through_a_withdrawn_link_is_kept_whole_as_credit_with_nothing_allocated(
    withdrawn, written_off, debtor, django_capture_on_commit_callbacks
):
    before = installments(written_off)

    with django_capture_on_commit_callbacks(execute=True):
        collection_services.apply_gateway_payment(provider="mercadopago", found=approved(withdrawn))

    payment = Payment.objects.get(loan=written_off)
    loan = Loan.objects.get(pk=written_off.pk)
    assert (payment.credited, payment.overpaid, payment.prepaid_principal) == (
        withdrawn.amount,
        withdrawn.amount,
        0,
    )
    assert loan.credit_balance == withdrawn.amount
    assert loan.status == Loan.Status.WRITTEN_OFF
    assert not PaymentAllocation.objects.filter(payment=payment).exists()
    assert installments(written_off) == before
    # The ledger alone gives the same credit balance back.
    assert credit_selectors.balances_from_ledger(loan)["credit"] == loan.credit_balance
    entry = LedgerEntry.objects.get(payment=payment, kind=LedgerEntry.Kind.CREDIT)
    why = f"el crédito {loan.payment_code} lo cubre la campaña de cartera castigada CAST-2026-06"
    assert entry.reason == f"Pago no aplicado, a saldo a favor: {why}"
    said = debtor.interactions.get(payload__payment=payment.pk, payload__loan=loan.pk).summary
    assert said.endswith(
        f"; no se aplicó al crédito ({why}): queda todo como saldo a favor, para devolverlo "
        "o aplicarlo a mano"
    )
    mail = OutboxMessage.objects.get(payload__to=TEAM)
    assert "Pago a un crédito cubierto por una campaña" in mail.payload["subject"]
    assert f"al crédito {loan.payment_code}, que cubre la campaña" in mail.payload["body"]
    assert f"/creditos/{loan.pk}/" in mail.payload["body"]


def test_a_refund_of_the_kept_money_takes_the_credit_back(withdrawn, written_off):
    collection_services.apply_gateway_payment(provider="mercadopago", found=approved(withdrawn))

    collection_services.apply_gateway_payment(
        provider="mercadopago",
        found=approved(withdrawn, status=payment_gateways.REFUNDED),
    )

    loan = Loan.objects.get(pk=written_off.pk)
    assert Payment.objects.get(loan=loan).status == Payment.Status.ANNULLED
    assert loan.credit_balance == 0
    assert credit_selectors.balances_from_ledger(loan)["credit"] == 0


def test_a_payment_to_verify_reported_before_the_campaign_is_not_approved_onto_the_loan(
    written_off, debtor
):
    report = collection_services.report_payment(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=written_off.pk,
        amount=Decimal("500.00"),
        paid_on=TODAY,
        method=ReportedPayment.Method.TRANSFER,
        receipt=receipt(content=receipts.PNG),
        origin=Origin.PORTAL,
        actor=None,
    )
    make_campaign(debtor, payment_code=written_off.payment_code)

    with pytest.raises(ValidationError) as raised:
        collection_services.approve_reported_payment(report=report, actor=None)

    assert raised.value.messages == [
        f"No se aplican pagos al crédito {written_off.payment_code}: lo cubre la campaña de "
        "cartera castigada CAST-2026-06."
    ]
    assert not Payment.objects.filter(loan=written_off).exists()


def test_the_nightly_does_not_spend_the_kept_money_on_the_covered_loan(withdrawn, written_off):
    collection_services.apply_gateway_payment(provider="mercadopago", found=approved(withdrawn))

    payment_services.apply_due_credit_balances(today=TODAY)

    loan = Loan.objects.get(pk=written_off.pk)
    assert loan.credit_balance == withdrawn.amount
