"""A debtor with a loan that owes: five installments overdue and the sixth in course.

The clock is frozen on TODAY (15 June 2026) for every test here, as the credits tests do.
"""

from decimal import Decimal

import pytest

from integrations import fakes
from tests.credits.conftest import TODAY, at, frozen_today, make_active_loan, pay  # noqa: F401

# LoanFactory: 10,000 at 24 % in 12 monthly installments of 945.60 from 1 February 2026.
INSTALLMENT = Decimal("945.60")
# On TODAY: installments 1 to 5 due (4,728.00), the 6th in course, then the later principal.
TO_SETTLE = Decimal("10970.27")
OVERDUE = Decimal("4728.00")


@pytest.fixture(autouse=True)
def _frozen(frozen_today):  # noqa: F811 (the credits tests' fixture, imported)
    yield


@pytest.fixture(autouse=True)
def _fresh_gateways():
    fakes.reset()
    yield
    fakes.reset()


@pytest.fixture
def loan(make_active_loan):  # noqa: F811 (the credits tests' fixture, imported)
    return make_active_loan()


@pytest.fixture
def debtor(loan):
    return loan.customer


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    """Run what a request queues on commit (the inbox's processing task), as in production."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run
