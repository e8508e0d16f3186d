"""Twilio's and Meta's webhooks through our URLs: signed calls move messages along and
bring customers' replies in; forged ones change nothing; repeats apply once."""

import hashlib
import hmac
import json
from datetime import time, timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import messages
from crm.models import Message, MessagePolicy
from integrations import services as inbox
from integrations import sms
from integrations.errors import TemporaryProviderError
from integrations.models import WebhookEvent

TWILIO = reverse("collections_app:twilio_webhook")
WHATSAPP = reverse("collections_app:whatsapp_webhook")
TOKEN = "twilio-auth-token"
APP_SECRET = "meta-app-secret"


@pytest.fixture(autouse=True)
def providers(settings, db):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_STATUS_CALLBACK_URL = "https://cartera.example/webhooks/twilio/"
    settings.WHATSAPP_APP_SECRET = APP_SECRET
    settings.WHATSAPP_VERIFY_TOKEN = "verify-me"
    MessagePolicy.objects.create(pk=1, quiet_start=time(0), quiet_end=time(0))


def twilio(client: Client, fields: dict, *, signature: str | None = None):
    body = urlencode(fields)
    if signature is None:
        signature = sms.compute_signature(
            "https://cartera.example/webhooks/twilio/", fields.items(), TOKEN
        )
    return client.post(
        TWILIO,
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


def meta(client: Client, payload: dict, *, secret: str = APP_SECRET):
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        WHATSAPP,
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature},
    )


def wa_envelope(value: dict) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {"messaging_product": "whatsapp", "metadata": {}, **value},
                    }
                ],
            }
        ],
    }


@pytest.fixture
def queued_sms(customer):
    sending = messages.send_customer_message(
        customer=customer, channel=messages.SMS, subject="Recordatorio", body="Su cuota vence"
    )
    Message.objects.filter(pk=sending.message.pk).update(
        provider="twilio", provider_message_id="SM100", status="sent"
    )
    return sending.message


def test_a_twilio_status_callback_marks_the_sms_delivered(committing, client, queued_sms):
    response = committing(twilio, client, {"MessageSid": "SM100", "MessageStatus": "delivered"})

    assert response.status_code == 200
    queued_sms.refresh_from_db()
    assert queued_sms.status == "delivered" and queued_sms.delivered_at
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_repeated_or_late_callback_changes_nothing(committing, client, queued_sms):
    committing(twilio, client, {"MessageSid": "SM100", "MessageStatus": "delivered"})
    committing(twilio, client, {"MessageSid": "SM100", "MessageStatus": "delivered"})
    committing(twilio, client, {"MessageSid": "SM100", "MessageStatus": "sent"})

    queued_sms.refresh_from_db()
    assert queued_sms.status == "delivered"
    assert WebhookEvent.objects.count() == 2  # delivered once, sent once


def test_a_forged_twilio_callback_is_refused_and_changes_nothing(committing, client, queued_sms):
    response = committing(
        twilio, client, {"MessageSid": "SM100", "MessageStatus": "failed"}, signature="Zm9yZ2Vk"
    )

    assert response.status_code == 403
    queued_sms.refresh_from_db()
    assert queued_sms.status == "sent"
    assert not WebhookEvent.objects.exists()


def test_an_sms_reply_reaches_the_customers_messages(committing, client, customer):
    fields = {
        "MessageSid": "SMin7",
        "SmsStatus": "received",
        "From": str(customer.phone),
        "To": "+15005550006",
        "Body": "Pago mañana",
    }
    committing(twilio, client, fields)

    message = Message.objects.get(direction="inbound")
    assert (message.customer, message.channel, message.body) == (customer, "sms", "Pago mañana")


def test_a_reply_from_an_unknown_number_is_ignored_with_its_reason(committing, client, db):
    committing(twilio, client, {"MessageSid": "SMin8", "From": "+51911111111", "Body": "hola"})

    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.IGNORED
    assert "+51911111111" in event.last_error
    assert not Message.objects.exists()


def test_a_status_that_overtakes_the_send_is_retried_and_then_ignored(client, db, time_machine):
    twilio(client, {"MessageSid": "SM404", "MessageStatus": "delivered"})
    event = WebhookEvent.objects.get()

    with pytest.raises(TemporaryProviderError):
        inbox.process_event(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED  # waits for the retry sweep
    assert "antes que el registro del envío" in event.last_error

    time_machine.move_to(timezone.now() + timedelta(hours=1))
    inbox.process_event(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.IGNORED
    assert "SM404" in event.last_error


def test_metas_handshake_echoes_the_challenge_only_with_our_token(client):
    ok = client.get(
        WHATSAPP,
        {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"},
    )
    wrong = client.get(
        WHATSAPP,
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
    )

    assert (ok.status_code, ok.content) == (200, b"1158201444")
    assert wrong.status_code == 403


def test_whatsapp_statuses_and_a_reply_in_one_call(committing, client, customer):
    sending = messages.send_customer_message(
        customer=customer,
        channel=messages.WHATSAPP,
        subject="Aviso",
        body="Hola",
        whatsapp_template=messages.WhatsAppTemplate("aviso", "es", ("Rosa",)),
    )
    Message.objects.filter(pk=sending.message.pk).update(
        provider="whatsapp", provider_message_id="wamid.OUT1", status="sent"
    )
    digits = str(customer.phone).lstrip("+")
    payload = wa_envelope(
        {
            "contacts": [{"profile": {"name": "Rosa"}, "wa_id": digits}],
            "statuses": [
                {
                    "id": "wamid.OUT1",
                    "status": "delivered",
                    "timestamp": "1777900000",
                    "recipient_id": digits,
                },
                {
                    "id": "wamid.OUT1",
                    "status": "read",
                    "timestamp": "1777900060",
                    "recipient_id": digits,
                },
            ],
            "messages": [
                {
                    "from": digits,
                    "id": "wamid.IN1",
                    "timestamp": "1777900100",
                    "type": "text",
                    "text": {"body": "¿Puedo pagar en dos partes?"},
                },
            ],
        }
    )

    response = committing(meta, client, payload)

    assert response.status_code == 200
    out = Message.objects.get(pk=sending.message.pk)
    assert out.status == "read" and out.delivered_at and out.read_at
    reply = Message.objects.get(direction="inbound")
    assert (reply.channel, reply.customer, reply.body) == (
        "whatsapp",
        customer,
        "¿Puedo pagar en dos partes?",
    )


def test_a_forged_whatsapp_call_is_refused(committing, client, customer):
    payload = wa_envelope(
        {
            "messages": [
                {
                    "from": "51900000001",
                    "id": "wamid.X",
                    "timestamp": "1777900100",
                    "type": "text",
                    "text": {"body": "STOP"},
                }
            ]
        }
    )

    assert committing(meta, client, payload, secret="not-ours").status_code == 403
    assert not WebhookEvent.objects.exists()


def test_the_deploy_check_warns_of_whatsapp_without_its_app_secret(settings):
    from collections_app import checks

    settings.WHATSAPP_ACCESS_TOKEN = "token"
    settings.WHATSAPP_APP_SECRET = ""
    (warning,) = checks.check_message_webhooks(None)
    assert warning.id == "collections_app.W001"

    settings.WHATSAPP_APP_SECRET = "secret"
    assert checks.check_message_webhooks(None) == []
