"""Deleting a loan product in admin goes through its service: the deletions audit keeps who
deleted it, its settings and what went with it; a product with loans is kept."""

import pytest
from django.contrib.admin.sites import site as admin_site
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from credits.models import LoanProduct
from credits.services import products
from crm.gestiones import examples
from crm.gestiones.models import LifecycleEvent
from crm.models import DeletionRecord
from tests.factories import LoanFactory, LoanProductFactory, UserFactory


@pytest.fixture
def boss(db):
    return UserFactory(username="jefa", first_name="Ana", last_name="Rojas", role="Administrador")


def _admin_request(user):
    request = RequestFactory().post("/admin/")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def _event(product, gestion_type) -> LifecycleEvent:
    return LifecycleEvent.objects.create(
        name="Gracias por su crédito",
        kind=LifecycleEvent.Kind.THANKS,
        loan_product=product,
        anchor=LifecycleEvent.Anchor.DISBURSED,
        offset_days=1,
        gestion_type=gestion_type,
        message_subject="Gracias",
        message_body="Gracias por su {producto}.",
    )


def test_a_product_without_loans_deleted_in_admin_is_recorded_with_what_went(boss, supervisor):
    gestion_type = examples.build_process(
        examples.SERVICE_REQUEST, agents=[boss], supervisors=[supervisor]
    )
    product = LoanProductFactory(name="Crédito moto")
    _event(product, gestion_type)

    admin_site._registry[LoanProduct].delete_model(_admin_request(boss), product)

    assert not LoanProduct.objects.filter(name="Crédito moto").exists()
    assert not LifecycleEvent.objects.exists()
    record = DeletionRecord.objects.get()
    assert (record.kind, record.name, record.deleted_by) == ("product", "Crédito moto", boss)
    assert ("Tasa nominal anual (%)", "24.00") in record.detail_items()
    assert record.detail_items()[-1] == ("También se eliminaron", "eventos de ciclo de vida: 1")


def test_a_product_with_loans_is_kept_and_leaves_no_record(boss):
    loan = LoanFactory()

    admin_site._registry[LoanProduct].delete_model(_admin_request(boss), loan.product)

    assert LoanProduct.objects.filter(pk=loan.product.pk).exists()
    assert not DeletionRecord.objects.exists()


def test_the_service_refuses_a_product_with_loans(boss):
    loan = LoanFactory()

    with pytest.raises(ValidationError) as caught:
        products.delete_loan_product(product=loan.product, actor=boss)

    assert "créditos" in str(caught.value)
    assert not DeletionRecord.objects.exists()
