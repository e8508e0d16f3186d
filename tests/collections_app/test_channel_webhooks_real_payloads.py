"""Meta's and Twilio's webhooks as they really come, through our URLs.

- WhatsApp: since 2026 a user who adopted a username may show no phone number: the message
  carries `from_user_id` (their business-scoped user id) and no `from`, the contact
  `user_id` and no `wa_id`
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/).
  One call batches several messages and statuses: one item we cannot read must not make
  us refuse the call, or Meta retries all of it for days and the rest never lands.
- Twilio: a message's webhook expects TwiML back; another content type is error 12300 in
  Twilio's Debugger (https://www.twilio.com/docs/errors/12300).
"""

import logging

import pytest
from django.utils import timezone

from crm import messages
from crm.models import Message
from integrations import whatsapp
from integrations.channels import InboundMessage
from integrations.models import WebhookEvent
from tests.collections_app.test_channel_webhooks import (  # noqa: F401 (fixtures)
    meta,
    providers,
    twilio,
)

USER_ID = "PE.1410018717833190"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def envelope(value: dict) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "51999", "phone_number_id": "1"},
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def now() -> str:
    return str(int(timezone.now().timestamp()))


def username_message(message_id: str = "wamid.IN9") -> dict:
    """A text from a user with a username and no phone shown: `from_user_id`, no `from`."""
    return {
        "from_user_id": USER_ID,
        "id": message_id,
        "timestamp": now(),
        "type": "text",
        "text": {"body": "hola"},
    }


USERNAME_CONTACT = {"profile": {"name": "Ana", "username": "@ana"}, "user_id": USER_ID}


@pytest.fixture
def sent_whatsapp(customer):
    """A WhatsApp message of ours that Meta accepted as wamid.OUT1."""
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
    return sending.message


def delivered(customer) -> dict:
    return {
        "id": "wamid.OUT1",
        "status": "delivered",
        "timestamp": now(),
        "recipient_id": str(customer.phone).lstrip("+"),
    }


# --- WhatsApp ------------------------------------------------------------------------------


def test_a_username_sender_does_not_cost_the_status_in_the_same_call(
    committing, client, customer, sent_whatsapp
):
    payload = envelope(
        {
            "contacts": [USERNAME_CONTACT],
            "messages": [username_message()],
            "statuses": [delivered(customer)],
        }
    )

    response = committing(meta, client, payload)

    assert response.status_code == 200, response.content
    assert Message.objects.get(pk=sent_whatsapp.pk).status == "delivered"
    # The username sender is nobody we know: nothing is recorded for them.
    assert not Message.objects.filter(direction="inbound").exists()
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_a_username_sender_alone_is_ignored_as_an_unknown_sender(committing, client, customer):
    payload = envelope({"contacts": [USERNAME_CONTACT], "messages": [username_message()]})

    response = committing(meta, client, payload)

    assert response.status_code == 200, response.content
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.IGNORED
    assert USER_ID in event.last_error
    assert not Message.objects.filter(direction="inbound").exists()


def test_a_message_is_read_with_the_user_id_as_sender_and_the_contacts_name():
    [message] = whatsapp.read_webhook(
        envelope({"contacts": [USERNAME_CONTACT], "messages": [username_message()]})
    )

    assert message == InboundMessage(
        provider="whatsapp",
        channel="whatsapp",
        provider_message_id="wamid.IN9",
        sender=USER_ID,
        body="hola",
        at=message.at,
        name="Ana",
    )


def test_a_sender_with_both_a_phone_and_a_user_id_is_read_by_the_phone(
    committing, client, customer
):
    digits = str(customer.phone).lstrip("+")
    both = {**username_message("wamid.IN10"), "from": digits}
    contact = {**USERNAME_CONTACT, "wa_id": digits}

    response = committing(meta, client, envelope({"contacts": [contact], "messages": [both]}))

    assert response.status_code == 200, response.content
    reply = Message.objects.get(direction="inbound")
    assert (reply.customer, reply.address, reply.body) == (customer, str(customer.phone), "hola")


@pytest.mark.parametrize(
    "unreadable",
    [
        {"messages": [{"id": "wamid.IN11", "timestamp": now(), "type": "text"}]},  # no sender
        {"messages": [{**username_message(), "id": ""}]},  # no id
        {"messages": [{**username_message(), "timestamp": "253402300799"}]},  # dated 9999
        {"messages": ["not an object"]},
        {"statuses": [{"id": "wamid.X", "timestamp": now()}]},  # no status
    ],
    ids=["no-sender", "no-id", "year-9999", "not-an-object", "status-without-status"],
)
def test_one_unreadable_item_is_skipped_and_logged_and_the_rest_lands(
    committing, client, customer, sent_whatsapp, unreadable, caplog
):
    value = {key: list(items) for key, items in unreadable.items()}
    value.setdefault("statuses", []).append(delivered(customer))

    with caplog.at_level(logging.WARNING, logger="integrations.whatsapp"):
        response = committing(meta, client, envelope(value))

    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.get().event_id == "status:wamid.OUT1:delivered"
    assert Message.objects.get(pk=sent_whatsapp.pk).status == "delivered"
    assert "unreadable part was skipped" in caplog.text


def test_a_call_of_unreadable_items_only_is_answered_and_not_stored(client, customer):
    payload = envelope({"messages": [{**username_message(), "timestamp": "253402300799"}]})

    response = meta(client, payload)

    assert (response.status_code, response.json()) == (200, {"status": "ignored"})
    assert not WebhookEvent.objects.exists()


# --- Twilio --------------------------------------------------------------------------------


def test_an_incoming_sms_is_answered_with_empty_twiml(client, customer):
    fields = {
        "ToCountry": "PE",
        "SmsMessageSid": "SMin7",
        "NumMedia": "0",
        "SmsSid": "SMin7",
        "SmsStatus": "received",
        "Body": "Pago mañana",
        "To": "+15005550006",
        "NumSegments": "1",
        "MessageSid": "SMin7",
        "AccountSid": "AC1",
        "From": str(customer.phone),
        "ApiVersion": "2010-04-01",
    }

    response = twilio(client, fields)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content == EMPTY_TWIML
    assert WebhookEvent.objects.get().event_id == "in:SMin7"


@pytest.mark.parametrize("status", ["delivered", "receiving"], ids=["stored", "ignored"])
def test_a_status_callback_is_answered_with_empty_twiml(client, status):
    response = twilio(client, {"MessageSid": "SM100", "MessageStatus": status})

    assert (response.status_code, response["Content-Type"]) == (200, "text/xml")
    assert response.content == EMPTY_TWIML


def test_a_refusal_keeps_its_status_and_json(client):
    forged = twilio(client, {"MessageSid": "SM100", "MessageStatus": "delivered"}, signature="x")
    malformed = twilio(client, {"MessageStatus": "delivered"})

    assert (forged.status_code, forged.json()) == (403, {"detail": "forbidden"})
    assert malformed.status_code == 400
    assert "MessageSid" in malformed.json()["detail"]
    assert not WebhookEvent.objects.exists()
