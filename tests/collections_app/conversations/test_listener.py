"""The listener that keeps each customer's conversation current as crm.messages records
messages: counts, unread, the last message, and what waits for an answer."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collections_app.conversations import services
from collections_app.models import Conversation
from crm import messages
from crm.models import Customer, Interaction, Message
from tests.collections_app.conversations.conftest import (
    conversation_of,
    hours_ago,
    inbound,
    outbound,
)
from tests.factories import CustomerFactory


def test_a_customers_first_message_opens_their_conversation(rosa):
    message = inbound(rosa, "Hola, quiero pagar mi cuota")

    conversation = conversation_of(rosa)
    assert conversation.message_count == 1
    assert conversation.unread_count == 1
    assert conversation.last_message_at == message.created_at
    assert conversation.last_message_preview == "Hola, quiero pagar mi cuota"
    assert conversation.last_channel == messages.WHATSAPP
    assert conversation.last_direction == Message.Direction.INBOUND
    assert conversation.last_inbound_at == message.created_at
    assert conversation.last_whatsapp_inbound_at == message.created_at
    assert conversation.awaiting_reply_since == message.created_at


def test_each_inbound_message_adds_one_unread(rosa):
    inbound(rosa, "Hola")
    inbound(rosa, "¿Me responden?", channel=messages.SMS)

    conversation = conversation_of(rosa)
    assert conversation.unread_count == 2
    assert conversation.message_count == 2
    assert conversation.last_channel == messages.SMS


def test_an_outbound_message_counts_but_is_not_unread(rosa):
    outbound(rosa, "Su cuota vence mañana.")

    conversation = conversation_of(rosa)
    assert conversation.message_count == 1
    assert conversation.unread_count == 0
    assert conversation.last_direction == Message.Direction.OUTBOUND
    assert conversation.last_inbound_at is None
    assert conversation.awaiting_reply_since is None


def test_only_whatsapp_opens_the_whatsapp_window(rosa):
    sms = inbound(rosa, "Hola", channel=messages.SMS)

    conversation = conversation_of(rosa)
    assert conversation.last_inbound_at == sms.created_at
    assert conversation.last_whatsapp_inbound_at is None


def test_the_customer_waits_since_their_first_unanswered_message(rosa):
    first = inbound(rosa, "Hola", at=hours_ago(3))
    inbound(rosa, "¿Hay alguien?", at=hours_ago(1))

    assert conversation_of(rosa).awaiting_reply_since == first.created_at


def test_an_agents_answer_ends_the_wait(rosa, cobranzas):
    inbound(rosa, "Hola", at=hours_ago(2))

    outbound(rosa, "Buenos días, Rosa.", channel=messages.WHATSAPP, actor=cobranzas)

    assert conversation_of(rosa).awaiting_reply_since is None


def test_a_flows_message_does_not_answer_the_customer(rosa):
    asked = inbound(rosa, "Hola", at=hours_ago(2))

    outbound(rosa, "Le recordamos su cuota.", actor=None)

    assert conversation_of(rosa).awaiting_reply_since == asked.created_at


def test_a_message_after_the_answer_waits_again(rosa, cobranzas):
    inbound(rosa, "Hola", at=hours_ago(3))
    outbound(rosa, "Buenos días.", channel=messages.WHATSAPP, actor=cobranzas)

    again = inbound(rosa, "Gracias, otra pregunta")

    assert conversation_of(rosa).awaiting_reply_since == again.created_at


def test_what_the_customer_did_on_the_bot_is_unread_but_waits_for_no_answer(rosa):
    entry = Interaction.objects.create(
        customer=rosa, kind=Interaction.Kind.BOT, summary="Consultó su saldo en el bot"
    )

    messages.record_activity(interaction=entry, channel=Message.Channel.BOT)

    conversation = conversation_of(rosa)
    assert conversation.unread_count == 1
    assert conversation.last_channel == Message.Channel.BOT
    assert conversation.last_message_preview == "Consultó su saldo en el bot"
    assert conversation.awaiting_reply_since is None


def test_an_emails_preview_is_its_subject(rosa):
    messages.send_customer_message(
        customer=rosa,
        channel=messages.EMAIL,
        subject="Su estado de cuenta de junio",
        body="Estimada Rosa: adjuntamos…",
    )

    assert conversation_of(rosa).last_message_preview == "Su estado de cuenta de junio"


def test_the_preview_keeps_the_first_200_characters(rosa):
    inbound(rosa, "x" * 150 + "y" * 150)

    assert conversation_of(rosa).last_message_preview == "x" * 150 + "y" * 50


def test_an_older_message_recorded_late_does_not_replace_the_last_one(rosa):
    inbound(rosa, "El último", at=hours_ago(1))

    inbound(rosa, "Uno de ayer que llegó tarde", at=hours_ago(20), channel=messages.SMS)

    conversation = conversation_of(rosa)
    assert conversation.last_message_preview == "El último"
    assert conversation.last_channel == messages.WHATSAPP
    assert conversation.message_count == 2
    assert conversation.unread_count == 2


def test_the_same_batch_told_twice_counts_twice_and_keeps_the_newest(rosa):
    # Two listeners' calls for one customer, one after the other's commit: F() adds both.
    message = inbound(rosa, "Hola")

    services.on_messages([message])

    conversation = conversation_of(rosa)
    assert conversation.message_count == 2
    assert conversation.unread_count == 2
    assert conversation.last_message_preview == "Hola"


def test_a_batch_with_the_question_and_its_answer_leaves_nothing_waiting(rosa, cobranzas):
    asked = inbound(rosa, "Hola", at=hours_ago(1))
    answer = outbound(rosa, "Buenos días.", channel=messages.WHATSAPP, actor=cobranzas)
    Conversation.objects.all().delete()

    services.on_messages([answer, asked])

    conversation = conversation_of(rosa)
    assert conversation.awaiting_reply_since is None
    assert conversation.message_count == 2
    assert conversation.last_direction == Message.Direction.OUTBOUND


def _customers(n: int) -> list[Customer]:
    Customer.objects.bulk_create(
        [
            Customer(
                document_number=f"{70000000 + i:08d}",
                first_name=f"Cliente {i}",
                phone=f"+5198{i:07d}",
            )
            for i in range(n)
        ]
    )
    return list(Customer.objects.filter(document_number__startswith="7").order_by("pk"))


def _flow_batch(customers: list[Customer]) -> list[Message]:
    """A flow step's batch, through the bulk path flows use."""
    sendings = messages.send_customer_messages(
        [
            messages.Outgoing(customer=c, subject="Recordatorio", body=f"Hola {c.first_name}")
            for c in customers
        ],
        channel=messages.SMS,
        origin=("collections.flow_step", 1),
    )
    return [sending.message for sending in sendings]


