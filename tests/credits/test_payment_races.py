"""Real races on one loan: threads with their own database connections, released together.

On PostgreSQL only the row locks (`services.ledger.locked` on the loan, `select_for_update`
on its installments) keep payments made at once from reading the same balances. SQLite runs
one write transaction at a time whatever the code does, so there these tests pass either
way; run them on PostgreSQL to check the locks:

    DATABASE_URL=postgres://… pytest tests/credits/test_payment_races.py
"""

import threading
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from credits import selectors
from credits.investors import services as investor_services
from credits.models import Distribution, Liquidation, Loan, Payment
from credits.services import ledger
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from crm import merge
from tests.credits.test_ledger import assert_ledger_matches
from tests.factories import CustomerFactory, InvestorFactory, LoanFactory, UserFactory
from tests.races import at_once

ROUNDS = 3


def _overdue_loan() -> Loan:
    """A 10,000 loan of 12 installments of 945.60; the first one overdue since yesterday."""
    today = timezone.localdate()
    loan = LoanFactory(
        status=Loan.Status.READY_TO_DISBURSE,
        start_date=today - timedelta(days=31),
        first_due_date=today - timedelta(days=1),
    )
    at = timezone.make_aware(datetime.combine(loan.start_date, time(9)))
    return loan_services.disburse(loan=loan, actor=None, disbursed_at=at)


def _pay(loan: Loan, amount: str):
    return lambda: payment_services.apply_payment(
        loan=Loan.objects.get(pk=loan.pk),
        amount=Decimal(amount),
        received_on=timezone.localdate(),
        source=Payment.Source.CASH,
        actor=None,
    )


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_payments_made_at_once_on_one_loan_are_each_applied_in_full(transactional_db, round_):
    loan = _overdue_loan()

    done, errors = at_once(*[_pay(loan, "945.60") for _payer in range(3)])

    assert (errors, len(done)) == ([], 3)
    paid = [row.total_pending == 0 for row in selectors.live_installments(loan)]
    assert paid == [True] * 3 + [False] * 9
    assert_ledger_matches(loan)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_payments_made_at_once_keep_all_the_credit_they_leave(transactional_db, round_):
    loan = _overdue_loan()

    # Each pays what is due and in course, the rest stays as credit on the loan: each one
    # must see the credit the ones before it left.
    done, errors = at_once(*[_pay(loan, "2000.00") for _payer in range(3)])

    assert (errors, len(done)) == ([], 3)
    loan.refresh_from_db()
    assert loan.credit_balance == sum((p.credited for p in done), Decimal(0))
    assert loan.credit_balance == Decimal("6000.00") - 4 * Decimal("945.60")
    assert_ledger_matches(loan)


def _pay_from_provider(loan: Loan, external_id: str):
    return lambda: payment_services.apply_payment(
        loan=Loan.objects.get(pk=loan.pk),
        amount=Decimal("945.60"),
        received_on=timezone.localdate(),
        source=Payment.Source.MERCADOPAGO,
        actor=None,
        external_id=external_id,
    )


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_provider_payment_delivered_twice_at_once_is_applied_once(transactional_db, round_):
    loan = _overdue_loan()

    done, errors = at_once(*[_pay_from_provider(loan, "mp-991") for _delivery in range(2)])

    assert (errors, {p.pk for p in done}) == ([], {Payment.objects.get().pk})
    assert [row.total_pending == 0 for row in selectors.live_installments(loan)][:2] == [
        True,
        False,
    ]
    assert_ledger_matches(loan)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite runs one write transaction at a time"
)
def test_a_liquidation_links_only_the_lines_its_totals_counted(transactional_db, monkeypatch):
    """A payment committed while a liquidation is being made leaves its investor line for
    the next liquidation: the totals and the lines linked stay equal."""
    loan = _overdue_loan()
    investor = InvestorFactory()
    investor_services.add_participation(
        loan=loan, investor=investor, actor=None, share=Decimal("50")
    )
    _pay(loan, "100.00")()
    counted, paid = threading.Event(), threading.Event()
    real_create = Liquidation.objects.create

    def create_once_another_payment_is_in(**fields):
        counted.set()
        paid.wait(timeout=30)
        return real_create(**fields)

    monkeypatch.setattr(Liquidation.objects, "create", create_once_another_payment_is_in)
    today = timezone.localdate()

    def another_payment():
        counted.wait(timeout=30)
        try:
            return _pay(loan, "50.00")()
        finally:
            paid.set()

    _done, errors = at_once(
        lambda: investor_services.create_liquidation(
            investor=investor, period_start=today.replace(day=1), period_end=today, actor=None
        ),
        another_payment,
    )

    assert errors == []
    liquidation = Liquidation.objects.get()
    linked = Distribution.objects.filter(liquidation=liquidation).aggregate(total=Sum("net"))
    assert liquidation.net_amount == linked["total"]
    assert Distribution.objects.filter(investor=investor, liquidation__isnull=True).count() == 1


# --- What a payment locks: its loan's row, not its customer's or its product's ---------------


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_merge_and_a_payment_on_the_merged_customers_loan_both_go_through(
    transactional_db, roles, round_
):
    loan = _overdue_loan()
    keep = CustomerFactory()
    person = UserFactory(role="Supervisor")

    # The payment held the loan and waited for the customer; the merge held the customer
    # and waited to move the loan: PostgreSQL killed one of them (a 500 for the cashier).
    done, errors = at_once(
        lambda: merge.merge_customers(keep=keep, drop=loan.customer, choices={}, actor=person),
        _pay(loan, "945.60"),
    )

    assert (errors, len(done)) == ([], 2)
    loan.refresh_from_db()
    assert loan.customer_id == keep.pk
    assert loan.payments.filter(status=Payment.Status.APPLIED).count() == 1
    assert_ledger_matches(loan)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL only")
def test_a_payment_does_not_wait_for_a_payment_on_another_loan_of_its_product(transactional_db):
    first = _overdue_loan()
    second = _overdue_loan()
    Loan.objects.filter(pk=second.pk).update(product=first.product)
    held, release = threading.Event(), threading.Event()

    def hold_the_first_loan():
        with transaction.atomic():
            ledger.locked(first)
            held.set()
            release.wait(timeout=30)

    def pay_the_second_loan():
        held.wait(timeout=30)
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                return _pay(second, "945.60")()
        finally:
            release.set()

    _done, errors = at_once(hold_the_first_loan, pay_the_second_loan)

    assert errors == []
    assert second.payments.filter(status=Payment.Status.APPLIED).count() == 1


# --- One gateway operation, recorded on two loans at once --------------------------------


def _record_operation_by_hand(loan: Loan, operation: str):
    return lambda: payment_services.apply_payment(
        loan=Loan.objects.get(pk=loan.pk),
        amount=Decimal("945.60"),
        received_on=timezone.localdate(),
        source=Payment.Source.MERCADOPAGO,
        actor=None,
        reference=operation,
    )


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_one_gateway_operation_typed_on_two_loans_at_once_is_recorded_once(
    transactional_db, round_
):
    first, second = _overdue_loan(), _overdue_loan()

    # Each under its own loan's lock, both found the operation unrecorded: the lender's
    # books held the money twice.
    done, errors = at_once(
        _record_operation_by_hand(first, "88120455"),
        _record_operation_by_hand(second, "88120455"),
    )

    assert len(done) == 1
    assert len(errors) == 1 and "88120455" in errors[0] and "ya está registrada" in errors[0]
    assert Payment.objects.filter(reference="88120455").count() == 1
    assert_ledger_matches(first)
    assert_ledger_matches(second)
