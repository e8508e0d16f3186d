"""A written-off loan a campaign covers takes no new offer: a payment link, a promise, an
agreement or a payment to verify for it is refused, naming the campaign, since the debtor
is asked for the campaign (or for nothing once it is paid). A loan no campaign covers,
or one whose campaign finished, takes them as before. The clock is frozen on TODAY
(15 June 2026), as for every recovery test.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from collections_app import services as collection_services
from collections_app.models import Origin, PaymentLink, PaymentPromise, ReportedPayment
from credits.services import loans as loan_services
from recovery import services
from tests import receipts
from tests.collections_app.test_payment_events import receipt
from tests.recovery.conftest import CAMPAIGN_AMOUNT, TODAY, make_campaign

REFUSED = "Este crédito lo cubre la campaña de cartera castigada CAST-2026-06: ofrezca la campaña."


def loan_link(loan):
    return collection_services.create_payment_link(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
    )


def loan_promise(loan):
    return collection_services.promise_payment(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=Decimal("1000.00"),
        promised_on=TODAY + timedelta(days=5),
        origin=Origin.AGENT,
        actor=None,
    )


def messages(raised: pytest.ExceptionInfo) -> list[str]:
    return raised.value.messages


def test_a_link_for_a_covered_loan_is_refused_naming_the_campaign(campaign, written_off):
    with pytest.raises(ValidationError) as raised:
        loan_link(written_off)

    assert messages(raised) == [REFUSED]
    assert not PaymentLink.objects.filter(receivable_kind="loan").exists()


def test_a_promise_for_a_covered_loan_is_refused_naming_the_campaign(campaign, written_off):
    with pytest.raises(ValidationError) as raised:
        loan_promise(written_off)

    assert messages(raised) == [REFUSED]
    assert not PaymentPromise.objects.exists()


def test_an_agreement_for_a_covered_loan_is_refused_naming_the_campaign(campaign, written_off):
    with pytest.raises(ValidationError) as raised:
        collection_services.create_agreement(
            customer=written_off.customer,
            receivable_kind="loan",
            receivable_id=written_off.pk,
            option_key="any",
            provider="mercadopago",
            origin=Origin.AGENT,
            actor=None,
        )

    assert messages(raised) == [REFUSED]


def test_a_payment_to_verify_for_a_covered_loan_is_refused_naming_the_campaign(
    campaign, written_off
):
    with pytest.raises(ValidationError) as raised:
        collection_services.report_payment(
            customer=written_off.customer,
            receivable_kind="loan",
            receivable_id=written_off.pk,
            amount=Decimal("500.00"),
            paid_on=TODAY,
            method=ReportedPayment.Method.TRANSFER,
            receipt=receipt(content=receipts.PNG),
            origin=Origin.PORTAL,
            actor=None,
        )

    assert messages(raised) == [REFUSED]
    assert not ReportedPayment.objects.exists()


def test_a_loan_a_paid_campaign_covers_is_refused_saying_nothing_more_is_owed(
    campaign, written_off
):
    services.apply_payment(
        campaign_id=campaign.pk,
        amount=CAMPAIGN_AMOUNT,
        received_on=TODAY,
        source="transfer",
        actor=None,
    )

    with pytest.raises(ValidationError) as raised:
        loan_link(written_off)

    assert messages(raised) == [
        "Este crédito lo cubre la campaña de cartera castigada CAST-2026-06, ya pagada: "
        "no se cobra más."
    ]


def test_a_written_off_loan_the_campaign_does_not_cover_still_takes_offers(
    written_off, debtor, make_active_loan
):
    other = make_active_loan(customer=debtor)
    loan_services.write_off(loan=other, actor=None, reason="Incobrable")
    other.refresh_from_db()
    make_campaign(debtor, payment_code=written_off.payment_code)

    link = loan_link(other)
    promise = loan_promise(other)

    assert link.status == PaymentLink.Status.ACTIVE
    assert promise.status == PaymentPromise.Status.PENDING


def test_a_loan_whose_campaign_finished_takes_offers_again(campaign, written_off):
    services.finish_campaign(campaign=campaign, actor=None)

    link = loan_link(written_off)

    assert link.status == PaymentLink.Status.ACTIVE
