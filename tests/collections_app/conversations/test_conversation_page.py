"""A customer's conversation: the thread, read on opening, the reply form with WhatsApp's
24 hours, assignment and labels, and who may change what."""

from datetime import timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from collections_app.conversations import selectors, services
from collections_app.models import ConversationLabel, MessageTemplate
from crm import messages
from crm import services as crm_services
from crm.models import Interaction, Message
from tests.collections_app.conversations.conftest import (
    conversation_of,
    hours_ago,
    inbound,
    outbound,
    write_off,
)
from tests.factories import CustomerFactory

HTMX = {"HX-Request": "true"}


def page_url(customer) -> str:
    return reverse("collections_app:conversation_detail", args=[customer.pk])


def reply_url(customer) -> str:
    return reverse("collections_app:conversation_reply", args=[customer.pk])


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Who may change it -------------------------------------------------------------------


@pytest.mark.parametrize("who", ["asesor", "outsider"])
def test_people_without_the_permission_change_nothing(client, request, who, rosa, cobranzas):
    inbound(rosa, "Hola")
    label = ConversationLabel.objects.create(name="Reclamo")
    client.force_login(request.getfixturevalue(who))
    posts = {
        reply_url(rosa): {"channel": "whatsapp", "body": "Hola"},
        reverse("collections_app:conversation_assign", args=[rosa.pk]): {"agent": cobranzas.pk},
        reverse("collections_app:conversation_labels", args=[rosa.pk]): {"labels": [label.pk]},
    }

    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url

    conversation = conversation_of(rosa)
    assert conversation.assigned_to is None
    assert not conversation.labels.exists()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_a_customer_that_does_not_exist_is_not_found(agent_client):
    assert (
        agent_client.get(reverse("collections_app:conversation_detail", args=[999999])).status_code
        == 404
    )


def test_the_access_helper_refuses_someone_without_the_permission(rosa, asesor):
    with pytest.raises(Http404):
        selectors.conversation_for(asesor, rosa.pk)


# --- The thread --------------------------------------------------------------------------


def test_opening_the_conversation_marks_it_read(agent_client, rosa):
    inbound(rosa, "Hola")

    response = agent_client.get(page_url(rosa))

    assert response.status_code == 200
    assert conversation_of(rosa).unread_count == 0


def test_the_thread_shows_the_messages_oldest_first_with_their_status(agent_client, rosa):
    asked = inbound(rosa, "¿Cuánto debo?", at=hours_ago(3))
    answer = outbound(rosa, "Su saldo es S/ 945.60", channel=messages.SMS)
    Message.objects.filter(pk=answer.pk).update(
        status=Message.Status.FAILED, error="número inválido"
    )

    response = agent_client.get(page_url(rosa))

    items = response.context["items"]
    assert [item.message.pk for item in items] == [asked.pk, answer.pk]
    assertContains(response, "¿Cuánto debo?")
    assertContains(response, '<span class="badge text-bg-danger">Fallido</span>', html=True)
    assertContains(response, "número inválido")


def test_each_message_says_who_sent_it(agent_client, rosa, cobranzas):
    cobranzas.first_name, cobranzas.last_name = "Lucía", "Quispe"
    cobranzas.save()
    by_agent = outbound(rosa, "Le escribo yo", actor=cobranzas)
    automatic = outbound(rosa, "Recordatorio automático")
    Message.objects.filter(pk=automatic.pk).update(origin="flow")

    response = agent_client.get(page_url(rosa))

    assertContains(response, "SMS · Lucía Quispe")
    assertContains(response, "SMS · automático")
    by_agent_item, automatic_item = response.context["items"]
    assert (by_agent_item.message.pk, automatic_item.message.pk) == (by_agent.pk, automatic.pk)


@pytest.mark.parametrize(
    ("status", "label"),
    [("queued", "En cola"), ("sent", "Enviado"), ("delivered", "Entregado"), ("read", "Leído")],
)
def test_each_outbound_status_has_its_badge(agent_client, rosa, status, label):
    message = outbound(rosa)
    Message.objects.filter(pk=message.pk).update(status=status)

    response = agent_client.get(page_url(rosa))

    assertContains(response, f">{label}</span>")


