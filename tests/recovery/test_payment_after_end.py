"""A campaign's payment received on its last day and recorded after the 00:05 task finished
it: within the offer, it counts (finished by hand, or received after the end date, it
does not).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from collections_app import services as collection_services
from collections_app.models import Origin, ReportedPayment
from recovery import services
from recovery.models import Campaign
from tests import receipts
from tests.recovery.conftest import CAMPAIGN_AMOUNT, TODAY, at, make_campaign

# The offer's last day is TODAY (15 June 2026); the task finishes it at 00:05 on the 16th.
NEXT_DAY = TODAY + timedelta(days=1)


@pytest.fixture
def last_day(written_off, debtor):
    return make_campaign(debtor, payment_code=written_off.payment_code, ends_on=TODAY)


def _finished_overnight() -> None:
    with at(NEXT_DAY, 0):
        services.finish_ended()


def _pay(campaign, amount=CAMPAIGN_AMOUNT, received_on=TODAY):
    return services.apply_payment(
        campaign_id=campaign.pk,
        amount=amount,
        received_on=received_on,
        source="transfer",
        actor=None,
        reference="OP-2215",
    )


def tags_of(customer) -> list[str]:
    return list(customer.tags.values_list("name", flat=True))


def test_a_transfer_of_the_last_day_keyed_in_the_next_morning_pays_the_campaign(last_day, debtor):
    _finished_overnight()

    with at(NEXT_DAY, 9):
        payment = _pay(last_day)

    last_day.refresh_from_db()
    assert (last_day.status, last_day.balance, payment.overpaid) == (
        Campaign.Status.PAID,
        0,
        0,
    )
    entry = debtor.interactions.filter(payload__recovery_payment=payment.pk).get()
    assert entry.summary == (
        "Pago de PEN 7,200.00 a la campaña de cartera castigada CAST-2026-06; recibido el "
        "15/06/2026, dentro de la oferta, que terminó el 15/06/2026; campaña pagada"
    )
    assert tags_of(debtor) == []


def test_a_part_payment_of_the_last_day_is_recorded_and_the_campaign_stays_finished(last_day):
    _finished_overnight()

    with at(NEXT_DAY, 9):
        _pay(last_day, amount=Decimal("2000.00"))

    last_day.refresh_from_db()
    assert (last_day.status, last_day.paid_amount) == (
        Campaign.Status.FINISHED,
        Decimal("2000.00"),
    )


def test_money_received_after_the_end_date_is_still_refused(last_day):
    _finished_overnight()

    with at(NEXT_DAY, 9), pytest.raises(ValidationError, match="está finalizada"):
        _pay(last_day, received_on=NEXT_DAY)


def test_a_campaign_finished_by_hand_refuses_money_of_a_day_its_offer_ran(written_off, debtor):
    campaign = make_campaign(debtor, payment_code=written_off.payment_code)  # ends in July
    services.finish_campaign(campaign=campaign, actor=None, reason="Oferta retirada")

    with at(NEXT_DAY, 9), pytest.raises(ValidationError, match="está finalizada"):
        _pay(campaign, received_on=TODAY)


def test_a_payment_to_verify_of_the_last_day_approved_next_morning_pays_the_campaign(
    last_day, debtor, cobranzas
):
    with at(TODAY, 22):
        reported = collection_services.report_payment(
            customer=debtor,
            receivable_kind="campaign",
            receivable_id=last_day.pk,
            amount=CAMPAIGN_AMOUNT,
            paid_on=TODAY,
            method=ReportedPayment.Method.TRANSFER,
            receipt=SimpleUploadedFile("recibo.png", receipts.PNG, content_type="image/png"),
            origin=Origin.PORTAL,
            actor=None,
        )
    _finished_overnight()

    with at(NEXT_DAY, 9):
        collection_services.approve_reported_payment(report=reported, actor=cobranzas)

    last_day.refresh_from_db()
    assert last_day.status == Campaign.Status.PAID


def test_paying_the_old_campaign_leaves_the_one_offered_since_active(last_day, debtor):
    # Ended on the 15th; on the 16th the customer gets a new offer, then the old one's
    # transfer of the 15th is keyed in.
    _finished_overnight()
    with at(NEXT_DAY, 8):
        newer = make_campaign(debtor, code="CAST-2026-07", ends_on=NEXT_DAY + timedelta(days=30))

    with at(NEXT_DAY, 9):
        payment = _pay(last_day)

    last_day.refresh_from_db()
    newer.refresh_from_db()
    assert (last_day.status, newer.status) == (Campaign.Status.PAID, Campaign.Status.ACTIVE)
    assert tags_of(debtor) == ["Cartera castigada"]
    entry = debtor.interactions.filter(payload__recovery_payment=payment.pk).get()
    assert entry.summary.endswith(
        "; campaña pagada; el cliente tiene otra campaña activa (CAST-2026-07), que sigue vigente"
    )


def test_annulling_that_payment_finishes_the_old_campaign_again(last_day, debtor):
    _finished_overnight()
    with at(NEXT_DAY, 8):
        newer = make_campaign(debtor, code="CAST-2026-07", ends_on=NEXT_DAY + timedelta(days=30))
    with at(NEXT_DAY, 9):
        payment = _pay(last_day)

    with at(NEXT_DAY, 11):
        services.annul_payment(payment_id=payment.pk, actor=None, reason="Transferencia rebotada")

    last_day.refresh_from_db()
    newer.refresh_from_db()
    assert (last_day.status, last_day.paid_amount, newer.status) == (
        Campaign.Status.FINISHED,
        0,
        Campaign.Status.ACTIVE,
    )
