"""Every investor's figures on the panel: computed ahead by beat, shown with their time."""

from datetime import datetime
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from credits import tasks
from credits.investors import panel
from credits.investors import services as investor_services
from lib import precomputed
from lib.money import Currency
from tests.factories import InvestorFactory, LoanProductFactory

LIMA = ZoneInfo("America/Lima")


@pytest.fixture
def funded(make_active_loan, time_machine):
    """Lucía funds 60 % of a 10,000 loan, on 1 March at 10:00."""
    time_machine.move_to(datetime(2026, 3, 1, 10, tzinfo=LIMA), tick=False)
    product = LoanProductFactory(method="flat")
    loan = make_active_loan(product=product, principal=Decimal("10000.00"))
    lucia = InvestorFactory(name="Lucía Paredes")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    return {"loan": loan, "make_active_loan": make_active_loan, "product": product}


def _deployed(response) -> str:
    html = response.content.decode()
    start = html.index('data-figure="capital-deployed">') + len('data-figure="capital-deployed">')
    return html[start : html.index("<", start)]


def test_the_panel_shows_the_kept_figures_with_their_time(client, supervisor, funded, time_machine):
    client.force_login(supervisor)
    first = client.get(reverse("credits:investor_dashboard"))
    time_machine.move_to(datetime(2026, 3, 1, 10, 3, tzinfo=LIMA), tick=False)
    other = funded["make_active_loan"](product=funded["product"], principal=Decimal("5000.00"))
    investor_services.add_participation(
        loan=other, investor=InvestorFactory(name="Jorge Salas"), actor=None, share=Decimal("50")
    )

    kept = client.get(reverse("credits:investor_dashboard"))
    fresh = client.get(reverse("credits:investor_dashboard"), {"recalcular": "1"})

    assert "6,000.00" in _deployed(first) or "6.000,00" in _deployed(first)
    assert _deployed(kept) == _deployed(first)
    assert "Calculadas a las 10:00; se recalculan cada 5 minutos." in kept.content.decode()
    assert "8,500.00" in _deployed(fresh) or "8.500,00" in _deployed(fresh)
    assert "Calculadas a las 10:03" in fresh.content.decode()


def test_the_kept_figures_are_read_without_summing_participations(client, supervisor, funded):
    tasks.refresh_investor_panel()
    client.force_login(supervisor)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("credits:investor_dashboard"))

    assert response.status_code == 200
    assert not [q for q in queries if "credits_participation" in q["sql"]]


def test_every_currency_is_kept(funded):
    assert tasks.refresh_investor_panel() == list(Currency.values)

    for currency in Currency.values:
        assert panel.everyone(currency).computed_at is not None
    assert panel.everyone("PEN").value.summary.capital_deployed == Decimal("6000.00")


def test_figures_kept_yesterday_are_computed_again(client, supervisor, funded, time_machine):
    tasks.refresh_investor_panel()
    time_machine.move_to(datetime(2026, 3, 2, 8, 30, tzinfo=LIMA), tick=False)
    client.force_login(supervisor)

    response = client.get(reverse("credits:investor_dashboard"))

    assert "Calculadas a las 08:30" in response.content.decode()


def test_one_investors_figures_are_read_now(client, supervisor, funded):
    investor = InvestorFactory(name="Carla Ruiz")
    tasks.refresh_investor_panel()
    investor_services.add_participation(
        loan=funded["loan"], investor=investor, actor=None, share=Decimal("10")
    )
    client.force_login(supervisor)

    response = client.get(reverse("credits:investor_dashboard"), {"investor": investor.pk})

    assert "1,000.00" in _deployed(response) or "1.000,00" in _deployed(response)
    assert "Calculadas a las" not in response.content.decode()


def test_a_cache_down_still_shows_the_figures(client, supervisor, funded):
    client.force_login(supervisor)
    down = mock.Mock(**{"get.side_effect": ConnectionError, "set.side_effect": ConnectionError})
    with mock.patch.object(precomputed, "cache", down):
        response = client.get(reverse("credits:investor_dashboard"))

    assert response.status_code == 200
    assert "6,000.00" in _deployed(response) or "6.000,00" in _deployed(response)


def test_beat_computes_them_every_five_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["credits-refresh-investor-panel"]

    assert entry["task"] == tasks.refresh_investor_panel.name
    assert panel.REFRESH_SECONDS == 300
    assert entry["schedule"].minute == set(range(2, 60, 5))
