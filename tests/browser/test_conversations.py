"""End to end, in the system Chromium on a phone's width: a debtor writes on WhatsApp, the
collections agent finds the conversation unread in the inbox, opens it and answers from
there; the answer is queued as the agent's message to the customer.
"""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from crm import messages
from crm.models import Message
from tests.browser.pages import sign_in
from tests.browser.test_call_center_phone import PHONE, assert_no_sideways_scroll
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.browser


def test_an_agent_answers_an_inbound_whatsapp_from_the_inbox(page: Page, live_server, roles):
    agent = UserFactory(
        username="cobranzas", first_name="Carla", last_name="Ramos", role="Cobranzas"
    )
    rosa = CustomerFactory(
        first_name="Rosa Elvira",
        last_name="Huamán Quispe de la Torre",
        document_number="45678912",
        phone="+51987654321",
    )
    # WhatsApp's webhook brings her message: she is found by her phone.
    messages.record_inbound(
        channel=messages.WHATSAPP,
        provider="whatsapp",
        provider_message_id="wamid.HBgLNTE5ODc2NTQzMjEVAgASGBQzQUVCMDdEQjQ4",
        address="+51987654321",
        body="Hola, quiero pagar mi cuota pero no me llega el link",
    )
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "cobranzas")

    page.goto(f"{live_server.url}{reverse('collections_app:conversation_list')}")
    row = page.locator(f"#conversation-{rosa.pk}")
    expect(row).to_contain_text("Hola, quiero pagar mi cuota")
    expect(row.locator("[data-unread]")).to_have_text("1")
    expect(page.locator("#portfolio-vigente")).to_be_checked()
    assert_no_sideways_scroll(page)

    row.click()
    expect(page.locator("#thread")).to_contain_text("no me llega el link")
    expect(page.locator("#whatsapp-window")).to_contain_text("texto libre")
    assert_no_sideways_scroll(page)
    page.get_by_label("Canal").select_option("whatsapp")
    page.get_by_label("Mensaje", exact=True).fill(
        "Buenos días, Rosa: ya le enviamos el link de pago por correo."
    )
    page.get_by_role("button", name="Enviar").click()

    expect(page.locator("#messages")).to_contain_text("En cola")
    answer = page.locator("#thread > li").last
    expect(answer).to_contain_text("ya le enviamos el link de pago")
    expect(answer).to_contain_text("Carla Ramos")
    assert_no_sideways_scroll(page)
    message = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert message.actor == agent
    assert message.channel == messages.WHATSAPP
    assert message.customer == rosa

    # Back in the inbox the conversation is read, and answered.
    page.goto(f"{live_server.url}{reverse('collections_app:conversation_list')}")
    expect(row).to_contain_text("ya le enviamos el link de pago")
    expect(row.locator("[data-unread]")).to_have_count(0)


def test_the_inbox_stays_one_list_however_many_times_it_refreshes(page: Page, live_server, roles):
    UserFactory(username="cobranzas", role="Cobranzas")
    for n in range(3):
        messages.record_inbound(
            channel=messages.SMS,
            provider="twilio",
            provider_message_id=f"SM{n:032d}",
            address=str(CustomerFactory().phone),
            body=f"Mensaje {n}",
        )
    sign_in(page, live_server, "cobranzas")
    page.goto(f"{live_server.url}{reverse('collections_app:conversation_list')}")
    page.wait_for_load_state("networkidle")
    elements = page.evaluate("document.getElementsByTagName('*').length")

    # What the 30-second poll does, twenty times in a row: the results ask for themselves.
    page.evaluate(
        """async () => {
            for (let n = 0; n < 20; n++) {
                const results = document.querySelector('#conversation-results');
                await htmx.ajax('GET', results.getAttribute('hx-get'), {
                    source: results, target: results, swap: 'outerHTML',
                });
            }
        }"""
    )
    page.wait_for_load_state("networkidle")

    expect(page.locator("#conversation-results")).to_have_count(1)
    expect(page.locator("#conversation-rows > a")).to_have_count(3)
    assert page.evaluate("document.getElementsByTagName('*').length") == elements
