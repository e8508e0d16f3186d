"""The payments-to-verify file says, as the screens do with «Pago anulado», that a verified
report's payment was annulled since: when and why, for a loan's or a campaign's payment
alike, and a blank cell otherwise; without a query per row."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from collections_app import services
from credits.models import Payment
from recovery.models import CampaignPayment
from tests.collections_app.test_reported_payment_annulled import (
    annul_from_the_customer_page,
    verified,
)
from tests.factories import CustomerFactory
from tests.recovery.conftest import campaign, written_off  # noqa: F401 (fixtures)

REPORTED = reverse("collections_app:reported_list")


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


def exported(client) -> dict[str, dict[str, str]]:
    """The CSV's rows by operation number."""
    response = client.get(REPORTED, {"export": "csv"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    header, *lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    return {
        line[header.index("N.º de operación")]: dict(zip(header, line, strict=True))
        for line in lines
    }


def test_the_file_says_when_and_why_a_verified_reports_payment_was_annulled(
    agent_client, cobranzas, loan, debtor
):
    verified(debtor, "loan", loan.pk, actor=cobranzas, ref="OP-1")
    annulled = verified(debtor, "loan", loan.pk, actor=cobranzas, ref="OP-2")
    annul_from_the_customer_page(agent_client, debtor, annulled.payment_id, "Duplicado")
    at = Payment.objects.get(pk=annulled.payment_id).annulled_at

    rows = exported(agent_client)

    assert rows["OP-2"]["Estado"] == "Verificado"
    assert rows["OP-2"]["Pago anulado"] == f"{timezone.localtime(at):%d/%m/%Y %H:%M} · Duplicado"
    assert rows["OP-1"]["Pago anulado"] == ""


def test_a_campaigns_payment_annulled_is_in_the_file_too(
    agent_client,
    cobranzas,
    campaign,  # noqa: F811 (recovery's fixture)
    debtor,
):
    report = verified(
        debtor, "campaign", campaign.pk, actor=cobranzas, amount=Decimal("500.00"), ref="OP-9"
    )
    services.annul_payment(
        customer=debtor,
        receivable_kind="campaign",
        payment_id=report.payment_id,
        actor=cobranzas,
        reason="Transferencia rebotada",
    )
    assert CampaignPayment.objects.get(pk=report.payment_id).annulled_at is not None

    rows = exported(agent_client)

    assert rows["OP-9"]["Pago anulado"].endswith(" · Transferencia rebotada")


def test_the_file_costs_the_same_queries_however_many_payments_were_annulled(
    agent_client, cobranzas, make_active_loan
):
    def one_more(number: int):
        customer = CustomerFactory()
        loan = make_active_loan(customer=customer)
        report = verified(customer, "loan", loan.pk, actor=cobranzas, ref=f"OP-{number}")
        annul_from_the_customer_page(agent_client, customer, report.payment_id)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            rows = exported(agent_client)
        assert all(row["Pago anulado"] for row in rows.values())
        return len(captured.captured_queries)

    one_more(0)
    exported(agent_client)  # the permission cache filled
    one = queries()
    for number in range(1, 4):
        one_more(number)

    assert queries() == one
