"""The agent's «Crear link de pago» offers only the gateways that can make a link now."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.models import PaymentLink
from tests.collections_app.test_agent_screens import late_loan  # noqa: F401 (a fixture)

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


# The agreement's down payment is a link too ------------------------------------------------


def _agreement_rule():
    from decimal import Decimal

    from collections_app.models import AgreementRule

    return AgreementRule.objects.create(
        name="Hasta 3 cuotas",
        max_installments=3,
        min_down_payment_percent=Decimal("20"),
        late_interest_discount_percent=Decimal("50"),
    )


def test_the_agreement_card_offers_only_the_configured_gateway(
    agent_client,
    late_loan,  # noqa: F811
    no_credentials,
):
    no_credentials.MERCADOPAGO_ACCESS_TOKEN = "TEST-token"
    _agreement_rule()

    response = _page(agent_client, late_loan.customer)

    assertContains(response, '<option value="mercadopago">MercadoPago</option>', html=True)
    assertNotContains(response, '<option value="clear"')


def test_with_no_gateway_the_agreement_card_says_so_and_none_is_made(
    agent_client,
    late_loan,  # noqa: F811
    no_credentials,
):
    from collections_app.models import PaymentAgreement

    rule = _agreement_rule()
    debtor = late_loan.customer

    page = _page(agent_client, debtor)
    refused = agent_client.post(
        reverse("collections_app:customer_agreement_create", args=[debtor.pk]),
        {
            "agreement-debt": f"loan:{late_loan.pk}",
            "agreement-option": f"{rule.pk}-3",
            "agreement-provider": "mercadopago",
        },
    )

    assertContains(page, NONE_CONFIGURED)
    assertNotContains(page, 'name="agreement-provider"')
    assertNotContains(page, "Registrar convenio</button>")
    assertContains(refused, NONE_CONFIGURED)
    assert not PaymentAgreement.objects.exists()
