"""The events settings: each payment event sends the template set for it, per portfolio,
once however often the event is announced, and nothing when none is set or it is off."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from collections_app import services
from collections_app.models import EventSetting, Origin, PaymentLink, ReportedPayment
from collections_app.signals import Event, payment_event
from collections_app.strategies import events
from credits.services import loans as loan_services
from crm.models import Customer, Message
from integrations import payment_gateways
from tests import receipts
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies.conftest import make_template

PNG = receipts.PNG
PROMISED_ON = TODAY + timedelta(days=7)
PAID_ON = TODAY - timedelta(days=1)

Setting = EventSetting.Event
BODIES = {
    Setting.PROMISE: "{nombre}: compromiso de {monto_compromiso} al {fecha_compromiso}.",
    Setting.TO_VERIFY: "{nombre}: verificaremos su pago de {monto_pago} del {fecha_pago}.",
    Setting.REJECTED: "{nombre}: no verificamos su pago de {monto_pago}: {motivo}.",
    Setting.VERIFIED: "{nombre}: su pago de {monto_pago} del {fecha_pago} fue verificado.",
}
EXPECTED = {
    Setting.PROMISE: "{name}: compromiso de S/ 500.00 al 22/06/2026.",
    Setting.TO_VERIFY: "{name}: verificaremos su pago de S/ 300.00 del 14/06/2026.",
    Setting.REJECTED: "{name}: no verificamos su pago de S/ 300.00: Comprobante ilegible.",
    Setting.VERIFIED: "{name}: su pago de S/ 300.00 del 14/06/2026 fue verificado.",
}


@pytest.fixture(autouse=True)
def _listening():
    events.connect()


def configure(portfolio, event, *, channel="sms", is_active=True, **template_fields):
    template = make_template(
        name=f"{portfolio} {event} {channel}",
        portfolio=portfolio,
        channel=channel,
        body=BODIES[event],
        **template_fields,
    )
    return EventSetting.objects.create(
        portfolio=portfolio, event=event, template=template, is_active=is_active
    )


def report(debtor, loan):
    return services.report_payment(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=Decimal("300.00"),
        paid_on=PAID_ON,
        method=ReportedPayment.Method.TRANSFER,
        receipt=SimpleUploadedFile("recibo.png", PNG, content_type="image/png"),
        origin=Origin.PORTAL,
        actor=None,
    )


def happen(event, debtor, loan, agent, capture):
    """Make `event` happen through the services, its announcement run after the commit."""
    if event == EventSetting.Event.PROMISE:
        with capture(execute=True):
            services.promise_payment(
                customer=debtor,
                receivable_kind="loan",
                receivable_id=loan.pk,
                amount=Decimal("500.00"),
                promised_on=PROMISED_ON,
                origin=Origin.BOT,
                actor=None,
            )
        return
    with capture(execute=True):
        reported = report(debtor, loan)
    if event == EventSetting.Event.REJECTED:
        with capture(execute=True):
            services.reject_reported_payment(
                report=reported, actor=agent, reason="Comprobante ilegible"
            )
    elif event == EventSetting.Event.VERIFIED:
        with capture(execute=True):
            services.approve_reported_payment(report=reported, actor=agent)


def sent_by(setting) -> list[Message]:
    return list(Message.objects.filter(origin=events.ORIGIN, origin_id=setting.pk))


@pytest.mark.parametrize("event", EventSetting.Event.values)
@pytest.mark.parametrize("portfolio", ["vigente", "castigada"])
def test_each_event_sends_the_template_set_for_it_in_its_portfolio(
    loan, debtor, cobranzas, django_capture_on_commit_callbacks, portfolio, event
):
    if portfolio == "castigada":
        loan_services.write_off(loan=loan, actor=None, reason="Incobrable")
    setting = configure(portfolio, event)

    happen(event, debtor, loan, cobranzas, django_capture_on_commit_callbacks)

    (message,) = sent_by(setting)
    assert message.channel == "sms"
    assert message.direction == Message.Direction.OUTBOUND
    assert message.body == EXPECTED[event].format(name=debtor.first_name)
    assert message.is_capped is False
    assert Message.objects.filter(origin=events.ORIGIN).count() == 1


@pytest.mark.parametrize("event", EventSetting.Event.values)
def test_nothing_is_sent_for_an_event_without_a_setting(
    loan, debtor, cobranzas, django_capture_on_commit_callbacks, event
):
    for other in EventSetting.Event.values:
        if other != event:
            configure("castigada", other)

    happen(event, debtor, loan, cobranzas, django_capture_on_commit_callbacks)

    assert not Message.objects.filter(origin=events.ORIGIN).exists()


def test_nothing_is_sent_for_a_setting_switched_off(
    loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    configure("vigente", EventSetting.Event.PROMISE, is_active=False)

    happen(EventSetting.Event.PROMISE, debtor, loan, cobranzas, django_capture_on_commit_callbacks)

    assert not Message.objects.filter(origin=events.ORIGIN).exists()
    assert not events.configured("vigente", Event.PROMISE)


def test_nothing_is_sent_for_a_template_switched_off(
    loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    setting = configure("vigente", EventSetting.Event.PROMISE)
    type(setting.template).objects.filter(pk=setting.template_id).update(is_active=False)

    happen(EventSetting.Event.PROMISE, debtor, loan, cobranzas, django_capture_on_commit_callbacks)

    assert sent_by(setting) == []


def test_a_setting_without_a_template_sends_nothing(
    loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    EventSetting.objects.create(portfolio="vigente", event=EventSetting.Event.PROMISE)

    happen(EventSetting.Event.PROMISE, debtor, loan, cobranzas, django_capture_on_commit_callbacks)

    assert not Message.objects.filter(origin=events.ORIGIN).exists()


def test_a_gateway_payment_is_a_verified_payment(loan, debtor, django_capture_on_commit_callbacks):
    setting = configure("vigente", EventSetting.Event.VERIFIED)
    with django_capture_on_commit_callbacks(execute=True):
        link = services.create_payment_link(
            customer=debtor,
            receivable_kind="loan",
            receivable_id=loan.pk,
            concept=PaymentLink.Concept.CUSTOM,
            amount=Decimal("300.00"),
            provider="mercadopago",
            origin=Origin.AGENT,
            actor=None,
        )
    found = payment_gateways.GatewayPayment(
        provider_payment_id="987654321",
        reference=link.reference,
        status=payment_gateways.APPROVED,
        amount=link.amount,
        currency=link.currency,
        paid_on=TODAY,
        raw={},
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.apply_gateway_payment(provider="mercadopago", found=found)

    (message,) = sent_by(setting)
    assert message.body == (
        f"{debtor.first_name}: su pago de S/ 300.00 del {TODAY:%d/%m/%Y} fue verificado."
    )


def test_an_event_announced_again_sends_once(loan, debtor, django_capture_on_commit_callbacks):
    setting = configure("vigente", EventSetting.Event.PROMISE)
    with django_capture_on_commit_callbacks(execute=True):
        promise = services.promise_payment(
            customer=debtor,
            receivable_kind="loan",
            receivable_id=loan.pk,
            amount=Decimal("500.00"),
            promised_on=PROMISED_ON,
            origin=Origin.AGENT,
            actor=None,
        )

    for _ in range(2):
        payment_event.send(
            sender=Event,
            event=Event.PROMISE,
            portfolio="vigente",
            customer_id=debtor.pk,
            receivable_kind="loan",
            receivable_id=loan.pk,
            instance=promise,
            payment_id=None,
        )

    assert len(sent_by(setting)) == 1


def test_a_setting_of_the_other_portfolio_does_not_answer(
    loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    configure("castigada", EventSetting.Event.PROMISE)

    happen(EventSetting.Event.PROMISE, debtor, loan, cobranzas, django_capture_on_commit_callbacks)

    assert not Message.objects.filter(origin=events.ORIGIN).exists()


def test_a_whatsapp_setting_sends_its_approved_template(
    loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    setting = configure(
        "vigente", EventSetting.Event.PROMISE, channel="whatsapp", whatsapp_name="compromiso_pago"
    )

    happen(EventSetting.Event.PROMISE, debtor, loan, cobranzas, django_capture_on_commit_callbacks)

    (message,) = sent_by(setting)
    assert message.channel == "whatsapp"


@pytest.mark.parametrize(
    ("event", "setting_event"),
    [
        (Event.REJECTED, EventSetting.Event.REJECTED),
        (Event.VERIFIED, EventSetting.Event.VERIFIED),
        (Event.PAYMENT, EventSetting.Event.VERIFIED),
    ],
)
def test_configured_says_whether_the_settings_answer_an_event(db, event, setting_event):
    assert not events.configured("vigente", event)

    configure("vigente", setting_event)

    assert events.configured("vigente", event)
    assert not events.configured("castigada", event)


def test_an_opted_out_debtors_verified_payment_says_once_it_was_not_sent(
    loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    """The review announces the event before its commit and after: the skip was said twice."""
    configure("vigente", EventSetting.Event.VERIFIED)
    Customer.objects.filter(pk=debtor.pk).update(has_opted_out=True)

    happen(EventSetting.Event.VERIFIED, debtor, loan, cobranzas, django_capture_on_commit_callbacks)

    skipped = debtor.interactions.filter(summary__contains="pidió no ser contactado")
    assert skipped.count() == 1
