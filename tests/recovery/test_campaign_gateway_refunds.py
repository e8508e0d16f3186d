"""A written-off campaign's link paid at a gateway, then given back in part or paid twice:
the campaign counts only the money it kept, as a loan does (collections_app services,
through the campaign's receivable)."""

from decimal import Decimal

from collections_app import services as collection_services
from collections_app.models import Origin, PaymentLink
from integrations import payment_gateways
from recovery.models import Campaign, CampaignPayment
from tests.recovery.conftest import CAMPAIGN_AMOUNT, TODAY


def total_link(campaign, debtor):
    return collection_services.create_payment_link(
        customer=debtor,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
    )


def gateway_says(link, payment_id, *, status=payment_gateways.APPROVED, refunded="0.00"):
    collection_services.apply_gateway_payment(
        provider="mercadopago",
        found=payment_gateways.GatewayPayment(
            provider_payment_id=payment_id,
            reference=link.reference,
            status=status,
            amount=link.amount,
            currency=link.currency,
            paid_on=TODAY,
            raw={},
            refunded=Decimal(refunded),
        ),
    )


def test_a_partial_refund_of_a_campaign_payment_leaves_counted_what_was_kept(campaign, debtor):
    link = total_link(campaign, debtor)
    gateway_says(link, "555")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.PAID

    gateway_says(link, "555", refunded="1200.00")
    gateway_says(link, "555", refunded="1200.00")

    campaign.refresh_from_db()
    assert campaign.paid_amount == CAMPAIGN_AMOUNT - Decimal("1200.00")
    assert campaign.status == Campaign.Status.ACTIVE
    kept = CampaignPayment.objects.get(status=CampaignPayment.Status.APPLIED)
    assert (kept.external_id, kept.amount) == (
        "mercadopago:555:refunded:1200.00",
        Decimal("6000.00"),
    )


def test_the_refund_of_the_first_of_two_campaign_payments_lets_the_second_pay_it(campaign, debtor):
    """Paid twice: the second money found the campaign paid and was kept as overpaid. The
    first is refunded: it is annulled, and the second applied again pays the campaign."""
    link = total_link(campaign, debtor)
    gateway_says(link, "555")
    gateway_says(link, "666")
    assert CampaignPayment.objects.get(external_id="mercadopago:666").overpaid == CAMPAIGN_AMOUNT

    gateway_says(link, "555", status=payment_gateways.REFUNDED, refunded=str(link.amount))

    assert CampaignPayment.objects.get(external_id="mercadopago:555").status == (
        CampaignPayment.Status.ANNULLED
    )
    standing = CampaignPayment.objects.get(status=CampaignPayment.Status.APPLIED)
    assert standing.external_id.startswith("mercadopago:666:")
    assert (standing.amount, standing.overpaid) == (CAMPAIGN_AMOUNT, Decimal("0.00"))
    campaign.refresh_from_db()
    assert (campaign.status, campaign.paid_amount) == (Campaign.Status.PAID, CAMPAIGN_AMOUNT)