def _statements(batch: list[Message]) -> int:
    with CaptureQueriesContext(connection) as captured:
        services.on_messages(batch)
    return len(captured.captured_queries)


def test_a_flows_thousand_messages_open_a_thousand_conversations(db):
    customers = _customers(1000)

    _flow_batch(customers)

    assert Conversation.objects.count() == 1000
    some = Conversation.objects.get(customer=customers[500])
    assert some.last_message_preview == "Hola Cliente 500"
    assert some.message_count == 1
    assert some.last_channel == messages.SMS


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_the_listener_takes_as_many_statements_for_1000_messages_as_for_2(db, existing):
    customers = _customers(1002)
    small, large = _flow_batch(customers[:2]), _flow_batch(customers[2:])
    if not existing:
        Conversation.objects.all().delete()

    few, many = _statements(small), _statements(large)

    assert few == many == 2
    expected = 2 if existing else 1
    assert Conversation.objects.get(customer=customers[700]).message_count == expected


def test_a_batch_with_inbound_messages_of_many_customers_takes_two_statements(db):
    customers = _customers(50)
    batch = [inbound(c, f"Hola, soy {c.first_name}", channel=messages.SMS) for c in customers]
    later = hours_ago(-1)
    for message in batch:
        message.created_at = later

    assert _statements(batch) == 2
    conversation = Conversation.objects.get(customer=customers[7])
    assert conversation.unread_count == 2
    assert conversation.last_inbound_at == later
    assert conversation.awaiting_reply_since == later - timedelta(hours=1)


@pytest.mark.django_db(transaction=True)
def test_parallel_messages_to_a_new_customer_all_count_in_one_conversation():
    """Eight threads, each its own connection, write to a customer without a conversation:
    one row is made, and every message counts."""
    rosa = CustomerFactory(phone="+51987654321")
    start = threading.Barrier(8)
    errors = []

    def write(n: int) -> None:
        try:
            start.wait(timeout=30)
            customer = Customer.objects.get(pk=rosa.pk)
            if n % 2:
                inbound(customer, f"Mensaje {n}", channel=messages.SMS)
            else:
                outbound(customer, f"Respuesta {n}")
        except Exception as exc:  # a deadlock or a unique violation would land here
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    conversation = Conversation.objects.get(customer=rosa)
    assert conversation.message_count == 8
    assert conversation.unread_count == 4
    assert conversation.last_message_preview in {f"Mensaje {n}" for n in range(1, 8, 2)} | {
        f"Respuesta {n}" for n in range(0, 8, 2)
    }
