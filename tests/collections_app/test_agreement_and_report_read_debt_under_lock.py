"""An agreement and a payment to verify weigh the debt as it is once the customer's lock is held.

`create_agreement` worked out the chosen option, and `report_payment` checked the amount
against the debt, before taking the customer's lock: a payment committing in between made
an agreement with figures computed on the debt before it (its down payment, its
installments), and took a report for more than the debt left without the debtor saying they
paid more. Both read the debt again under the lock, which a loan's payment takes first too
(credits.services.ledger.locked), as create_payment_link does
(tests/collections_app/test_link_debt_read_under_lock.py).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from collections_app import services
from collections_app.models import (
    AgreementRule,
    Origin,
    PaymentAgreement,
    PaymentLink,
    ReportedPayment,
)
from tests import receipts
from tests.collections_app.conftest import TO_SETTLE, TODAY
from tests.collections_app.test_link_debt_read_under_lock import paid_before_the_lock  # noqa: F401

PAID = Decimal("500.00")


@pytest.fixture
def rule(loan):
    loan.days_past_due = 134
    loan.save()
    return AgreementRule.objects.create(
        name="Hasta 3 cuotas", max_installments=3, min_down_payment_percent=Decimal("10")
    )


def take_agreement(debtor, loan, rule):
    return services.create_agreement(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        option_key=f"{rule.pk}-3",
        provider="mercadopago",
        origin=Origin.PORTAL,
        actor=None,
    )


def report(debtor, loan, amount, **extra):
    return services.report_payment(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=amount,
        paid_on=TODAY - timedelta(days=1),
        method=ReportedPayment.Method.TRANSFER,
        receipt=SimpleUploadedFile("r.png", receipts.PNG, "image/png"),
        origin=Origin.PORTAL,
        actor=None,
        **extra,
    )


def test_an_agreement_chosen_before_a_payment_is_refused_with_new_figures_to_see(
    debtor,
    loan,
    rule,
    paid_before_the_lock,  # noqa: F811
):
    paid_before_the_lock(PAID)

    with pytest.raises(ValidationError) as refused:
        take_agreement(debtor, loan, rule)

    assert refused.value.message_dict["option"] == [
        f"La deuda {loan.payment_code} cambió mientras se elegía el convenio (se registró un "
        "pago): revise las opciones de nuevo."
    ]
    assert not PaymentAgreement.objects.exists()
    assert not PaymentLink.objects.exists()


def test_the_agreement_chosen_again_has_the_figures_of_the_debt_left(
    debtor,
    loan,
    rule,
    paid_before_the_lock,  # noqa: F811
):
    paid_before_the_lock(PAID)
    with pytest.raises(ValidationError):
        take_agreement(debtor, loan, rule)

    agreement, down = take_agreement(debtor, loan, rule)

    seen = services._option(services.debt_of(debtor, "loan", loan.pk), f"{rule.pk}-3")
    assert (agreement.debt_amount, agreement.down_payment) == (seen.debt_amount, seen.down_payment)
    assert down.amount == seen.down_payment


def test_a_report_of_the_whole_debt_a_payment_lowered_meanwhile_is_refused(
    debtor,
    loan,
    paid_before_the_lock,  # noqa: F811
):
    paid_before_the_lock(PAID)

    with pytest.raises(ValidationError) as refused:
        report(debtor, loan, TO_SETTLE)

    assert refused.value.error_dict["amount"][0].code == services.ABOVE_DEBT
    assert not ReportedPayment.objects.exists()


def test_a_debtor_who_says_they_paid_more_is_still_heard(
    debtor,
    loan,
    paid_before_the_lock,  # noqa: F811
):
    paid_before_the_lock(PAID)

    taken = report(debtor, loan, TO_SETTLE, paid_more=True)

    assert taken.amount == TO_SETTLE
    assert taken.status == ReportedPayment.Status.PENDING
