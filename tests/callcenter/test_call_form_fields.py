"""The call page's form fields: Bootstrap's markup, written without crispy-forms."""

from django.urls import reverse

from callcenter.models import Order
from tests.callcenter.conftest import make_product
from tests.callcenter.html import elements


def test_the_agent_holding_the_lead_sees_labelled_bootstrap_fields(client, agente, held_lead):
    client.force_login(agente)

    page = client.get(held_lead.get_absolute_url()).content.decode()

    assert 'id="div_id_contact-document_number"' in page
    assert (
        '<label for="id_contact-document_number" class="form-label requiredField">'
        'Número de documento<span class="asteriskField">*</span></label>'
    ) in page
    assert 'class="select form-select" id="id_contact-document_type"' in page
    assert 'class="textinput form-control"' in page
    assert 'class="form-text">Ej.: 987 654 321 o +51 987 654 321</div>' in page
    # The outcome is a radio group with its legend, one form-check per option.
    assert '<legend class="form-label requiredField fs-6">Resultado' in page
    assert page.count('class="form-check-input"') == 3
    assert 'class="textarea form-control"' in page


def test_a_rejected_field_says_why_next_to_it(client, agente, held_lead):
    client.force_login(agente)

    response = client.post(
        reverse("callcenter:lead_contact", args=[held_lead.pk]),
        {
            "contact-document_type": "dni",
            "contact-document_number": "",
            "contact-first_name": "Rosa",
            "contact-phone": "12",
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "textinput form-control is-invalid" in page
    assert 'aria-describedby="id_contact-document_number_error"' in page
    assert "<strong>Ingrese el número de documento.</strong>" in page
    assert 'aria-describedby="id_contact-phone_helptext id_contact-phone_error"' in page
    assert "id_contact-phone_error" in elements(page)


def test_delivery_notes_too_long_say_why_next_to_the_box(client, agente, held_lead):
    product = make_product(stock=2)
    client.force_login(agente)
    client.post(
        reverse("callcenter:cart_add", args=[held_lead.pk]), {"product": product.pk, "quantity": 1}
    )

    response = client.post(
        reverse("callcenter:order_confirm", args=[held_lead.pk]), {"notes": "x" * 1001}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "id_notes_error" in elements(page)
    assert "Escriba como máximo 1000 caracteres (tiene 1001)" in page
    assert 'maxlength="1000"' in page
    assert not Order.objects.exists()
