"""Edges of the collections staff screens found by exploring them: absurd amounts, plurals,
errors said once and in words, and figures that add up."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.conversations import selectors as conversation_selectors
from collections_app.conversations import services as conversation_services
from collections_app.conversations.forms import LabelsForm, ReplyForm
from collections_app.forms import LinkForm
from collections_app.models import (
    AgreementRule,
    CallbackRequest,
    EventSetting,
    Flow,
    MessageTemplate,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    ReportedPayment,
    Segment,
)
from collections_app.receivables import open_debts
from collections_app.strategies import segments
from collections_app.strategies.forms import SegmentForm
from crm import messages
from crm.models import Message
from tests.collections_app.conftest import TO_SETTLE, TODAY
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


def _report(agent_client, debtor, loan, amount, **extra):
    return agent_client.post(
        reverse("collections_app:customer_report_create", args=[debtor.pk]),
        {
            "report-debt": f"loan:{loan.pk}",
            "report-amount": amount,
            "report-paid_on": (TODAY - timedelta(days=1)).isoformat(),
            "report-method": "transfer",
            "report-receipt": SimpleUploadedFile("r.pdf", PDF, content_type="application/pdf"),
            **extra,
        },
    )


# --- A reported payment far above the debt ------------------------------------------------


def test_an_agent_cannot_report_ten_billion_on_a_small_debt_without_saying_so(
    agent_client, loan, debtor
):
    response = _report(agent_client, debtor, loan, "10000000000")

    assert response.status_code == 200
    assertContains(response, "El monto supera la deuda: S/ 10,970.27 la cancelan hoy.")
    assertContains(response, "El cliente pagó más de lo que debe")
    assert not ReportedPayment.objects.exists()


def test_an_agent_reports_a_real_overpayment_by_ticking_the_box(agent_client, loan, debtor):
    amount = TO_SETTLE + Decimal("50.00")

    response = _report(
        agent_client, debtor, loan, str(amount), **{"report-accept_overpayment": "on"}
    )

    assert response.status_code == 302
    assert ReportedPayment.objects.get().amount == amount


def test_a_report_up_to_the_debt_needs_no_box(agent_client, loan, debtor):
    response = _report(agent_client, debtor, loan, str(TO_SETTLE))

    assert response.status_code == 302
    assert ReportedPayment.objects.get().amount == TO_SETTLE


def test_the_overpayment_box_is_not_offered_before_it_is_needed(agent_client, loan, debtor):
    page = agent_client.get(reverse("collections_app:customer_collections", args=[debtor.pk]))

    assertNotContains(page, "report-accept_overpayment")


# --- Errors said once, in words ------------------------------------------------------------


def test_a_wrong_installment_number_is_not_also_called_missing(loan):
    debts = open_debts(loan.customer_id, TODAY)
    form = LinkForm(
        data={
            "debt": f"loan:{loan.pk}",
            "concept": PaymentLink.Concept.INSTALLMENT,
            "installment_number": "0",
            "provider": "mercadopago",
        },
        debts=debts,
    )

    assert form.errors["installment_number"] == [
        "Asegúrese de que este valor es mayor o igual a 1."
    ]


def test_a_reply_with_a_template_that_is_gone_is_not_also_called_empty():
    form = ReplyForm(
        data={"channel": "whatsapp", "body": "", "template": "99999"},
        channels=[("whatsapp", "WhatsApp")],
    )

    assert form.errors == {"template": ["Esa plantilla ya no está activa."]}


def test_a_label_that_is_not_a_number_is_refused_in_words():
    form = LabelsForm(data={"labels": ["x"]})

    assert form.errors["labels"] == ["Una de las etiquetas ya no existe."]


def test_a_segment_product_that_is_not_a_number_is_refused_in_words():
    form = SegmentForm(data={"name": "Raros", "products": ["1e309"]})

    assert form.errors["products"] == ["Elija de la lista."]


# --- Plurals -------------------------------------------------------------------------------


def test_a_segment_of_one_day_reads_in_the_singular():
    segment = Segment.objects.create(name="Recientes", no_contact_days=1, contacted_within_days=1)

    lines = segments.describe(segment)

    assert "Sin contacto en el último día" in lines
    assert "Con contacto en el último día" in lines


def test_a_segment_used_by_one_flow_names_it_in_the_singular():
    segment = Segment.objects.create(name="Morosos")
    Flow.objects.create(name="Recordatorio", segment=segment)

    problem = segments.deletion_problem(segment)

    assert problem.startswith("No se puede eliminar el segmento: lo usa el flujo «Recordatorio».")


def test_one_attribution_day_reads_in_the_singular(agent_client):
    response = agent_client.get(reverse("collections_app:effectiveness"), {"days": "1"})

    assertContains(response, "hasta 1 día después.")


# --- Figures that add up, and names as brands write them -----------------------------------


def test_an_agreement_option_shows_its_last_installment_when_rounding_changed_it(
    agent_client, loan, debtor
):
    AgreementRule.objects.create(
        name="Cuatro pagos",
        # The down payment (the least link, S/ 10.00) and three installments that do not
        # split the rest evenly in cents.
        max_installments=4,
        min_down_payment_percent=Decimal("0"),
        late_interest_discount_percent=Decimal("0"),
        days_between_installments=1,
        is_active=True,
    )
    loan.days_past_due = 134
    loan.save(update_fields=["days_past_due"])

    page = agent_client.get(reverse("collections_app:customer_collections", args=[debtor.pk]))

    option = next(
        o for debt, found in page.context["options"] for o in found if o.installments == 4
    )
    parts = (
        option.down_payment
        + option.installment_amount * 2
        + (option.last_installment_amount or option.installment_amount)
    )
    assert option.last_installment_amount is not None
    assert parts == option.total
    assertContains(page, "la última")
    assertContains(
        page, "Regla «Cuatro pagos»: el pie se paga con un link; luego una cuota cada día."
    )


def test_a_payment_link_shows_its_gateway_by_name(agent_client, loan, debtor):
    PaymentLink.objects.create(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=loan.payment_code,
        reference="PL-1",
        concept=PaymentLink.Concept.TOTAL,
        amount=Decimal("10.00"),
        provider="mercadopago",
        status=PaymentLink.Status.ACTIVE,
        expires_at=timezone.now() + timedelta(days=3),
    )

    for url in (
        reverse("collections_app:link_list"),
        reverse("collections_app:customer_collections", args=[debtor.pk]),
    ):
        page = agent_client.get(url)
        assertContains(page, "· MercadoPago")
        assertNotContains(page, "mercadopago ·")
        assertNotContains(page, "· mercadopago")


def test_a_customer_without_debts_has_no_overpayment_to_report(agent_client):
    customer = CustomerFactory()

    page = agent_client.get(reverse("collections_app:customer_collections", args=[customer.pk]))

    assertContains(page, "Sin deudas pendientes.")


# --- A template reply that would go out with blanks ----------------------------------------


def _reply_with(customer, user, body):
    template = MessageTemplate.objects.create(
        name="Vence hoy", channel=MessageTemplate.Channel.SMS, body=body
    )
    messages.record_inbound(
        customer=customer,
        channel=messages.SMS,
        provider="fake",
        provider_message_id="in-1",
        address=str(customer.phone),
        body="Hola",
    )
    return conversation_services.reply(
        conversation_selectors.conversation_for(user, customer.pk),
        channel=messages.SMS,
        body="",
        template=template,
        actor=user,
    )


def test_a_template_reply_whose_variables_the_customer_lacks_is_refused(cobranzas):
    customer = CustomerFactory(phone="+51987654321")

    with pytest.raises(ValidationError) as refused:
        _reply_with(customer, cobranzas, "Hola {nombre}, hoy vence su cuota de {cuota}.")

    assert refused.value.message_dict["template"] == [
        "La plantilla saldría incompleta: este cliente no tiene hoy {cuota}. Elija otra "
        "plantilla o escriba el mensaje."
    ]
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_a_template_reply_goes_when_the_customer_has_every_value(cobranzas, loan, debtor):
    debtor.phone = "+51987654321"
    debtor.save(update_fields=["phone"])

    sending = _reply_with(debtor, cobranzas, "Hola {nombre}, su cuota: {cuota}.")

    assert sending.message.body.startswith(f"Hola {debtor.first_name}, su cuota: S/ ")


# --- Closed records: said once, and nothing to confirm ---------------------------------------


def test_a_broken_promise_is_not_offered_a_confirmation_to_cancel_it(agent_client, loan, debtor):
    promise = PaymentPromise.objects.create(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=loan.payment_code,
        amount=Decimal("100.00"),
        promised_on=TODAY - timedelta(days=2),
        status=PaymentPromise.Status.BROKEN,
    )
    url = reverse("collections_app:promise_cancel", args=[promise.pk])

    first = agent_client.post(url, {"reason": "x"})
    confirmed = agent_client.post(url, {"reason": "x", "confirm": "yes"})

    assertNotContains(first, "¿Anular este compromiso de pago?")
    assertContains(confirmed, "Este compromiso ya no está vigente.", count=1)


def test_a_closed_callback_says_so_once(agent_client, debtor):
    callback = CallbackRequest.objects.create(
        customer=debtor, phone="+51987654321", status=CallbackRequest.Status.DONE
    )

    response = agent_client.post(
        reverse("collections_app:callback_close", args=[callback.pk]),
        {"status": "done", "outcome": "otra vez"},
    )

    assertContains(response, "Este pedido ya fue cerrado.", count=1)


@pytest.mark.parametrize("action", ["reported_approve", "reported_reject"])
def test_a_payment_reviewed_meanwhile_is_not_offered_a_confirmation(
    agent_client, loan, debtor, action
):
    report = ReportedPayment.objects.create(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=loan.payment_code,
        amount=Decimal("100.00"),
        paid_on=TODAY,
        method=ReportedPayment.Method.TRANSFER,
        status=ReportedPayment.Status.REJECTED,
    )

    response = agent_client.post(
        reverse(f"collections_app:{action}", args=[report.pk]), {"reason": "Otra vez"}
    )

    assert response.status_code == 200
    assertNotContains(response, 'name="confirm"')
    assertContains(response, "Este pago ya fue revisado.", count=1)


def test_an_agreements_installment_offers_no_cancel_and_says_why(agent_client, loan, debtor):
    agreement = PaymentAgreement.objects.create(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=loan.payment_code,
        rule=AgreementRule.objects.create(name="Corto", max_installments=2),
        installments=2,
        debt_amount=Decimal("200.00"),
        discount_amount=Decimal("0.00"),
        down_payment=Decimal("100.00"),
        installment_amount=Decimal("100.00"),
        status=PaymentAgreement.Status.ACTIVE,
    )
    promise = PaymentPromise.objects.create(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=loan.payment_code,
        amount=Decimal("100.00"),
        promised_on=TODAY + timedelta(days=30),
        agreement=agreement,
    )
    cancel_url = reverse("collections_app:promise_cancel", args=[promise.pk])

    listed = agent_client.get(reverse("collections_app:promise_list"), {"view": ""})
    asked = agent_client.post(cancel_url, {"reason": "x"})

    assertNotContains(listed, cancel_url)
    assertNotContains(asked, "¿Anular este compromiso de pago?")
    assertContains(
        asked, f"Es una cuota del convenio #{agreement.pk}: se resuelve con el convenio."
    )


# --- The review says how the debtor will hear of it -----------------------------------------


def _pending_report(debtor, loan):
    return ReportedPayment.objects.create(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=loan.payment_code,
        amount=Decimal("100.00"),
        paid_on=TODAY,
        method=ReportedPayment.Method.TRANSFER,
    )


def _rejection_template(body):
    template = MessageTemplate.objects.create(
        name="Pago no verificado",
        channel=MessageTemplate.Channel.WHATSAPP,
        body=body,
        whatsapp_name="pago_no_verificado",
    )
    EventSetting.objects.create(
        portfolio="vigente", event="rejected", template=template, is_active=True
    )


def test_without_a_template_for_the_event_the_debtor_hears_by_email(agent_client, loan, debtor):
    report = _pending_report(debtor, loan)

    page = agent_client.get(reverse("collections_app:reported_detail", args=[report.pk]))

    assertContains(page, "Se avisará al cliente por correo, si tiene correo")


def test_a_rejection_names_the_channel_of_the_events_template(agent_client, loan, debtor):
    _rejection_template("{nombre}, no verificamos su pago. Motivo: {motivo}.")
    report = _pending_report(debtor, loan)

    page = agent_client.get(reverse("collections_app:reported_detail", args=[report.pk]))
    asked = agent_client.post(
        reverse("collections_app:reported_reject", args=[report.pk]), {"reason": "Ilegible"}
    )

    for response in (page, asked):
        assertContains(
            response, "Se avisará al cliente por WhatsApp con la plantilla «Pago no verificado»"
        )
        assertNotContains(response, "por correo")
        assertNotContains(response, "no incluye el motivo")


def test_a_rejection_warns_when_the_template_leaves_the_reason_out(agent_client, loan, debtor):
    _rejection_template("{nombre}, no pudimos verificar su pago.")
    report = _pending_report(debtor, loan)

    asked = agent_client.post(
        reverse("collections_app:reported_reject", args=[report.pk]), {"reason": "Ilegible"}
    )

    assertContains(asked, "Esa plantilla no incluye el motivo: el cliente no lo verá.")
