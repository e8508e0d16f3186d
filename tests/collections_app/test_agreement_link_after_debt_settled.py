"""An agreement still waiting for its down payment, on a debt settled meanwhile by other
means (a payment recorded by hand, a payment to verify, another link): its down-payment link
asked for money nothing was owed for, the portal kept offering it, and paid it left the
money as credit balance and turned a settled loan's agreement into promises. The link and
its agreement are withdrawn with the payment, each on the timeline; a payment that leaves
the debt above the down payment leaves both as they are (the agent withdraws the agreement
on its card).

A written-off campaign never has an agreement (they are offered for the current portfolio
only), and a campaign naming a loan withdraws the loan's agreement when it is made
(tests/recovery/test_campaign_withdraws_covered_loan_offers.py).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from collections_app import services
from collections_app.models import (
    AgreementRule,
    Origin,
    PaymentAgreement,
    PaymentLink,
    ReportedPayment,
)
from credits.models import Loan
from crm.models import Interaction
from tests import receipts
from tests.collections_app.conftest import TO_SETTLE, TODAY, pay
from tests.collections_app.test_links_outgrown_by_payments import link, paid_by_gateway, status

DOWN_PAYMENT = Decimal("472.80")  # 10 % of the 4,728.00 overdue


@pytest.fixture
def waiting(loan, debtor):
    """An agreement in 3 payments, 10 % down, waiting for its down payment."""
    loan.days_past_due = 134
    loan.save()
    rule = AgreementRule.objects.create(
        name="Hasta 3 cuotas", max_installments=3, min_down_payment_percent=Decimal("10")
    )
    agreement, down = services.create_agreement(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        option_key=f"{rule.pk}-3",
        provider="mercadopago",
        origin=Origin.PORTAL,
        actor=None,
    )
    assert down.amount == DOWN_PAYMENT
    return agreement, down


def withdrawal_entry(down: PaymentLink) -> Interaction:
    """The link's own entry (its agreement's names it too)."""
    return Interaction.objects.exclude(payload__has_key="agreement").get(
        payload__link=down.pk, summary__contains="anulado"
    )


def agreement_status(agreement: PaymentAgreement) -> str:
    agreement.refresh_from_db()
    return agreement.status


def assert_withdrawn_by(agreement: PaymentAgreement, down: PaymentLink, cause: str) -> None:
    assert status(down) == PaymentLink.Status.CANCELLED
    assert agreement_status(agreement) == PaymentAgreement.Status.CANCELLED
    assert down.status_reason == (
        f"{cause[:1].upper()}{cause[1:]} redujo la deuda: el link por S/ 472.80 ya no corresponde"
    )
    link_entry = withdrawal_entry(down)
    assert link_entry.summary == (
        f"Link de pago {down.reference} de S/ 472.80 anulado: {cause} redujo la deuda y el "
        "link ya no corresponde (la deuda ya no tiene saldo pendiente)"
    )
    assert link_entry.kind == Interaction.Kind.SYSTEM
    agreement_entry = Interaction.objects.get(
        payload__agreement=agreement.pk, summary__contains="anulado"
    )
    assert agreement_entry.summary == (
        f"Convenio de pago #{agreement.pk} anulado con el link de su pie {down.reference}: "
        f"{cause} redujo la deuda: el link por S/ 472.80 ya no corresponde; la deuda puede "
        "tomar otro convenio"
    )
    assert agreement_entry.kind == Interaction.Kind.SYSTEM


def test_a_payment_by_hand_settling_the_loan_withdraws_the_waiting_agreement_and_its_link(
    loan, waiting
):
    agreement, down = waiting

    pay(loan, TO_SETTLE, TODAY)

    loan.refresh_from_db()
    assert loan.status == Loan.Status.PAID
    assert_withdrawn_by(agreement, down, "el pago de S/ 10,970.27")


def test_the_down_payment_paid_anyway_after_it_is_kept_as_credit_and_activates_nothing(
    loan, waiting
):
    agreement, down = waiting
    pay(loan, TO_SETTLE, TODAY)

    # The checkout stays open at the gateway until it expires: the debtor pays it.
    paid_by_gateway(down, "9400")

    loan.refresh_from_db()
    assert loan.credit_balance == DOWN_PAYMENT
    assert agreement_status(agreement) == PaymentAgreement.Status.CANCELLED
    assert not agreement.promises.exists()


def test_a_payment_to_verify_settling_the_loan_withdraws_them(loan, debtor, waiting):
    agreement, down = waiting
    report = services.report_payment(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=TO_SETTLE,
        paid_on=TODAY - timedelta(days=1),
        method=ReportedPayment.Method.TRANSFER,
        receipt=SimpleUploadedFile("r.png", receipts.PNG, "image/png"),
        origin=Origin.PORTAL,
        actor=None,
    )

    services.approve_reported_payment(report=report, actor=None)

    assert_withdrawn_by(agreement, down, "el pago de S/ 10,970.27")


def test_a_total_debt_link_paid_withdraws_them(loan, debtor, waiting):
    agreement, down = waiting
    total = link(debtor, "loan", loan.pk, PaymentLink.Concept.TOTAL)

    paid_by_gateway(total, "9500")

    assert status(total) == PaymentLink.Status.PAID
    assert_withdrawn_by(agreement, down, "el pago de S/ 10,970.27")


def test_a_payment_leaving_the_debt_above_the_down_payment_leaves_them(loan, waiting):
    agreement, down = waiting

    pay(loan, TO_SETTLE - DOWN_PAYMENT, TODAY)

    assert status(down) == PaymentLink.Status.ACTIVE
    assert agreement_status(agreement) == PaymentAgreement.Status.PENDING


def test_a_payment_leaving_less_than_the_down_payment_withdraws_them(loan, waiting):
    agreement, down = waiting

    pay(loan, TO_SETTLE - Decimal("100.00"), TODAY)

    assert status(down) == PaymentLink.Status.CANCELLED
    assert agreement_status(agreement) == PaymentAgreement.Status.CANCELLED
    entry = withdrawal_entry(down)
    left = services.debt_of(loan.customer, "loan", loan.pk).total
    assert 0 < left < DOWN_PAYMENT
    assert entry.summary.endswith(f"(la deuda total es S/ {left})")
