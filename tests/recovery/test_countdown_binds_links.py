"""A campaign's link ends no later than its offer, and its /recovery/ page says until when
it can be paid and, once the offer concluded, no longer invites paying it.

The countdown (*Agregar cuenta regresiva*) lasts 48 hours here from the first visit at
noon on 15 June 2026 (Lima): the offer ends on 17 June at 12:00; the campaign's end date
is 15 July unless a test sets it. A link lasts 72 hours (COLLECTIONS_LINK_HOURS).
"""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from collections_app import services as collection_services
from collections_app.models import Origin, PaymentLink
from integrations import fakes, payment_gateways
from recovery.models import Campaign, RecoverySettings
from recovery.portal import selectors
from tests.recovery.conftest import CAMPAIGN_AMOUNT, TODAY, make_campaign
from tests.recovery.test_portal import (
    LIMA,
    NOW,
    OFFER,
    PAY,
    google,  # noqa: F401 (autouse: reCAPTCHA, faked)
    signed_in,
)

CONCLUDED = "La oferta ha concluido, contáctanos para más detalles"
COUNTDOWN_END = NOW + timedelta(hours=48)


@pytest.fixture
def countdown(db):
    """The portal, on, with a countdown of 48 hours."""
    found = RecoverySettings.current()
    found.is_active = True
    found.countdown_enabled = True
    found.countdown_hours = 48
    found.advisor_whatsapp = "51987654321"
    found.save()
    return found


def _paid_from_the_portal(client: Client) -> PaymentLink:
    client.get(OFFER)  # the first visit: the countdown starts
    response = client.post(PAY, {"provider": "mercadopago"})
    link = PaymentLink.objects.get()
    assert response["Location"] == reverse("recovery:link", args=[link.reference]) + "?ir=1"
    return link


def _page(client: Client, link: PaymentLink, query: str = ""):
    return client.get(reverse("recovery:link", args=[link.reference]) + query)


def test_a_link_ends_with_the_campaigns_end_date(countdown, debtor):
    countdown.countdown_enabled = False
    countdown.save()
    make_campaign(debtor, ends_on=TODAY + timedelta(days=1))
    client = signed_in(Client(), debtor)

    link = _paid_from_the_portal(client)

    # The end of 16 June in Lima, not 72 hours from now (18 June at noon); the gateway is
    # told the same.
    last_moment = datetime.combine(TODAY + timedelta(days=2), time.min, tzinfo=LIMA)
    assert link.expires_at == last_moment - timedelta(seconds=1)
    assert fakes.fake_gateway("mercadopago").checkouts[0].expires_at == link.expires_at
    assertContains(_page(client, link), "Válido hasta el 16/06/2026 a las 23:59")


def test_the_link_page_says_until_when_the_link_is_valid(countdown, campaign, debtor):
    countdown.countdown_enabled = False
    countdown.save()
    client = signed_in(Client(), debtor)
    link = _paid_from_the_portal(client)

    going = _page(client, link, "?ir=1")
    waiting = _page(client, link)

    assertContains(going, "Válido hasta el 18/06/2026 a las 12:00")
    assertContains(waiting, "Válido hasta el 18/06/2026 a las 12:00")
    assertContains(waiting, "Aún no pagué: ir a MercadoPago")


def test_the_link_page_says_the_offer_ends_when_it_comes_before_the_link(
    countdown, campaign, debtor
):
    client = signed_in(Client(), debtor)
    link = _paid_from_the_portal(client)

    # The offer ends 17 June at noon, before the link's 72 hours would.
    assertContains(_page(client, link), "Válido hasta el 17/06/2026 a las 12:00")


