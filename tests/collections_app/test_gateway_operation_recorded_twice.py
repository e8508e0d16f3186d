"""A gateway operation the webhook applied and staff recorded by hand is money received once."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from pytest_django.asserts import assertContains

from collections_app import services
from collections_app.models import PaymentLink
from credits.models import Loan, Payment
from credits.services import ledger
from credits.services import payments as payment_services
from crm.models import Interaction
from integrations import payment_gateways
from integrations.models import OutboxMessage
from tests.collections_app.conftest import INSTALLMENT, TODAY
from tests.collections_app.test_payment_events import approved, link_for
from tests.factories import UserFactory
from tests.races import at_once

TEAM = "cobranzas@cartera.test"  # config/test_settings.COLLECTIONS_TEAM_EMAILS


def _installment_link(debtor, loan):
    return link_for(debtor, loan, concept=PaymentLink.Concept.INSTALLMENT, installment_number=1)


def _by_hand(loan, *, reference="77001", amount=INSTALLMENT, actor=None, **kwargs):
    return payment_services.apply_payment(
        loan=Loan.objects.get(pk=loan.pk),
        amount=amount,
        received_on=TODAY,
        source=Payment.Source.MERCADOPAGO,
        reference=reference,
        actor=actor or UserFactory(),
        **kwargs,
    )


def _webhook(link, **kwargs):
    services.apply_gateway_payment(
        provider="mercadopago", found=approved(link, payment_id="77001", **kwargs)
    )


def _applied(loan):
    return list(Payment.objects.filter(loan=loan, status=Payment.Status.APPLIED))


def test_an_operation_the_webhook_applied_is_refused_when_recorded_by_hand(loan, debtor):
    _webhook(_installment_link(debtor, loan))
    gateway = Payment.objects.get(loan=loan)

    with pytest.raises(ValidationError) as refused:
        _by_hand(loan, repeat_ok=True)

    assert refused.value.message_dict["reference"] == [
        f"La operación 77001 de MercadoPago ya está registrada: llegó por la pasarela como el "
        f"pago #{gateway.pk}, de S/ 945.60 del 15/06/2026. No se registró otra vez."
    ]
    assert _applied(loan) == [gateway]


def test_what_is_left_of_a_partly_refunded_operation_is_refused_when_recorded_by_hand(loan, debtor):
    link = _installment_link(debtor, loan)
    _webhook(link)
    _webhook(link, amount=INSTALLMENT)
    services.apply_gateway_payment(
        provider="mercadopago",
        found=payment_gateways.GatewayPayment(
            **{**approved(link, payment_id="77001").__dict__, "refunded": Decimal("100.00")}
        ),
    )
    (kept,) = _applied(loan)

    with pytest.raises(ValidationError, match=f"pago #{kept.pk}, de S/ 845.60"):
        _by_hand(loan, amount=Decimal("845.60"))


def test_an_operation_recorded_by_hand_is_refused_when_recorded_by_hand_again(loan, debtor):
    first = _by_hand(loan)

    with pytest.raises(ValidationError, match=f"registrada a mano: es el pago #{first.pk}"):
        _by_hand(loan, repeat_ok=True)

    assert _applied(loan) == [first]


def test_the_webhook_of_an_operation_recorded_by_hand_takes_that_payment(loan, debtor):
    link = _installment_link(debtor, loan)
    by_hand = _by_hand(loan)

    _webhook(link)
    _webhook(link)

    assert _applied(loan) == [by_hand]
    by_hand.refresh_from_db()
    assert by_hand.external_id == "mercadopago:77001"
    link.refresh_from_db()
    assert (link.status, link.payment_id) == (PaymentLink.Status.PAID, by_hand.pk)
    assert Interaction.objects.filter(
        customer=debtor,
        summary=f"MercadoPago notificó la operación 77001, que ya estaba registrada a mano como "
        f"el pago #{by_hand.pk} (S/ 945.60 del 15/06/2026): no se registró otra vez.",
    ).exists()


def test_a_refund_of_an_operation_recorded_by_hand_then_notified_annuls_it(loan, debtor):
    link = _installment_link(debtor, loan)
    by_hand = _by_hand(loan)
    _webhook(link)

    _webhook(link, status=payment_gateways.REFUNDED)

    by_hand.refresh_from_db()
    assert by_hand.status == Payment.Status.ANNULLED
    assert _applied(loan) == []


def test_the_webhook_of_an_operation_recorded_by_hand_with_another_amount_tells_the_team(
    loan, debtor
):
    link = _installment_link(debtor, loan)
    by_hand = _by_hand(loan, amount=Decimal("900.00"))

    _webhook(link)

    gateway = Payment.objects.get(external_id="mercadopago:77001")
    assert sorted(p.pk for p in _applied(loan)) == [by_hand.pk, gateway.pk]
    (mail,) = OutboxMessage.objects.filter(
        payload__to=TEAM, dedupe_key__startswith="gateway-hand-twin-"
    )
    assert f"registrada a mano como el pago #{by_hand.pk}, de S/ 900.00" in mail.payload["body"]
    assert f"pago #{gateway.pk} del crédito" in mail.payload["body"]
    assert Interaction.objects.filter(customer=debtor, payload__hand_recorded=by_hand.pk).exists()


def test_a_gateway_payment_alike_recorded_by_hand_without_its_operation_asks_to_confirm(
    loan, debtor
):
    _webhook(_installment_link(debtor, loan))
    gateway = Payment.objects.get(loan=loan)

    with pytest.raises(ValidationError) as asked:
        _by_hand(loan, reference="")
    another = _by_hand(loan, reference="", repeat_ok=True)

    assert asked.value.error_dict["repeat_ok"][0].code == ledger.REPEATED
    assert f"el pago #{gateway.pk}, de S/ 945.60 del 15/06/2026 (operación 77001)" in str(
        asked.value
    )
    assert sorted(p.pk for p in _applied(loan)) == [gateway.pk, another.pk]


def test_the_payment_form_refuses_the_operation_and_offers_another_payment_alike(
    client, cobranzas, loan, debtor
):
    _webhook(_installment_link(debtor, loan))
    client.force_login(cobranzas)
    url = reverse("credits:payment_create", args=[loan.pk])
    fields = {
        "amount": "945.60",
        "received_on": TODAY.isoformat(),
        "source": Payment.Source.MERCADOPAGO,
        "receipt_url": "",
        "overpayment": Payment.Overpayment.CREDIT,
    }

    same = client.post(url, {**fields, "reference": "77001"})
    alike = client.post(url, {**fields, "reference": ""})

    assertContains(same, "La operación 77001 de MercadoPago ya está registrada")
    assertContains(alike, "Ya llegó por MercadoPago un pago igual")
    assertContains(alike, 'name="repeat_ok"')
    assert len(_applied(loan)) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL: real row locks")
@pytest.mark.parametrize("round_", range(3))
def test_the_webhook_and_a_cashier_recording_one_operation_at_once_apply_it_once(
    transactional_db, loan, debtor, round_
):
    link = _installment_link(debtor, loan)
    cashier = UserFactory()

    _done, errors = at_once(lambda: _webhook(link), lambda: _by_hand(loan, actor=cashier))

    assert all(e.startswith("ValidationError") for e in errors), errors
    assert len(_applied(loan)) == 1
