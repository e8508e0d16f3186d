"""Campaigns of one customer made, reopened and refused at the same moment (threads, each
with its own connection): one active campaign, a refusal in words, never a server error.
SQLite runs one write transaction at a time, so these races need PostgreSQL."""

import pytest
from django.db import connection
from django.utils import timezone

from recovery import services
from recovery.models import Campaign
from tests.races import at_once
from tests.recovery.conftest import CAMPAIGN_AMOUNT, make_campaign

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="SQLite runs one write transaction at a time"
    ),
    pytest.mark.django_db(transaction=True),
]


def _paid(customer, code):
    campaign = make_campaign(customer, code=code)
    payment = services.apply_payment(
        campaign_id=campaign.pk,
        amount=CAMPAIGN_AMOUNT,
        received_on=timezone.localdate(),
        source="transfer",
        actor=None,
    )
    return campaign, payment


@pytest.mark.parametrize("round_", range(3))
def test_a_payments_annulment_and_a_new_campaign_at_once_leave_one_active(roles, debtor, round_):
    """The annulment reopens the paid campaign while another is made: it deadlocked or hit
    the constraint (a 500) one time in three."""
    _first, payment = _paid(debtor, "CAST-A")

    _done, errors = at_once(
        lambda: services.annul_payment(payment_id=payment.pk, actor=None, reason="rebotado"),
        lambda: make_campaign(debtor, code="CAST-B"),
    )

    assert all(error.startswith("ValidationError") for error in errors), errors
    assert Campaign.objects.filter(customer=debtor, status=Campaign.Status.ACTIVE).count() == 1


@pytest.mark.parametrize("round_", range(3))
def test_the_refusal_of_a_campaign_made_at_once_names_the_active_one(roles, debtor, round_):
    done, errors = at_once(
        lambda: make_campaign(debtor, code="CAST-A"), lambda: make_campaign(debtor, code="CAST-B")
    )

    assert (len(done), len(errors)) == (1, 1), errors
    active = Campaign.objects.get(customer=debtor, status=Campaign.Status.ACTIVE)
    assert f"({active.code})" in errors[0]
