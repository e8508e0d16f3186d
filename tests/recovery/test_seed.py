"""The recovery demo: an active portal, campaigns in all three states, and visits at every
step of the funnel."""

import io

from django.core.management import call_command

from collections_app.models import CallbackRequest, Portfolio
from recovery.models import Campaign, RecoverySettings, Visit
from recovery.portal import selectors


def test_the_demo_has_campaigns_in_every_state_and_visits_at_every_step(demo):
    assert RecoverySettings.current().is_active
    assert set(Campaign.objects.values_list("status", flat=True)) == set(Campaign.Status.values)
    assert set(Visit.objects.values_list("furthest_step", flat=True)) == set(Visit.Step.values)
    assert Visit.objects.filter(declined=True).count() == 2
    assert CallbackRequest.objects.filter(portfolio=Portfolio.WRITTEN_OFF).exists()
    counts = dict(selectors.funnel())
    assert all(counts.values()), counts
    for campaign in Campaign.objects.all():
        tagged = campaign.customer.tags.filter(name="Cartera castigada").exists()
        active = campaign.customer.recovery_campaigns.filter(status=0).exists()
        assert tagged == active


def test_loading_the_demo_again_adds_nothing(demo):
    before = Campaign.objects.count(), Visit.objects.count()

    out = io.StringIO()
    call_command("seed_recovery", stdout=out)

    assert (Campaign.objects.count(), Visit.objects.count()) == before
    assert "ya estaba cargada" in out.getvalue()
