"""A message an event queued at night waits for the morning (quiet hours 20:00–08:00), and
must still be true when it goes out: one whose event was overtaken meanwhile (the payment
to verify reviewed, the rejection reopened, the promise withdrawn) is not sent, the
timeline saying why; one still true is written again from its template, so «su saldo hoy
es …» is the morning's figure. A message not held goes out as it was written. Messages held
to the same minute go out in the order they were written. A rejection's reason that
ends with a period does not end the message in «..»."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from collections_app import services
from collections_app.management.commands import seed_strategies
from collections_app.models import EventSetting, MessageTemplate, Origin, ReportedPayment
from collections_app.strategies import events, variables
from crm import messages
from crm.models import Interaction, Message
from integrations import outbox
from integrations.models import OutboxMessage
from lib import queue
from tests import receipts
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.test_events import PAID_ON, PROMISED_ON, configure, report
from tests.collections_app.strategies.test_origin_switched_off import (
    AFTER_MORNING,
    EVENING,
    LATER,
    MORNING,
)
from tests.credits.conftest import LIMA

Setting = EventSetting.Event
# TODAY (Monday 15 June 2026) in Lima, inside the quiet hours: the event at 21:00 (EVENING),
# what overtakes it at 22:00 (LATER); the messages are due Tuesday 08:00 (MORNING).


@pytest.fixture(autouse=True)
def _listening():
    events.connect()


def at(moment, capture, call, *args, **kwargs):
    """Do `call` at `moment`, running what it queues on commit (the event's messages)."""
    with time_machine.travel(moment, tick=False), capture(execute=True):
        return call(*args, **kwargs)


def reported(debtor, loan, capture, moment=EVENING, amount=None):
    """The debtor reports a payment (S/ 300.00 unless `amount`) at `moment`; another amount
    comes with another receipt (the same file would be the same payment)."""
    if amount is None:
        return at(moment, capture, report, debtor, loan)
    receipt = SimpleUploadedFile(
        f"recibo-{amount}.pdf", receipts.PDF, content_type="application/pdf"
    )
    if amount != Decimal("100.00"):
        receipt = SimpleUploadedFile("recibo.png", receipts.PNG, content_type="image/png")
    return at(
        moment,
        capture,
        services.report_payment,
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=amount,
        paid_on=PAID_ON,
        method=ReportedPayment.Method.TRANSFER,
        reference=f"OP-{amount}",
        receipt=receipt,
        origin=Origin.PORTAL,
        actor=None,
    )


def sent_by(setting) -> list[Message]:
    return list(Message.objects.filter(origin=events.ORIGIN, origin_id=setting.pk).order_by("pk"))


def outbox_row(message: Message) -> OutboxMessage:
    return OutboxMessage.objects.get(destination=messages.DESTINATION, payload__message=message.pk)


def deliver_in_the_morning() -> None:
    with time_machine.travel(AFTER_MORNING, tick=False):
        outbox.deliver_due_messages()


def failure_entries(customer) -> list[str]:
    return list(
        customer.interactions.filter(
            kind=Interaction.Kind.SYSTEM, summary__startswith="No se pudo enviar"
        ).values_list("summary", flat=True)
    )


# --- Overtaken events ------------------------------------------------------------------------


def test_we_will_verify_is_not_sent_once_the_payment_was_verified_overnight(
    quiet_nights, loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    to_verify = configure("vigente", Setting.TO_VERIFY)
    verified = configure("vigente", Setting.VERIFIED)
    payment = reported(debtor, loan, capture)
    (waiting,) = sent_by(to_verify)
    assert outbox_row(waiting).next_attempt_at == MORNING

    at(LATER, capture, services.approve_reported_payment, report=payment, actor=cobranzas)
    deliver_in_the_morning()

    reason = (
        f"El pago a verificar #{payment.pk} pasó a «Verificado» después de poner en cola el "
        "mensaje del evento «Pago por verificar»: ya no era cierto y no se envió."
    )
    row = outbox_row(waiting)
    assert (row.status, row.attempts, row.last_error) == (OutboxMessage.Status.FAILED, 1, reason)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.error) == (Message.Status.FAILED, reason)
    waiting.interaction.refresh_from_db()
    assert waiting.interaction.summary.startswith("SMS no enviado: ")
    assert failure_entries(debtor) == [f"No se pudo enviar el SMS «{waiting.subject}»: {reason}"]
    # The verdict goes out.
    (told,) = sent_by(verified)
    assert told.status == Message.Status.SENT


def test_we_will_verify_is_not_sent_once_the_payment_was_rejected_overnight(
    quiet_nights, loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    to_verify = configure("vigente", Setting.TO_VERIFY)
    rejected = configure("vigente", Setting.REJECTED)
    payment = reported(debtor, loan, capture)

    at(
        LATER,
        capture,
        services.reject_reported_payment,
        report=payment,
        actor=cobranzas,
        reason="Comprobante ilegible",
    )
    deliver_in_the_morning()

    (waiting,) = sent_by(to_verify)
    assert outbox_row(waiting).last_error == (
        f"El pago a verificar #{payment.pk} pasó a «Rechazado» después de poner en cola el "
        "mensaje del evento «Pago por verificar»: ya no era cierto y no se envió."
    )
    assert [m.status for m in sent_by(rejected)] == [Message.Status.SENT]


def test_we_will_verify_still_true_in_the_morning_goes_out(
    quiet_nights, loan, debtor, django_capture_on_commit_callbacks
):
    to_verify = configure("vigente", Setting.TO_VERIFY)
    reported(debtor, loan, django_capture_on_commit_callbacks)

    deliver_in_the_morning()

    (message,) = sent_by(to_verify)
    assert message.status == Message.Status.SENT
    assert outbox_row(message).status == OutboxMessage.Status.SENT
    assert failure_entries(debtor) == []


def test_a_rejection_reopened_overnight_is_not_sent(
    quiet_nights, loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    rejected = configure("vigente", Setting.REJECTED)
    payment = reported(debtor, loan, capture)
    at(
        EVENING + timedelta(minutes=5),
        capture,
        services.reject_reported_payment,
        report=payment,
        actor=cobranzas,
        reason="Comprobante ilegible",
    )
    at(LATER, capture, services.reopen_reported_payment, report=payment, actor=cobranzas)

    deliver_in_the_morning()

    (message,) = sent_by(rejected)
    assert outbox_row(message).last_error == (
        f"El pago a verificar #{payment.pk} pasó a «Por verificar» después de poner en cola "
        "el mensaje del evento «Pago no verificado»: ya no era cierto y no se envió."
    )
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED


def test_a_promise_withdrawn_overnight_is_not_acknowledged(
    quiet_nights, loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    promise_setting = configure("vigente", Setting.PROMISE)
    promise = at(
        EVENING,
        capture,
        services.promise_payment,
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=Decimal("500.00"),
        promised_on=PROMISED_ON,
        origin=Origin.BOT,
        actor=None,
    )
    at(LATER, capture, services.cancel_promise, promise=promise, actor=cobranzas, reason="Error")

    deliver_in_the_morning()

    (message,) = sent_by(promise_setting)
    assert outbox_row(message).last_error == (
        f"El compromiso de pago #{promise.pk} pasó a «Anulado» después de poner en cola el "
        "mensaje del evento «Compromiso de pago»: ya no era cierto y no se envió."
    )


# --- Figures of the morning ------------------------------------------------------------------

SALDO_BODY = "{nombre}: verificamos su pago de {monto_pago}. Su saldo hoy es {saldo}."


@pytest.fixture
def verified_by_email(db):
    template = make_template(
        name="Pago verificado (correo)",
        channel=MessageTemplate.Channel.EMAIL,
        subject="Verificamos su pago",
        body=SALDO_BODY,
    )
    return EventSetting.objects.create(
        portfolio="vigente", event=Setting.VERIFIED, template=template
    )


def saldo_on(debtor, loan, day) -> str:
    (values,) = variables.load_values(
        [variables.Recipient(customer=debtor, receivable_id=loan.pk)],
        "vigente",
        day,
        names=["saldo"],
    )
    return values["saldo"]


def test_held_messages_say_the_balance_of_the_morning_they_go_out(
    quiet_nights,
    verified_by_email,
    loan,
    debtor_by_email,
    cobranzas,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    first = reported(debtor_by_email, loan, capture, amount=Decimal("100.00"))
    at(EVENING, capture, services.approve_reported_payment, report=first, actor=cobranzas)
    second = reported(debtor_by_email, loan, capture, moment=LATER, amount=Decimal("50.00"))
    at(LATER, capture, services.approve_reported_payment, report=second, actor=cobranzas)
    queued = [message.body for message in sent_by(verified_by_email)]
    # Queued with the balance of the evening.
    assert "Su saldo hoy es S/ " in queued[0]

    deliver_in_the_morning()

    morning = saldo_on(debtor_by_email, loan, MORNING.date())
    assert f"Su saldo hoy es {morning}." not in queued[0]
    told = sent_by(verified_by_email)
    expected = [
        f"{debtor_by_email.first_name}: verificamos su pago de S/ 100.00. Su saldo hoy es "
        f"{morning}.",
        f"{debtor_by_email.first_name}: verificamos su pago de S/ 50.00. Su saldo hoy es "
        f"{morning}.",
    ]
    assert [message.body for message in told] == expected
    assert [message.status for message in told] == [Message.Status.SENT] * 2
    # What the debtor received, in the order the payments were verified.
    to_debtor = [email for email in mail.outbox if "rosa@example.pe" in email.to]
    assert [email.body.split("\n\n--\n")[0] for email in to_debtor] == expected
    # The timeline shows the text sent.
    for message in told:
        message.interaction.refresh_from_db()
        assert message.interaction.payload["mensaje"] == message.body


def test_a_message_not_held_goes_out_as_it_was_written(
    monkeypatch,
    verified_by_email,
    loan,
    debtor_by_email,
    cobranzas,
    django_capture_on_commit_callbacks,
):
    # 10:00, outside the quiet hours: not held. The worker is late to send it (its task
    # waits), and meanwhile another payment changes the balance.
    noon = datetime.combine(TODAY, time(10, 0), tzinfo=LIMA)
    monkeypatch.setattr(queue, "enqueue", lambda *args, **kwargs: None)
    capture = django_capture_on_commit_callbacks
    first = reported(debtor_by_email, loan, capture, moment=noon, amount=Decimal("100.00"))
    at(noon, capture, services.approve_reported_payment, report=first, actor=cobranzas)
    (message,) = sent_by(verified_by_email)
    written = message.body
    later = reported(debtor_by_email, loan, capture, moment=noon, amount=Decimal("50.00"))
    at(noon, capture, services.approve_reported_payment, report=later, actor=cobranzas)
    assert saldo_on(debtor_by_email, loan, TODAY) not in written

    with time_machine.travel(noon + timedelta(minutes=5), tick=False):
        outbox.deliver_message(message_id=outbox_row(message).pk)

    message.refresh_from_db()
    assert (message.status, message.body) == (Message.Status.SENT, written)
    (email,) = [email for email in mail.outbox if "rosa@example.pe" in email.to]
    assert email.body.startswith(written)


# --- The morning's order ---------------------------------------------------------------------

ORDER_DESTINATION = "tests.held_order"


@pytest.fixture
def recorded_order():
    sent: list[str] = []
    outbox.register_sender(ORDER_DESTINATION, lambda payload: sent.append(payload["name"]))
    yield sent
    outbox.unregister_sender(ORDER_DESTINATION)


def test_messages_held_to_the_same_minute_go_out_in_the_order_they_were_written(db, recorded_order):
    with time_machine.travel(LATER, tick=False):
        # Written second (a later moment), stored first: a row id does not say the order.
        outbox.enqueue_message(
            destination=ORDER_DESTINATION, payload={"name": "verificamos"}, not_before=MORNING
        )
    with time_machine.travel(EVENING, tick=False):
        outbox.enqueue_message(
            destination=ORDER_DESTINATION, payload={"name": "recibimos"}, not_before=MORNING
        )
    with time_machine.travel(LATER + timedelta(minutes=1), tick=False):
        outbox.enqueue_message(
            destination=ORDER_DESTINATION, payload={"name": "saldo"}, not_before=MORNING
        )

    deliver_in_the_morning()

    assert recorded_order == ["recibimos", "verificamos", "saldo"]


# --- A reason that ends with a period --------------------------------------------------------


def seeded_body(name: str) -> str:
    return next(row[4] for row in seed_strategies.TEMPLATES if row[0] == name)


def test_a_reason_ending_with_a_period_does_not_end_the_rejection_in_two(
    loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    rejected = configure("vigente", Setting.REJECTED)
    MessageTemplate.objects.filter(pk=rejected.template_id).update(
        body=seeded_body("Pago no verificado (WhatsApp)")
    )
    with capture(execute=True):
        payment = report(debtor, loan)
    with capture(execute=True):
        services.reject_reported_payment(
            report=payment, actor=cobranzas, reason="El comprobante no es legible. "
        )

    (message,) = sent_by(rejected)
    assert message.body == (
        f"{debtor.first_name}, no pudimos verificar su pago de S/ 300.00. Motivo: El "
        "comprobante no es legible."
    )


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("Comprobante ilegible", "Comprobante ilegible"),
        ("Comprobante ilegible.", "Comprobante ilegible"),
        ("Comprobante ilegible...", "Comprobante ilegible"),
        ("  Monto distinto; ", "Monto distinto"),
        ("¿Es de otro banco?", "¿Es de otro banco?"),
        ("", ""),
    ],
)
def test_a_reason_is_said_without_its_final_period(reason, said):
    assert events.clause(reason) == said


def test_a_held_message_that_would_now_go_out_incomplete_is_not_written(
    verified_by_email, loan, debtor, cobranzas
):
    payment = ReportedPayment.objects.create(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=loan.payment_code,
        currency="PEN",
        amount=Decimal("100.00"),
        paid_on=PAID_ON,
        method=ReportedPayment.Method.TRANSFER,
        status=ReportedPayment.Status.APPROVED,
    )
    detail = {
        "event": "verified",
        "object": "collections_app.reportedpayment",
        "pk": payment.pk,
        "receivable_kind": "loan",
        # A debt with no figures today: {saldo} would go out blank.
        "receivable_id": loan.pk + 1000,
        "template": verified_by_email.template_id,
        "channel": "email",
    }

    assert events.rewrite_held(verified_by_email.pk, detail, debtor) == (
        f"Evento «{Setting.VERIFIED.label}»: no se envió la plantilla «Pago verificado "
        "(correo)» porque saldría incompleta: el cliente no tiene hoy {saldo}."
    )
    written = events.rewrite_held(
        verified_by_email.pk, {**detail, "receivable_id": loan.pk}, debtor
    )
    assert written.body == (
        f"{debtor.first_name}: verificamos su pago de S/ 100.00. Su saldo hoy es "
        f"{saldo_on(debtor, loan, TODAY)}."
    )
    # Its template moved to another channel: sent as it was queued.
    assert events.rewrite_held(verified_by_email.pk, {**detail, "channel": "sms"}, debtor) is None
