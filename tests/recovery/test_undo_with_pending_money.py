"""Undoing a campaign upload while money is pending on its campaigns: refused, naming what
and how many; and money for a campaign whose upload was undone is refused in words, never
a server error (an agent approving a payment to verify, a gateway's webhook).

The clock stays on TODAY (15 June 2026), as for every recovery test.
"""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from collections_app import services as collection_services
from collections_app.models import Origin, PaymentLink, ReportedPayment
from crm.imports import services as import_services
from recovery import services
from recovery.imports import CampaignImporter
from recovery.models import Campaign
from tests import receipts
from tests.factories import CustomerFactory, UserFactory
from tests.races import at_once
from tests.recovery.conftest import TODAY
from tests.recovery.test_imports import HEADER, NEW, ROSA, row, run, xlsx

GONE = "La campaña ya no existe: se deshizo su importación."


@pytest.fixture
def importer(db):
    return UserFactory(username="importadora")


@pytest.fixture
def rosa(db):
    return CustomerFactory(document_number=ROSA, first_name="Rosa", last_name="Huamán")


def _report(campaign, amount: str = "100.00", receipt: bytes = receipts.PNG) -> ReportedPayment:
    return collection_services.report_payment(
        customer=campaign.customer,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        amount=Decimal(amount),
        paid_on=TODAY,
        method=ReportedPayment.Method.TRANSFER,
        receipt=SimpleUploadedFile(
            "recibo.pdf" if receipt is receipts.PDF else "recibo.png", receipt
        ),
        origin=Origin.PORTAL,
        actor=None,
    )


def _link(campaign) -> PaymentLink:
    return collection_services.create_payment_link(
        customer=campaign.customer,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
    )


def _promise(campaign):
    return collection_services.promise_payment(
        customer=campaign.customer,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        amount=Decimal("100.00"),
        promised_on=TODAY + timedelta(days=5),
        origin=Origin.AGENT,
        actor=None,
    )


def _pay(campaign_id: int):
    return services.apply_payment(
        campaign_id=campaign_id,
        amount=Decimal("100.00"),
        received_on=TODAY,
        source="transfer",
        actor=None,
    )


def test_undo_is_refused_while_payments_to_verify_wait_and_goes_once_they_are_reviewed(
    importer, rosa, cobranzas
):
    batch = run(xlsx([HEADER, row(ROSA)]), importer)
    campaign = Campaign.objects.get()
    reports = [_report(campaign), _report(campaign, "200.00", receipts.PDF)]

    blockers = import_services.undo_blockers(batch)
    with pytest.raises(ValidationError):
        import_services.undo_import(batch=batch, actor=importer)
    still_there = Campaign.objects.filter(pk=campaign.pk).exists()
    for report in reports:
        collection_services.reject_reported_payment(
            report=report, actor=cobranzas, reason="No llegó el dinero"
        )
    import_services.undo_import(batch=batch, actor=importer)

    assert blockers == ["La campaña CAST-07 de DNI 45678912 tiene 2 pagos a verificar."]
    assert still_there
    assert not Campaign.objects.exists()


def test_undo_is_refused_while_a_link_or_a_promise_is_open(importer, rosa):
    batch = run(xlsx([HEADER, row(ROSA)]), importer)
    campaign = Campaign.objects.get()
    _link(campaign)
    _promise(campaign)

    blockers = import_services.undo_blockers(batch)

    assert blockers == [
        "La campaña CAST-07 de DNI 45678912 tiene 1 link de pago abierto y 1 compromiso "
        "de pago vigente."
    ]


def test_money_for_a_campaign_whose_upload_was_undone_is_refused_in_words(importer, rosa):
    batch = run(xlsx([HEADER, row(ROSA)]), importer)
    campaign_id = Campaign.objects.get().pk
    import_services.undo_import(batch=batch, actor=importer)

    with pytest.raises(ValidationError) as refused:
        _pay(campaign_id)

    assert refused.value.messages == [GONE]


# --- At once, on PostgreSQL ----------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
@pytest.mark.django_db(transaction=True)
# Started together the payment may win (the undo then refuses: "tiene pagos"); these
# delays let the undo commit first, which raised DoesNotExist.
@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_a_payment_just_after_the_undo_of_its_upload_is_refused_in_words(delay):
    importer = UserFactory(username=f"imp{int(delay * 100)}")
    CustomerFactory(document_number=ROSA)
    batch = run(xlsx([HEADER, row(ROSA, ends_on=TODAY + timedelta(days=30))]), importer)
    campaign_id = Campaign.objects.get(import_batch=batch).pk

    def late_payment():
        time.sleep(delay)
        return _pay(campaign_id)

    _done, errors = at_once(
        lambda: import_services.undo_import(batch=batch, actor=importer), late_payment
    )

    # Either the payment came first (the undo is refused: it has payments) or the undo did
    # (the payment is refused: the campaign is gone); never a DoesNotExist, a 500.
    assert len(errors) == 1, errors
    assert errors[0].startswith("ValidationError"), errors


# --- A link or a promise made while the undo runs -------------------------------------------


def _undo_that_pauses_after_its_check(monkeypatch, pause: float) -> None:
    """The undo, slowed between counting what waits on its campaigns and deleting them:
    the moment a debtor's link or an agent's promise used to slip in."""
    original = CampaignImporter.undo

    def slow_undo(self, batch, *, actor):
        time.sleep(pause)
        return original(self, batch, actor=actor)

    monkeypatch.setattr(CampaignImporter, "undo", slow_undo)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL only")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("make", [_promise, _link, _report], ids=["promise", "link", "report"])
@pytest.mark.parametrize("registered", [False, True], ids=["known", "registered"])
def test_a_link_promise_or_report_made_while_the_undo_runs_is_refused_not_orphaned(
    monkeypatch, make, registered
):
    importer = UserFactory(username="importadora")
    if registered:  # the customer comes with the file, and goes with the undo
        rows = [[*HEADER, "Nombres"], [*row(NEW, ends_on=TODAY + timedelta(days=30)), "Lucía"]]
        batch = run(xlsx(rows), importer, options={"create_customers": True})
    else:
        CustomerFactory(document_number=ROSA)
        batch = run(xlsx([HEADER, row(ROSA, ends_on=TODAY + timedelta(days=30))]), importer)
    campaign = Campaign.objects.select_related("customer").get(import_batch=batch)
    _undo_that_pauses_after_its_check(monkeypatch, 0.6)

    def made_meanwhile():
        time.sleep(0.2)
        return make(campaign)

    done, errors = at_once(
        lambda: import_services.undo_import(batch=batch, actor=importer), made_meanwhile
    )

    # Before, both went through: the link, promise or report named a campaign that no
    # longer existed. Now it waits for the undo and is refused in words.
    assert len(done) == 1, errors
    assert len(errors) == 1 and errors[0].startswith("ValidationError"), errors
    assert "ya no existe" in errors[0]
    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    assert not PaymentLink.objects.filter(receivable_id=campaign.pk).exists()
    assert not ReportedPayment.objects.filter(receivable_id=campaign.pk).exists()
