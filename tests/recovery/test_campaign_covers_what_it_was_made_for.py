"""A campaign covers the written-off loans it was made for (`Campaign.loans`): the one its
payment code names or, with a blank code, the customer's written-off loans when it was
made. A loan written off later is a debt of its own again: the collections page, the bot
and the portal ask for it; the campaign's payment does not settle it.

Its currency is theirs: a blank code over dollar loans makes a dollar campaign; over soles
and dollars it is refused (one campaign settles one currency); a currency given (the file's
«Moneda», the API's `moneda`, the form's) must be the loans'.

The clock is frozen on TODAY (15 June 2026), as for every recovery test.
"""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app import receivables
from collections_app import services as collection_services
from credits.models import Loan
from credits.services import loans as loan_services
from lib import money
from recovery import selectors
from recovery import services as recovery_services
from recovery.models import Campaign
from tests.factories import CustomerFactory, LoanProductFactory, UserFactory
from tests.recovery.conftest import CAMPAIGN_AMOUNT, TODAY, make_campaign
from tests.recovery.test_api import Partner, body, error_on, openapi, token  # noqa: F401
from tests.recovery.test_imports import HEADER, row, run, xlsx

MIXED = "El cliente tiene créditos castigados en soles y en dólares: indique el código de pago."


def written_off_loan(make_active_loan, customer, **fields) -> Loan:
    loan = make_active_loan(customer=customer, **fields)
    loan_services.write_off(loan=loan, actor=None, reason="Incobrable")
    loan.refresh_from_db()
    return loan


def dollars():
    return LoanProductFactory(name="Crédito dólares", currency="USD")


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


@pytest.fixture
def partner(token, openapi):  # noqa: F811 (the API tests' fixtures)
    return Partner(token, openapi)


def open_debts(customer) -> set[tuple[str, int]]:
    return {(debt.kind, debt.id) for debt in receivables.open_debts(customer.pk, TODAY)}


# --- What a blank code covers ------------------------------------------------------------------


def test_a_loan_written_off_after_a_blank_code_campaign_is_a_debt_of_its_own(
    debtor, written_off, make_active_loan
):
    campaign = make_campaign(debtor, payment_code="")
    later = written_off_loan(make_active_loan, debtor)

    assert selectors.covered_loans(debtor.pk, TODAY) == {written_off.pk}
    assert selectors.campaign_covering(written_off, TODAY) == campaign
    assert selectors.campaign_covering(later, TODAY) is None
    # The collections page, the bot and the portal read these.
    assert open_debts(debtor) == {("campaign", campaign.pk), ("loan", later.pk)}
    assert collection_services.debt_of(debtor, "loan", later.pk).total > 0
    with pytest.raises(ValidationError):
        collection_services.debt_of(debtor, "loan", written_off.pk)
    assert list(campaign.loans.values_list("pk", flat=True)) == [written_off.pk]


def test_a_paid_blank_code_campaign_does_not_settle_a_later_write_off(
    debtor, written_off, make_active_loan
):
    campaign = make_campaign(debtor, payment_code="")
    recovery_services.apply_payment(
        campaign_id=campaign.pk,
        amount=CAMPAIGN_AMOUNT,
        received_on=TODAY,
        source="cash",
        actor=None,
    )
    later = written_off_loan(make_active_loan, debtor)

    assert selectors.covered_loans(debtor.pk, TODAY) == {written_off.pk}
    assert open_debts(debtor) == {("loan", later.pk)}


def test_the_collections_page_asks_for_the_later_loan(
    agent_client, debtor, written_off, make_active_loan
):
    campaign = make_campaign(debtor, payment_code="")
    later = written_off_loan(make_active_loan, debtor)

    response = agent_client.get(reverse("collections_app:customer_collections", args=[debtor.pk]))

    listed = {(debt.kind, debt.id) for debt in response.context["debts"]}
    assert listed == {("campaign", campaign.pk), ("loan", later.pk)}
    assertContains(response, f'value="loan:{later.pk}"')
    assertNotContains(response, f'value="loan:{written_off.pk}"')


