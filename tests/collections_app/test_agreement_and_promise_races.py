"""On PostgreSQL, with real row locks: an agreement withdrawn while its down payment arrives,
and a promise past its day judged by a new promise and by the nightly at once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction

from collections_app import services
from collections_app.models import (
    AgreementRule,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
)
from credits.models import Loan, Payment
from crm.models import Interaction
from integrations import payment_gateways
from tests.collections_app.conftest import INSTALLMENT, TODAY, at
from tests.races import at_once

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: real row locks"
)


@pytest.fixture
def late_loan(loan):
    from credits.services import delinquency

    loan.late_annual_rate = Decimal("36")
    loan.days_past_due = 134
    loan.save()
    with transaction.atomic():  # as the nightly runs it
        delinquency.accrue_late_interest(loan=loan, today=TODAY)
    return Loan.objects.get(pk=loan.pk)


@pytest.mark.parametrize("round_", range(5))
def test_withdrawing_an_agreement_while_its_down_payment_arrives_ends_one_way(
    transactional_db, late_loan, round_
):
    rule = AgreementRule.objects.create(name="Hasta 3 cuotas", max_installments=3)
    agreement, link = services.create_agreement(
        customer=late_loan.customer,
        receivable_kind="loan",
        receivable_id=late_loan.pk,
        option_key=f"{rule.pk}-3",
        provider="mercadopago",
        origin=Origin.BOT,
        actor=None,
    )
    paid = payment_gateways.GatewayPayment(
        provider_payment_id=f"8800{round_}",
        reference=link.reference,
        status=payment_gateways.APPROVED,
        amount=link.amount,
        currency=link.currency,
        paid_on=TODAY,
        raw={},
    )

    _done, errors = at_once(
        lambda: services.cancel_agreement(agreement=agreement, actor=None, reason="Error"),
        lambda: services.apply_gateway_payment(provider="mercadopago", found=paid),
    )

    # Never a deadlock: the refusal of an agreement the payment activated, at most.
    assert all("Solo se anula un convenio que espera su pie" in e for e in errors), errors
    agreement.refresh_from_db()
    link.refresh_from_db()
    assert Payment.objects.filter(external_id=f"mercadopago:8800{round_}").count() == 1
    if agreement.status == PaymentAgreement.Status.ACTIVE:
        assert errors and link.status == PaymentLink.Status.PAID
    else:
        assert agreement.status == PaymentAgreement.Status.CANCELLED
        assert not errors and not agreement.promises.exists()


@pytest.mark.parametrize("round_", range(3))
def test_a_promise_past_its_day_is_judged_once_by_new_promises_and_the_nightly(
    transactional_db, loan, debtor, round_
):
    old = services.promise_payment(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=INSTALLMENT,
        promised_on=TODAY + timedelta(days=1),
        origin=Origin.BOT,
        actor=None,
    )
    later = TODAY + timedelta(days=3)

    def promise_again():
        with at(later):
            return services.promise_payment(
                customer=debtor,
                receivable_kind="loan",
                receivable_id=loan.pk,
                amount=Decimal("100.00"),
                promised_on=later + timedelta(days=2),
                origin=Origin.BOT,
                actor=None,
            )

    def nightly():
        with at(later, hour=0):
            return services.resolve_promises(today=later)

    _done, errors = at_once(promise_again, promise_again, nightly)

    # The second promise finds the first one in course.
    assert len(errors) == 1 and "Ya hay un compromiso vigente" in errors[0], errors
    old.refresh_from_db()
    assert old.status == PaymentPromise.Status.BROKEN
    assert Interaction.objects.filter(payload__promise=old.pk).count() == 2  # made, judged
    assert PaymentPromise.objects.filter(status=PaymentPromise.Status.PENDING).count() == 1
