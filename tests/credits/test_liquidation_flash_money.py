"""The message after creating a liquidation writes its net amount as every screen writes
money («US$ 608.00», «S/ 608.00»), not as a currency code and a number («USD 608.00»)."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from credits.investors import services as investor_services
from credits.models import Liquidation
from tests.credits.test_liquidations import _at, _pay
from tests.factories import InvestorFactory, LoanProductFactory


@pytest.fixture(params=[("USD", "US$ 608.00"), ("PEN", "S/ 608.00")], ids=["USD", "PEN"])
def funded(request, make_active_loan, time_machine):
    """test_liquidations' book in one currency: 60 % of a 10,000 flat loan, paid in February."""
    currency, written = request.param
    _at(time_machine, date(2026, 1, 1))
    product = LoanProductFactory(
        method="flat", platform_fee_percent=Decimal("10"), currency=currency
    )
    loan = make_active_loan(product=product, principal=Decimal("10000.00"))
    lucia = InvestorFactory(name="Lucía Paredes", currency=currency)
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    _at(time_machine, date(2026, 2, 1))
    _pay(loan, date(2026, 2, 1))
    _at(time_machine, date(2026, 4, 2))
    return lucia, written


def test_the_new_liquidation_message_writes_its_money(client, supervisor, funded):
    lucia, written = funded
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:liquidation_create"),
        {"investor": lucia.pk, "period_start": "2026-02-01", "period_end": "2026-02-28"},
    )

    assert Liquidation.objects.get().net_amount == Decimal("608.00")
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == [f"Liquidación de Lucía Paredes creada por {written}."]