def test_a_named_code_covers_its_loan_only(debtor, written_off, make_active_loan):
    other = written_off_loan(make_active_loan, debtor)
    campaign = make_campaign(debtor, payment_code=written_off.payment_code)

    assert selectors.covered_loans(debtor.pk, TODAY) == {written_off.pk}
    assert selectors.campaign_covering(other, TODAY) is None
    assert list(campaign.loans.values_list("pk", flat=True)) == [written_off.pk]


def test_the_migration_keeps_what_old_campaigns_covered_when_made(
    debtor, written_off, make_active_loan
):
    migration = __import__(
        "recovery.migrations.0006_campaign_covered_loans", fromlist=["cover_what_they_covered"]
    )
    blank = make_campaign(debtor, payment_code="")
    later = written_off_loan(make_active_loan, debtor)
    named_customer = CustomerFactory()
    named_loan = written_off_loan(make_active_loan, named_customer)
    named = make_campaign(named_customer, payment_code=named_loan.payment_code, code="NAMED")
    # As they were before: no loans stored; the later loan written off after the campaign.
    Campaign.loans.through.objects.all().delete()
    Loan.objects.filter(pk=later.pk).update(
        status_changed_at=blank.created_at + timedelta(hours=1),
        created_at=blank.created_at + timedelta(minutes=1),
    )
    Loan.objects.filter(pk=written_off.pk).update(
        status_changed_at=blank.created_at - timedelta(hours=1)
    )

    migration.cover_what_they_covered(
        apps, SimpleNamespace(connection=SimpleNamespace(alias="default"))
    )

    assert list(blank.loans.values_list("pk", flat=True)) == [written_off.pk]
    assert list(named.loans.values_list("pk", flat=True)) == [named_loan.pk]
    assert selectors.campaign_covering(Loan.objects.get(pk=later.pk), TODAY) is None


# --- Its currency --------------------------------------------------------------------------------


def test_a_blank_code_over_dollar_loans_makes_a_dollar_campaign(debtor, make_active_loan):
    loan = written_off_loan(make_active_loan, debtor, product=dollars())

    campaign = make_campaign(debtor, payment_code="")

    assert campaign.currency == "USD"
    assert list(campaign.loans.values_list("pk", flat=True)) == [loan.pk]
    debts = receivables.open_debts(debtor.pk, TODAY)
    assert [(d.id, d.currency) for d in debts if d.kind == "campaign"] == [(campaign.pk, "USD")]


def test_a_blank_code_over_soles_and_dollars_is_refused(debtor, written_off, make_active_loan):
    written_off_loan(make_active_loan, debtor, product=dollars())

    with pytest.raises(ValidationError) as refused:
        make_campaign(debtor, payment_code="")

    assert refused.value.message_dict["payment_code"] == [MIXED]
    assert not Campaign.objects.exists()
    # Naming the loan, it is made in that loan's currency.
    assert make_campaign(debtor, payment_code=written_off.payment_code).currency == "PEN"


def test_a_customer_without_written_off_loans_keeps_soles_or_the_currency_given(db):
    soles = make_campaign(CustomerFactory(), payment_code="")
    given = make_campaign(CustomerFactory(), payment_code="", currency="US$")

    assert (soles.currency, given.currency) == ("PEN", "USD")
    assert not soles.loans.exists()


@pytest.mark.parametrize(
    ("code", "field", "message"),
    [
        (
            "",
            "currency",
            "La moneda indicada (PEN) no es la de los créditos castigados del cliente, que son "
            "en dólares (US$).",
        ),
        (
            "loan",
            "currency",
            "La moneda indicada (PEN) no es la del crédito {code}, que es en dólares (US$).",
        ),
    ],
)
def test_a_currency_given_must_be_the_loans(debtor, make_active_loan, code, field, message):
    loan = written_off_loan(make_active_loan, debtor, product=dollars())
    payment_code = loan.payment_code if code else ""
    debt = recovery_services.loans_owed([loan.pk])[loan.pk]

    with pytest.raises(ValidationError) as refused:
        make_campaign(debtor, payment_code=payment_code, currency="PEN", debt_amount=debt)

    assert refused.value.message_dict[field] == [message.format(code=loan.payment_code)]
    made = make_campaign(debtor, payment_code=payment_code, currency="USD", debt_amount=debt)
    assert made.currency == "USD"