def test_a_message_the_provider_refused_for_now_says_it_will_be_retried_and_why(agent_client, rosa):
    message = outbound(rosa)
    Message.objects.filter(pk=message.pk).update(error="Twilio no responde (503).")

    response = agent_client.get(page_url(rosa))

    assertContains(response, ">En cola, se reintentará</span>")
    assertContains(response, "Twilio no responde (503).")


def test_the_bot_and_portal_entries_that_are_no_messages_are_in_the_thread(agent_client, rosa):
    inbound(rosa, "Hola", at=hours_ago(2))
    crm_services.record_interaction(
        customer=rosa,
        kind=Interaction.Kind.PORTAL_VISIT,
        summary="Entró al portal y vio su estado de cuenta",
        occurred_at=hours_ago(1),
    )
    crm_services.record_interaction(
        customer=rosa, kind=Interaction.Kind.NOTE, summary="Nota interna que no es del hilo"
    )

    response = agent_client.get(page_url(rosa))

    assertContains(response, "Entró al portal y vio su estado de cuenta")
    assertNotContains(response, "Nota interna que no es del hilo")
    assert response.context["items"][-1].entry is not None


def test_the_thread_shows_the_newest_page_and_offers_the_ones_before(agent_client, rosa):
    for n in range(selectors.THREAD_PAGE + 5):
        inbound(rosa, f"Mensaje número {n:02d}", at=hours_ago(100 - n))

    response = agent_client.get(page_url(rosa))

    items = response.context["items"]
    assert len(items) == selectors.THREAD_PAGE
    assert items[0].message.body == "Mensaje número 05"
    assert items[-1].message.body == f"Mensaje número {selectors.THREAD_PAGE + 4}"
    assertContains(response, "Ver anteriores")

    older = agent_client.get(
        page_url(rosa), {"antes": str(response.context["cursor"])}, headers=HTMX
    )

    assertTemplateUsed(older, "collections_app/conversations/partials/thread_older.html")
    assert [item.message.body for item in older.context["items"]] == [
        f"Mensaje número {n:02d}" for n in range(5)
    ]
    assert older.context["cursor"] is None
    assertNotContains(older, "Ver anteriores")


def test_the_page_before_opens_without_javascript_too(agent_client, rosa):
    for n in range(selectors.THREAD_PAGE + 1):
        inbound(rosa, f"Mensaje {n}", at=hours_ago(50 - n))
    cursor = agent_client.get(page_url(rosa)).context["cursor"]

    response = agent_client.get(page_url(rosa), {"antes": str(cursor)})

    assertTemplateUsed(response, "collections_app/conversations/conversation_detail.html")
    assert [item.message.body for item in response.context["items"]] == ["Mensaje 0"]


@pytest.mark.parametrize("cursor", ["x", "1.2.3", "99999999999999999999.1.1", "-1.0.1", "1.1"])
def test_a_cursor_that_is_not_one_shows_the_newest_page(agent_client, rosa, cursor):
    inbound(rosa, "Hola")

    response = agent_client.get(page_url(rosa), {"antes": cursor}, headers=HTMX)

    assert response.status_code == 200
    assertContains(response, "Hola")


def test_entries_and_messages_at_the_same_instant_page_without_loss_or_repeat(rosa):
    same = hours_ago(5)
    for n in range(4):
        inbound(rosa, f"Mensaje {n}", at=same)
        crm_services.record_interaction(
            customer=rosa, kind=Interaction.Kind.BOT, summary=f"Bot {n}", occurred_at=same
        )

    seen, cursor = [], None
    while True:
        items, cursor = selectors.thread(rosa, before=cursor, size=3)
        seen = [*items, *seen]
        if cursor is None:
            break

    texts = [item.message.body if item.message else item.entry.summary for item in seen]
    assert sorted(texts) == sorted(
        [f"Mensaje {n}" for n in range(4)] + [f"Bot {n}" for n in range(4)]
    )
    assert len(texts) == len(set(texts))


def _thread_queries(client, customer, messages_count: int) -> int:
    for n in range(messages_count):
        inbound(customer, f"Mensaje {n}")
    client.get(page_url(customer))
    with CaptureQueriesContext(connection) as captured:
        client.get(page_url(customer))
    return len(captured.captured_queries)


