"""A lead that matches a CRM customer is that customer only once an agent confirms it.

The story behind these tests: a borrower (Carmen Quispe, DNI 41234567, with loans) shares
her phone with a relative who writes to the shop on Facebook. The relative's lead arrives
from Kommo with that phone.
"""

from urllib.parse import urlencode

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from callcenter.models import CallRecord, Lead, Order
from callcenter.services import calls as call_services
from crm.models import Customer, Interaction
from tests.callcenter.conftest import PIPELINE, QUEUE_STATUS, SECRET, make_lead, make_product
from tests.callcenter.html import input_values
from tests.factories import CustomerFactory, InteractionFactory

WEBHOOK = reverse("callcenter:kommo_webhook", args=[SECRET])
SHARED_PHONE = "+51987111222"


@pytest.fixture
def borrower(db) -> Customer:
    customer = CustomerFactory(
        first_name="Carmen",
        last_name="Quispe Mamani",
        document_number="41234567",
        phone=SHARED_PHONE,
        address="Jr. Ayacucho 410, Breña",
    )
    InteractionFactory(
        customer=customer,
        kind=Interaction.Kind.PAYMENT,
        summary="Pago de la cuota 3 del crédito 1042: PEN 850.00",
    )
    return customer


def _kommo_lead(*, lead_id: int = 25399013, **fields: str) -> bytes:
    """Return a Kommo «lead moved to Para Llamar» webhook body with these custom fields."""
    prefix = "leads[status][0]"
    pairs: list[tuple[str, object]] = [
        (f"{prefix}[id]", lead_id),
        (f"{prefix}[name]", "Pedido web"),
        (f"{prefix}[status_id]", QUEUE_STATUS),
        (f"{prefix}[pipeline_id]", PIPELINE),
        (f"{prefix}[last_modified]", 1795269600),
        (f"{prefix}[account_id]", 31361463),
    ]
    for i, (name, value) in enumerate(fields.items()):
        pairs += [
            (f"{prefix}[custom_fields][{i}][id]", 1000 + i),
            (f"{prefix}[custom_fields][{i}][name]", name),
            (f"{prefix}[custom_fields][{i}][values][0][value]", value),
        ]
    pairs += [("account[subdomain]", "cartera"), ("account[id]", 31361463)]
    return urlencode(pairs).encode()


