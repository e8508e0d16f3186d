"""MercadoPago's payment notifications, end to end: signed request → inbox → task → the
payment read back from MercadoPago's API (faked with `responses`, in its documented shapes)
→ applied to the loan exactly once, however the notifications arrive."""

import copy
import hashlib
import hmac
import json
import random
from pathlib import Path

import pytest
import responses

from collections_app import services
from collections_app.models import Origin, PaymentLink
from credits.models import Loan, Payment
from integrations.models import WebhookEvent
from tests.collections_app.conftest import INSTALLMENT

FIXTURES = Path(__file__).resolve().parents[1] / "integrations" / "fixtures" / "mercadopago"
SECRET = "mp-webhook-secret-for-tests"
PAYMENT_ID = "1320880017"
PAYMENT_URL = f"https://api.mercadopago.com/v1/payments/{PAYMENT_ID}"
PREFERENCES_URL = "https://api.mercadopago.com/checkout/preferences"
URL = "/webhooks/mercadopago/"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def sign(data_id: str, request_id: str, ts: str, secret: str = SECRET) -> str:
    """MercadoPago's documented manifest, written out here independently of the app's."""
    manifest = f"id:{data_id.lower()};request-id:{request_id};ts:{ts};"
    digest = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={digest}"


def notify(client, body: dict, *, request_id: str, secret: str = SECRET, data_id: str = PAYMENT_ID):
    return client.post(
        f"{URL}?data.id={data_id}&type=payment",
        data=json.dumps(body),
        content_type="application/json",
        headers={
            "x-signature": sign(data_id, request_id, "1742013619", secret),
            "x-request-id": request_id,
        },
    )


@pytest.fixture
def real_gateway(settings):
    settings.PAYMENT_GATEWAYS_FAKE = False
    settings.MERCADOPAGO_ACCESS_TOKEN = "APP_USR-test-token"
    settings.MERCADOPAGO_WEBHOOK_SECRET = SECRET
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        preference = fixture("preference_create_response.json")
        api.add(responses.POST, PREFERENCES_URL, json=preference, status=201)
        yield api


@pytest.fixture
def link(real_gateway, loan, debtor):
    return services.create_payment_link(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=PaymentLink.Concept.INSTALLMENT,
        installment_number=1,
        provider="mercadopago",
        origin=Origin.PORTAL,
        actor=None,
    )


def answer_payment(api, link, status: str) -> None:
    """MercadoPago's GET /v1/payments/{id} for this link's payment, in `status`."""
    name = {"approved": "payment_approved.json", "pending": "payment_pending.json"}.get(
        status, f"payment_{status}.json"
    )
    payment = copy.deepcopy(fixture(name))
    payment.update(
        id=int(PAYMENT_ID),
        external_reference=link.reference,
        transaction_amount=float(link.amount),
        currency_id=link.currency,
    )
    if payment.get("date_approved"):
        payment["date_approved"] = "2026-06-15T10:30:01.000-05:00"
    api.upsert(responses.GET, PAYMENT_URL, json=payment)


def test_the_preference_ties_the_link_to_our_reference_and_webhook(link, real_gateway):
    sent = json.loads(real_gateway.calls[0].request.body)

    assert sent["external_reference"] == link.reference
    assert sent["notification_url"].startswith("http://127.0.0.1:8000/webhooks/mercadopago/")
    assert sent["items"][0]["unit_price"] == float(INSTALLMENT)
    assert real_gateway.calls[0].request.headers["x-idempotency-key"] == link.reference
    assert link.status == PaymentLink.Status.ACTIVE


def test_an_approved_notification_applies_the_payment(
    client, link, real_gateway, django_capture_on_commit_callbacks
):
    answer_payment(real_gateway, link, "approved")

    with django_capture_on_commit_callbacks(execute=True):
        response = notify(client, fixture("webhook_payment_updated.json"), request_id="req-1")

    assert response.status_code == 200
    payment = Payment.objects.get()
    assert payment.amount == INSTALLMENT
    assert payment.external_id == f"mercadopago:{PAYMENT_ID}"
    link.refresh_from_db()
    assert link.status == PaymentLink.Status.PAID
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_three_notifications_in_any_order_make_one_payment(
    client, link, real_gateway, django_capture_on_commit_callbacks
):
    answer_payment(real_gateway, link, "approved")
    created = fixture("webhook_payment_created.json")
    updated = fixture("webhook_payment_updated.json")
    deliveries = [(created, "req-a"), (updated, "req-b"), (updated, "req-c")]
    random.Random(7).shuffle(deliveries)

    with django_capture_on_commit_callbacks(execute=True):
        answers = [notify(client, body, request_id=rid).status_code for body, rid in deliveries]

    assert answers == [200, 200, 200]
    assert Payment.objects.count() == 1
    assert WebhookEvent.objects.count() == 2  # the repeated payment.updated is stored once


def test_a_pending_payment_waits_and_a_later_approval_applies_it(
    client, link, real_gateway, django_capture_on_commit_callbacks
):
    answer_payment(real_gateway, link, "pending")
    with django_capture_on_commit_callbacks(execute=True):
        notify(client, fixture("webhook_payment_created.json"), request_id="req-1")
    assert not Payment.objects.exists()

    answer_payment(real_gateway, link, "approved")
    with django_capture_on_commit_callbacks(execute=True):
        notify(client, fixture("webhook_payment_updated.json"), request_id="req-2")

    assert Payment.objects.get().status == Payment.Status.APPLIED


def test_a_refund_notified_later_annuls_the_payment(
    client, link, real_gateway, loan, django_capture_on_commit_callbacks
):
    answer_payment(real_gateway, link, "approved")
    with django_capture_on_commit_callbacks(execute=True):
        notify(client, fixture("webhook_payment_updated.json"), request_id="req-1")

    answer_payment(real_gateway, link, "refunded")
    refund = fixture("webhook_payment_updated.json")
    refund["id"] = refund["id"] + 1
    with django_capture_on_commit_callbacks(execute=True):
        notify(client, refund, request_id="req-2")

    assert Payment.objects.get().status == Payment.Status.ANNULLED
    assert Loan.objects.get(pk=loan.pk).payments.filter(status=Payment.Status.APPLIED).count() == 0


@pytest.mark.parametrize("secret", ["another-secret", ""])
def test_a_bad_signature_is_refused_and_processes_nothing(
    client, link, real_gateway, secret, django_capture_on_commit_callbacks
):
    answer_payment(real_gateway, link, "approved")

    with django_capture_on_commit_callbacks(execute=True):
        response = notify(
            client, fixture("webhook_payment_updated.json"), request_id="req-1", secret=secret
        )

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
    assert not Payment.objects.exists()


def test_a_body_about_another_payment_than_the_signed_one_is_refused(
    client, link, real_gateway, django_capture_on_commit_callbacks
):
    body = fixture("webhook_payment_updated.json")
    body["data"]["id"] = "999"

    with django_capture_on_commit_callbacks(execute=True):
        response = notify(client, body, request_id="req-1")

    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()
