"""The link in every e-mail to a customer that stops our messages: RFC 8058's headers, a
page that asks before it acts, a mail client's one-click POST, and the timeline."""

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.urls import reverse

from crm import messages, unsubscribe
from crm.models import Interaction, Message
from lib import ratelimit

NOW = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)


@pytest.fixture
def rosa(customer, time_machine, settings):
    time_machine.move_to(NOW, tick=False)
    settings.SITE_URL = "https://cartera.example.pe"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    customer.email = "rosa@example.pe"
    customer.save()
    return customer


def _email(customer, django_capture_on_commit_callbacks) -> Message:
    with django_capture_on_commit_callbacks(execute=True):
        sending = messages.send_customer_message(
            customer=customer,
            channel=messages.EMAIL,
            subject="Su cuota vence el 10/05",
            body="Estimada Rosa: su cuota vence el 10/05.",
        )
    return sending.message


def _path(link: str) -> str:
    return link.removeprefix("https://cartera.example.pe")


def test_every_customer_email_carries_the_one_click_link(rosa, django_capture_on_commit_callbacks):
    message = _email(rosa, django_capture_on_commit_callbacks)

    (sent,) = mail.outbox
    link = unsubscribe.url_for(message.pk)
    assert link.startswith("https://cartera.example.pe/baja/")
    assert sent.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent.body.startswith("Estimada Rosa: su cuota vence el 10/05.\n\n--\n")
    assert sent.body.endswith(f"use este enlace: {link}")
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in sent.message().as_string()


def test_the_page_asks_first_and_changes_nothing(client, rosa, django_capture_on_commit_callbacks):
    message = _email(rosa, django_capture_on_commit_callbacks)

    response = client.get(_path(unsubscribe.url_for(message.pk)))

    assert response.status_code == 200
    assert 'data-state="ask"' in response.content.decode()
    assert "Sí, no quiero recibir más mensajes" in response.content.decode()
    rosa.refresh_from_db()
    assert not rosa.has_opted_out


def test_a_mail_clients_one_click_post_stops_every_message_and_says_so(
    client, rosa, django_capture_on_commit_callbacks
):
    message = _email(rosa, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    client.handler.enforce_csrf_checks = True  # a mail client sends no CSRF token

    response = client.post(
        _path(unsubscribe.url_for(message.pk)),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert 'data-state="done"' in response.content.decode()
    rosa.refresh_from_db()
    assert rosa.has_opted_out
    entry = rosa.interactions.filter(kind=Interaction.Kind.SYSTEM).latest("pk")
    assert entry.summary == (
        "Pidió no recibir más mensajes con el enlace del correo «Su cuota vence el 10/05» "
        "del 04/05/2026: se lo marcó «No contactar»."
    )
    again = messages.send_customer_message(
        customer=rosa, channel=messages.EMAIL, subject="Otro", body="Hola"
    )
    assert again.status == messages.SendStatus.OPTED_OUT


def test_a_second_use_of_the_link_changes_nothing_more(
    client, rosa, django_capture_on_commit_callbacks
):
    message = _email(rosa, django_capture_on_commit_callbacks)
    path = _path(unsubscribe.url_for(message.pk))
    client.post(path)
    entries = rosa.interactions.count()

    page = client.get(path)
    client.post(path)

    assert 'data-state="already"' in page.content.decode()
    assert rosa.interactions.count() == entries


@pytest.mark.parametrize("token", ["abc", "MQ:1tQ2:forged"])
def test_a_link_we_did_not_sign_is_not_found(client, rosa, token):
    assert client.get(reverse("crm:unsubscribe", args=[token])).status_code == 404
    assert client.post(reverse("crm:unsubscribe", args=[token])).status_code == 404


def test_a_link_made_for_another_channels_message_is_not_found(client, rosa):
    rosa.phone = "+51987654321"
    rosa.save()
    sms = messages.send_customer_message(
        customer=rosa, channel=messages.SMS, subject="Aviso", body="Hola"
    ).message

    response = client.post(_path(unsubscribe.url_for(sms.pk)))

    assert response.status_code == 404
    rosa.refresh_from_db()
    assert not rosa.has_opted_out


def test_trying_many_links_is_slowed_down(client, rosa, django_capture_on_commit_callbacks):
    message = _email(rosa, django_capture_on_commit_callbacks)
    path = _path(unsubscribe.url_for(message.pk))
    limit, _seconds = ratelimit.parse_rate("30/h")
    for _ in range(limit):
        client.get(path)

    response = client.post(path)

    assert response.status_code == 429
    rosa.refresh_from_db()
    assert not rosa.has_opted_out
