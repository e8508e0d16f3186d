"""The portal on a cheap phone: a first visit loads no icon font (its icons are inline SVG),
and the debtor reads «cuota inicial», not Chile's «pie»."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.models import AgreementRule
from tests.collections_app.test_portal import (  # noqa: F401 (its fixtures, imported)
    STATEMENT,
    google,
    reachable,
    signed_in,
)

pytestmark = pytest.mark.django_db


def test_the_portal_layout_links_no_icon_font(client):
    response = client.get(reverse("collections_app:portal_identify"))

    assert response.status_code == 200
    assertNotContains(response, "bootstrap-icons")


def test_the_statements_icons_are_inline_svg(reachable, loan):  # noqa: F811 (imported)
    response = signed_in(Client(), reachable).get(STATEMENT)

    assertNotContains(response, "bootstrap-icons")
    assertNotContains(response, '<i class="bi')
    # «Salir» and «Quiero que me llamen» keep their icons, drawn in the page.
    assertContains(response, '<svg xmlns="http://www.w3.org/2000/svg" class="bi bi-box-arrow-right')
    assertContains(response, '<svg xmlns="http://www.w3.org/2000/svg" class="bi bi-telephone')
    assertContains(response, 'aria-hidden="true" focusable="false"', count=3)


def test_an_agreement_asks_for_a_cuota_inicial(reachable, loan):  # noqa: F811 (imported)
    loan.days_past_due = 134
    loan.save()
    AgreementRule.objects.create(
        name="Hasta 3 cuotas", max_installments=3, min_down_payment_percent=Decimal("20")
    )

    response = signed_in(Client(), reachable).get(STATEMENT)

    assertContains(response, "cuota inicial de <span")
    assertNotContains(response, "pie de ")
    assertNotContains(response, " el pie")
