"""What the conversation says after «Reenviar» and after a reply: queued, and, on a channel
with no provider (its messages are recorded, not sent), that it will not be sent. It
promised "se enviará en unos momentos" while the timeline then said "registrado, no
enviado"."""

from django.urls import reverse

from crm import messages
from crm.models import Interaction, Message
from tests.collections_app.conversations.conftest import hours_ago, inbound

CONSOLE = "django.core.mail.backends.console.EmailBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _failed_email(customer, settings, django_capture_on_commit_callbacks) -> Message:
    settings.EMAIL_BACKEND = "tests.email_backends.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        sending = messages.send_customer_message(
            customer=customer, channel=messages.EMAIL, subject="Su cuota", body="Hola"
        )
    failed = Message.objects.get(interaction=sending.interaction)
    assert failed.status == Message.Status.FAILED
    return failed


def _resend(client, customer, failed, django_capture_on_commit_callbacks):
    url = reverse("collections_app:conversation_resend", args=[customer.pk, failed.pk])
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(url, follow=True)


def test_resending_on_a_channel_that_only_records_says_it_will_not_be_sent(
    agent_client, rosa, settings, django_capture_on_commit_callbacks
):
    failed = _failed_email(rosa, settings, django_capture_on_commit_callbacks)
    # The SMTP settings were removed: e-mails are written to the console, sent nowhere.
    settings.EMAIL_BACKEND = CONSOLE

    response = _resend(agent_client, rosa, failed, django_capture_on_commit_callbacks)

    assert shown(response) == [
        "Mensaje en cola de nuevo.",
        "Correo no configurado: el mensaje se registrará sin enviarse.",
    ]
    said = list(Interaction.objects.filter(customer=rosa).values_list("summary", flat=True))
    assert any(s.startswith("Correo registrado, no enviado") for s in said), said


def test_resending_on_a_channel_with_a_provider_promises_nothing_more(
    agent_client, rosa, settings, django_capture_on_commit_callbacks
):
    failed = _failed_email(rosa, settings, django_capture_on_commit_callbacks)
    settings.EMAIL_BACKEND = LOCMEM

    response = _resend(agent_client, rosa, failed, django_capture_on_commit_callbacks)

    # Queued is what happened; when it goes out depends on the worker and the provider.
    assert shown(response) == ["Mensaje en cola de nuevo."]


def test_a_reply_on_a_channel_that_only_records_says_it_will_not_be_sent(
    agent_client, rosa, settings
):
    inbound(rosa, "Hola", channel=messages.SMS, at=hours_ago(1))
    settings.SMS_PROVIDER = "log"

    response = agent_client.post(
        reverse("collections_app:conversation_reply", args=[rosa.pk]),
        {"channel": "sms", "body": "Buenos días, Rosa."},
        follow=True,
    )

    assert shown(response) == [
        "En cola",
        "SMS no configurado: el mensaje se registrará sin enviarse.",
    ]
