"""A disbursement annulled by mistake waits while collections has something open on the
loan (credits' annulment check, registered by this app): a link, a promise, an agreement or a
payment to verify would be left naming a loan that owes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from collections_app import receivables, services
from collections_app.models import Origin
from credits.models import Loan
from credits.services import loans as loan_services
from tests.collections_app.conftest import TODAY


def test_an_open_promise_keeps_the_disbursement_from_being_annulled(loan, debtor):
    services.promise_payment(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=Decimal("100.00"),
        promised_on=TODAY + timedelta(days=3),
        origin=Origin.AGENT,
        actor=None,
    )

    with pytest.raises(ValidationError) as refused:
        loan_services.annul_disbursement(loan=loan, actor=None, reason="Fecha equivocada")

    assert refused.value.messages == [
        f"El crédito {loan.payment_code} tiene un compromiso de pago vigente: anúlelo en "
        "«Cobranzas» antes de anular su desembolso."
    ]
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.ACTIVE


def test_without_anything_open_collections_does_not_object(loan):
    assert receivables.open_events_refusal(loan) == ""
