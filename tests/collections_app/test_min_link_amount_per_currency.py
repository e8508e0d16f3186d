"""The least a link asks for is set per currency: S/ 10.00 and US$ 10.00 are not the same
money (US$ 10 is near S/ 37). COLLECTIONS_MIN_LINK_AMOUNT is in soles,
COLLECTIONS_MIN_LINK_AMOUNT_USD in dollars: custom-amount links and agreements' down
payments read the one of the debt's currency."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from collections_app import receivables, services
from collections_app.models import AgreementRule, PaymentLink
from credits.models import Loan
from credits.services import delinquency
from tests.collections_app.conftest import TODAY
from tests.factories import LoanProductFactory


@pytest.fixture(autouse=True)
def _minimums(settings):
    settings.COLLECTIONS_MIN_LINK_AMOUNT = Decimal("10.00")
    settings.COLLECTIONS_MIN_LINK_AMOUNT_USD = Decimal("3.00")


@pytest.fixture
def dollar_loan(make_active_loan):
    return make_active_loan(product=LoanProductFactory(name="Crédito dólares", currency="USD"))


def debt_of(loan):
    return receivables.kind("loan").debt(loan.pk, TODAY)


def test_a_dollar_debt_takes_the_dollar_minimum(dollar_loan):
    debt = debt_of(dollar_loan)

    assert debt.currency == "USD"
    assert services.link_bounds(debt) == (Decimal("3.00"), debt.total)
    assert services.link_amount(
        debt,
        concept=PaymentLink.Concept.CUSTOM,
        amount=Decimal("5.00"),
        installment_number=None,
    ) == Decimal("5.00")


def test_a_soles_debt_keeps_the_soles_minimum(loan):
    debt = debt_of(loan)

    assert services.link_bounds(debt) == (Decimal("10.00"), debt.total)
    with pytest.raises(ValidationError) as refused:
        services.link_amount(
            debt,
            concept=PaymentLink.Concept.CUSTOM,
            amount=Decimal("5.00"),
            installment_number=None,
        )
    assert refused.value.message_dict["amount"] == [
        f"El monto debe estar entre S/ 10.00 y S/ {debt.total:,.2f}."
    ]


def test_an_amount_below_the_dollar_minimum_is_refused_in_dollars(dollar_loan):
    debt = debt_of(dollar_loan)

    with pytest.raises(ValidationError) as refused:
        services.link_amount(
            debt,
            concept=PaymentLink.Concept.CUSTOM,
            amount=Decimal("2.99"),
            installment_number=None,
        )
    assert refused.value.message_dict["amount"][0].startswith("El monto debe estar entre US$ 3.00")


def test_an_agreement_down_payment_takes_the_minimum_of_its_currency(dollar_loan, loan):
    AgreementRule.objects.create(
        name="Sin pie mínimo",
        max_installments=3,
        min_down_payment_percent=Decimal("0"),
        late_interest_discount_percent=Decimal("50"),
        min_days_past_due=1,
        days_between_installments=30,
    )
    downs = {}
    for late in (dollar_loan, loan):
        late.late_annual_rate = Decimal("36")
        late.days_past_due = 134
        late.save()
        delinquency.accrue_late_interest(loan=late, today=TODAY)
        options = services.agreement_options(debt_of(Loan.objects.get(pk=late.pk)))
        downs[late.currency] = [option.down_payment for option in options[1:]]

    assert downs == {"USD": [Decimal("3.00")] * 2, "PEN": [Decimal("10.00")] * 2}