@pytest.fixture
def relative_lead(client, queue_config, borrower, django_capture_on_commit_callbacks) -> Lead:
    """The relative's lead, delivered by Kommo with the borrower's phone and nothing else."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            WEBHOOK,
            data=_kommo_lead(Nombre="Lucía Quispe", Teléfono="987 111 222"),
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 200
    return Lead.objects.get(kommo_id=25399013)


@pytest.fixture
def taken(relative_lead, agente) -> Lead:
    call_services.take_lead(lead=relative_lead, agent=agente)
    relative_lead.refresh_from_db()
    return relative_lead


def _contact(**overrides: str) -> dict[str, str]:
    data = {
        "contact-document_type": "dni",
        "contact-document_number": "72345678",
        "contact-first_name": "Lucía",
        "contact-last_name": "Quispe Rojas",
        "contact-phone": "987 111 222",
        "contact-address": "Av. Brasil 1500, Jesús María",
        "contact-city": "Lima",
    }
    data.update({f"contact-{k}": v for k, v in overrides.items()})
    return data


def test_it_suggests_but_does_not_link_the_customer_a_new_lead_matches_by_phone(
    relative_lead, borrower
):
    assert relative_lead.customer is None
    assert relative_lead.suggested_customer == borrower
    assert relative_lead.suggested_by == Lead.Match.PHONE
    assert not borrower.interactions.filter(summary__contains="cola de llamadas").exists()


def test_it_opens_a_phone_matched_lead_without_the_customers_data_or_history(
    client, agente, taken, borrower
):
    client.force_login(agente)

    page = client.get(taken.get_absolute_url()).content.decode()

    filled = input_values(page)
    assert filled["contact-document_number"] == ""
    assert filled["contact-first_name"] == "Lucía"
    assert filled["contact-address"] != borrower.address
    assert "Pago de la cuota 3" not in page
    # What the agent compares before confirming: both records, side by side.
    match_card = page[page.index('id="match-card"') :]
    assert "Lucía Quispe" in match_card and "Carmen Quispe Mamani" in match_card
    assert "41234567" in match_card


def test_it_does_not_rewrite_a_borrowers_identity_when_the_caller_is_someone_else(
    client, agente, taken, borrower
):
    client.force_login(agente)

    response = client.post(reverse("callcenter:lead_contact", args=[taken.pk]), _contact())

    assert response.status_code == 302
    borrower.refresh_from_db()
    assert (borrower.document_number, borrower.last_name) == ("41234567", "Quispe Mamani")
    assert borrower.address == "Jr. Ayacucho 410, Breña"
    taken.refresh_from_db()
    assert taken.customer.document_number == "72345678"
    assert taken.customer != borrower
    assert taken.suggested_customer is None


def test_it_refuses_an_order_until_the_phone_match_is_confirmed(agente, taken):
    product = make_product(stock=3)

    with pytest.raises(ValidationError, match="Confirme antes si la persona es el cliente"):
        call_services.confirm_order(
            lead=taken, agent=agente, lines=[call_services.CartLine(product.pk, 1)]
        )

    assert Order.objects.count() == 0


def test_an_order_after_the_agent_confirms_the_match_ships_to_that_customer(
    client, agente, taken, borrower
):
    client.force_login(agente)
    client.post(
        reverse("callcenter:lead_match_confirm", args=[taken.pk]), {"customer": borrower.pk}
    )
    product = make_product(stock=3)

    order = call_services.confirm_order(
        lead=taken, agent=agente, lines=[call_services.CartLine(product.pk, 1)]
    )

    assert order.customer == borrower


def test_confirming_the_match_links_the_lead_and_lands_on_the_customers_timeline(
    agente, taken, borrower
):
    lead = call_services.confirm_customer_match(lead=taken, agent=agente, customer_id=borrower.pk)

    assert lead.customer == borrower and lead.suggested_customer is None
    entry = borrower.interactions.get(summary__contains="confirmado en la llamada")
    assert "teléfono" in entry.summary
    assert entry.actor == agente
    assert entry.payload["teléfono"] == taken.phone
    borrower.refresh_from_db()
    assert borrower.last_name == "Quispe Mamani"


def test_rejecting_the_match_leaves_the_customer_alone_and_notes_it_on_their_timeline(
    client, agente, taken, borrower
):
    client.force_login(agente)

    client.post(reverse("callcenter:lead_match_reject", args=[taken.pk]), {"customer": borrower.pk})

    taken.refresh_from_db()
    assert taken.customer is None and taken.suggested_customer is None
    entry = borrower.interactions.get(summary__contains="es otra persona")
    assert entry.actor == agente
    page = client.get(taken.get_absolute_url()).content.decode()
    assert 'id="match-card"' not in page


def test_it_refuses_to_confirm_a_customer_the_lead_does_not_suggest(agente, taken):
    stranger = CustomerFactory()

    with pytest.raises(ValidationError, match="La coincidencia con el cliente cambió"):
        call_services.confirm_customer_match(lead=taken, agent=agente, customer_id=stranger.pk)

    taken.refresh_from_db()
    assert taken.customer is None


def test_it_suggests_instead_of_updating_the_customer_whose_document_the_agent_typed(
    client, agente, queue_config, borrower
):
    lead = make_lead(contact_name="Lucía Quispe", taken_by=agente, taken_at=timezone.now())
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:lead_contact", args=[lead.pk]),
        _contact(document_number="41234567"),
        follow=True,
    )

    assert "Ese documento ya es de un cliente registrado" in response.content.decode()
    borrower.refresh_from_db()
    assert (borrower.first_name, borrower.last_name) == ("Carmen", "Quispe Mamani")
    assert borrower.address == "Jr. Ayacucho 410, Breña"
    lead.refresh_from_db()
    assert lead.customer is None
    assert (lead.suggested_customer, lead.suggested_by) == (borrower, Lead.Match.DOCUMENT)


def test_a_linked_lead_cannot_take_another_customers_document(client, agente, held_lead, borrower):
    customer = held_lead.customer
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:lead_contact", args=[held_lead.pk]),
        _contact(
            document_number="41234567",
            first_name=customer.first_name,
            last_name=customer.last_name,
            phone=str(customer.phone),
        ),
    )

    assert response.status_code == 200
    assert "Ya existe un cliente con ese tipo y número de documento" in response.content.decode()
    borrower.refresh_from_db()
    assert (borrower.first_name, borrower.address) == ("Carmen", "Jr. Ayacucho 410, Breña")
    customer.refresh_from_db()
    assert customer.document_number != "41234567"


def test_confirming_unchanged_data_lands_on_the_customers_timeline(client, agente, held_lead):
    customer = held_lead.customer
    client.force_login(agente)

    client.post(
        reverse("callcenter:lead_contact", args=[held_lead.pk]),
        _contact(
            document_type=customer.document_type,
            document_number=customer.document_number,
            first_name=customer.first_name,
            last_name=customer.last_name,
            phone=str(customer.phone),
            address=customer.address,
            city=customer.city,
        ),
    )

    entry = customer.interactions.get(summary__startswith="Datos confirmados en la llamada")
    assert entry.actor == agente


def test_the_call_page_shows_the_call_centers_history_not_the_credit_history(
    client, agente, agente2, held_lead
):
    customer = held_lead.customer
    InteractionFactory(
        customer=customer, kind=Interaction.Kind.PAYMENT, summary="Pago de la cuota 7: PEN 420.00"
    )
    earlier = make_lead(customer=customer, in_queue=False, state=Lead.State.NOT_INTERESTED)
    CallRecord.objects.create(
        lead=earlier, agent=agente2, outcome=CallRecord.Outcome.NOT_INTERESTED, notes="Sin tiempo"
    )
    client.force_login(agente)

    page = client.get(held_lead.get_absolute_url()).content.decode()

    history = page[page.index('id="history-card"') :]
    assert "Sin tiempo" in history and "Luis Ramos" in history
    assert "Pago de la cuota 7" not in page
