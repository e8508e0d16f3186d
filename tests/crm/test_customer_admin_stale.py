"""The admin's Customer change page, sent after someone else changed the customer.

Each test opens the page as a browser does and sends back what it showed, so a stale page
carries the values it was opened with (`lib.stale`, as the CRM's customer form does).
"""

import pytest
from django.urls import reverse

from crm import services
from crm.models import Interaction
from tests.factories import CustomerFactory
from tests.test_lost_updates import changed, shown_form, shown_form_of

pytestmark = pytest.mark.django_db


def test_a_stale_admin_page_keeps_the_name_another_person_changed(admin_client, supervisor):
    customer = CustomerFactory(first_name="Daniela", last_name="Paz", city="Lima")
    url = reverse("admin:crm_customer_change", args=[customer.pk])
    stale = shown_form(admin_client, url)

    services.update_customer(
        customer=customer, actor=supervisor, data={"first_name": "Daniela Alejandra"}
    )
    response = admin_client.post(url, changed(stale, city="Arequipa"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.first_name, customer.city) == ("Daniela Alejandra", "Arequipa")


def test_a_stale_admin_page_that_changed_the_same_name_is_refused_and_saves_nothing(
    admin_client, supervisor
):
    customer = CustomerFactory(first_name="Daniela", last_name="Paz", city="Lima")
    url = reverse("admin:crm_customer_change", args=[customer.pk])
    stale = shown_form(admin_client, url)
    services.update_customer(
        customer=customer, actor=supervisor, data={"first_name": "Daniela Alejandra"}
    )
    entries = Interaction.objects.filter(customer=customer).count()

    refused = admin_client.post(url, changed(stale, first_name="Dani", city="Arequipa"))

    assert refused.status_code == 200
    page = refused.content.decode()
    assert "Otra persona lo cambió a «Daniela Alejandra» mientras usted editaba" in page
    customer.refresh_from_db()
    assert (customer.first_name, customer.city) == ("Daniela Alejandra", "Lima")
    assert Interaction.objects.filter(customer=customer).count() == entries
    # The page now holds what is stored: sent again, the admin's name is kept on purpose.
    again = [(name, value) for name, value in shown_form_of(refused) if name != "_continue"]
    saved = admin_client.post(url, changed(again, first_name="Dani", city="Arequipa"))
    assert saved.status_code == 302
    customer.refresh_from_db()
    assert (customer.first_name, customer.city) == ("Dani", "Arequipa")


def test_a_fresh_admin_page_saves_as_before_and_says_what_it_showed(admin_client):
    customer = CustomerFactory(first_name="Daniela", last_name="Paz", city="Lima")
    url = reverse("admin:crm_customer_change", args=[customer.pk])
    fields = shown_form(admin_client, url)
    seen = [value for name, value in fields if name == "seen_values"]
    assert len(seen) == 1 and seen[0], "the page does not say, once, what it showed"

    response = admin_client.post(url, changed(fields, first_name="Dani", city="Arequipa"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.first_name, customer.city) == ("Dani", "Arequipa")
