"""Admin offers no «Eliminar» for a customer something protects, hidden relations included."""

from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from collections_app.models import PaymentPromise
from crm.models import Customer
from tests.collections_app.conftest import TODAY


@pytest.fixture
def customer_admin():
    return site._registry[Customer]


def _request(user):
    request = RequestFactory().get("/admin/crm/customer/")
    request.user = user
    return request


def test_a_promise_to_pay_protects_its_customer(customer_admin, admin_user, customer):
    # PaymentPromise.customer is PROTECT with related_name="+": `_meta.related_objects`
    # leaves it out, so admin offered a deletion that could only fail.
    PaymentPromise.objects.create(
        customer=customer,
        receivable_kind="loan",
        receivable_id=1,
        receivable_code="X",
        amount=Decimal("100.00"),
        promised_on=TODAY,
    )

    assert not customer_admin.has_delete_permission(_request(admin_user), customer)


def test_a_customer_nothing_protects_may_be_deleted(customer_admin, admin_user, customer):
    assert customer_admin.has_delete_permission(_request(admin_user), customer)
