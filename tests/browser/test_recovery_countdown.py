"""The /recovery offer's countdown running out while the debtor writes why the offer does
not interest them (accessibility pass, F10): the page is not reloaded under them, the ended
notice shows in place, and what they chose is still there to be sent.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from recovery.models import Campaign, Visit
from tests.recovery.test_portal_browser import (  # noqa: F401 (fixtures)
    _frozen,
    google,
    offered,
    open_offer,
    portal,
)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("portal", "google")]


def test_the_countdown_running_out_keeps_a_half_written_decline(page: Page, live_server):
    campaign = offered("Julia", "41122335")
    # The debtor first came almost 48 hours ago: a few seconds are left.
    Campaign.objects.filter(pk=campaign.pk).update(
        first_visit_at=timezone.now() - timedelta(hours=48) + timedelta(seconds=4),
        countdown_ends_at=timezone.now() + timedelta(seconds=4),
    )
    open_offer(page, live_server, "41122335")
    page.get_by_text("No me interesa esta oferta").click()
    page.get_by_label("El descuento no es suficiente").check()
    page.locator("body").click(position={"x": 1, "y": 1})  # the focus leaves the form

    notice = page.locator("#recovery-countdown-ended")
    expect(notice).to_be_visible(timeout=10_000)
    page.wait_for_timeout(1500)

    expect(notice).to_contain_text("El plazo de la oferta terminó")
    expect(page.get_by_label("El descuento no es suficiente")).to_be_checked()
    expect(page.locator("[data-countdown-clock]")).to_have_text("00:00:00")
    page.get_by_role("button", name="Enviar").click()
    expect(page.locator("#recovery-declined")).to_contain_text("El descuento no es suficiente")
    assert Visit.objects.get(campaign=campaign).declined


def test_the_countdown_running_out_with_the_focus_in_a_field_does_not_reload(
    page: Page, live_server
):
    campaign = offered("Marta", "41122336")
    Campaign.objects.filter(pk=campaign.pk).update(
        first_visit_at=timezone.now() - timedelta(hours=48) + timedelta(seconds=4),
        countdown_ends_at=timezone.now() + timedelta(seconds=4),
    )
    open_offer(page, live_server, "41122336")
    page.get_by_text("No me interesa esta oferta").click()
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Teléfono").focus()

    expect(page.locator("#recovery-countdown-ended")).to_be_visible(timeout=10_000)
    page.wait_for_timeout(1500)

    assert page.evaluate("window.notReloaded === true")
    expect(page.locator("#recovery-concluded")).to_have_count(0)