def test_an_unknown_currency_is_refused(db):
    with pytest.raises(ValidationError) as refused:
        make_campaign(CustomerFactory(), currency="EUR")

    assert refused.value.message_dict["currency"] == [
        "La moneda «EUR» no es PEN (S/) ni USD (US$)."
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [("PEN", "PEN"), ("S/", "PEN"), ("S/.", "PEN"), ("soles", "PEN"), ("usd", "USD"),
     ("US$", "USD"), ("Dólares", "USD"), ("", ""), (None, ""), ("EUR", None)],
)  # fmt: skip
def test_currencies_are_read_as_people_write_them(text, code):
    assert money.read_currency(text) == code


# --- The file ------------------------------------------------------------------------------------


@pytest.fixture
def importer(db):
    return UserFactory(username="importadora")


@pytest.fixture
def rosa(db):
    return CustomerFactory(document_number="45678912", first_name="Rosa")


def test_a_file_row_with_a_blank_code_takes_the_dollar_loans_currency(
    importer, rosa, make_active_loan
):
    loan = written_off_loan(make_active_loan, rosa, product=dollars())

    batch = run(xlsx([HEADER, row()]), importer)

    assert batch.created_count == 1, batch.error_preview
    campaign = Campaign.objects.get()
    assert campaign.currency == "USD"
    assert list(campaign.loans.values_list("pk", flat=True)) == [loan.pk]


def test_a_file_moneda_column_is_read_and_checked_with_its_line(importer, rosa, make_active_loan):
    written_off_loan(make_active_loan, rosa, product=dollars())
    other = CustomerFactory(document_number="41234567")
    rows = [
        [*HEADER, "Moneda"],
        [*row(), "PEN"],
        [*row("41234567"), "US$"],
    ]

    batch = run(xlsx(rows), importer, skip_invalid=True)

    assert batch.error_preview == [
        [
            2,
            "La moneda indicada (PEN) no es la de los créditos castigados del cliente, que son "
            "en dólares (US$).",
        ]
    ]
    # A customer with nothing written off: the currency given.
    assert Campaign.objects.get().customer == other
    assert Campaign.objects.get().currency == "USD"


def test_a_file_row_over_soles_and_dollars_is_refused(importer, rosa, make_active_loan):
    written_off_loan(make_active_loan, rosa)
    written_off_loan(make_active_loan, rosa, product=dollars())

    batch = run(xlsx([HEADER, row()]), importer)

    assert batch.error_preview == [[2, MIXED]]
    assert not Campaign.objects.exists()


def test_a_file_currency_that_is_none_is_refused(importer, rosa):
    batch = run(xlsx([[*HEADER, "Moneda"], [*row(), "EUR"]]), importer)

    assert batch.error_preview == [[2, "La moneda «EUR» no es PEN (S/) ni USD (US$)."]]


def test_the_import_reads_written_off_currencies_once_not_per_row(importer, make_active_loan):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    customers = [CustomerFactory(document_number=f"4600000{n}") for n in range(4)]
    for customer in customers:
        written_off_loan(make_active_loan, customer, product=dollars())

    def rows(count):
        return [HEADER, *(row(c.document_number, code=f"C{count}") for c in customers[:count])]

    with CaptureQueriesContext(connection) as one:
        run(xlsx(rows(1)), importer)
    Campaign.objects.all().delete()
    with CaptureQueriesContext(connection) as four:
        run(xlsx(rows(4)), importer)

    def loan_reads(queries):
        return sum('"credits_loan"' in q["sql"] and "SELECT" in q["sql"] for q in queries)

    assert loan_reads(four.captured_queries) == loan_reads(one.captured_queries)
    assert set(Campaign.objects.values_list("currency", flat=True)) == {"USD"}
    assert Campaign.loans.through.objects.count() == 4


# --- The API -------------------------------------------------------------------------------------


def test_the_api_takes_moneda_and_refuses_one_unlike_the_loans(partner, debtor, make_active_loan):
    written_off_loan(make_active_loan, debtor, product=dollars())

    refused = partner.post("/campanas", body(debtor, moneda="PEN"))
    made = partner.post("/campanas", body(debtor))

    assert refused.status_code == 422
    assert error_on(refused, "moneda") == (
        "La moneda indicada (PEN) no es la de los créditos castigados del cliente, que son "
        "en dólares (US$)."
    )
    assert made.status_code == 201, made.json()
    assert made.json()["moneda"] == "USD"


