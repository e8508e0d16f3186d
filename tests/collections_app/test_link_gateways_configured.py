"""The agent's «Crear link de pago» offers only the gateways that can make a link now."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.models import PaymentLink

NONE_CONFIGURED = "No hay pasarelas de pago configuradas"


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


@pytest.fixture
def no_credentials(settings):
    settings.PAYMENT_GATEWAYS_FAKE = False
    settings.MERCADOPAGO_ACCESS_TOKEN = ""
    settings.CLEAR_API_URL = ""
    settings.CLEAR_API_KEY = ""
    return settings


def _page(agent_client, debtor):
    return agent_client.get(reverse("collections_app:customer_collections", args=[debtor.pk]))


def test_with_no_gateway_configured_the_card_says_so_instead_of_offering_one(
    agent_client, debtor, no_credentials
):
    response = _page(agent_client, debtor)

    assertContains(response, NONE_CONFIGURED)
    assertNotContains(response, 'name="link-provider"')
    assertNotContains(response, "Crear link</button>")


def test_with_no_gateway_configured_a_posted_link_is_refused_and_not_stored(
    agent_client, loan, debtor, no_credentials
):
    response = agent_client.post(
        reverse("collections_app:customer_link_create", args=[debtor.pk]),
        {"link-debt": f"loan:{loan.pk}", "link-concept": "total", "link-provider": "mercadopago"},
    )

    assert response.status_code == 200
    assertContains(response, NONE_CONFIGURED)
    assert not PaymentLink.objects.exists()


def test_only_the_configured_gateway_is_offered_by_its_name(agent_client, debtor, no_credentials):
    no_credentials.MERCADOPAGO_ACCESS_TOKEN = "TEST-token"

    response = _page(agent_client, debtor)

    assertContains(response, '<option value="mercadopago" selected>MercadoPago</option>', html=True)
    assertNotContains(response, '<option value="clear"')
    assertNotContains(response, NONE_CONFIGURED)
