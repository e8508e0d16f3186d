"""A campaign's promise whose day has passed, the nightly's verdict (00:30) still to come, is
not a promise in course (collections_app.selectors.in_course, as the collections screens
say): finishing the campaign judges it as the nightly would instead of withdrawing it, and
an upload's undo names it for what it is and waits for the verdict.

The clock stays on TODAY (15 June 2026), as for every recovery test.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from collections_app import services as collection_services
from collections_app.models import Origin, PaymentPromise
from crm.imports import services as import_services
from recovery import services
from recovery.models import Campaign
from tests.factories import CustomerFactory, UserFactory
from tests.recovery.conftest import TODAY, at, make_campaign
from tests.recovery.test_imports import HEADER, ROSA, row, run, xlsx

# The promise made on TODAY for DAY; the clock then moves to LATER, past DAY, with no
# nightly run in between.
DAY = TODAY + timedelta(days=2)
LATER = TODAY + timedelta(days=5)
PROMISED = Decimal("1000.00")


def promise(campaign, *, on=DAY, amount=PROMISED):
    return collection_services.promise_payment(
        customer=campaign.customer,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        amount=amount,
        promised_on=on,
        origin=Origin.AGENT,
        actor=None,
    )


def pay(campaign, amount, on):
    return services.apply_payment(
        campaign_id=campaign.pk, amount=amount, received_on=on, source="transfer", actor=None
    )


def summaries(customer) -> list[str]:
    return list(customer.interactions.order_by("pk").values_list("summary", flat=True))


# --- Finishing by hand -----------------------------------------------------------------------


def test_finishing_judges_a_promise_paid_by_its_day_kept_not_withdrawn(campaign, debtor):
    promised = promise(campaign)
    with at(DAY):
        pay(campaign, PROMISED, DAY)

    with at(LATER):
        assert services.open_offers(campaign).promises == []
        services.finish_campaign(campaign=campaign, actor=None, reason="Venta de cartera")
        nightly = collection_services.resolve_promises(today=LATER)

    promised.refresh_from_db()
    assert promised.status == PaymentPromise.Status.KEPT
    assert promised.paid_amount == PROMISED
    said = summaries(debtor)
    assert "Compromiso de pago cumplido: S/ 1,000.00 al 17/06/2026, CAST-2026-06" in said
    assert not any("Compromiso de pago del 17/06/2026 anulado" in line for line in said)
    assert nightly == {"kept": 0, "broken": 0}  # nothing left for the night


def test_finishing_judges_an_unpaid_promise_past_its_day_broken(campaign, debtor):
    promised = promise(campaign)

    with at(LATER):
        services.finish_campaign(campaign=campaign, actor=None)

    promised.refresh_from_db()
    assert promised.status == PaymentPromise.Status.BROKEN
    assert promised.resolved_at is not None
    assert (
        "Compromiso de pago incumplido: S/ 1,000.00 al 17/06/2026, CAST-2026-06 "
        "(pagado S/ 0.00)" in summaries(debtor)
    )


def test_finishing_still_withdraws_a_promise_in_course(campaign):
    promised = promise(campaign)

    with at(DAY):  # its day: still in course
        assert services.open_offers(campaign).promises == [promised]
        services.finish_campaign(campaign=campaign, actor=None)

    promised.refresh_from_db()
    assert promised.status == PaymentPromise.Status.CANCELLED


def test_the_finish_confirmation_does_not_list_a_promise_past_its_day(client, cobranzas, campaign):
    promise(campaign)

    with at(LATER):
        client.force_login(cobranzas)
        page = client.post(
            reverse("recovery:campaign_finish", args=[campaign.pk]), {"reason": "Venta"}
        )

    lines = page.content.decode()
    assert "Compromiso de pago de S/ 1,000.00 para el 17/06/2026." not in lines
    assert "La campaña no tiene links de pago, compromisos ni convenios abiertos." in lines


# --- The daily finish (00:05, before the 00:30 verdicts) ---------------------------------------


@pytest.fixture
def last_day(written_off, debtor):
    return make_campaign(debtor, payment_code=written_off.payment_code, ends_on=TODAY)


def test_the_daily_finish_judges_a_promise_kept_on_the_campaigns_last_day(last_day, debtor):
    promised = promise(last_day, on=TODAY)
    pay(last_day, PROMISED, TODAY)

    with at(TODAY + timedelta(days=1), 0):
        assert services.finish_ended() == 1
        nightly = collection_services.resolve_promises()

    promised.refresh_from_db()
    last_day.refresh_from_db()
    assert last_day.status == Campaign.Status.FINISHED
    assert promised.status == PaymentPromise.Status.KEPT
    assert nightly == {"kept": 0, "broken": 0}


def test_the_daily_finish_judges_an_unpaid_promise_of_the_last_day_broken(last_day):
    promised = promise(last_day, on=TODAY)

    with at(TODAY + timedelta(days=1), 0):
        services.finish_ended()

    promised.refresh_from_db()
    assert promised.status == PaymentPromise.Status.BROKEN


# --- Undoing the upload ------------------------------------------------------------------------


def test_undo_names_a_promise_past_its_day_and_waits_for_its_verdict(db):
    importer = UserFactory(username="importadora")
    CustomerFactory(document_number=ROSA, first_name="Rosa", last_name="Huamán")
    batch = run(xlsx([HEADER, row(ROSA)]), importer)
    campaign = Campaign.objects.get()
    promised = promise(campaign, amount=Decimal("100.00"))

    with at(LATER):
        blockers = import_services.undo_blockers(batch)
        with pytest.raises(ValidationError):
            import_services.undo_import(batch=batch, actor=importer)
        promised.refresh_from_db()
        still_pending = promised.status
        collection_services.resolve_promises()  # the night's verdict
        import_services.undo_import(batch=batch, actor=importer)

    assert blockers == [
        "La campaña CAST-07 de DNI 45678912 tiene 1 compromiso de pago vencido por resolver."
    ]
    assert still_pending == PaymentPromise.Status.PENDING  # the undo wrote no verdict
    assert not Campaign.objects.exists()
