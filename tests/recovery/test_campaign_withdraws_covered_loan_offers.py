"""A written-off campaign that starts covering a loan withdraws what was still open on the
loan (payment links, promises, agreements), each on the customer's timeline: the debtor
is asked for the campaign, and can no longer pay the whole loan through an old link, nor
have a promise for it marked broken later (brief CE).

Made on the screen, by the API (both `services.create_campaign`) or by a file
(`services.copy_campaigns`, set-based per chunk), the same step runs. The clock is frozen
on TODAY (15 June 2026), as for every recovery test.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collections_app import services as collection_services
from collections_app.models import (
    AgreementRule,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    Portfolio,
)
from credits.models import Loan, Payment
from credits.services import loans as loan_services
from integrations.models import OutboxMessage, WebhookEvent
from recovery import services
from tests.collections_app.test_mercadopago_webhook import (  # noqa: F401 (fixture)
    answer_payment,
    fixture,
    notify,
    real_gateway,
)
from tests.factories import CustomerFactory
from tests.recovery.conftest import TODAY, make_campaign
from tests.recovery.test_api import body, openapi, partner, token  # noqa: F401 (fixtures)
from tests.recovery.test_imports import (  # noqa: F401 (fixtures, imported)
    HEADER,
    importer,
    jose,
    rosa,
    row,
    run,
    xlsx,
)

TEAM = "cobranzas@cartera.test"  # config/test_settings.COLLECTIONS_TEAM_EMAILS
COVERED = "el crédito %s lo cubre la campaña de cartera castigada CAST-2026-06"


def loan_link(loan):
    return collection_services.create_payment_link(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
    )


def loan_promise(loan, days=5):
    return collection_services.promise_payment(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=Decimal("1000.00"),
        promised_on=TODAY + timedelta(days=days),
        origin=Origin.AGENT,
        actor=None,
    )


def loan_agreement(loan):
    # Made as an admin would leave one: waiting for its down payment.
    return PaymentAgreement.objects.create(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=loan.payment_code,
        currency=loan.currency,
        portfolio=Portfolio.WRITTEN_OFF,
        rule=AgreementRule.objects.create(name="Hasta 3 cuotas", max_installments=3),
        installments=3,
        debt_amount=Decimal("9000.00"),
        down_payment=Decimal("900.00"),
        installment_amount=Decimal("2700.00"),
    )


def summaries(customer) -> list[str]:
    return list(customer.interactions.order_by("pk").values_list("summary", flat=True))


# --- One campaign (the screen, the API) ----------------------------------------------------


def test_a_campaign_for_the_customer_withdraws_the_loans_open_link_and_promise(written_off, debtor):
    # The reproduction: the old link kept taking the whole loan after the campaign.
    link = loan_link(written_off)
    promised = loan_promise(written_off)

    make_campaign(debtor, payment_code="")  # blank: all the customer's written-off loans

    link.refresh_from_db()
    promised.refresh_from_db()
    reason = COVERED % written_off.payment_code
    assert (link.status, link.status_reason) == (PaymentLink.Status.CANCELLED, reason)
    assert promised.status == PaymentPromise.Status.CANCELLED
    said = summaries(debtor)
    assert f"Link de pago {link.reference} de S/ {link.amount:,.2f} anulado: {reason}" in said
    assert f"Compromiso de pago del 20/06/2026 anulado: {reason}" in said
    # After the campaign's own entry: the campaign is why.
    assert said.index(f"Compromiso de pago del 20/06/2026 anulado: {reason}") > next(
        i for i, text in enumerate(said) if text.startswith("Campaña de cartera castigada")
    )


def test_a_campaign_naming_the_loan_withdraws_its_agreement_with_the_down_payment_link(
    written_off, debtor
):
    agreement = loan_agreement(written_off)

    make_campaign(debtor, payment_code=written_off.payment_code)

    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.CANCELLED
    reason = COVERED % written_off.payment_code
    assert f"Convenio de pago #{agreement.pk} anulado: {reason}" in summaries(debtor)


def test_what_is_open_on_a_loan_the_campaign_does_not_cover_stays_open(
    written_off, debtor, make_active_loan
):
    other = make_active_loan(customer=debtor)
    loan_services.write_off(loan=other, actor=None, reason="Incobrable")
    current = make_active_loan(customer=debtor)  # not written off: never covered
    other_link, current_link = loan_link(other), loan_link(current)
    other_promise = loan_promise(other)

    make_campaign(debtor, payment_code=written_off.payment_code)

    for kept in (other_link, current_link, other_promise):
        kept.refresh_from_db()
    assert other_link.status == current_link.status == PaymentLink.Status.ACTIVE
    assert other_promise.status == PaymentPromise.Status.PENDING


def test_a_campaign_refused_withdraws_nothing(written_off, debtor):
    link = loan_link(written_off)

    with pytest.raises(ValidationError):  # a debt unlike the loan's balance
        make_campaign(debtor, payment_code=written_off.payment_code, debt_amount=Decimal("1"))

    link.refresh_from_db()
    assert link.status == PaymentLink.Status.ACTIVE


def test_the_withdrawals_are_the_agents_when_an_agent_makes_the_campaign(
    written_off, debtor, cobranzas
):
    link = loan_link(written_off)

    make_campaign(debtor, payment_code="", actor=cobranzas)

    entry = debtor.interactions.get(payload__link=link.pk, summary__contains="anulado")
    assert entry.actor == cobranzas


def test_a_campaign_made_by_the_api_withdraws_the_loans_open_link(
    partner,  # noqa: F811 (the API tests' fixture)
    written_off,
    debtor,
):
    link = loan_link(written_off)

    response = partner.post("/campanas", body(debtor, codigo_pago_asociado=""))

    assert response.status_code == 201, response.json()
    link.refresh_from_db()
    assert link.status == PaymentLink.Status.CANCELLED
    assert link.status_reason == (
        f"el crédito {written_off.payment_code} lo cubre la campaña de cartera castigada CAST-API"
    )


# --- A file (bulk) -------------------------------------------------------------------------


def test_an_import_withdraws_the_covered_loans_open_offers_in_a_set_of_queries(
    importer,  # noqa: F811 (the imports tests' fixtures)
    rosa,  # noqa: F811
    jose,  # noqa: F811
    make_active_loan,
):
    loans = {}
    for customer in (rosa, jose):
        loan = make_active_loan(customer=customer)
        Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.WRITTEN_OFF)
        loan.refresh_from_db()
        loans[customer.pk] = loan
    rosa_link = loan_link(loans[rosa.pk])
    jose_promise = loan_promise(loans[jose.pk])

    batch = run(
        xlsx(
            [
                HEADER,
                row(rosa.document_number, code="CAST-2026-06"),
                row(jose.document_number, code="CAST-2026-06"),
            ]
        ),
        importer,
    )

    assert batch.created_count == 2
    rosa_link.refresh_from_db()
    jose_promise.refresh_from_db()
    assert rosa_link.status == PaymentLink.Status.CANCELLED
    assert rosa_link.status_reason == COVERED % loans[rosa.pk].payment_code
    assert jose_promise.status == PaymentPromise.Status.CANCELLED
    assert (
        "Compromiso de pago del 20/06/2026 anulado: "
        f"{COVERED % loans[jose.pk].payment_code}" in summaries(jose)
    )


def test_copying_campaigns_looks_for_covered_offers_once_per_chunk_not_per_row(
    importer,  # noqa: F811 (the imports tests' fixture)
    make_active_loan,
):
    """Three campaigns on customers with nothing open cost what one does: the look-up is
    one query per chunk."""
    customers = [CustomerFactory() for _ in range(5)]
    for customer in customers:
        loan = make_active_loan(customer=customer)
        Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.WRITTEN_OFF)

    def new(customer, code):
        figures, _problems = services.campaign_figures(
            debt_amount=Decimal("1000"), discount_type="percent", discount_value=Decimal("40")
        )
        return services.NewCampaign(
            customer_id=customer.pk,
            code=code,
            debt_amount=Decimal("1000"),
            discount_type="percent",
            discount_value=Decimal("40"),
            figures=figures,
            ends_on=None,
            payment_code="",
            currency="PEN",
        )

    services.copy_campaigns([new(customers[0], "A")], actor=None, batch=None)  # the tag made
    alone, many = [new(customers[1], "A")], [new(c, "A") for c in customers[2:]]
    with CaptureQueriesContext(connection) as one:
        services.copy_campaigns(alone, actor=None, batch=None)
    with CaptureQueriesContext(connection) as three:
        services.copy_campaigns(many, actor=None, batch=None)
    assert len(three.captured_queries) == len(one.captured_queries)
    assert sum("credits_loan" in q["sql"] for q in three.captured_queries) == 1


# --- Money that still comes through a withdrawn loan link -----------------------------------


def test_money_through_a_withdrawn_loan_link_is_recorded_not_applied_and_the_team_told(
    client,
    written_off,
    debtor,
    real_gateway,  # noqa: F811 (the MercadoPago webhook tests' fixture)
    django_capture_on_commit_callbacks,
):
    """The debtor pays the old link anyway (MercadoPago's checkout cannot be closed): as
    for a finished campaign's withdrawn link, the money is recorded, the loan is not paid
    with it (the campaign asks for its own amount), and the collections team is e-mailed."""
    link = loan_link(written_off)
    make_campaign(debtor, payment_code=written_off.payment_code)
    link.refresh_from_db()
    assert link.status == PaymentLink.Status.CANCELLED
    owed = services.loans_owed([written_off.pk])[written_off.pk]
    answer_payment(real_gateway, link, "approved")

    with django_capture_on_commit_callbacks(execute=True):
        response = notify(client, fixture("webhook_payment_updated.json"), request_id="req-ce")

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert services.loans_owed([written_off.pk])[written_off.pk] == owed, "the loan was paid"
    payment = Payment.objects.get(loan=written_off)
    assert payment.overpaid == payment.amount == link.amount  # recorded, kept as credit
    assert OutboxMessage.objects.filter(payload__to=TEAM).exists()
