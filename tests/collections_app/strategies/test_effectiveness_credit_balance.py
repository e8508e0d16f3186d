"""The effectiveness report's «cobrado» is money received: a credit balance spent (the
nightly's Payment of source «saldo a favor») is money a payment before brought already."""

from datetime import date
from decimal import Decimal

from collections_app.strategies import effectiveness
from credits.models import Loan, Payment
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies.test_effectiveness import (  # noqa: F401 (fixtures)
    SINCE,
    all_debtors,
    scene,
    steps_of,
)


def test_a_credit_balance_spent_is_not_collected_again(scene):  # noqa: F811
    paid = Payment.objects.get(amount=Decimal("100.00"))  # after step B, on 6 June
    loan = Loan.objects.get(pk=paid.loan_id)
    # As credits.services.payments.apply_credit_balance records it, the same day.
    Payment.objects.create(
        loan=loan,
        amount=Decimal("30.00"),
        received_on=date(2026, 6, 6),
        source=Payment.Source.CREDIT_BALANCE,
    )

    result = effectiveness.report(since=SINCE, until=TODAY, days=7)

    funnel = steps_of(result)[scene["b"].pk]
    assert (funnel.payments, funnel.collected) == (1, {"PEN": Decimal("100.00")})
