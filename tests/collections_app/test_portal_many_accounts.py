"""The portal's statement of a debtor with many accounts: one line an account, the most
urgent first, a page at a time, each account's installments on demand and only the
debtor's own; a debtor with a few accounts reads each whole, as always.
"""

import re
from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app.portal import views as portal_views
from tests.collections_app.conftest import INSTALLMENT, TODAY, pay
from tests.collections_app.test_portal import (
    STATEMENT,
    google,  # noqa: F401 (reCAPTCHA faked, autouse)
    signed_in,
)

HTMX = {"HX-Request": "true"}


@pytest.fixture
def reachable(debtor):
    """The debtor, with an e-mail on file: codes reach them."""
    debtor.email = "deudor@example.pe"
    debtor.save()
    return debtor


def account_url(loan) -> str:
    return reverse("collections_app:portal_account", args=["loan", loan.pk])


def current_loans(make_active_loan, customer, days: list[int]) -> list:
    """Loans that owe nothing overdue on TODAY: their first installment falls due on 1 July
    plus each of `days`."""
    return [
        make_active_loan(
            customer=customer,
            start_date=date(2026, 6, 1),
            first_due_date=date(2026, 7, 1 + day),
        )
        for day in days
    ]


def listed(html: str) -> list[str]:
    """The accounts' element ids, in the order the page lists them."""
    return re.findall(r'<section class="card[^"]*" id="(account-[^"]+)"', html)


def test_a_debtor_with_two_loans_reads_each_whole_as_before(reachable, loan, make_active_loan):
    other = make_active_loan(customer=reachable)
    pay(other, INSTALLMENT, TODAY)
    client = signed_in(Client(), reachable)

    response = client.get(STATEMENT)

    # Each account's installments, the oldest pending one with its «Pagar» button on the
    # account's installment form (money pays the oldest first), the total and the
    # custom-amount forms.
    assertContains(response, 'data-state="overdue"', count=5 + 4)
    assertContains(response, 'data-state="upcoming"', count=7 + 7)
    assertContains(response, 'name="installment_number"', count=1 + 1)
    assertContains(response, 'data-pay="in-order"', count=11 + 10)
    for current in (loan, other):
        assertContains(response, f'<form id="pay-loan-{current.pk}"', count=1)
    for counter in (1, 2):
        assertContains(response, f'id="pay-total-{counter}"', count=1)
        assertContains(response, f'id="pay-custom-{counter}"', count=1)
    assertContains(response, "1 cuota pagada")
    assertNotContains(response, "Ver las cuotas")
    assertNotContains(response, 'id="accounts-summary"')
    assertNotContains(response, "htmx")


def test_a_debtor_with_twelve_loans_reads_one_line_an_account_overdue_first(
    reachable, loan, make_active_loan
):
    # Created latest due first: the page's order is not the loans' own.
    current = current_loans(make_active_loan, reachable, [9, 7, 5, 3, 1, 8, 6, 4, 2, 0])
    overdue = make_active_loan(customer=reachable)
    client = signed_in(Client(), reachable)

    response = client.get(STATEMENT)

    by_due = sorted(current, key=lambda each: each.first_due_date)
    assert listed(response.text) == [f"account-loan-{each.pk}" for each in [loan, overdue, *by_due]]
    # No installment is listed: each line says what it owes, what is overdue and the
    # installment to pay, with its «Pagar» buttons and «Ver las cuotas».
    assertNotContains(response, "data-state=")
    assertContains(response, "Sus 12 cuentas")
    assertContains(response, "Ver las cuotas", count=12)
    assertContains(response, f'href="{account_url(overdue)}"', count=1)
    assertContains(response, 'name="concept" value="installment"', count=12)
    assertContains(response, 'name="concept" value="total"', count=12)
    assertContains(response, f'id="next-installment-loan-{loan.pk}">Cuota 1, vencida el 01/02/2026')
    first = by_due[0]
    assertContains(
        response,
        f'id="next-installment-loan-{first.pk}">Próxima cuota: la 1, vence el 01/07/2026',
    )
    assertContains(response, "vencido: <strong", count=2)
    assertNotContains(response, 'id="accounts-pager"')


