"""Finishing a written-off campaign withdraws what is still open on it (payment links,
promises, agreements), by hand or by the daily task; money that still comes through a
gateway for a finished campaign is recorded, does not pay it, and the collections team is
told (brief BH, from the destructive-actions pass, finding 1).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from collections_app import services as collection_services
from collections_app.models import (
    AgreementRule,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    Portfolio,
)
from crm.models import Customer, Interaction
from integrations import payment_gateways
from integrations.models import OutboxMessage
from recovery import services
from recovery.models import Campaign, CampaignPayment
from tests.recovery.conftest import CAMPAIGN_AMOUNT, TODAY, at, make_campaign

NEXT_DAY = TODAY + timedelta(days=1)
TEAM = "cobranzas@cartera.test"  # config/test_settings.COLLECTIONS_TEAM_EMAILS


def open_link(campaign):
    return collection_services.create_payment_link(
        customer=campaign.customer,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
    )


def promise(campaign, amount=Decimal("1000.00"), days=5):
    return collection_services.promise_payment(
        customer=campaign.customer,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        amount=amount,
        promised_on=TODAY + timedelta(days=days),
        origin=Origin.AGENT,
        actor=None,
    )


def gateway_pays(link, *, paid_on=TODAY, payment_id="777"):
    collection_services.apply_gateway_payment(
        provider="mercadopago",
        found=payment_gateways.GatewayPayment(
            provider_payment_id=payment_id,
            reference=link.reference,
            status=payment_gateways.APPROVED,
            amount=link.amount,
            currency=link.currency,
            paid_on=paid_on,
            raw={},
        ),
    )


def summaries(customer) -> list[str]:
    return list(customer.interactions.order_by("pk").values_list("summary", flat=True))


# --- By hand -------------------------------------------------------------------------------


def test_finishing_a_campaign_withdraws_its_open_payment_link(client, cobranzas, campaign, debtor):
    # The reproduction of the destructive-actions pass (/tmp/helperBC/repro_test.py).
    link = open_link(campaign)
    assert link.status == PaymentLink.Status.ACTIVE
    client.force_login(cobranzas)
    url = reverse("recovery:campaign_finish", args=[campaign.pk])

    page = client.post(url, {"reason": "Acuerdo con el cliente"})  # the confirmation
    client.post(url, {"reason": "Acuerdo con el cliente", "confirm": "yes"})

    campaign.refresh_from_db()
    link.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    assert link.status != PaymentLink.Status.ACTIVE, "the link still takes money"
    assert link.reference in page.content.decode(), "the confirmation never names the open link"


def test_the_confirmation_lists_what_is_open_and_says_it_cannot_be_undone(
    client, cobranzas, campaign
):
    link = open_link(campaign)
    promise(campaign, amount=Decimal("1500.00"), days=5)
    client.force_login(cobranzas)

    page = client.post(
        reverse("recovery:campaign_finish", args=[campaign.pk]), {"reason": "Venta de cartera"}
    )

    lines = page.content.decode()
    assert (
        f"Link de pago {link.reference} de S/ 7,200.00 (MercadoPago), vence el 18/06/2026 12:00."
        in lines
    )
    assert "Compromiso de pago de S/ 1,500.00 para el 20/06/2026." in lines
    assert "el cliente ya no podrá pagar la oferta con ello" in lines
    assert "Finalizar la campaña no se puede deshacer." in lines
    assert "se avisa por correo al equipo de cobranzas para devolverlo o aplicarlo a mano" in lines
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ACTIVE  # only asked


def test_finishing_withdraws_its_links_and_promise_each_on_the_timeline(
    campaign, debtor, cobranzas
):
    link = open_link(campaign)
    promised = promise(campaign)

    services.finish_campaign(campaign=campaign, actor=cobranzas, reason="Fallecimiento")

    link.refresh_from_db()
    promised.refresh_from_db()
    assert (link.status, link.status_reason) == (
        PaymentLink.Status.CANCELLED,
        "campaña CAST-2026-06 finalizada",
    )
    assert promised.status == PaymentPromise.Status.CANCELLED
    said = summaries(debtor)
    assert (
        f"Link de pago {link.reference} de S/ 7,200.00 anulado: campaña CAST-2026-06 finalizada"
        in said
    )
    assert "Compromiso de pago del 20/06/2026 anulado: campaña CAST-2026-06 finalizada" in said
    entry = debtor.interactions.get(payload__link=link.pk, summary__contains="anulado")
    assert entry.actor == cobranzas


def test_finishing_withdraws_an_agreement_waiting_for_its_down_payment(campaign, debtor):
    # Agreements are not offered on a campaign today (agreement_options); one left by older
    # data or admin is withdrawn all the same.
    agreement = PaymentAgreement.objects.create(
        customer=debtor,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        receivable_code=campaign.code,
        currency=campaign.currency,
        portfolio=Portfolio.WRITTEN_OFF,
        rule=AgreementRule.objects.create(name="Hasta 3 cuotas", max_installments=3),
        installments=3,
        debt_amount=CAMPAIGN_AMOUNT,
        down_payment=Decimal("720.00"),
        installment_amount=Decimal("3240.00"),
    )

    services.finish_campaign(campaign=campaign, actor=None, reason="Venta de cartera")

    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.CANCELLED
    assert (
        f"Convenio de pago #{agreement.pk} anulado: campaña CAST-2026-06 finalizada"
        in summaries(debtor)
    )


def test_a_gateway_payment_after_the_finish_is_recorded_and_leaves_it_finished(campaign, debtor):
    # The debtor pays the link the agent had sent: the gateway's checkout cannot be closed.
    link = open_link(campaign)
    services.finish_campaign(campaign=campaign, actor=None, reason="Venta de cartera")

    gateway_pays(link)

    campaign.refresh_from_db()
    assert (campaign.status, campaign.paid_amount) == (Campaign.Status.FINISHED, 0)
    payment = CampaignPayment.objects.get(campaign=campaign)
    assert (payment.amount, payment.overpaid, payment.status) == (
        CAMPAIGN_AMOUNT,
        CAMPAIGN_AMOUNT,
        CampaignPayment.Status.APPLIED,
    )
    entry = debtor.interactions.get(payload__recovery_payment=payment.pk)
    assert entry.summary == (
        "Pago de PEN 7,200.00 a la campaña de cartera castigada CAST-2026-06; la campaña está "
        "finalizada: el pago no se aplicó a ella y queda como saldo a favor, para devolverlo "
        "o aplicarlo a mano"
    )
    assert services.recompute_paid(campaign) == 0


def test_the_collections_team_is_told_of_money_for_a_finished_campaign(campaign, debtor):
    link = open_link(campaign)
    services.finish_campaign(campaign=campaign, actor=None, reason="Venta de cartera")

    gateway_pays(link)
    gateway_pays(link)  # the same notification again

    (mail,) = OutboxMessage.objects.filter(payload__to=TEAM)
    assert mail.payload["subject"] == (
        f"Pago a una campaña finalizada: {debtor.full_name}, S/ 7,200.00"
    )
    body = mail.payload["body"]
    assert "pagó S/ 7,200.00 el 15/06/2026 por MercadoPago, operación «777»" in body
    assert "CAST-2026-06, que está finalizada" in body
    assert "devuélvalo o aplíquelo a mano" in body
    assert reverse("recovery:campaign_detail", args=[campaign.pk]) in body


def test_annulling_money_kept_after_the_finish_leaves_the_campaign_as_it_was(campaign):
    link = open_link(campaign)
    services.finish_campaign(campaign=campaign, actor=None, reason="Venta de cartera")
    gateway_pays(link)
    payment = CampaignPayment.objects.get(campaign=campaign)

    services.annul_payment(payment_id=payment.pk, actor=None, reason="Devuelto por MercadoPago")

    campaign.refresh_from_db()
    assert (campaign.status, campaign.paid_amount) == (Campaign.Status.FINISHED, 0)


# --- By the daily task (end date passed) -----------------------------------------------------


@pytest.fixture
def last_day(written_off, debtor):
    return make_campaign(debtor, payment_code=written_off.payment_code, ends_on=TODAY)


def test_the_daily_finish_withdraws_the_open_links_and_promises(last_day, debtor):
    link = open_link(last_day)  # on its last day: open for 72 hours more
    promised = promise(last_day, days=3)

    with at(NEXT_DAY, 0):
        assert services.finish_ended() == 1

    link.refresh_from_db()
    promised.refresh_from_db()
    assert (link.status, link.status_reason) == (
        PaymentLink.Status.CANCELLED,
        "campaña CAST-2026-06 terminada el 15/06/2026",
    )
    assert promised.status == PaymentPromise.Status.CANCELLED
    assert (
        f"Link de pago {link.reference} de S/ 7,200.00 anulado: campaña CAST-2026-06 "
        "terminada el 15/06/2026" in summaries(debtor)
    )


def test_the_nightly_withdrawals_are_bookkeeping_not_contact(last_day, debtor):
    """Withdrawn by the 00:05 task, nobody spoke to the debtor: their «última interacción»
    stays as it was, and the entries are the system's."""
    link = open_link(last_day)
    promise(last_day, days=3)
    Customer.objects.filter(pk=debtor.pk).update(last_interaction_at=None)

    with at(NEXT_DAY, 0):
        services.finish_ended()

    debtor.refresh_from_db()
    assert debtor.last_interaction_at is None
    withdrawals = debtor.interactions.filter(summary__contains="anulado: campaña")
    assert withdrawals.count() == 2
    assert set(withdrawals.values_list("kind", flat=True)) == {Interaction.Kind.SYSTEM}
    assert link.reference in " ".join(withdrawals.values_list("summary", flat=True))


def test_money_paid_after_the_end_date_does_not_pay_the_ended_campaign(last_day, debtor):
    link = open_link(last_day)
    with at(NEXT_DAY, 0):
        services.finish_ended()

    with at(NEXT_DAY, 10):
        gateway_pays(link, paid_on=NEXT_DAY)

    last_day.refresh_from_db()
    assert (last_day.status, last_day.paid_amount) == (Campaign.Status.FINISHED, 0)
    assert OutboxMessage.objects.filter(payload__to=TEAM).count() == 1


def test_money_paid_on_the_last_day_and_notified_late_still_pays_the_campaign(last_day):
    # The offer ran that day: the withdrawn link's late notification honours it.
    link = open_link(last_day)
    with at(NEXT_DAY, 0):
        services.finish_ended()

    with at(NEXT_DAY, 10):
        gateway_pays(link, paid_on=TODAY)

    last_day.refresh_from_db()
    assert (last_day.status, last_day.balance) == (Campaign.Status.PAID, 0)
    assert not OutboxMessage.objects.filter(payload__to=TEAM).exists()
