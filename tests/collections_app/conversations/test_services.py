"""What an agent does with a conversation: reply (the 24-hour window, templates, opt-out,
quiet hours, e-mail subjects), assign, label, read."""

from datetime import time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from collections_app.conversations import selectors, services
from collections_app.models import Conversation, ConversationLabel, MessageTemplate
from crm import messages
from crm import services as crm_services
from crm.models import Interaction, Message
from integrations.models import OutboxMessage
from tests.collections_app.conftest import TODAY, at
from tests.collections_app.conversations.conftest import (
    conversation_of,
    hours_ago,
    inbound,
)
from tests.factories import CustomerFactory, UserFactory


def conversation_for(user, customer) -> Conversation:
    return selectors.conversation_for(user, customer.pk)


def errors_of(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


@pytest.fixture
def whatsapp_template(db):
    return MessageTemplate.objects.create(
        name="Recordatorio por WhatsApp",
        channel=MessageTemplate.Channel.WHATSAPP,
        body="Hola {nombre}, le escribimos de Cartera por su cuota.",
        whatsapp_name="recordatorio_cuota",
        whatsapp_language="es",
    )


# --- Replies -----------------------------------------------------------------------------


def test_a_reply_within_24_hours_of_the_customers_whatsapp_goes_as_free_text(rosa, cobranzas):
    inbound(rosa, "Hola, ¿cuánto debo?", at=hours_ago(23))

    sending = services.reply(
        conversation_for(cobranzas, rosa),
        channel=messages.WHATSAPP,
        body="Buenos días, Rosa: su saldo es S/ 945.60.",
        actor=cobranzas,
    )

    assert services.outcome_text(sending) == "En cola"
    message = sending.message
    assert message.direction == Message.Direction.OUTBOUND
    assert message.channel == messages.WHATSAPP
    assert message.actor == cobranzas
    assert message.origin == ""
    assert not message.is_capped
    payload = OutboxMessage.objects.get(payload__message=message.pk).payload
    assert "whatsapp_template" not in payload
    assert payload["body"] == "Buenos días, Rosa: su saldo es S/ 945.60."


def test_free_text_on_whatsapp_is_refused_after_24_hours(rosa, cobranzas):
    inbound(rosa, "Hola", at=hours_ago(25))

    with pytest.raises(ValidationError) as refused:
        services.reply(
            conversation_for(cobranzas, rosa),
            channel=messages.WHATSAPP,
            body="Buenos días",
            actor=cobranzas,
        )

    assert "solo admite una plantilla aprobada" in errors_of(refused.value)[0]
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_free_text_on_whatsapp_is_refused_to_a_customer_who_never_wrote_there(rosa, cobranzas):
    inbound(rosa, "Hola", channel=messages.SMS)

    with pytest.raises(ValidationError, match="plantilla"):
        services.reply(
            conversation_for(cobranzas, rosa),
            channel=messages.WHATSAPP,
            body="Buenos días",
            actor=cobranzas,
        )


def test_after_24_hours_whatsapp_takes_an_approved_template_rendered_for_the_customer(
    rosa, cobranzas, whatsapp_template
):
    inbound(rosa, "Hola", at=hours_ago(30))

    sending = services.reply(
        conversation_for(cobranzas, rosa),
        channel=messages.WHATSAPP,
        body="",
        template=whatsapp_template,
        actor=cobranzas,
    )

    assert sending.is_queued
    assert sending.message.body == "Hola Rosa, le escribimos de Cartera por su cuota."
    payload = OutboxMessage.objects.get(payload__message=sending.message.pk).payload
    assert payload["whatsapp_template"] == {
        "name": "recordatorio_cuota",
        "language": "es",
        "parameters": ["Rosa"],
    }


def test_an_incomplete_template_after_24_hours_does_not_suggest_free_text(rosa, cobranzas):
    """Past the window free text is refused too: the advice is another template only."""
    template = MessageTemplate.objects.create(
        name="Cuota por WhatsApp",
        channel=MessageTemplate.Channel.WHATSAPP,
        body="Hola {nombre}, su cuota es {cuota}.",
        whatsapp_name="cuota",
        whatsapp_language="es",
    )
    conversation = conversation_for(cobranzas, rosa)

    with pytest.raises(ValidationError) as caught:
        services.reply(
            conversation, channel=messages.WHATSAPP, body="", template=template, actor=cobranzas
        )

    assert caught.value.message_dict["template"] == [
        "La plantilla saldría incompleta: este cliente no tiene hoy {cuota}. Elija otra plantilla."
    ]


def test_a_template_of_another_channel_is_refused(rosa, cobranzas):
    sms_template = MessageTemplate.objects.create(
        name="Recordatorio SMS", channel=MessageTemplate.Channel.SMS, body="Hola {nombre}"
    )

    with pytest.raises(ValidationError, match="plantilla activa del mismo canal"):
        services.reply(
            conversation_for(cobranzas, rosa),
            channel=messages.WHATSAPP,
            body="",
            template=sms_template,
            actor=cobranzas,
        )


def test_a_customer_who_asked_not_to_be_contacted_gets_no_reply(rosa, cobranzas):
    inbound(rosa, "Hola", at=hours_ago(1))
    crm_services.set_contact_opt_out(customer=rosa, opted_out=True)

    with pytest.raises(ValidationError) as refused:
        services.reply(
            conversation_for(cobranzas, rosa),
            channel=messages.SMS,
            body="Buenos días",
            actor=cobranzas,
        )

    assert errors_of(refused.value) == ["No enviado: el cliente pidió no ser contactado"]
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_stop_from_the_customer_stops_the_replies(rosa, cobranzas):
    inbound(rosa, "STOP")

    with pytest.raises(ValidationError, match="pidió no ser contactado"):
        services.reply(
            conversation_for(cobranzas, rosa),
            channel=messages.WHATSAPP,
            body="¿Está seguro?",
            actor=cobranzas,
        )


def test_an_email_reply_needs_a_subject(rosa, cobranzas):
    with pytest.raises(ValidationError) as refused:
        services.reply(
            conversation_for(cobranzas, rosa),
            channel=messages.EMAIL,
            body="Adjuntamos su cronograma.",
            subject="  ",
            actor=cobranzas,
        )

    assert refused.value.message_dict == {"subject": ["Escriba el asunto del correo."]}


def test_an_email_reply_goes_with_its_subject(rosa, cobranzas):
    sending = services.reply(
        conversation_for(cobranzas, rosa),
        channel=messages.EMAIL,
        body="Adjuntamos su cronograma.",
        subject="Su cronograma",
        actor=cobranzas,
    )

    assert sending.message.subject == "Su cronograma"
    assert conversation_of(rosa).last_message_preview == "Su cronograma"


def test_a_reply_on_a_channel_the_customer_has_no_address_on_is_refused(cobranzas):
    no_email = CustomerFactory(email="")

    with pytest.raises(ValidationError) as refused:
        services.reply(
            conversation_for(cobranzas, no_email),
            channel=messages.EMAIL,
            body="Hola",
            subject="Hola",
            actor=cobranzas,
        )

    assert refused.value.message_dict == {"channel": ["El cliente no tiene correo registrado."]}


def test_a_reply_in_quiet_hours_is_held_until_the_morning(rosa, cobranzas, settings):
    settings.MESSAGES_QUIET_HOURS = (time(20, 0), time(8, 0))  # the default out of tests

    with at(TODAY, 21):
        sending = services.reply(
            conversation_for(cobranzas, rosa),
            channel=messages.SMS,
            body="Buenas noches, Rosa.",
            actor=cobranzas,
        )

    assert services.outcome_text(sending) == ("Retenido hasta las 08:00 por el horario de silencio")
    due = timezone.localtime(Message.objects.get(pk=sending.message.pk).due_at)
    assert (due.date(), due.hour) == (TODAY + timedelta(days=1), 8)


def test_a_reply_is_not_counted_in_the_daily_limit(rosa, cobranzas):
    for n in range(5):
        sending = services.reply(
            conversation_for(cobranzas, rosa),
            channel=messages.SMS,
            body=f"Mensaje {n}",
            actor=cobranzas,
        )

    assert sending.is_queued
    assert not Message.objects.filter(is_capped=True).exists()


def test_a_reply_ends_the_customers_wait(rosa, cobranzas):
    inbound(rosa, "Hola", at=hours_ago(5))

    services.reply(
        conversation_for(cobranzas, rosa),
        channel=messages.SMS,
        body="Buenos días",
        actor=cobranzas,
    )

    assert conversation_of(rosa).awaiting_reply_since is None


def test_an_empty_or_too_long_reply_is_refused(rosa, cobranzas):
    conversation = conversation_for(cobranzas, rosa)

    with pytest.raises(ValidationError, match="Escriba el mensaje"):
        services.reply(conversation, channel=messages.SMS, body="   ", actor=cobranzas)
    with pytest.raises(ValidationError, match="como máximo 4000"):
        services.reply(conversation, channel=messages.SMS, body="x" * 4001, actor=cobranzas)


def test_an_sms_reply_longer_than_six_messages_is_refused_and_nothing_is_sent(rosa, cobranzas):
    """4,000 characters fit a reply, not an SMS: it would travel in 27 parts."""
    conversation = conversation_for(cobranzas, rosa)

    with pytest.raises(ValidationError) as caught:
        services.reply(conversation, channel=messages.SMS, body="á" * 500, actor=cobranzas)

    (error,) = caught.value.message_dict["body"]
    assert error.startswith("El texto ocupa 8 SMS; se admiten hasta 6.")
    assert not Message.objects.filter(customer=rosa).exists()


def test_a_long_reply_by_email_is_not_held_to_the_sms_bound(rosa, cobranzas):
    conversation = conversation_for(cobranzas, rosa)

    sending = services.reply(
        conversation, channel=messages.EMAIL, subject="Su cuota", body="á" * 3000, actor=cobranzas
    )

    assert sending.is_queued


def test_the_outcome_of_a_skipped_message_says_why(rosa):
    opted_out = messages.Sending(messages.SendStatus.OPTED_OUT, None)
    no_address = messages.Sending(messages.SendStatus.NO_ADDRESS, None)

    assert services.outcome_text(opted_out) == "No enviado: el cliente pidió no ser contactado"
    assert services.outcome_text(no_address).startswith("No enviado: el cliente no tiene")


def test_the_whatsapp_window_closes_24_hours_after_the_customers_last_message(rosa, cobranzas):
    asked = inbound(rosa, "Hola", at=hours_ago(2))

    closes = services.whatsapp_window_closes_at(conversation_for(cobranzas, rosa))

    assert closes == asked.created_at + timedelta(hours=24)


# --- Assignment, labels, reading ---------------------------------------------------------


def test_assigning_says_so_on_the_customers_timeline(rosa, cobranzas, supervisor):
    inbound(rosa, "Hola")
    supervisor.first_name, supervisor.last_name = "Sara", "Campos"
    supervisor.save()

    services.assign(conversation_for(cobranzas, rosa), supervisor, cobranzas)

    assert conversation_of(rosa).assigned_to == supervisor
    entry = rosa.interactions.get(kind=Interaction.Kind.SYSTEM)
    assert entry.summary == "Conversación asignada a Sara Campos"
    assert entry.actor == cobranzas


def test_a_conversation_without_messages_is_saved_when_assigned(rosa, cobranzas):
    services.assign(conversation_for(cobranzas, rosa), cobranzas, cobranzas)

    assert conversation_of(rosa).assigned_to == cobranzas


def test_only_collections_agents_and_supervisors_take_conversations(rosa, cobranzas, asesor):
    with pytest.raises(ValidationError, match="no atiende conversaciones"):
        services.assign(conversation_for(cobranzas, rosa), asesor, cobranzas)


def test_an_inactive_agent_takes_no_conversation(rosa, cobranzas):
    gone = UserFactory(username="ex", role="Cobranzas", is_active=False)

    with pytest.raises(ValidationError):
        services.assign(conversation_for(cobranzas, rosa), gone, cobranzas)


def test_unassigning_says_so_and_the_same_agent_again_writes_nothing(rosa, cobranzas):
    conversation = services.assign(conversation_for(cobranzas, rosa), cobranzas, cobranzas)
    services.assign(conversation, cobranzas, cobranzas)

    services.assign(conversation_for(cobranzas, rosa), None, cobranzas)

    summaries = list(
        rosa.interactions.filter(kind=Interaction.Kind.SYSTEM)
        .order_by("pk")
        .values_list("summary", flat=True)
    )
    assert summaries[-1] == "Conversación sin asignar"
    assert len(summaries) == 2
    assert conversation_of(rosa).assigned_to is None


def test_labels_are_set_and_said_on_the_timeline(rosa, cobranzas):
    claim = ConversationLabel.objects.create(name="Reclamo")
    talks = ConversationLabel.objects.create(name="Negociando")
    inbound(rosa, "Hola")

    services.set_labels(conversation_for(cobranzas, rosa), [talks, claim], cobranzas)

    assert set(conversation_of(rosa).labels.all()) == {claim, talks}
    entry = rosa.interactions.filter(kind=Interaction.Kind.SYSTEM).get()
    assert entry.summary == "Etiquetas de la conversación: Negociando, Reclamo"


def test_removing_every_label_says_so(rosa, cobranzas):
    claim = ConversationLabel.objects.create(name="Reclamo")
    services.set_labels(conversation_for(cobranzas, rosa), [claim], cobranzas)

    services.set_labels(conversation_for(cobranzas, rosa), [], cobranzas)

    assert not conversation_of(rosa).labels.exists()
    last = rosa.interactions.filter(kind=Interaction.Kind.SYSTEM).latest("pk")
    assert last.summary == "Conversación sin etiquetas"


def test_reading_the_conversation_clears_its_unread_count(rosa, cobranzas):
    inbound(rosa, "Hola")
    inbound(rosa, "¿Hola?")

    services.mark_read(conversation_for(cobranzas, rosa), cobranzas)

    assert conversation_of(rosa).unread_count == 0
    assert conversation_of(rosa).awaiting_reply_since is not None
