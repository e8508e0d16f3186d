"""The call page's «Confirmar datos» form, sent after someone else changed the customer.

The agent opens the call page; while it is open a supervisor corrects the customer's phone
or e-mail in the CRM; then the agent saves the contact data. Each test loads the page as a
browser does and sends back what its contact form showed, so the stale form carries the
values it was opened with (`lib.stale`, as the CRM's customer form does).
"""

import lxml.html
import pytest
from django.urls import reverse

from crm import services
from crm.models import Interaction

pytestmark = pytest.mark.django_db


def contact_form_shown(client, lead) -> dict[str, str]:
    """Return what the call page's contact form would send untouched."""
    response = client.get(lead.get_absolute_url())
    assert response.status_code == 200
    form = lxml.html.fromstring(response.content.decode()).get_element_by_id("contact-form")
    return dict(form.form_values())


def test_a_stale_contact_form_keeps_the_phone_and_email_a_supervisor_corrected(
    client, agente, supervisor, held_lead
):
    customer = held_lead.customer
    client.force_login(agente)
    shown = contact_form_shown(client, held_lead)

    services.update_customer(
        customer=customer,
        actor=supervisor,
        data={"phone": "+51912345678", "email": "rosa@correo.pe"},
    )
    response = client.post(
        reverse("callcenter:lead_contact", args=[held_lead.pk]),
        {**shown, "contact-address": "Jr. Junín 250"},
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    # The supervisor's correction stays; the agent's own change is saved.
    assert (str(customer.phone), customer.email, customer.address) == (
        "+51912345678",
        "rosa@correo.pe",
        "Jr. Junín 250",
    )


def test_a_stale_contact_form_that_changed_the_same_phone_is_refused_and_saves_nothing(
    client, agente, supervisor, held_lead
):
    customer = held_lead.customer
    client.force_login(agente)
    shown = contact_form_shown(client, held_lead)
    services.update_customer(customer=customer, actor=supervisor, data={"phone": "+51912345678"})
    entries = Interaction.objects.filter(customer=customer).count()

    response = client.post(
        reverse("callcenter:lead_contact", args=[held_lead.pk]),
        {**shown, "contact-phone": "999 111 222", "contact-address": "Jr. Junín 250"},
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Otra persona lo cambió a «+51912345678» mientras usted editaba" in page
    customer.refresh_from_db()
    assert (str(customer.phone), customer.address) == ("+51912345678", "Av. Arequipa 1234")
    assert Interaction.objects.filter(customer=customer).count() == entries
    # The page now holds what is stored: sent again, the agent's number is kept on purpose.
    again = dict(lxml.html.fromstring(page).get_element_by_id("contact-form").form_values())
    saved = client.post(reverse("callcenter:lead_contact", args=[held_lead.pk]), again)
    assert saved.status_code == 302
    customer.refresh_from_db()
    assert (str(customer.phone), customer.address) == ("+51999111222", "Jr. Junín 250")


def test_a_fresh_contact_form_saves_as_before_and_says_what_it_showed(client, agente, held_lead):
    customer = held_lead.customer
    client.force_login(agente)
    shown = contact_form_shown(client, held_lead)
    assert shown["contact-seen_values"], "the page does not say what it showed"

    response = client.post(
        reverse("callcenter:lead_contact", args=[held_lead.pk]),
        {**shown, "contact-phone": "999 111 222", "contact-email": "nuevo@correo.pe"},
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (str(customer.phone), customer.email) == ("+51999111222", "nuevo@correo.pe")
