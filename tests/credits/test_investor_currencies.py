"""An investor funds only loans in its own currency; its liquidations and totals never add
soles and dollars."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains

from credits.investors import selectors as investor_selectors
from credits.investors import services as investor_services
from credits.models import Distribution, Participation, Payment
from credits.services import payments as payment_services
from tests.factories import InvestorFactory, LoanProductFactory

LIMA = ZoneInfo("America/Lima")


@pytest.fixture
def on_day(time_machine):
    def move(day: date) -> None:
        time_machine.move_to(datetime(day.year, day.month, day.day, 10, tzinfo=LIMA), tick=False)

    return move


@pytest.fixture
def soles_and_dollars(make_active_loan, on_day):
    """A loan in soles and one in dollars, S/ 10,000 and US$ 10,000, started 1 January."""
    on_day(date(2026, 1, 1))
    soles = make_active_loan(
        product=LoanProductFactory(method="flat"), principal=Decimal("10000.00")
    )
    dollars = make_active_loan(
        product=LoanProductFactory(method="flat", currency="USD"), principal=Decimal("10000.00")
    )
    return soles, dollars


def _legacy_participation(investor, loan, share=Decimal("100")) -> Participation:
    """A participation in another currency, as one made before they were refused."""
    return Participation.objects.create(
        investor=investor, loan=loan, amount=loan.principal * share / 100, share=share
    )


def test_a_participation_in_another_currency_is_refused_in_spanish(soles_and_dollars):
    _soles, dollars = soles_and_dollars
    investor = InvestorFactory(name="Lucía Paredes", currency="PEN")

    with pytest.raises(ValidationError) as refused:
        investor_services.add_participation(
            loan=dollars, investor=investor, actor=None, share=Decimal("50")
        )

    assert refused.value.message_dict == {
        "investor": [
            "Lucía Paredes invierte en soles (S/) y este crédito es en dólares (US$): un "
            "inversionista financia solo créditos en su moneda."
        ]
    }
    assert not Participation.objects.exists()


def test_an_investor_funds_loans_in_its_own_currency(soles_and_dollars):
    soles, dollars = soles_and_dollars

    in_soles = investor_services.add_participation(
        loan=soles, investor=InvestorFactory(currency="PEN"), actor=None, share=Decimal("50")
    )
    in_dollars = investor_services.add_participation(
        loan=dollars, investor=InvestorFactory(currency="USD"), actor=None, share=Decimal("50")
    )

    assert (in_soles.amount, in_dollars.amount) == (Decimal("5000.00"), Decimal("5000.00"))


def test_the_loan_page_shows_the_refusal_on_the_investor(client, supervisor, soles_and_dollars):
    _soles, dollars = soles_and_dollars
    investor = InvestorFactory(name="Lucía Paredes", currency="PEN")
    client.force_login(supervisor)

    response = client.post(
        reverse("credits:participation_add", args=[dollars.pk]),
        {"investor": investor.pk, "share": "50"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    # Not offered (the loan page lists only investors in dollars), and refused if sent.
    assertContains(
        response,
        "Ese inversionista no está activo o no invierte en dólares (US$): un inversionista "
        "financia solo créditos en su moneda.",
    )
    assert not Participation.objects.exists()


def test_an_investors_currency_cannot_change_while_it_funds_loans(
    client, supervisor, soles_and_dollars
):
    soles, _dollars = soles_and_dollars
    investor = InvestorFactory(currency="PEN")
    investor_services.add_participation(
        loan=soles, investor=investor, actor=None, share=Decimal("50")
    )

    with pytest.raises(ValidationError) as refused:
        investor_services.update_investor(
            investor=investor, actor=supervisor, data={"currency": "USD"}
        )

    assert refused.value.message_dict["currency"] == [
        "No se puede cambiar la moneda: financia créditos en soles (S/), y un inversionista "
        "financia solo créditos en su moneda."
    ]
    investor.refresh_from_db()
    assert investor.currency == "PEN"
    # Without loans, the currency may change.
    other = InvestorFactory(currency="PEN")
    investor_services.update_investor(investor=other, actor=supervisor, data={"currency": "USD"})
    other.refresh_from_db()
    assert other.currency == "USD"


def test_an_investor_funding_another_currency_from_before_can_still_be_edited(
    supervisor, soles_and_dollars
):
    _soles, dollars = soles_and_dollars
    investor = InvestorFactory(currency="PEN")
    _legacy_participation(investor, dollars)

    investor_services.update_investor(
        investor=investor, actor=supervisor, data={"bank_name": "Interbank"}
    )

    investor.refresh_from_db()
    assert investor.bank_name == "Interbank"


def test_a_liquidation_never_adds_another_currencys_lines(soles_and_dollars, on_day):
    soles, dollars = soles_and_dollars
    investor = InvestorFactory(currency="PEN")
    investor_services.add_participation(
        loan=soles, investor=investor, actor=None, share=Decimal("100")
    )
    _legacy_participation(investor, dollars)
    on_day(date(2026, 2, 1))
    for loan in (soles, dollars):
        payment_services.apply_payment(
            loan=loan,
            amount=Decimal("1033.33"),
            received_on=date(2026, 2, 1),
            source=Payment.Source.TRANSFER,
            actor=None,
        )
    on_day(date(2026, 3, 2))

    liquidation = investor_services.create_liquidation(
        investor=investor, period_start=date(2026, 2, 1), period_end=date(2026, 2, 28), actor=None
    )

    currencies = set(liquidation.lines.values_list("participation__loan__currency", flat=True))
    assert currencies == {"PEN"}
    assert liquidation.net_amount == sum(line.net for line in liquidation.lines.all())
    assert liquidation.net_amount < Decimal("1033.34")
    # The dollars' line stays out of every liquidation of the investor.
    left = Distribution.objects.get(participation__loan=dollars)
    assert left.liquidation is None


def test_the_investor_list_counts_only_loans_in_the_investors_currency(
    client, supervisor, soles_and_dollars
):
    soles, dollars = soles_and_dollars
    investor = InvestorFactory(currency="PEN")
    investor_services.add_participation(
        loan=soles, investor=investor, actor=None, share=Decimal("100")
    )
    _legacy_participation(investor, dollars)

    row = investor_selectors.investor_list(supervisor).get(pk=investor.pk)

    assert (row.loan_count, row.capital) == (1, Decimal("10000.00"))


def test_the_investors_page_names_its_loans_in_another_currency(
    client, supervisor, soles_and_dollars
):
    soles, dollars = soles_and_dollars
    investor = InvestorFactory(currency="PEN")
    investor_services.add_participation(
        loan=soles, investor=investor, actor=None, share=Decimal("100")
    )
    _legacy_participation(investor, dollars)
    client.force_login(supervisor)

    response = client.get(reverse("credits:investor_detail", args=[investor.pk]))

    assert response.context["summary"].capital_deployed == Decimal("10000.00")
    assertContains(response, "Financia 1 crédito en otra moneda que la suya")
    assertContains(response, f"{dollars.payment_code}</a> (USD)")
    clean = InvestorFactory(currency="PEN")
    response = client.get(reverse("credits:investor_detail", args=[clean.pk]))
    assert "en otra moneda que la suya" not in response.content.decode()


def test_the_loan_page_offers_only_investors_in_the_loans_currency(
    client, supervisor, soles_and_dollars
):
    _soles, dollars = soles_and_dollars
    InvestorFactory(name="Lucía Paredes", currency="PEN")
    InvestorFactory(name="Mark Dollarson", currency="USD")
    client.force_login(supervisor)

    page = client.get(reverse("credits:loan_detail", args=[dollars.pk]))

    assertContains(page, "Mark Dollarson")
    assert "Lucía Paredes" not in page.content.decode()
