"""On the call page the agent confirms contact data; a registered customer's document or
names change only once the agent confirms each old and new value, and never on a customer
something protects (the agent has not the role)."""

from django.urls import reverse
from pytest_django.asserts import assertContains

from crm.models import Interaction
from tests.callcenter.html import input_values
from tests.factories import LoanFactory


def _contact(lead, **overrides: str) -> dict[str, str]:
    customer = lead.customer
    data = {
        "document_type": customer.document_type,
        "document_number": customer.document_number,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": str(customer.phone),
        "address": customer.address,
        "city": customer.city,
        **overrides,
    }
    return {f"contact-{k}": v for k, v in data.items()}


def test_a_changed_name_is_listed_with_its_old_value_before_it_is_saved(client, agente, held_lead):
    customer = held_lead.customer
    old_name = customer.first_name
    client.force_login(agente)
    url = reverse("callcenter:lead_contact", args=[held_lead.pk])

    refused = client.post(url, _contact(held_lead, first_name="Zoila"))

    assert refused.status_code == 200
    assertContains(refused, f"Nombres: {old_name} → Zoila")
    assertContains(refused, 'name="contact-confirm_identity"')
    customer.refresh_from_db()
    assert customer.first_name == old_name

    key = input_values(refused.content.decode())["contact-identity_key"]
    confirmed = client.post(
        url,
        {
            **_contact(held_lead, first_name="Zoila"),
            "contact-confirm_identity": "on",
            "contact-identity_key": key,
        },
    )

    assert confirmed.status_code == 302
    customer.refresh_from_db()
    assert customer.first_name == "Zoila"
    entry = customer.interactions.filter(kind=Interaction.Kind.SYSTEM).latest("pk")
    assert f"{old_name} → Zoila" in entry.text + entry.summary + str(entry.payload)


def test_a_first_post_with_the_box_ticked_confirms_nothing(client, agente, held_lead):
    customer = held_lead.customer
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:lead_contact", args=[held_lead.pk]),
        {**_contact(held_lead, document_number="09876543"), "contact-confirm_identity": "on"},
    )

    assert response.status_code == 200
    assertContains(response, "Número de documento")
    customer.refresh_from_db()
    assert customer.document_number != "09876543"


def test_contact_data_alone_needs_no_confirmation(client, agente, held_lead):
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:lead_contact", args=[held_lead.pk]),
        _contact(held_lead, phone="987 000 111", address="Jr. Junín 200"),
    )

    assert response.status_code == 302
    held_lead.customer.refresh_from_db()
    assert held_lead.customer.address == "Jr. Junín 200"


def test_the_agent_cannot_change_a_borrowers_names_even_confirming(client, agente, held_lead):
    customer = held_lead.customer
    LoanFactory(customer=customer, payment_code="L000000777")
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:lead_contact", args=[held_lead.pk]),
        {**_contact(held_lead, first_name="Zoila"), "contact-confirm_identity": "on"},
    )

    assert response.status_code == 200
    assertContains(response, "Solo un supervisor o un administrador puede corregirlos")
    customer.refresh_from_db()
    assert customer.first_name != "Zoila"
