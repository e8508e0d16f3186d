"""Loans ready to work with: disbursed through the service, as the app does it."""

from datetime import datetime, time

import pytest
from django.utils import timezone

from credits.models import Loan
from credits.services import loans as loan_services
from tests.factories import LoanFactory


@pytest.fixture
def make_active_loan(db):
    """Return a function that creates and disburses a loan; keyword arguments go to LoanFactory.

    The loan is disbursed at 09:00 of its start date, the day its life (and its payments)
    begins.
    """

    def make(**kwargs) -> Loan:
        loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE, **kwargs)
        at = timezone.make_aware(datetime.combine(loan.start_date, time(9)))
        return loan_services.disburse(loan=loan, actor=None, disbursed_at=at)

    return make