def test_the_page_costs_the_same_queries_for_2_messages_as_for_30(agent_client, rosa):
    other = CustomerFactory(email="otro@example.pe")

    assert _thread_queries(agent_client, rosa, 2) == _thread_queries(agent_client, other, 30)


def test_the_page_links_to_the_customer_and_their_collections(agent_client, rosa):
    response = agent_client.get(page_url(rosa))

    assertContains(response, f'href="{rosa.get_absolute_url()}"')
    assertContains(
        response, f'href="{reverse("collections_app:customer_collections", args=[rosa.pk])}"'
    )


def test_a_written_off_customer_shows_the_castigada_icon(agent_client, rosa):
    write_off(rosa)

    assertContains(agent_client.get(page_url(rosa)), 'title="Cartera castigada"')


# --- The reply form ----------------------------------------------------------------------


def test_the_reply_form_offers_only_the_channels_the_customer_has_an_address_on(agent_client):
    only_phone = CustomerFactory(email="")

    response = agent_client.get(page_url(only_phone))

    choices = dict(response.context["reply_form"].fields["channel"].choices)
    assert list(choices) == ["whatsapp", "sms"]


def test_within_24_hours_the_page_says_whatsapp_takes_free_text(agent_client, rosa):
    inbound(rosa, "Hola", at=hours_ago(2))

    response = agent_client.get(page_url(rosa))

    assertContains(response, "WhatsApp admite texto libre hasta el")
    assertNotContains(response, 'name="template"')


def test_after_24_hours_the_page_offers_the_whatsapp_templates(agent_client, rosa):
    MessageTemplate.objects.create(
        name="Recordatorio aprobado",
        channel=MessageTemplate.Channel.WHATSAPP,
        body="Hola {nombre}",
        whatsapp_name="recordatorio",
    )
    inbound(rosa, "Hola", at=hours_ago(30))

    response = agent_client.get(page_url(rosa))

    assertContains(response, "solo sale una plantilla aprobada")
    assertContains(response, "Recordatorio aprobado")


def test_an_agent_replies_and_reads_what_happened(agent_client, rosa, cobranzas):
    inbound(rosa, "Hola", at=hours_ago(1))

    response = agent_client.post(
        reply_url(rosa), {"channel": "whatsapp", "body": "Buenos días, Rosa."}, follow=True
    )

    # WhatsApp has no provider in the tests' settings: the message is only recorded.
    assert shown(response) == [
        "En cola",
        "WhatsApp no configurado: el mensaje se registrará sin enviarse.",
    ]
    message = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert message.actor == cobranzas
    assert message.body == "Buenos días, Rosa."
    assertContains(response, "Buenos días, Rosa.")


def test_free_text_after_24_hours_comes_back_with_the_reason(agent_client, rosa):
    inbound(rosa, "Hola", at=hours_ago(48))

    response = agent_client.post(reply_url(rosa), {"channel": "whatsapp", "body": "Hola"})

    assert response.status_code == 200
    assertContains(response, "Elija una plantilla.")
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_a_reply_to_an_opted_out_customer_comes_back_with_the_reason(agent_client, rosa):
    crm_services.set_contact_opt_out(customer=rosa, opted_out=True)

    response = agent_client.post(reply_url(rosa), {"channel": "sms", "body": "Hola"})

    assert response.status_code == 200
    assertContains(response, "No enviado: el cliente pidió no ser contactado")


def test_a_reply_on_a_channel_not_offered_is_a_form_error(agent_client):
    only_phone = CustomerFactory(email="")

    response = agent_client.post(
        reply_url(only_phone), {"channel": "email", "subject": "Hola", "body": "Hola"}
    )

    assert response.status_code == 200
    assert response.context["reply_form"].errors["channel"]


def test_an_email_reply_without_subject_is_a_form_error(agent_client, rosa):
    response = agent_client.post(reply_url(rosa), {"channel": "email", "body": "Hola"})

    assert response.status_code == 200
    assert response.context["reply_form"].errors["subject"] == ["Escriba el asunto del correo."]


