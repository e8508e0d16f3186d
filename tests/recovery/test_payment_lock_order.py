"""A campaign's payment and a portal visit take the customer's row before the campaign's,
as a payment link does.

A payment link for a campaign locks the customer, then holds the campaign
(collections_app.services.create_payment_link). A payment of that campaign locked the
campaign and then, writing the customer's timeline, moved the customer's *última
interacción* (an UPDATE of the customer's row): each waited for the other's row and
PostgreSQL broke the deadlock by failing one of them (a gateway's notification answered 500,
or an agent's link failed). The payment now locks the customer first, and so does a debtor's
visit to /recovery/ (it locked the campaign to keep two sends of one browser apart, then
wrote the customer's timeline).
"""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from collections_app import services as collections
from collections_app.models import Origin, PaymentLink
from crm import services as crm_services
from crm.models import Customer
from recovery import services
from recovery.models import Campaign, Visit
from recovery.portal import services as portal_services
from tests.races import at_once
from tests.recovery.conftest import CAMPAIGN_AMOUNT, TODAY

PAID = Decimal("1000.00")
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: real row locks"
)


def make_link(debtor, campaign) -> PaymentLink:
    return collections.create_payment_link(
        customer=debtor,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
    )


def pay(campaign, amount=PAID):
    return services.apply_payment(
        campaign_id=campaign.pk,
        amount=amount,
        received_on=TODAY,
        source="transfer",
        actor=None,
        reference="OP-1",
    )


def test_a_payment_locks_the_customer_before_the_campaign(monkeypatch, debtor, campaign):
    said = []  # the statements run, and where the customer's lock was asked for
    real_lock = crm_services.lock_customer

    def note_customer(customer_id):
        said.append("customer's lock")
        return real_lock(customer_id)

    def note(execute, sql, params, many, context):
        said.append(sql)
        return execute(sql, params, many, context)

    monkeypatch.setattr(crm_services, "lock_customer", note_customer)
    with connection.execute_wrapper(note):
        pay(campaign)

    # The campaign's locked read is the one that brings its customer along.
    campaign_held = next(
        n for n, sql in enumerate(said) if 'FROM "recovery_campaign" INNER JOIN' in sql
    )
    assert said.index("customer's lock") < campaign_held


@pytest.fixture
def link_holds_the_customer(monkeypatch, debtor, campaign):
    """Once the campaign is made, the link takes the customer's row and keeps it half a
    second before it holds the campaign; the event returned is set once it holds the row.
    The customer's last contact was a day ago, so a timeline entry meanwhile moves it (an
    UPDATE of the customer's row)."""
    Customer.objects.filter(pk=debtor.pk).update(
        last_interaction_at=timezone.now() - timedelta(days=1)
    )
    held = threading.Event()
    real_lock = crm_services.lock_current_customer

    def hold_a_moment(customer_id):
        found = real_lock(customer_id)
        held.set()
        time.sleep(0.5)  # the other request starts meanwhile
        return found

    monkeypatch.setattr(crm_services, "lock_current_customer", hold_a_moment)
    return held


@postgresql_only
@pytest.mark.parametrize("round_", range(3))
def test_a_link_and_a_payment_of_one_campaign_at_once_both_go_through(
    transactional_db, link_holds_the_customer, debtor, campaign, round_
):
    def payment():
        link_holds_the_customer.wait(timeout=30)
        return pay(campaign)

    _done, errors = at_once(lambda: make_link(debtor, campaign), payment)

    # The link may learn that the payment withdrew it while the gateway made it: it says so.
    assert not any("eadlock" in error for error in errors), errors
    assert all("mientras" in error for error in errors), errors
    campaign.refresh_from_db()
    assert campaign.paid_amount == PAID
    link = PaymentLink.objects.get()
    assert link.amount == CAMPAIGN_AMOUNT
    assert Campaign.objects.get(pk=campaign.pk).balance == CAMPAIGN_AMOUNT - PAID


@postgresql_only
@pytest.mark.parametrize("round_", range(3))
def test_a_link_and_a_portal_visit_of_one_campaign_at_once_both_go_through(
    transactional_db, link_holds_the_customer, debtor, campaign, round_
):
    """A debtor's second tab identifying while the first asks for a link."""

    def visit():
        link_holds_the_customer.wait(timeout=30)
        return portal_services.start_visit(customer=debtor, campaign=campaign, browser="tab-2")

    done, errors = at_once(lambda: make_link(debtor, campaign), visit)

    assert (errors, len(done)) == ([], 2)
    assert PaymentLink.objects.get().amount == CAMPAIGN_AMOUNT
    assert Visit.objects.filter(campaign=campaign).count() == 1
