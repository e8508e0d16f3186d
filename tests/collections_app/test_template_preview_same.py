"""The template preview writes a debtor's message as a flow step sends it: about one loan's
installment, not all their loans taken together (a debtor with two loans read another
installment, amount and codes in the preview than in the message)."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.strategies import flows
from crm.models import Message
from tests.collections_app.conftest import TODAY
from tests.collections_app.strategies.conftest import make_template
from tests.collections_app.strategies.flow_fixtures import debtor_due, make_flow, whole_portfolio

BODY = "Hola {nombre}, su cuota de {cuota} del {fecha_vencimiento}: {codigo_pago}"


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


def _preview(client, document: str, body: str):
    data = {
        "name": "Rec",
        "channel": "sms",
        "portfolio": "vigente",
        "subject": "",
        "body": body,
        "whatsapp_name": "",
        "whatsapp_language": "es",
        "is_active": "on",
        "preview_customer": document,
    }
    return client.post(
        reverse("collections_app:template_preview"), data, headers={"HX-Request": "true"}
    )


def test_the_preview_of_a_debtor_with_two_loans_is_the_message_the_flow_sends(agent_client):
    first = debtor_due(-5, first_name="Ana", document_number="70000001")
    second = debtor_due(-40, customer=first.customer)
    template = make_template(name="Rec", body=BODY)
    flow = make_flow(whole_portfolio(), [(5, template)])
    flows.run_step(flow.steps.get(), TODAY)
    sent = Message.objects.get(origin=flows.ORIGIN).body

    response = _preview(agent_client, "70000001", BODY)

    assertContains(response, sent)
    assertNotContains(response, second.payment_code)
    assertContains(
        response,
        "El cliente tiene 2 créditos vigentes y un flujo le envía un mensaje por cuota: esta "
        f"vista usa la cuota del crédito {first.payment_code} que vence el 10/06/2026.",
    )


def test_the_preview_recipient_is_the_installment_due_nearest_today(db):
    later = debtor_due(10, first_name="Ana")
    overdue = debtor_due(-3, customer=later.customer)

    recipient = flows.preview_recipient(later.customer, TODAY)

    assert (recipient.receivable_id, recipient.due_date) == (
        overdue.pk,
        overdue.installments.order_by("due_date").first().due_date,
    )
