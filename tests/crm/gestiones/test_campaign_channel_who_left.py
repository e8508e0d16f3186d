"""A campaign whose channel was deactivated keeps it when edited (marked on the form); a new
pick of an inactive channel is refused by name."""

from urllib.parse import urlencode

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from tests.crm.gestiones.test_campaigns import call_type, make_campaign  # noqa: F401
from tests.factories import ChannelFactory
from tests.test_lost_updates import shown_form

pytestmark = pytest.mark.django_db


def test_editing_a_campaign_keeps_its_deactivated_channel(client, supervisor, call_type):  # noqa: F811
    feria = ChannelFactory(name="Feria", code="feria")
    campaign = make_campaign(gestion_type=call_type, channel=feria)
    feria.is_active = False
    feria.save()
    client.force_login(supervisor)
    url = reverse("gestiones:campaign_update", args=[campaign.pk])

    page = client.get(url)
    fields = [(k, v) for k, v in shown_form(client, url) if k != "name"] + [("name", "Otro")]
    response = client.post(url, urlencode(fields), content_type="application/x-www-form-urlencoded")

    assertContains(page, f'<option value="{feria.pk}" selected>Feria (canal inactivo)</option>')
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.channel) == ("Otro", feria)


def test_a_new_pick_of_an_inactive_channel_is_refused(client, supervisor, call_type):  # noqa: F811
    campaign = make_campaign(gestion_type=call_type)
    feria = ChannelFactory(name="Feria", code="feria", is_active=False)
    client.force_login(supervisor)
    url = reverse("gestiones:campaign_update", args=[campaign.pk])

    fields = [(k, v) for k, v in shown_form(client, url) if k != "channel"]
    response = client.post(
        url,
        urlencode([*fields, ("channel", feria.pk)]),
        content_type="application/x-www-form-urlencoded",
    )

    assertContains(response, "El canal Feria está inactivo: elija otro.")
