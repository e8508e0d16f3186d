"""A debtor's countdown is fixed at their first visit: the admin changing the hours, or
switching the countdown off and on, neither ends an offer a debtor was shown nor reopens
one that ran out; the campaign's end date still caps it, as it stands when read.

The clock is frozen on TODAY (15 June 2026, noon in Lima), as for every recovery test.
"""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from recovery.models import Campaign, RecoverySettings
from recovery.portal import selectors
from recovery.portal import services as portal_services
from tests.factories import CustomerFactory
from tests.recovery.conftest import TODAY, make_campaign
from tests.recovery.test_portal import (
    NOW,
    OFFER,
    OPTIONS,
    countdown_seconds,
    google,  # noqa: F401 (autouse: reCAPTCHA, faked)
    signed_in,
)

HOUR = 3600


@pytest.fixture
def countdown(db):
    """The portal, on, with a countdown of 48 hours."""
    found = RecoverySettings.current()
    found.is_active = True
    found.countdown_enabled = True
    found.countdown_hours = 48
    found.save()
    return found


def _admin_saves(admin_user, *, enabled: bool, hours: int) -> None:
    """Save the portal's settings in admin, as the admin does, with this countdown (signed
    in anew: the clock travels past a session's life)."""
    admin_client = Client()
    admin_client.force_login(admin_user)
    found = RecoverySettings.current()
    data = {
        "title": found.title,
        "intro": found.intro,
        "offer_text": found.offer_text,
        "legal_text": found.legal_text,
        "countdown_hours": str(hours),
        "decline_reasons": found.decline_reasons,
        "is_active": "on",
        "advisor_whatsapp": "",
        "max_discount_percent": "95",
    }
    if enabled:
        data["countdown_enabled"] = "on"
    url = reverse("admin:recovery_recoverysettings_change", args=[found.pk])
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert response["Location"] == reverse("admin:recovery_recoverysettings_changelist")


def _offer_of(customer) -> selectors.Offer:
    campaign = Campaign.objects.get(customer=customer, status=Campaign.Status.ACTIVE)
    return selectors.offer(campaign, RecoverySettings.current())


def test_shortening_the_hours_keeps_the_end_a_debtor_was_shown(
    countdown, campaign, debtor, admin_user
):
    signed_in(Client(), debtor).get(OFFER)  # 48 hours from now
    _admin_saves(admin_user, enabled=True, hours=2)

    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        client = signed_in(Client(), debtor)  # back three hours later
        page = client.get(OFFER)
        options = client.get(OPTIONS)
        newcomer = CustomerFactory(document_number="40000001")
        make_campaign(newcomer, code="CAST-NEW")
        signed_in(Client(), newcomer).get(OFFER)
        fresh = _offer_of(newcomer)

    assert countdown_seconds(page) == 45 * HOUR
    assert options.status_code == 200
    # Who first comes after the change gets the hours set now.
    assert fresh.seconds_left == 2 * HOUR


def test_lengthening_the_hours_does_not_reopen_an_offer_that_ran_out(
    countdown, campaign, debtor, admin_user
):
    signed_in(Client(), debtor).get(OFFER)
    _admin_saves(admin_user, enabled=True, hours=72)

    with time_machine.travel(NOW + timedelta(hours=49), tick=False):
        client = signed_in(Client(), debtor)
        page = client.get(OFFER)
        options = client.get(OPTIONS)

    assertContains(page, "La oferta ha concluido, contáctanos para más detalles")
    assert countdown_seconds(page) is None
    assert options["Location"] == OFFER


def test_off_shows_no_countdown_and_on_again_counts_only_first_visits_from_then(
    countdown, campaign, debtor, admin_user
):
    signed_in(Client(), debtor).get(OFFER)  # a countdown of 48 hours starts
    _admin_saves(admin_user, enabled=False, hours=48)
    while_off = CustomerFactory(document_number="40000002")
    make_campaign(while_off, code="CAST-OFF")
    signed_in(Client(), while_off).get(OFFER)  # first seen with no countdown

    with time_machine.travel(NOW + timedelta(hours=50), tick=False):
        off = _offer_of(debtor)
        _admin_saves(admin_user, enabled=True, hours=48)
        shown_before = signed_in(Client(), debtor).get(OFFER)
        seen_while_off = _offer_of(while_off)
        newcomer = CustomerFactory(document_number="40000003")
        make_campaign(newcomer, code="CAST-ON")
        signed_in(Client(), newcomer).get(OFFER)
        fresh = _offer_of(newcomer)

    # Off: the offer lasts as the campaign does, past the 48 hours it showed.
    assert off.is_open and off.deadline is None
    # On again: neither debtor who came before is given (or held to) a countdown.
    assert countdown_seconds(shown_before) is None
    assertContains(shown_before, "¡Cancelar mi deuda ahora!")
    assert seen_while_off.is_open and seen_while_off.deadline is None
    assert fresh.is_open and fresh.seconds_left == 48 * HOUR


def test_an_end_date_earlier_than_the_stored_end_caps_it(countdown, campaign, debtor):
    signed_in(Client(), debtor).get(OFFER)  # 48 hours: to 17 June, noon
    stored = Campaign.objects.get(pk=campaign.pk).countdown_ends_at
    countdown.countdown_hours = 2
    countdown.save()
    # The end date brought forward to tomorrow (as an edit of it would): its last minute.
    Campaign.objects.filter(pk=campaign.pk).update(ends_on=TODAY + timedelta(days=1))

    found = _offer_of(debtor)

    assert stored == NOW + timedelta(hours=48)
    assert found.seconds_left == 36 * HOUR
    assert found.is_open


def test_the_first_visit_fixes_the_end_once_whoever_comes_first(countdown, campaign):
    portal_services.note_first_visit(campaign, countdown)
    countdown.countdown_hours = 5
    countdown.save()
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        stale = Campaign.objects.get(pk=campaign.pk)
        stale.first_visit_at = None  # a request that read the row before the first one wrote
        portal_services.note_first_visit(stale, countdown)

    assert stale.countdown_ends_at == NOW + timedelta(hours=48)
    assert Campaign.objects.get(pk=campaign.pk).countdown_ends_at == NOW + timedelta(hours=48)
