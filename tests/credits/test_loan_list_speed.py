"""The loan list and a loan's page cost a fixed number of queries however many rows they
hold, and the list's count never reads the installments."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from credits.models import Installment, Loan, Payment, PaymentAllocation
from crm.models import Customer
from tests.factories import BranchFactory, LoanFactory, LoanProductFactory, UserFactory

INSTALLMENTS_PER_LOAN = 3


def _add_loans(count: int) -> None:
    """Add `count` active loans, each with its own customer, advisor and installments."""
    product = LoanProductFactory()
    branches = [BranchFactory() for _n in range(3)]
    advisors = [UserFactory() for _n in range(3)]
    start = Customer.objects.count()
    customers = Customer.objects.bulk_create(
        Customer(
            document_number=f"{70000000 + start + n:08d}",
            first_name=f"Cliente{n}",
            last_name="Prueba",
            search_text=f"cliente{n} prueba",
        )
        for n in range(count)
    )
    template = LoanFactory.build(product=product, customer=customers[0])
    loans = Loan.objects.bulk_create(
        Loan(
            **{
                field.attname: getattr(template, field.attname)
                for field in Loan._meta.concrete_fields
                if not field.primary_key
            }
            | {
                "customer_id": customer.pk,
                "payment_code": f"B{start + n:09d}",
                "status": Loan.Status.ACTIVE,
                "advisor_id": advisors[n % 3].pk,
                "branch_id": branches[n % 3].pk,
            }
        )
        for n, customer in enumerate(customers)
    )
    Installment.objects.bulk_create(
        Installment(
            loan=loan,
            number=number,
            due_date=date(2026, 2, 1) + timedelta(days=30 * number),
            principal_due=Decimal("100.00"),
            interest_due=Decimal("10.00"),
        )
        for loan in loans
        for number in range(1, INSTALLMENTS_PER_LOAN + 1)
    )


def _list_queries(client, **query) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("credits:loan_list"), query)
    assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize("query", [{}, {"sort": "-outstanding"}, {"sort": "customer"}])
def test_the_list_costs_the_same_queries_for_10_or_1000_loans(client, supervisor, query):
    client.force_login(supervisor)
    _add_loans(10)
    _list_queries(client, **query)  # the filter choices' cache, warm as on a working day
    few = _list_queries(client, **query)

    _add_loans(990)
    _list_queries(client, **query)
    many = _list_queries(client, **query)

    assert len(many) == len(few)


def test_counting_the_list_joins_no_installment(client, supervisor):
    _add_loans(30)
    client.force_login(supervisor)

    queries = _list_queries(client)

    counts = [sql for sql in queries if "COUNT(" in sql and '"credits_loan"' in sql]
    assert counts
    for sql in counts:
        assert 'JOIN "credits_installment"' not in sql


def test_the_list_shows_each_loans_outstanding_principal_and_badges(client, supervisor):
    _add_loans(2)
    Installment.objects.filter(number=1).update(principal_paid=Decimal("100.00"))
    Loan.objects.filter(pk=Loan.objects.order_by("pk").first().pk).update(status=Loan.Status.PAID)
    client.force_login(supervisor)

    content = client.get(reverse("credits:loan_list")).content.decode()

    assert content.count("200.00") == 2  # 3 × 100 due, 100 paid
    assert content.count('data-status="active"') == 1
    assert content.count('data-status="paid"') == 1
    assert content.count('data-bucket="current"') == 1  # only a live loan shows its bucket


def _detail_queries(client, loan: Loan) -> int:
    url = reverse("credits:loan_detail", args=[loan.pk])
    client.get(url)  # once unmeasured: session stamp and caches, as on a working day
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _add_installments_and_payments(loan: Loan, count: int, *, recorded_by) -> None:
    """Add `count` installments after the loan's last, each paid by its own payment."""
    last = loan.installments.order_by("-number").values_list("number", flat=True).first() or 0
    installments = Installment.objects.bulk_create(
        Installment(
            loan=loan,
            number=last + n,
            due_date=date(2027, 1, 1) + timedelta(days=n),
            principal_due=Decimal("10.00"),
            interest_due=Decimal("1.00"),
            principal_paid=Decimal("10.00"),
            interest_paid=Decimal("1.00"),
        )
        for n in range(1, count + 1)
    )
    payments = Payment.objects.bulk_create(
        Payment(
            loan=loan,
            amount=Decimal("11.00"),
            received_on=date(2026, 6, 1),
            source=Payment.Source.CASH,
            recorded_by=recorded_by,
        )
        for _n in range(count)
    )
    PaymentAllocation.objects.bulk_create(
        PaymentAllocation(
            payment=payment,
            installment=installment,
            component="principal",
            amount=Decimal("10.00"),
        )
        for payment, installment in zip(payments, installments, strict=True)
    )


def test_a_loans_page_costs_the_same_queries_for_10_or_1000_installments_and_payments(
    client, supervisor, make_active_loan
):
    loan = make_active_loan()
    client.force_login(supervisor)
    _add_installments_and_payments(loan, 10, recorded_by=supervisor)
    few = _detail_queries(client, loan)

    _add_installments_and_payments(loan, 990, recorded_by=supervisor)
    many = _detail_queries(client, loan)

    assert many == few


def test_a_loans_page_reads_its_installments_once(client, supervisor, make_active_loan):
    loan = make_active_loan()
    client.force_login(supervisor)
    url = reverse("credits:loan_detail", args=[loan.pk])
    client.get(url)

    with CaptureQueriesContext(connection) as queries:
        client.get(url)

    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('SELECT "credits_installment"."id"')
    ]
    assert len(reads) == 1
