"""The collections work queues at full size: each queue's order has an index that is the
order itself, the promise tabs have theirs, and a search reads a code by the code and a
name by the customers (never an OR of a code with every matching customer)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from collections_app import selectors
from collections_app.models import CallbackRequest, PaymentLink, PaymentPromise, ReportedPayment
from tests.collections_app.conftest import TODAY
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _report(customer, loan, *, status, created_at, code=None):
    return ReportedPayment.objects.create(
        customer=customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=code or loan.payment_code,
        amount=Decimal("100.00"),
        paid_on=TODAY,
        method=ReportedPayment.Method.TRANSFER,
        receipt="comprobantes/x/recibo.pdf",
        status=status,
        created_at=created_at,
    )


def _promise(customer, loan, *, code=None, status=PaymentPromise.Status.PENDING, day=TODAY):
    return PaymentPromise.objects.create(
        customer=customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=code or loan.payment_code,
        amount=Decimal("100.00"),
        promised_on=day,
        status=status,
    )


def _order_sql(queryset) -> str:
    return str(queryset.query).split(" ORDER BY ", 1)[1]


def _index(model, name):
    return next((index for index in model._meta.indexes if index.name == name), None)


@pytest.mark.parametrize(
    ("model", "name", "listed"),
    [
        (ReportedPayment, "coll_report_queue", selectors.reported_list),
        (CallbackRequest, "coll_callback_queue", selectors.callback_list),
    ],
)
def test_each_queue_has_an_index_that_is_its_order(model, name, listed):
    # PostgreSQL reads a page along an expression index only if its expressions are the
    # ORDER BY's, one for one: otherwise it sorts every row joined to its customer.
    index = _index(model, name)
    assert index is not None
    along_index = model.objects.order_by(*index.expressions)
    assert _order_sql(along_index) == _order_sql(listed())


def test_the_payments_queue_keeps_its_order_and_its_pages(loan, debtor):
    now = timezone.now()
    pending, approved, rejected = (
        ReportedPayment.Status.PENDING,
        ReportedPayment.Status.APPROVED,
        ReportedPayment.Status.REJECTED,
    )
    made = [
        _report(debtor, loan, status=status, created_at=now - timedelta(hours=hours))
        for status, hours in [
            (approved, 1),
            (pending, 2),
            (rejected, 3),
            (pending, 9),
            (approved, 9),
            (pending, 5),
            (approved, 1),
        ]
    ]
    # The pending ones, oldest first; then the others, newest first; ties by the newest id.
    expected = sorted(
        made,
        key=lambda r: (
            r.status != pending,
            r.created_at if r.status == pending else now,
            -r.created_at.timestamp() if r.status != pending else 0,
            -r.pk,
        ),
    )
    listed = selectors.reported_list()
    assert [r.pk for r in listed] == [r.pk for r in expected]
    assert [r.pk for r in listed[:3]] + [r.pk for r in listed[3:]] == [r.pk for r in expected]


def test_the_in_course_tab_reads_its_index():
    plan = _plan(selectors.promise_list(view=selectors.IN_COURSE))
    assert "coll_promise_status_day" in plan


def _plan(queryset) -> str:
    """The database's plan for `queryset`. On PostgreSQL with sequential scans priced out:
    its planner reads an empty test table whole, so what is asked is whether an index
    serves the query at all, and which."""
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " ".join(str(row) for row in cursor.fetchall())


@pytest.fixture
def searched(loan, debtor):
    """Two customers' promises: the debtor's, with the loan's code, and a stranger's."""
    stranger = CustomerFactory(first_name="Rosa", last_name="Huamán")
    mine = _promise(debtor, loan)
    theirs = _promise(stranger, loan, code="ZZ-OTHER")
    return {"code": loan.payment_code, "mine": mine, "theirs": theirs, "stranger": stranger}


def test_a_code_finds_its_rows_by_the_code_alone(searched):
    found = selectors.promise_list(q=searched["code"].lower())
    assert [p.pk for p in found] == [searched["mine"].pk]
    assert "crm_customer" not in str(found.query).split(" WHERE ", 1)[1]


def test_a_name_or_a_document_finds_by_the_customers_alone(searched):
    stranger = searched["stranger"]
    for typed in ("rosa huaman", stranger.document_number):
        found = selectors.promise_list(q=typed)
        assert [p.pk for p in found] == [searched["theirs"].pk]
        assert "receivable_code" not in str(found.query).split(" WHERE ", 1)[1]
    assert selectors.promise_counts(q="rosa huaman")["todos"] == 1
    assert list(selectors.promise_list(q="nadie se llama asi")) == []


def test_a_link_reference_still_finds_its_link(loan, debtor):
    link = PaymentLink.objects.create(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        receivable_code=loan.payment_code,
        amount=Decimal("100.00"),
        currency="PEN",
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        status=PaymentLink.Status.ACTIVE,
        expires_at=timezone.now() + timedelta(hours=72),
        reference="PL-00000000000000000042",
    )
    assert [x.pk for x in selectors.link_list(q="pl-00000000000000000042")] == [link.pk]
