"""Loans ready to work with: disbursed through the service, as the app does it."""

import pytest

from credits.models import Loan
from credits.services import loans as loan_services
from tests.factories import LoanFactory


@pytest.fixture
def make_active_loan(db):
    """Return a function that creates and disburses a loan; keyword arguments go to LoanFactory."""

    def make(**kwargs) -> Loan:
        loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE, **kwargs)
        return loan_services.disburse(loan=loan, actor=None)

    return make
