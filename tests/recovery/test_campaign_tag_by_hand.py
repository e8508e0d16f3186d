"""The `Cartera castigada` tag is the campaign's to put on and take off, not a person's.

Taken off by hand while the campaign is active, its customer would enter the current
portfolio's flows (the segments leave out whoever has it).
"""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.strategies.segments import CASTIGADA_TAG
from crm.models import Tag

pytestmark = pytest.mark.django_db


def tag_names(customer) -> set[str]:
    return set(customer.tags.values_list("name", flat=True))


def form_data(customer, **extra) -> dict:
    return {
        "document_type": customer.document_type,
        "document_number": customer.document_number,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": str(customer.phone or ""),
        "email": customer.email or "customer@example.pe",
        **extra,
    }


def test_the_customer_form_neither_offers_nor_drops_the_campaigns_tag(
    admin_client, campaign, debtor
):
    vip = Tag.objects.create(name="VIP")
    castigada = Tag.objects.get(name=CASTIGADA_TAG)
    url = reverse("crm:customer_update", args=[debtor.pk])

    page = admin_client.get(url)
    saved = admin_client.post(url, form_data(debtor, tags=[vip.pk]))

    assertNotContains(page, f'<option value="{castigada.pk}">{CASTIGADA_TAG}</option>')
    assertContains(page, "«Cartera castigada» no se cambia aquí")
    assert saved.status_code == 302
    assert tag_names(debtor) == {"VIP", CASTIGADA_TAG}
    entry = debtor.interactions.latest("pk")
    assert entry.payload["etiquetas"] == f"{CASTIGADA_TAG} → {CASTIGADA_TAG}, VIP"


def test_the_customer_form_refuses_the_tag_for_a_customer_without_a_campaign(admin_client, debtor):
    castigada, _created = Tag.objects.get_or_create(name=CASTIGADA_TAG)

    response = admin_client.post(
        reverse("crm:customer_update", args=[debtor.pk]), form_data(debtor, tags=[castigada.pk])
    )

    assert response.status_code == 200
    assertContains(response, "Elija una opción de la lista.")
    assert CASTIGADA_TAG not in tag_names(debtor)


def test_admin_keeps_the_campaigns_tag_whatever_its_list_says(admin_client, campaign, debtor):
    url = reverse("admin:crm_customer_change", args=[debtor.pk])

    page = admin_client.get(url)
    saved = admin_client.post(
        url,
        {
            **form_data(debtor),
            "phone_secondary": "",
            "tags": [],
            "confirm_identity": "",
            **{f: getattr(debtor, f"{f}_id") or "" for f in ("channel", "branch", "advisor")},
        },
    )

    assertContains(page, "«Cartera castigada» no se cambia aquí")
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert tag_names(debtor) == {CASTIGADA_TAG}
