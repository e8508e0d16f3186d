"""A payment to verify approved by mistake, whose payment was annulled afterwards (from the
loan's page or the customer's collections page), says so wherever it is shown: it stayed
«Verificado» as if the money stood."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app import selectors, services
from collections_app.models import Origin, ReportedPayment
from credits.models import Payment
from tests import receipts
from tests.collections_app.conftest import INSTALLMENT, TODAY
from tests.factories import CustomerFactory
from tests.recovery.conftest import campaign, written_off  # noqa: F401 (fixtures)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


def verified(customer, kind, receivable_id, *, actor, amount=INSTALLMENT, ref="OP-1"):
    """A payment to verify the portal sent, approved by `actor`."""
    report = services.report_payment(
        customer=customer,
        receivable_kind=kind,
        receivable_id=receivable_id,
        amount=amount,
        paid_on=TODAY - timedelta(days=1),
        method=ReportedPayment.Method.TRANSFER,
        receipt=SimpleUploadedFile(f"{ref}.pdf", PDF + ref.encode(), "application/pdf"),
        origin=Origin.PORTAL,
        actor=None,
        reference=ref,
    )
    return services.approve_reported_payment(report=report, actor=actor).report


def annul_from_the_customer_page(client, customer, payment_id, reason="Cheque sin fondos"):
    return client.post(
        reverse("collections_app:customer_payment_annul", args=[customer.pk]),
        {"annul-payment": payment_id, "annul-reason": reason, "confirm": "yes"},
    )


def detail_url(report) -> str:
    return reverse("collections_app:reported_detail", args=[report.pk])


def test_the_detail_says_the_payment_was_annulled_when_by_whom_and_why(
    agent_client, cobranzas, loan, debtor
):
    report = verified(debtor, "loan", loan.pk, actor=cobranzas)
    annul_from_the_customer_page(agent_client, debtor, report.payment_id)
    assert Payment.objects.get(pk=report.payment_id).status == Payment.Status.ANNULLED

    page = agent_client.get(detail_url(report))

    annulment = page.context["report"].payment_annulment
    assert annulment.by == cobranzas
    assert annulment.reason == "Cheque sin fondos"
    assert annulment.at is not None
    assertContains(page, "Verificado")
    assertContains(page, "Pago anulado")
    assertContains(page, "Cheque sin fondos")
    assertContains(page, 'id="payment-annulment"')


def test_the_list_and_the_customer_page_say_so_too(agent_client, cobranzas, loan, debtor):
    standing = verified(debtor, "loan", loan.pk, actor=cobranzas, ref="OP-1")
    # The later one: a loan annuls a payment only when none after it paid installments.
    annulled = verified(debtor, "loan", loan.pk, actor=cobranzas, ref="OP-2")
    annul_from_the_customer_page(agent_client, debtor, annulled.payment_id, "Duplicado")

    listed = agent_client.get(reverse("collections_app:reported_list"))
    customer = agent_client.get(reverse("collections_app:customer_collections", args=[debtor.pk]))

    rows = {r.pk: r for r in listed.context["page"].object_list}
    assert rows[annulled.pk].payment_annulment.reason == "Duplicado"
    assert rows[standing.pk].payment_annulment is None
    html = listed.content.decode()
    annulled_row = html[html.index(f'id="reported-{annulled.pk}"') :]
    annulled_row = annulled_row[: annulled_row.index("</li>")]
    standing_row = html[html.index(f'id="reported-{standing.pk}"') :]
    standing_row = standing_row[: standing_row.index("</li>")]
    assert "Pago anulado" in annulled_row and "Duplicado" in annulled_row
    assert "Pago anulado" not in standing_row
    assertContains(customer, "Pago anulado", count=1)
    assertContains(customer, "Su pago se anuló el")


def test_a_verified_payment_standing_shows_no_annulment(agent_client, cobranzas, loan, debtor):
    report = verified(debtor, "loan", loan.pk, actor=cobranzas)

    page = agent_client.get(detail_url(report))

    assert page.context["report"].payment_annulment is None
    assertNotContains(page, "Pago anulado")


def test_a_payment_annulled_from_the_loan_page_is_seen_as_well(
    agent_client, cobranzas, supervisor, loan, debtor
):
    from credits.services import payments as payment_services

    report = verified(debtor, "loan", loan.pk, actor=cobranzas)
    payment_services.annul_payment(
        payment=Payment.objects.get(pk=report.payment_id), actor=supervisor, reason="Rebotado"
    )

    page = agent_client.get(detail_url(report))

    assert page.context["report"].payment_annulment.by == supervisor
    assertContains(page, "Rebotado")


def test_a_campaign_payment_annulled_is_seen_through_its_kind(
    agent_client,
    cobranzas,
    campaign,  # noqa: F811 (recovery's fixture)
    debtor,
):
    report = verified(debtor, "campaign", campaign.pk, actor=cobranzas, amount=Decimal("500.00"))
    services.annul_payment(
        customer=debtor,
        receivable_kind="campaign",
        payment_id=report.payment_id,
        actor=cobranzas,
        reason="Transferencia rebotada",
    )

    page = agent_client.get(detail_url(report))

    assert page.context["report"].payment_annulment is not None
    assertContains(page, "Pago anulado")


def test_the_list_costs_the_same_queries_however_many_payments_were_annulled(
    agent_client, cobranzas, make_active_loan
):
    def one_more():
        customer = CustomerFactory()
        loan = make_active_loan(customer=customer)
        report = verified(customer, "loan", loan.pk, actor=cobranzas)
        annul_from_the_customer_page(agent_client, customer, report.payment_id)

    url = reverse("collections_app:reported_list")
    one_more()
    agent_client.get(url)
    with CaptureQueriesContext(connection) as one:
        agent_client.get(url)
    for _ in range(3):
        one_more()
    with CaptureQueriesContext(connection) as many:
        listed = agent_client.get(url)

    assert len(listed.context["page"].object_list) == 4
    assert all(r.payment_annulment for r in listed.context["page"].object_list)
    assert len(many.captured_queries) == len(one.captured_queries)


def test_reports_not_verified_read_nothing_more(django_assert_num_queries, loan, debtor):
    report = services.report_payment(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=INSTALLMENT,
        paid_on=TODAY,
        method=ReportedPayment.Method.TRANSFER,
        receipt=SimpleUploadedFile("r.png", receipts.PNG, "image/png"),
        origin=Origin.PORTAL,
        actor=None,
    )

    with django_assert_num_queries(0):
        selectors.attach_payment_annulments([report])

    assert report.payment_annulment is None
