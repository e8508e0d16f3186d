"""Payments to verify for a screen reader (accessibility pass, F6): a refused rejection says
so at the top and in the title."""

import re

from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from tests.callcenter.html import elements
from tests.collections_app.test_agent_screens import report_of


def _title(response) -> str:
    return re.search(r"<title>(.*?)</title>", response.content.decode(), re.S).group(1).strip()


def test_rejecting_without_a_reason_says_so_at_the_top_and_in_the_title(
    client, cobranzas, loan, debtor
):
    report = report_of(debtor, loan)
    client.force_login(cobranzas)

    response = client.post(
        reverse("collections_app:reported_reject", args=[report.pk]),
        {"reason": "  ", "confirm": "yes"},
    )

    assert _title(response).startswith("Error: Pago a verificar")
    by_id = elements(response.content.decode())
    assert by_id["review-errors"][0]["role"] == "alert"
    assertContains(response, "No se rechazó el pago:")
    page = client.get(reverse("collections_app:reported_detail", args=[report.pk]))
    assert not _title(page).startswith("Error")
    assertNotContains(page, 'id="review-errors"')
