"""Recovery's cast: a debtor whose loan was written off, and a campaign offered on it.

The clock stays frozen on TODAY (15 June 2026), as for every collections test.
"""

from datetime import timedelta
from decimal import Decimal

import pytest

from credits.services import loans as loan_services
from recovery import services
from tests.collections_app.conftest import (  # noqa: F401 (fixtures, imported)
    _fresh_gateways,
    _frozen,
    debtor,
    loan,
)
from tests.credits.conftest import TODAY, at, frozen_today, make_active_loan  # noqa: F401

DEBT = Decimal("12000.00")
# 40 % off 12,000.00: the debtor settles for 7,200.00.
DISCOUNT_PERCENT = Decimal("40")
CAMPAIGN_AMOUNT = Decimal("7200.00")
ENDS_ON = TODAY + timedelta(days=30)


def make_campaign(customer, **fields):
    """Make a campaign through the service, as every path does; fields override the default."""
    data = {
        "customer": customer,
        "code": "CAST-2026-06",
        "debt_amount": DEBT,
        "discount_type": "percent",
        "discount_value": DISCOUNT_PERCENT,
        "ends_on": ENDS_ON,
        "payment_code": "",
        "actor": None,
        **fields,
    }
    return services.create_campaign(**data)


@pytest.fixture
def written_off(loan):  # noqa: F811 (the collections tests' fixture)
    loan_services.write_off(loan=loan, actor=None, reason="Incobrable")
    loan.refresh_from_db()
    return loan


@pytest.fixture
def campaign(written_off, debtor):  # noqa: F811 (the collections tests' fixture)
    return make_campaign(debtor, payment_code=written_off.payment_code)