def test_the_api_refuses_a_blank_code_over_both_currencies(
    partner, debtor, written_off, make_active_loan
):
    written_off_loan(make_active_loan, debtor, product=dollars())

    response = partner.post("/campanas", body(debtor))

    assert response.status_code == 422
    assert error_on(response, "codigo_pago_asociado") == MIXED


# --- The screen ----------------------------------------------------------------------------------


def form_data(customer, **fields):
    return {
        "document_type": customer.document_type,
        "document_number": customer.document_number,
        "code": "CAST-SCREEN",
        "debt_amount": "4373.34",
        "discount_type": "percent",
        "discount_value": "30",
        "ends_on": "",
        "payment_code": "",
        "currency": "",
        **fields,
    }


def test_the_form_makes_a_dollar_campaign_and_refuses_a_currency_unlike_the_loans(
    agent_client, debtor, make_active_loan
):
    written_off_loan(make_active_loan, debtor, product=dollars())
    url = reverse("recovery:campaign_create")

    refused = agent_client.post(url, form_data(debtor, currency="PEN"))
    made = agent_client.post(url, form_data(debtor), follow=True)

    assertContains(refused, "no es la de los créditos castigados del cliente")
    assert not Campaign.objects.filter(currency="PEN").exists()
    campaign = Campaign.objects.get()
    assert campaign.currency == "USD"
    assertContains(made, "paga US$")


def test_the_form_refuses_a_blank_code_over_both_currencies(
    agent_client, debtor, written_off, make_active_loan
):
    written_off_loan(make_active_loan, debtor, product=dollars())

    response = agent_client.post(reverse("recovery:campaign_create"), form_data(debtor))

    assertContains(response, MIXED)
    assert not Campaign.objects.exists()


def test_the_preview_says_the_loans_currency_and_the_percentage_typed(
    agent_client, debtor, make_active_loan
):
    loan = written_off_loan(make_active_loan, debtor, product=dollars())
    figures = {"debt_amount": "4373.34", "discount_type": "percent", "discount_value": "30"}
    url = reverse("recovery:campaign_preview")

    named = agent_client.get(url, {**figures, "payment_code": loan.payment_code})
    by_customer = agent_client.get(
        url,
        {
            **figures,
            "document_type": debtor.document_type,
            "document_number": debtor.document_number,
        },
    )
    unknown = agent_client.get(url, figures)

    for response in (named, by_customer):
        assertContains(response, 'id="preview-amount">US$ 3,061.34')
        assertContains(response, "Descuento (30 %)")
        assertNotContains(response, "29.99")
    assertContains(unknown, 'id="preview-amount">3,061.34')


# --- The list ------------------------------------------------------------------------------------


def test_the_list_filters_by_currency_and_its_amount_bounds_are_in_one_currency(
    agent_client, make_active_loan
):
    dollar_customer = CustomerFactory()
    written_off_loan(make_active_loan, dollar_customer, product=dollars())
    in_dollars = make_campaign(dollar_customer, code="USD-1", debt_amount=Decimal("3280"))
    in_soles = make_campaign(CustomerFactory(), code="PEN-1", debt_amount=Decimal("2932.68"))
    url = reverse("recovery:campaign_list")

    def listed(params):
        response = agent_client.get(url, params)
        assert response.status_code == 200
        return {c.code for c in response.context["page"].object_list}

    assert listed({}) == {in_dollars.code, in_soles.code}
    assert listed({"currency": "USD"}) == {in_dollars.code}
    assert listed({"currency": "PEN"}) == {in_soles.code}
    # «Deuda desde 2900» is in one currency: soles unless another is chosen.
    assert listed({"debt_min": "2900", "debt_max": "4000"}) == {in_soles.code}
    assert listed({"debt_min": "2900", "currency": "USD"}) == {in_dollars.code}
    assertContains(agent_client.get(url), "Los montos desde/hasta se comparan en esta moneda")
