"""The events settings send no message with a blank in it: a template that says another
event's variable is refused when it is chosen, and one whose loan variables have no value
today (the payment settled the loan) is not sent, saying why on the timeline."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains

from collections_app import services
from collections_app.models import EventSetting, Origin, ReportedPayment
from collections_app.strategies import events, variables
from crm.models import Interaction, Message
from tests import receipts
from tests.collections_app.conftest import TO_SETTLE, TODAY
from tests.collections_app.strategies.conftest import make_template

Setting = EventSetting.Event


@pytest.fixture(autouse=True)
def _listening():
    events.connect()


def choose(event, template, portfolio="vigente"):
    return events.save_event_settings(
        choices=[events.Choice(portfolio=portfolio, event=event, template=template, is_active=True)]
    )


# --- Choosing a template for an event --------------------------------------------------------


def test_an_event_refuses_a_template_that_says_another_events_variable(db):
    template = make_template(
        name="Pago verificado SMS", body="{nombre}: su pago de {monto_pago} fue verificado."
    )

    with pytest.raises(ValidationError) as raised:
        choose(Setting.PROMISE, template)

    assert raised.value.message_dict == {
        "vigente__promise__template": [
            "La plantilla «Pago verificado SMS» usa {monto_pago}, que el evento «Compromiso de "
            "pago» no tiene: el mensaje saldría con ese dato en blanco. Este evento tiene "
            "{monto_compromiso}, {fecha_compromiso}."
        ]
    }
    assert not EventSetting.objects.exists()


@pytest.mark.parametrize(
    ("event", "body"),
    [
        (Setting.TO_VERIFY, "Revisaremos su pago. Motivo: {motivo}"),
        (Setting.VERIFIED, "Compromiso de {monto_compromiso} cumplido."),
        (Setting.REJECTED, "Su compromiso del {fecha_compromiso} no se verificó."),
    ],
)
def test_each_event_refuses_the_variables_it_does_not_fill(db, event, body):
    template = make_template(name="Otra", body=body)

    with pytest.raises(ValidationError):
        choose(event, template)


@pytest.mark.parametrize(
    ("event", "body"),
    [
        (Setting.PROMISE, "{nombre}: {monto_compromiso} al {fecha_compromiso}."),
        (Setting.TO_VERIFY, "{nombre}: verificaremos {monto_pago} del {fecha_pago}."),
        (Setting.REJECTED, "{nombre}: {monto_pago} del {fecha_pago} rechazado: {motivo}."),
        (Setting.VERIFIED, "{nombre}: {monto_pago} del {fecha_pago} verificado. Saldo {saldo}."),
    ],
)
def test_each_event_takes_a_template_of_its_own_variables(db, event, body):
    template = make_template(name="Propia", body=body)

    (setting,) = choose(event, template)

    assert setting.template == template


def test_every_event_of_the_settings_says_which_variables_it_fills():
    assert set(variables.EVENT_VARIABLES_OF) == set(Setting.values)
    for filled in variables.EVENT_VARIABLES_OF.values():
        assert filled <= set(variables.EVENT_VARIABLES)


def test_an_e_mails_subject_counts_too(db):
    template = make_template(
        name="Correo",
        channel="email",
        subject="Pago de {monto_pago}",
        body="Hola {nombre}, registramos su compromiso.",
    )

    with pytest.raises(ValidationError):
        choose(Setting.PROMISE, template)


# --- Sending: nothing blank goes out ---------------------------------------------------------


def entries(customer, text):
    return list(
        Interaction.objects.filter(customer=customer, summary__contains=text).values_list(
            "summary", flat=True
        )
    )


def test_a_verified_payment_that_settles_the_loan_sends_no_blank_installment(
    loan, debtor, cobranzas, django_capture_on_commit_callbacks
):
    template = make_template(
        name="Verificado",
        body="{nombre}: verificamos {monto_pago}. Próxima cuota: {cuota} el {fecha_vencimiento}.",
    )
    EventSetting.objects.create(
        portfolio="vigente", event=Setting.VERIFIED, template=template, is_active=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        report = services.report_payment(
            customer=debtor,
            receivable_kind="loan",
            receivable_id=loan.pk,
            amount=TO_SETTLE,
            paid_on=TODAY,
            method=ReportedPayment.Method.TRANSFER,
            receipt=SimpleUploadedFile("r.png", receipts.PNG, content_type="image/png"),
            origin=Origin.PORTAL,
            actor=None,
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_reported_payment(report=report, actor=cobranzas)

    assert not Message.objects.filter(origin=events.ORIGIN).exists()
    # Once, though the review and its announcement after the commit both ask.
    assert entries(debtor, "no se envió la plantilla") == [
        "Evento «Pago verificado total»: no se envió la plantilla «Verificado» porque saldría "
        "incompleta: el cliente no tiene hoy {cuota}, {fecha_vencimiento}."
    ]


def test_a_stored_setting_with_another_events_template_sends_nothing_blank(
    loan, debtor, django_capture_on_commit_callbacks
):
    # Chosen before the settings refused it: the send still checks.
    template = make_template(
        name="Pago verificado SMS", body="{nombre}: su pago de {monto_pago} fue verificado."
    )
    EventSetting.objects.create(
        portfolio="vigente", event=Setting.PROMISE, template=template, is_active=True
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.promise_payment(
            customer=debtor,
            receivable_kind="loan",
            receivable_id=loan.pk,
            amount=Decimal("500.00"),
            promised_on=TODAY + timedelta(days=7),
            origin=Origin.BOT,
            actor=None,
        )

    assert not Message.objects.filter(origin=events.ORIGIN).exists()
    assert entries(debtor, "no se envió la plantilla") == [
        "Evento «Compromiso de pago»: no se envió la plantilla «Pago verificado SMS» porque "
        "saldría incompleta: el cliente no tiene hoy {monto_pago}."
    ]


def test_a_template_with_every_value_still_goes(loan, debtor, django_capture_on_commit_callbacks):
    template = make_template(
        name="Compromiso", body="{nombre}: {monto_compromiso} al {fecha_compromiso}. {cuota}"
    )
    choose(Setting.PROMISE, template)

    with django_capture_on_commit_callbacks(execute=True):
        services.promise_payment(
            customer=debtor,
            receivable_kind="loan",
            receivable_id=loan.pk,
            amount=Decimal("500.00"),
            promised_on=TODAY + timedelta(days=7),
            origin=Origin.BOT,
            actor=None,
        )

    (message,) = Message.objects.filter(origin=events.ORIGIN)
    assert message.body == f"{debtor.first_name}: S/ 500.00 al 22/06/2026. S/ 945.60"
    assert not entries(debtor, "no se envió la plantilla")


def test_the_events_screen_shows_why_it_refuses_the_template(client, cobranzas):
    template = make_template(
        name="Pago verificado SMS", body="{nombre}: su pago de {monto_pago} fue verificado."
    )
    data = {
        f"{portfolio}__{event}__template": ""
        for portfolio in ("vigente", "castigada")
        for event in Setting.values
    }
    data.update({"vigente__promise__template": template.pk, "vigente__promise__active": "on"})
    client.force_login(cobranzas)

    response = client.post(reverse("collections_app:event_settings"), data)

    assertContains(
        response,
        "La plantilla «Pago verificado SMS» usa {monto_pago}, que el evento «Compromiso de "
        "pago» no tiene",
    )
    assert not EventSetting.objects.exists()
