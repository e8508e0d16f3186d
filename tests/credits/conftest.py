"""Loans ready to work with: disbursed through the service, as the app does it; a frozen
day to pay them on."""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from credits.models import Loan, Payment
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from tests.factories import LoanFactory

LIMA = ZoneInfo("America/Lima")
# "Today" for the payment tests: LoanFactory's loans (from 1 January 2026, installments
# from 1 February) have five installments due and the sixth in course.
TODAY = date(2026, 6, 15)


def at(day: date, hour: int = 12):
    """Freeze the clock on `day` at `hour`, Lima time."""
    return time_machine.travel(datetime.combine(day, time(hour), tzinfo=LIMA), tick=False)


@pytest.fixture
def frozen_today():
    with at(TODAY):
        yield


def pay(loan: Loan, amount, on: date, **kwargs) -> Payment:
    """Apply a payment as the system would: in cash and by nobody unless told otherwise."""
    kwargs.setdefault("source", Payment.Source.CASH)
    kwargs.setdefault("actor", None)
    return payment_services.apply_payment(
        loan=loan, amount=Decimal(amount), received_on=on, **kwargs
    )


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