def test_after_the_countdown_the_link_page_no_longer_invites_paying(countdown, campaign, debtor):
    client = signed_in(Client(), debtor)
    link = _paid_from_the_portal(client)

    with time_machine.travel(COUNTDOWN_END + timedelta(minutes=1), tick=False):
        client = signed_in(Client(), debtor)  # the first session idled out long ago
        offer = client.get(OFFER)
        page = _page(client, link)
        going = _page(client, link, "?ir=1")
        stranger = _page(Client(), link)

    assertContains(offer, CONCLUDED)
    for response in (page, going):
        assertContains(response, CONCLUDED)
        assertContains(response, "Terminó el 17/06/2026 a las 12:00")
        assertContains(response, "Habla con un asesor")
        assertNotContains(response, "Aún no pagué")
        assertNotContains(response, "Válido hasta")
        assertNotContains(response, link.url)
        assertNotContains(response, 'http-equiv="refresh"')
    # Someone else with the address is told it concluded, and nothing of the debtor's.
    assertContains(stranger, CONCLUDED)
    assertNotContains(stranger, "Habla con un asesor")
    assertNotContains(stranger, link.url)


def test_a_link_an_agent_makes_after_the_countdown_shows_as_usual(countdown, campaign, debtor):
    client = signed_in(Client(), debtor)
    client.get(OFFER)

    with time_machine.travel(COUNTDOWN_END + timedelta(hours=1), tick=False):
        # The agent is the «contáctanos» path: their link is theirs to offer.
        link = collection_services.create_payment_link(
            customer=debtor,
            receivable_kind="campaign",
            receivable_id=campaign.pk,
            concept=PaymentLink.Concept.TOTAL,
            provider="mercadopago",
            origin=Origin.AGENT,
            actor=None,
        )
        page = _page(Client(), link)

    assertNotContains(page, CONCLUDED)
    assertContains(page, "Estamos esperando la confirmación de MercadoPago")
    shown = timezone.localtime(link.expires_at)
    assertContains(page, f"Válido hasta el {shown:%d/%m/%Y} a las {shown:%H:%M}")


def test_a_payment_made_in_time_and_notified_after_the_countdown_pays_the_offer(
    countdown, campaign, debtor, django_capture_on_commit_callbacks
):
    """Gateway money is never refused: paid before the offer ended and notified after it
    (the link expired meanwhile, by the hourly run), it pays the campaign at the discount,
    as it did before the countdown bound the link."""
    client = signed_in(Client(), debtor)
    link = _paid_from_the_portal(client)

    with time_machine.travel(link.expires_at + timedelta(minutes=5), tick=False):
        collection_services.expire_links()
        link.refresh_from_db()
        assert link.status == PaymentLink.Status.EXPIRED
        with django_capture_on_commit_callbacks(execute=True):
            collection_services.apply_gateway_payment(
                provider="mercadopago",
                found=payment_gateways.GatewayPayment(
                    provider_payment_id="777",
                    reference=link.reference,
                    status=payment_gateways.APPROVED,
                    amount=link.amount,
                    currency=link.currency,
                    paid_on=TODAY + timedelta(days=2),
                    raw={},
                ),
            )
        page = _page(Client(), link)

    link.refresh_from_db()
    campaign.refresh_from_db()
    assert link.status == PaymentLink.Status.PAID
    assert (campaign.status, campaign.paid_amount) == (Campaign.Status.PAID, CAMPAIGN_AMOUNT)
    assertContains(page, "Pago recibido")


def test_the_offer_ends_with_the_countdown_or_else_the_end_date(countdown, campaign, debtor):
    assert selectors.offer_ends_at(campaign) == datetime.combine(
        campaign.ends_on + timedelta(days=1), time.min, tzinfo=LIMA
    )

    signed_in(Client(), debtor).get(OFFER)
    campaign.refresh_from_db()
    assert selectors.offer_ends_at(campaign) == COUNTDOWN_END

    # Switched off, no countdown binds: the campaign lasts to its end date.
    countdown.countdown_enabled = False
    countdown.save()
    assert selectors.offer_ends_at(campaign, countdown) == datetime.combine(
        campaign.ends_on + timedelta(days=1), time.min, tzinfo=LIMA
    )
    Campaign.objects.filter(pk=campaign.pk).update(ends_on=None)
    campaign.refresh_from_db()
    assert selectors.offer_ends_at(campaign, countdown) is None
