"""A payment link asks for what the debt is once the customer's lock is held.

`create_payment_link` read the debt (the total, an installment's pending, the bounds of a
free amount, the expiry) before taking the customer's lock: a payment committing in between
left a new link asking for the debt as it was before that payment, and the payment's
withdraw_outgrown_links had not seen the link to withdraw it. The debt is now read again
under the lock, which a loan's payment takes first too (credits.services.ledger.locked).

The deterministic tests pay at the seam (the lock being asked for); the PostgreSQL ones
race a payment and a link in two threads with their own connections.
"""

import threading
import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from collections_app import services
from collections_app.models import Origin, PaymentLink
from credits.models import Loan
from crm import services as crm_services
from tests.collections_app.conftest import INSTALLMENT, TO_SETTLE, TODAY, pay
from tests.races import at_once

PAID = Decimal("500.00")
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: real row locks"
)


def make_link(debtor, loan, concept, **extra) -> PaymentLink:
    return services.create_payment_link(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=concept,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
        **extra,
    )


def pay_by_hand(loan, amount=PAID):
    with transaction.atomic():
        return pay(Loan.objects.get(pk=loan.pk), amount, TODAY)


@pytest.fixture
def paid_before_the_lock(monkeypatch, loan):
    """A payment of the loan commits as the link asks for the customer's lock (after any
    read the service makes before it)."""
    real_lock = crm_services.lock_current_customer
    amounts = []

    def pay_then_lock(customer_id):
        if amounts:
            pay_by_hand(loan, amounts.pop())
        return real_lock(customer_id)

    monkeypatch.setattr(crm_services, "lock_current_customer", pay_then_lock)
    return amounts.append


def open_links_within_the_debt(debtor, loan) -> None:
    """Every link still open asks for no more than it could pay now."""
    debt = services.debt_of(debtor, "loan", loan.pk)
    for link in PaymentLink.objects.filter(status__in=[PaymentLink.Status.ACTIVE]):
        most, _words = services._what_link_could_pay(link, debt)
        assert link.amount <= most, (link.reference, link.amount, most)


def test_a_total_link_asks_the_debt_a_payment_left_while_it_was_being_made(
    debtor, loan, paid_before_the_lock
):
    paid_before_the_lock(PAID)

    link = make_link(debtor, loan, PaymentLink.Concept.TOTAL)

    assert link.amount == TO_SETTLE - PAID
    link.refresh_from_db()
    assert link.status == PaymentLink.Status.ACTIVE
    open_links_within_the_debt(debtor, loan)


def test_a_free_amount_is_bounded_by_the_debt_a_payment_left_meanwhile(
    debtor, loan, paid_before_the_lock
):
    paid_before_the_lock(PAID)

    with pytest.raises(ValidationError) as refused:
        make_link(debtor, loan, PaymentLink.Concept.CUSTOM, amount=TO_SETTLE - Decimal("10.00"))

    assert refused.value.message_dict == {
        "amount": ["El monto debe estar entre S/ 10.00 y S/ 10,470.27."]
    }
    assert not PaymentLink.objects.exists()


def test_an_installment_paid_meanwhile_gets_no_link(debtor, loan, paid_before_the_lock):
    paid_before_the_lock(INSTALLMENT)

    with pytest.raises(ValidationError) as refused:
        make_link(debtor, loan, PaymentLink.Concept.INSTALLMENT, installment_number=1)

    assert refused.value.message_dict == {
        "installment_number": ["Esa cuota no existe o ya está pagada."]
    }
    assert not PaymentLink.objects.exists()


def test_a_portal_link_reused_is_the_one_for_the_debt_left(debtor, loan, paid_before_the_lock):
    """The portal's `reuse_open`: the open link of the old figure is not offered again."""
    old = services.create_payment_link(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.PORTAL,
        actor=None,
        reuse_open=True,
    )
    paid_before_the_lock(PAID)

    fresh = services.create_payment_link(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.PORTAL,
        actor=None,
        reuse_open=True,
    )

    assert fresh.pk != old.pk
    assert fresh.amount == TO_SETTLE - PAID
    old.refresh_from_db()
    assert old.status == PaymentLink.Status.CANCELLED  # the payment withdrew it
    open_links_within_the_debt(debtor, loan)


# --- On PostgreSQL: two connections ----------------------------------------------------------


@postgresql_only
@pytest.mark.parametrize("round_", range(2))
def test_a_payment_committing_as_the_link_is_made_is_in_the_links_amount(
    transactional_db, monkeypatch, debtor, loan, round_
):
    """The payment commits after the link's first read, before it holds the lock."""
    asked, paid = threading.Event(), threading.Event()
    real_lock = crm_services.lock_current_customer

    def wait_for_the_payment(customer_id):
        asked.set()
        paid.wait(timeout=30)
        return real_lock(customer_id)

    monkeypatch.setattr(crm_services, "lock_current_customer", wait_for_the_payment)

    def payment():
        asked.wait(timeout=30)
        try:
            return pay_by_hand(loan)
        finally:
            paid.set()

    done, errors = at_once(lambda: make_link(debtor, loan, PaymentLink.Concept.TOTAL), payment)

    assert (errors, len(done)) == ([], 2)
    link = PaymentLink.objects.get()
    assert link.status == PaymentLink.Status.ACTIVE
    assert link.amount == TO_SETTLE - PAID
    open_links_within_the_debt(debtor, loan)


@postgresql_only
@pytest.mark.parametrize("round_", range(2))
def test_a_payment_while_the_link_holds_the_lock_waits_and_then_withdraws_it(
    transactional_db, monkeypatch, debtor, loan, round_
):
    """The link holds the customer's lock first: the payment waits for it, then sees the
    link and withdraws it, as it asks for more than the debt left."""
    held = threading.Event()
    real_lock = crm_services.lock_current_customer

    def hold_a_moment(customer_id):
        found = real_lock(customer_id)
        held.set()
        time.sleep(0.5)  # the payment asks for the customer's row meanwhile, and waits
        return found

    monkeypatch.setattr(crm_services, "lock_current_customer", hold_a_moment)

    def payment():
        held.wait(timeout=30)
        return pay_by_hand(loan)

    _done, errors = at_once(lambda: make_link(debtor, loan, PaymentLink.Concept.TOTAL), payment)

    # The link may learn it was withdrawn while the gateway made it: it says so.
    assert all("mientras" in error for error in errors), errors
    link = PaymentLink.objects.get()
    assert link.amount == TO_SETTLE
    assert link.status == PaymentLink.Status.CANCELLED
    open_links_within_the_debt(debtor, loan)


@postgresql_only
@pytest.mark.parametrize("round_", range(5))
def test_a_payment_and_links_at_once_leave_no_link_asking_more_than_the_debt(
    transactional_db, debtor, loan, round_
):
    done, errors = at_once(
        lambda: make_link(debtor, loan, PaymentLink.Concept.TOTAL),
        lambda: make_link(debtor, loan, PaymentLink.Concept.INSTALLMENT, installment_number=1),
        lambda: pay_by_hand(loan, INSTALLMENT),
    )

    # A link withdrawn while its gateway made it, or an installment paid first: refused.
    assert len(done) + len(errors) == 3
    assert all("ValidationError" in error for error in errors), errors
    open_links_within_the_debt(debtor, loan)
