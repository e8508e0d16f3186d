"""A gateway payment approved in another currency than its link's cannot be applied, but the
money was taken: the customer's timeline says so and the collections team is e-mailed, once
per gateway payment, and the webhook event ends processed (it did something)."""

import pytest

from collections_app.models import PaymentLink
from credits.models import Payment
from crm.models import Interaction
from integrations.models import OutboxMessage, WebhookEvent
from tests.collections_app.test_mercadopago_webhook import (  # noqa: F401 (fixtures)
    PAYMENT_ID,
    answer_payment,
    fixture,
    link,
    notify,
    real_gateway,
)

TEAM = "cobranzas@cartera.test"  # config/test_settings.COLLECTIONS_TEAM_EMAILS


@pytest.fixture
def paid_in_dollars(real_gateway, link):  # noqa: F811
    """MercadoPago answers that the soles link's payment was approved in US$."""
    answer_payment(real_gateway, link, "approved")
    payment = fixture("payment_approved.json")
    payment.update(
        id=int(PAYMENT_ID),
        external_reference=link.reference,
        transaction_amount=200.0,
        currency_id="USD",
        date_approved="2026-06-15T10:30:01.000-05:00",
    )
    real_gateway.upsert(
        "GET", f"https://api.mercadopago.com/v1/payments/{PAYMENT_ID}", json=payment
    )
    return link


def test_money_paid_in_another_currency_is_told_on_the_timeline_and_to_the_team(
    client, paid_in_dollars, debtor, django_capture_on_commit_callbacks
):
    paid = paid_in_dollars

    with django_capture_on_commit_callbacks(execute=True):
        response = notify(client, fixture("webhook_payment_updated.json"), request_id="req-1")

    assert response.status_code == 200
    assert not Payment.objects.exists()
    paid.refresh_from_db()
    assert paid.status == PaymentLink.Status.ACTIVE
    (entry,) = Interaction.objects.filter(
        customer=debtor, payload__has_key="other_currency_payment"
    )
    assert entry.summary == (
        f"Pago de US$ 200.00 recibido por MercadoPago en otra moneda que el link "
        f"{paid.reference} (S/), operación {PAYMENT_ID} para {paid.receivable_code}: no se "
        f"aplicó; devuélvalo o aplíquelo a mano"
    )
    (mail,) = OutboxMessage.objects.filter(payload__to=TEAM)
    assert mail.payload["subject"] == (
        f"Pago en otra moneda sin aplicar: {debtor.full_name}, US$ 200.00"
    )
    assert entry.summary in mail.payload["body"]
    assert f"/cobranzas/clientes/{debtor.pk}/" in mail.payload["body"]
    # The event did something: it is not an "ignored" one nobody looks at.
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_the_same_payment_notified_again_tells_no_one_again(
    client, paid_in_dollars, debtor, django_capture_on_commit_callbacks
):
    created = fixture("webhook_payment_created.json")
    updated = fixture("webhook_payment_updated.json")

    with django_capture_on_commit_callbacks(execute=True):
        for body, request_id in [(created, "req-a"), (updated, "req-b"), (updated, "req-c")]:
            notify(client, body, request_id=request_id)

    assert WebhookEvent.objects.count() == 2
    assert (
        Interaction.objects.filter(
            customer=debtor, payload__has_key="other_currency_payment"
        ).count()
        == 1
    )
    assert OutboxMessage.objects.filter(payload__to=TEAM).count() == 1
    assert not Payment.objects.exists()