def test_an_empty_or_too_long_reply_is_a_form_error(agent_client, rosa):
    empty = agent_client.post(reply_url(rosa), {"channel": "sms", "body": " "})
    long = agent_client.post(reply_url(rosa), {"channel": "sms", "body": "x" * 4001})

    assert empty.context["reply_form"].errors["body"] == ["Escriba el mensaje."]
    assert long.context["reply_form"].errors["body"]
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


# --- Assignment and labels ---------------------------------------------------------------


def test_an_agent_assigns_the_conversation(agent_client, rosa, supervisor):
    inbound(rosa, "Hola")

    response = agent_client.post(
        reverse("collections_app:conversation_assign", args=[rosa.pk]),
        {"agent": supervisor.pk},
        follow=True,
    )

    assert conversation_of(rosa).assigned_to == supervisor
    assert shown(response)[0].startswith("Conversación asignada a")


def test_an_asesor_cannot_be_chosen(agent_client, rosa, asesor):
    inbound(rosa, "Hola")

    response = agent_client.post(
        reverse("collections_app:conversation_assign", args=[rosa.pk]), {"agent": asesor.pk}
    )

    assert response.status_code == 200
    assert response.context["assign_form"].errors["agent"]
    assert conversation_of(rosa).assigned_to is None


def test_an_agent_labels_the_conversation(agent_client, rosa):
    claim = ConversationLabel.objects.create(name="Reclamo")
    inbound(rosa, "Hola")

    agent_client.post(
        reverse("collections_app:conversation_labels", args=[rosa.pk]), {"labels": [claim.pk]}
    )

    assert list(conversation_of(rosa).labels.all()) == [claim]


def test_a_label_that_does_not_exist_is_a_form_error(agent_client, rosa):
    response = agent_client.post(
        reverse("collections_app:conversation_labels", args=[rosa.pk]), {"labels": ["999"]}
    )

    assert response.status_code == 200
    assert response.context["labels_form"].errors["labels"]


def test_the_whatsapp_window_is_computed_from_the_last_whatsapp_message(rosa, cobranzas):
    inbound(rosa, "Hola", at=hours_ago(23))
    inbound(rosa, "Por SMS", channel=messages.SMS)

    closes = services.whatsapp_window_closes_at(conversation_of(rosa))

    assert closes is not None
    assert closes - timedelta(hours=24) == conversation_of(rosa).last_whatsapp_inbound_at


# --- A failed message sent again -------------------------------------------------------------


def _failed_email(customer, settings, django_capture_on_commit_callbacks) -> Message:
    settings.EMAIL_BACKEND = "tests.email_backends.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        sending = messages.send_customer_message(
            customer=customer, channel=messages.EMAIL, subject="Su cuota", body="Hola"
        )
    failed = Message.objects.get(interaction=sending.interaction)
    assert failed.status == Message.Status.FAILED
    return failed


def test_a_failed_message_is_sent_again_once_from_the_conversation(
    agent_client, rosa, settings, django_capture_on_commit_callbacks
):
    """Only admin's outbox could retry it: the agent saw «Fallido» and nothing to do."""
    failed = _failed_email(rosa, settings, django_capture_on_commit_callbacks)
    url = reverse("collections_app:conversation_resend", args=[rosa.pk, failed.pk])
    assertContains(agent_client.get(page_url(rosa)), f'action="{url}"')
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    with django_capture_on_commit_callbacks(execute=True):
        first = agent_client.post(url, follow=True)
    second = agent_client.post(url, follow=True)

    assert shown(first) == ["Mensaje en cola de nuevo."]
    assert shown(second) == [
        "Ese mensaje ya no está fallido: ya se volvió a poner en cola o se envió."
    ]
    failed.refresh_from_db()
    assert (failed.status, failed.error) == (Message.Status.SENT, "")
    assert (
        rosa.interactions.filter(summary__startswith="Correo «Su cuota» en cola de nuevo").count()
        == 1
    )


def test_who_may_only_read_conversations_cannot_send_again(
    client, rosa, supervisor, settings, django_capture_on_commit_callbacks, asesor
):
    failed = _failed_email(rosa, settings, django_capture_on_commit_callbacks)
    url = reverse("collections_app:conversation_resend", args=[rosa.pk, failed.pk])
    client.force_login(asesor)

    assert client.post(url).status_code in (403, 404)
    failed.refresh_from_db()
    assert failed.status == Message.Status.FAILED
