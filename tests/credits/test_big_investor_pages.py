"""A large investor's pages: a page of participations and of liquidation lines on screen,
every line in the print version, for the same number of queries however many there are."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.template.defaultfilters import floatformat
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from credits.investors import services as investor_services
from credits.models import Distribution, Liquidation, Loan, Participation, Payment
from credits.services import payments as payment_services
from tests.factories import InvestorFactory, LoanFactory, LoanProductFactory

LIMA = ZoneInfo("America/Lima")
HTMX = {"HX-Request": "true"}
START = datetime(2026, 1, 1, 10, tzinfo=LIMA)


def _funded(investor, count: int) -> list[Participation]:
    """`count` active loans of 1,000 each, funded half by `investor`, a day apart (oldest first)."""
    participations = []
    for k in range(count):
        loan = LoanFactory(status=Loan.Status.ACTIVE, principal=Decimal("1000.00"))
        participations.append(
            Participation(
                investor=investor,
                loan=loan,
                amount=Decimal("500.00"),
                share=Decimal("50"),
                created_at=START + timedelta(days=k),
            )
        )
    return Participation.objects.bulk_create(participations)


def _liquidated(count: int) -> Liquidation:
    """A liquidation of `count` lines, one per loan and payment, 1.00 + k net each."""
    investor = InvestorFactory()
    liquidation = Liquidation.objects.create(
        investor=investor, period_start=date(2026, 1, 1), period_end=date(2026, 12, 31)
    )
    lines = []
    for k, participation in enumerate(_funded(investor, count)):
        payment = Payment.objects.create(
            loan=participation.loan,
            amount=Decimal("100.00"),
            received_on=date(2026, 1, 1) + timedelta(days=k),
            source=Payment.Source.CASH,
        )
        lines.append(
            Distribution(
                payment=payment,
                participation=participation,
                investor=investor,
                principal=Decimal(k),
                interest=Decimal("1.10"),
                platform_fee=Decimal("0.10"),
                net=Decimal(k) + 1,
                liquidation=liquidation,
                value_date=payment.received_on,
                created_at=START + timedelta(days=k),
            )
        )
    Distribution.objects.bulk_create(lines)
    # The statement's totals are the liquidation's own fields, as create_liquidation stores them.
    liquidation.principal = sum(line.principal for line in lines)
    liquidation.interest = sum(line.interest for line in lines)
    liquidation.platform_fee = sum(line.platform_fee for line in lines)
    liquidation.net_amount = sum(line.net for line in lines)
    liquidation.save()
    return liquidation


def _codes(liquidation: Liquidation) -> list[str]:
    return list(
        liquidation.lines.order_by("created_at", "id").values_list(
            "participation__loan__payment_code", flat=True
        )
    )


def _queries(client, url: str, params: dict) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


# --- The liquidation's statement -----------------------------------------------------------


def test_the_statement_screen_shows_a_page_of_lines_its_pager_and_every_total(client, supervisor):
    liquidation = _liquidated(60)
    codes = _codes(liquidation)
    client.force_login(supervisor)

    response = client.get(liquidation.get_absolute_url())

    for code in codes[:50]:
        assertContains(response, f"<td>{code}</td>", count=1)
    for code in codes[50:]:
        assertNotContains(response, code)
    assertContains(response, "Líneas 1 a 50 de 60 · página 1 de 2")
    assertContains(response, f"{liquidation.get_absolute_url()}?page=2")
    # The totals are all 60 lines', on every page: 1,770.00 principal, 1,830.00 net.
    assertContains(response, '<td class="text-end" data-total="principal">1,770.00</td>', html=True)
    assertContains(response, '<td class="text-end" data-total="net">1,830.00</td>', html=True)
    # Printing this screen would leave lines out: the button opens the whole statement.
    assertNotContains(response, "data-print")
    assertContains(response, f'href="{liquidation.get_absolute_url()}?print=1"')


def test_the_next_page_of_lines_comes_as_a_fragment_through_htmx(client, supervisor):
    liquidation = _liquidated(60)
    codes = _codes(liquidation)
    client.force_login(supervisor)

    response = client.get(
        liquidation.get_absolute_url(),
        {"page": 2},
        headers={**HTMX, "HX-Target": "liquidation-lines"},
    )

    assertTemplateUsed(response, "credits/partials/liquidation_lines.html")
    assertNotContains(response, 'class="navbar')
    assertNotContains(response, codes[49])
    for code in codes[50:]:
        assertContains(response, f"<td>{code}</td>", count=1)
    assertContains(response, "Líneas 51 a 60 de 60 · página 2 de 2")
    assertContains(response, '<td class="text-end" data-total="net">1,830.00</td>', html=True)


def test_the_print_view_shows_every_line_in_order(client, supervisor):
    liquidation = _liquidated(60)
    codes = _codes(liquidation)
    client.force_login(supervisor)

    response = client.get(liquidation.get_absolute_url(), {"print": "1"})

    html = response.content.decode()
    positions = [html.index(f"<td>{code}</td>") for code in codes]
    assert positions == sorted(positions)
    assertNotContains(response, "Líneas 1 a")
    assertContains(response, '<td class="text-end" data-total="net">1,830.00</td>', html=True)


@pytest.mark.parametrize("params", [{}, {"print": "1"}], ids=["screen", "print"])
def test_the_statement_costs_the_same_queries_for_3_or_60_lines(client, supervisor, params):
    few, many = _liquidated(3), _liquidated(60)
    client.force_login(supervisor)
    client.get(few.get_absolute_url(), params)  # the session, once

    assert _queries(client, few.get_absolute_url(), params) == _queries(
        client, many.get_absolute_url(), params
    )


def test_the_print_view_writes_each_line_as_the_statement_always_did(
    client, supervisor, make_active_loan, time_machine
):
    # Two payments and the annulment of the second, through the services.
    time_machine.move_to(START, tick=False)
    product = LoanProductFactory(method="flat", platform_fee_percent=Decimal("10"))
    loan = make_active_loan(product=product, principal=Decimal("10000.00"))
    lucia = InvestorFactory(name="Lucía Paredes")
    investor_services.add_participation(loan=loan, investor=lucia, actor=None, share=Decimal("60"))
    payments = []
    for day in (date(2026, 2, 1), date(2026, 3, 1)):
        time_machine.move_to(datetime.combine(day, START.timetz()), tick=False)
        payments.append(
            payment_services.apply_payment(
                loan=loan,
                amount=Decimal("1033.33"),
                received_on=day,
                source=Payment.Source.TRANSFER,
                actor=None,
            )
        )
    time_machine.move_to(datetime(2026, 3, 5, 10, tzinfo=LIMA), tick=False)
    payment_services.annul_payment(payment=payments[1], actor=None, reason="Depósito rechazado")
    time_machine.move_to(datetime(2026, 4, 2, 10, tzinfo=LIMA), tick=False)
    liquidation = investor_services.create_liquidation(
        investor=lucia, period_start=date(2026, 2, 1), period_end=date(2026, 3, 31), actor=None
    )
    client.force_login(supervisor)

    response = client.get(liquidation.get_absolute_url(), {"print": "1"})

    lines = list(liquidation.lines.select_related("payment").order_by("created_at", "id"))
    assert len(lines) == 3
    for line in lines:
        if line.reversal_of_id:
            concept = f"Anulación del pago n.º {line.payment_id}"
        else:
            concept = f"Pago n.º {line.payment_id} del {line.payment.received_on:%d/%m/%Y}"
        figures = "".join(
            f'<td class="text-end">{floatformat(value, "2g")}</td>'
            for value in (line.principal, line.interest, line.platform_fee, line.net)
        )
        row_class = ' class="table-danger"' if line.reversal_of_id else ""
        assertContains(
            response,
            f"<tr{row_class}><td>{line.value_date:%d/%m/%Y}</td><td>{loan.payment_code}</td>"
            f"<td>{loan.customer.full_name}</td><td>{concept}</td>{figures}</tr>",
            html=True,
        )
    assertContains(response, "-608.00")


# --- The investor's participations -----------------------------------------------------------


def test_the_investor_page_shows_the_newest_participations_and_a_pager(client, supervisor):
    investor = InvestorFactory()
    participations = _funded(investor, 60)
    client.force_login(supervisor)

    response = client.get(investor.get_absolute_url(), {"page": 2})

    newest_first = [p.loan.payment_code for p in reversed(participations)]
    for code in newest_first[:20]:
        assertContains(response, f">{code}</a>", count=1)
    for code in newest_first[20:]:
        assertNotContains(response, code)
    assertContains(response, "Página 1 de 3 · 60 participaciones")
    # Without JavaScript the link keeps the distributions' page.
    assertContains(response, 'href="?page=2&amp;participations_page=2"')


def test_the_distributions_pager_keeps_the_participations_page(client, supervisor, monkeypatch):
    from credits.investors import views as investor_views

    monkeypatch.setattr(investor_views, "DISTRIBUTIONS_PAGE_SIZE", 1)
    investor = _liquidated(3).investor  # three distributions
    client.force_login(supervisor)

    response = client.get(investor.get_absolute_url(), {"participations_page": 1})

    # Its links were written by hand, "?page=2": the participations went back to page 1.
    assertContains(response, 'href="?participations_page=1&amp;page=2"')


def test_the_next_page_of_participations_comes_as_a_fragment_through_htmx(client, supervisor):
    investor = InvestorFactory()
    participations = _funded(investor, 60)
    client.force_login(supervisor)

    response = client.get(
        investor.get_absolute_url(),
        {"participations_page": 3},
        headers={**HTMX, "HX-Target": "investor-participations"},
    )

    assertTemplateUsed(response, "credits/partials/investor_participations.html")
    assertNotContains(response, 'class="navbar')
    oldest = [p.loan.payment_code for p in participations[:20]]
    for code in oldest:
        assertContains(response, f">{code}</a>", count=1)
    assertNotContains(response, participations[20].loan.payment_code)
    assertContains(response, "Página 3 de 3 · 60 participaciones")


def test_the_investor_page_costs_the_same_queries_for_3_or_60_participations(client, supervisor):
    few, many = InvestorFactory(), InvestorFactory()
    _funded(few, 3)
    _funded(many, 60)
    client.force_login(supervisor)
    client.get(few.get_absolute_url())  # the session, once

    assert _queries(client, few.get_absolute_url(), {}) == _queries(
        client, many.get_absolute_url(), {}
    )


def test_the_investors_figures_and_warnings_count_every_participation(client, supervisor):
    investor = InvestorFactory(currency="PEN")
    dollars = LoanFactory(
        status=Loan.Status.ACTIVE, currency="USD", product=LoanProductFactory(currency="USD")
    )
    # The oldest: on the last page of participations, still named by the warning.
    Participation.objects.create(
        investor=investor,
        loan=dollars,
        amount=Decimal("500.00"),
        share=Decimal("5"),
        created_at=START - timedelta(days=1),
    )
    _funded(investor, 60)
    client.force_login(supervisor)

    response = client.get(investor.get_absolute_url())

    assert response.context["summary"].capital_deployed == Decimal("30000.00")
    assert response.context["summary"].loans == 60
    assertContains(response, "Financia 1 crédito en otra moneda que la suya")
    assertContains(response, f"{dollars.payment_code}</a> (USD)")