def test_the_accounts_come_a_page_at_a_time(reachable, loan, make_active_loan, monkeypatch):
    current = current_loans(make_active_loan, reachable, [0, 1, 2, 3, 4, 5])
    monkeypatch.setattr(portal_views, "ACCOUNTS_PER_PAGE", 4)
    client = signed_in(Client(), reachable)

    first = client.get(STATEMENT)
    second = client.get(STATEMENT + "?pagina=2")

    assert listed(first.text) == [f"account-loan-{each.pk}" for each in [loan, *current[:3]]]
    assert listed(second.text) == [f"account-loan-{each.pk}" for each in current[3:]]
    assertContains(first, 'id="accounts-pager"')
    assertContains(first, 'href="?pagina=2"')
    assertContains(first, "Se muestran de la 1 a la 4 de 7.")
    # The totals are the whole statement's on every page.
    assert first.text.count("Para cancelar todo hoy") == second.text.count("Para cancelar todo hoy")


def test_ver_las_cuotas_brings_that_accounts_installments(reachable, loan, make_active_loan):
    others = current_loans(make_active_loan, reachable, [0, 1, 2, 3, 4, 5])
    pay(loan, INSTALLMENT, TODAY)
    client = signed_in(Client(), reachable)

    fragment = client.get(account_url(loan), headers=HTMX)
    page = client.get(account_url(loan))
    paid = client.get(account_url(loan) + "?pagadas=1", headers=HTMX)

    assert fragment.text.lstrip().startswith(
        f'<section class="card shadow-sm mb-3" id="account-loan-{loan.pk}"'
    )
    assertNotContains(fragment, "<html")
    for response in (fragment, page):
        assertContains(response, loan.payment_code)
        assertContains(response, 'data-state="overdue"', count=4)
        assertContains(response, 'data-state="upcoming"', count=7)
        assertContains(response, 'name="installment_number"', count=1)
        assertContains(response, f'id="pay-total-loan-{loan.pk}"', count=1)
        assertContains(response, f'id="pay-custom-loan-{loan.pk}"', count=1)
        assertContains(response, "1 cuota pagada")
        assertContains(response, f'hx-get="{account_url(loan)}?pagadas=1"')
        for other in others:
            assertNotContains(response, other.payment_code)
    # Without JavaScript, a page of its own, back to the statement.
    assertContains(page, "<html")
    assertContains(page, f'href="{STATEMENT}" id="back-to-statement"')
    assertContains(paid, 'data-state="paid"', count=1)


def test_another_debtors_account_is_not_found(reachable, loan, make_active_loan):
    stranger = make_active_loan()
    client = signed_in(Client(), reachable)

    answers = [
        client.get(account_url(stranger), headers=HTMX),
        client.get(account_url(stranger)),
        client.get(reverse("collections_app:portal_account", args=["loan", 999999])),
        client.get(reverse("collections_app:portal_account", args=["campaign", loan.pk])),
    ]

    assert [answer.status_code for answer in answers] == [404, 404, 404, 404]
    for answer in answers:
        assertNotContains(answer, stranger.payment_code, status_code=404)


def test_an_account_needs_a_proved_code(loan):
    response = Client().get(account_url(loan), headers=HTMX)

    assert response.status_code == 302
    assert response["Location"] == reverse("collections_app:portal_identify")


def test_the_statement_costs_the_same_queries_for_six_accounts_as_for_thirty(
    reachable, loan, make_active_loan
):
    current_loans(make_active_loan, reachable, [0, 1, 2, 3, 4])
    client = signed_in(Client(), reachable)
    client.get(STATEMENT)  # the first view records its step

    with CaptureQueriesContext(connection) as six:
        assertContains(client.get(STATEMENT), "Ver las cuotas", count=6)
    current_loans(make_active_loan, reachable, [day % 28 for day in range(24)])
    with CaptureQueriesContext(connection) as thirty:
        assertContains(client.get(STATEMENT), "Ver las cuotas", count=30)

    assert len(thirty.captured_queries) == len(six.captured_queries)
