"""MercadoPago's payment read back with what its refunds gave back so far.

A partial refund leaves the payment "approved", status_detail "partially_refunded", with
`transaction_amount_refunded` (https://www.mercadopago.com.mx/developers/en/docs/
checkout-api-payments/response-handling/query-results): the processor needs it to stop
counting the money that went back.
"""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from integrations import mercadopago, payment_gateways
from integrations.errors import ProviderError

FIXTURES = Path(__file__).parent / "fixtures" / "mercadopago"


def answer(name="payment_approved.json", **changes):
    data = json.loads((FIXTURES / name).read_text())
    data.update(changes)
    return data


def test_a_partially_refunded_payment_is_approved_with_what_went_back():
    partially = answer(status_detail="partially_refunded", transaction_amount_refunded=300.1)

    payment = mercadopago.read_payment(partially)

    assert payment.status == payment_gateways.APPROVED
    assert (payment.amount, payment.refunded) == (Decimal("1234.50"), Decimal("300.10"))


def test_a_payment_without_refunds_has_nothing_refunded():
    assert mercadopago.read_payment(answer()).refunded == Decimal("0.00")
    missing = answer()
    del missing["transaction_amount_refunded"]
    assert mercadopago.read_payment(missing).refunded == Decimal("0.00")


def test_a_payment_refunded_whole_reads_its_amount_refunded():
    payment = mercadopago.read_payment(answer("payment_refunded.json"))

    assert (payment.status, payment.refunded) == (payment_gateways.REFUNDED, Decimal("1234.50"))


def test_more_refunded_than_paid_reads_as_all_of_it():
    assert mercadopago.read_payment(answer(transaction_amount_refunded=2000)).refunded == Decimal(
        "1234.50"
    )


@pytest.mark.parametrize("refunded", [-1, "mucho", True])
def test_a_refunded_amount_it_cannot_read_is_a_permanent_error(refunded):
    with pytest.raises(ProviderError):
        mercadopago.read_payment(answer(transaction_amount_refunded=refunded))
