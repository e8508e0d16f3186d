"""Gateway payments of one link: each applied once under its own id, its refund or
chargeback annulling that one, and a partial refund leaving counted only what was kept.

The payments are MercadoPago's real `GET /v1/payments/{id}` answers (fields trimmed to
those that matter), read by `mercadopago.read_payment` as the processor does:
https://www.mercadopago.com.pe/developers/en/reference/payments/_payments_id/get
Statuses: https://www.mercadopago.com.mx/developers/en/docs/checkout-api-payments/response-handling/query-results
(approved / partially_refunded: "The payment has at least one partial refund."). One
preference can be paid more than once (MercadoPago's own answer, px-android#1446: "You can
just pay the same preference any times you want").
"""

import json
from decimal import Decimal

import pytest
from django.db.models import Sum

from collections_app import services
from collections_app.models import PaymentLink
from credits.models import Payment
from crm.models import Interaction
from integrations import mercadopago
from tests.collections_app.conftest import INSTALLMENT, TODAY, pay
from tests.races import at_once

REFUNDED_300 = INSTALLMENT - Decimal("300.00")  # 645.60


def json_number(amount: Decimal):
    """An amount as MercadoPago's JSON body brings it to read_payment: the number the
    JSON parser reads from its digits (the reader takes it back through str())."""
    return json.loads(str(amount))


def mp_payment(
    link, payment_id, *, status="approved", detail="accredited", refunded=Decimal("0.00")
):
    amount = json_number(link.amount)
    refunded = json_number(refunded)
    return {
        "id": payment_id,  # a JSON number
        "date_created": "2026-06-15T09:58:01.000-05:00",
        "date_approved": "2026-06-15T09:58:02.000-05:00",
        "date_last_updated": "2026-06-15T10:30:00.000-05:00",
        "status": status,
        "status_detail": detail,
        "currency_id": link.currency,
        "external_reference": link.reference,
        "transaction_amount": amount,
        "transaction_amount_refunded": refunded,
        "transaction_details": {"total_paid_amount": amount, "net_received_amount": amount},
        "refunds": (
            [{"id": 1, "payment_id": payment_id, "amount": refunded, "status": "approved"}]
            if refunded
            else []
        ),
        "payment_method_id": "visa",
        "payment_type_id": "credit_card",
        "captured": True,
    }


def notify(payment):
    """What process_gateway_event does once it has fetched the payment."""
    services.apply_gateway_payment(provider="mercadopago", found=mercadopago.read_payment(payment))


def installment_link(debtor, loan):
    return services.create_payment_link(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=PaymentLink.Concept.INSTALLMENT,
        installment_number=1,
        provider="mercadopago",
        origin="agent",
        actor=None,
    )


def applied_total(loan):
    return Payment.objects.filter(loan=loan, status=Payment.Status.APPLIED).aggregate(
        total=Sum("amount")
    )["total"] or Decimal("0.00")


def refunded_whole(link, payment_id):
    return mp_payment(link, payment_id, status="refunded", detail="refunded", refunded=link.amount)


# --- One link paid twice ---------------------------------------------------------------------


def test_mp_refund_of_the_first_of_two_payments_on_one_preference_is_annulled(loan, debtor):
    """Paid twice (double click, back button): A then B. A is refunded in MercadoPago's
    panel: A is annulled, though the link was paid by both."""
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 111))
    notify(mp_payment(link, 222))
    assert applied_total(loan) == 2 * INSTALLMENT

    notify(refunded_whole(link, 111))

    assert Payment.objects.get(external_id="mercadopago:111").status == Payment.Status.ANNULLED
    assert applied_total(loan) == INSTALLMENT


def test_mp_a_late_update_of_the_first_payment_does_not_hide_the_second_ones_refund(loan, debtor):
    """A then B on one preference; MercadoPago then sends payment.updated for A again (its
    money released, or a retry): B's refund still annuls B."""
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 111))
    notify(mp_payment(link, 222))
    notify(mp_payment(link, 111))  # payment.updated of A, still approved

    notify(refunded_whole(link, 222))

    assert Payment.objects.get(external_id="mercadopago:222").status == Payment.Status.ANNULLED
    assert applied_total(loan) == INSTALLMENT


def link_entries(debtor):
    return list(
        Interaction.objects.filter(customer=debtor, summary__contains=" pagado ")
        .order_by("pk")
        .values_list("summary", flat=True)
    )


def test_a_second_payment_of_a_link_is_applied_and_the_link_keeps_naming_the_first(loan, debtor):
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 111))

    notify(mp_payment(link, 222))

    first = Payment.objects.get(external_id="mercadopago:111")
    link.refresh_from_db()
    assert (link.provider_payment_id, link.payment_id) == ("111", first.pk)
    assert applied_total(loan) == 2 * INSTALLMENT
    assert link_entries(debtor) == [
        f"Link de pago {link.reference} pagado por MercadoPago: S/ 945.60 (operación 111)",
        f"Link de pago {link.reference} pagado otra vez por MercadoPago: S/ 945.60 (operación 222)",
    ]


def test_a_repeated_approval_of_an_applied_payment_changes_nothing(loan, debtor):
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 111))
    notify(mp_payment(link, 222))
    entries = Interaction.objects.filter(customer=debtor).count()

    notify(mp_payment(link, 111))
    notify(mp_payment(link, 222))

    link.refresh_from_db()
    assert link.provider_payment_id == "111"
    assert Payment.objects.filter(loan=loan).count() == 2
    assert Interaction.objects.filter(customer=debtor).count() == entries


def test_the_refund_of_a_second_payment_leaves_the_first_and_the_link_as_they_were(loan, debtor):
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 111))
    notify(mp_payment(link, 222))

    notify(refunded_whole(link, 222))
    notify(refunded_whole(link, 222))

    assert Payment.objects.get(external_id="mercadopago:222").status == Payment.Status.ANNULLED
    first = Payment.objects.get(external_id="mercadopago:111")
    assert first.status == Payment.Status.APPLIED
    link.refresh_from_db()
    assert (link.provider_payment_id, link.payment_id) == ("111", first.pk)
    assert applied_total(loan) == INSTALLMENT


def test_the_refund_of_the_first_payment_applies_the_later_one_again(loan, debtor):
    """A loan's payment is annulled only after those applied later: the later gateway
    payment is annulled and applied again after it, as it was, under an id of its own."""
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 111))
    notify(mp_payment(link, 222))

    notify(refunded_whole(link, 111))
    notify(refunded_whole(link, 111))

    again = Payment.objects.get(status=Payment.Status.APPLIED)
    assert again.external_id.startswith("mercadopago:222:")
    assert (again.amount, again.received_on, again.source) == (INSTALLMENT, TODAY, "mercadopago")
    # The oldest installment, as if A had never been.
    assert {a.installment.number for a in again.allocations.all()} == {1}
    # B's refund now annuls what stands of B.
    notify(refunded_whole(link, 222))
    assert applied_total(loan) == Decimal("0.00")


def test_a_refund_behind_a_payment_recorded_by_hand_is_refused_whole(loan, debtor):
    """An agent's payment after it can only be recorded again by the agent: the loan's
    refusal stands and nothing changes; the timeline (and the collections team) say why
    (tests/collections_app/test_refund_not_taken_back.py)."""
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 111))
    pay(loan, INSTALLMENT, TODAY)

    notify(refunded_whole(link, 111))

    assert applied_total(loan) == 2 * INSTALLMENT
    assert Interaction.objects.filter(
        customer=debtor,
        summary__contains="pero no se pudo anular y sigue aplicado",
    ).exists()


# --- Partial refunds -------------------------------------------------------------------------


def test_mp_a_partial_refund_is_not_left_counted_as_paid(loan, debtor):
    """A refund of 300 of an applied installment: MercadoPago keeps status "approved" with
    status_detail "partially_refunded" and transaction_amount_refunded."""
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 333))

    notify(mp_payment(link, 333, detail="partially_refunded", refunded=Decimal("300.00")))

    assert applied_total(loan) == REFUNDED_300
    first = Payment.objects.get(external_id="mercadopago:333")
    assert first.status == Payment.Status.ANNULLED
    kept = Payment.objects.get(status=Payment.Status.APPLIED)
    assert (kept.external_id, kept.amount, kept.received_on) == (
        "mercadopago:333:refunded:300.00",
        REFUNDED_300,
        TODAY,
    )
    link.refresh_from_db()
    assert (link.provider_payment_id, link.payment_id) == ("333", kept.pk)
    assert Interaction.objects.filter(
        customer=debtor,
        summary=(
            f"MercadoPago devolvió S/ 300.00 de la operación 333 (S/ 945.60) del link de pago "
            f"{link.reference}: se anuló el pago de S/ 945.60 y se registró lo que queda, "
            "S/ 645.60"
        ),
    ).exists()


def test_a_partial_refund_notified_again_changes_nothing(loan, debtor):
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 333))
    notify(mp_payment(link, 333, detail="partially_refunded", refunded=Decimal("300.00")))
    entries = Interaction.objects.filter(customer=debtor).count()

    notify(mp_payment(link, 333, detail="partially_refunded", refunded=Decimal("300.00")))

    assert Payment.objects.filter(loan=loan).count() == 2
    assert applied_total(loan) == REFUNDED_300
    assert Interaction.objects.filter(customer=debtor).count() == entries


def test_a_second_partial_refund_leaves_counted_what_is_left_of_both(loan, debtor):
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 333))
    notify(mp_payment(link, 333, detail="partially_refunded", refunded=Decimal("300.00")))

    notify(mp_payment(link, 333, detail="partially_refunded", refunded=Decimal("400.00")))

    assert applied_total(loan) == INSTALLMENT - Decimal("400.00")
    assert Payment.objects.get(status=Payment.Status.APPLIED).external_id == (
        "mercadopago:333:refunded:400.00"
    )
    assert Interaction.objects.filter(
        customer=debtor,
        summary=(
            "MercadoPago devolvió otros S/ 100.00 de la operación 333 (S/ 945.60; en total "
            f"S/ 400.00) del link de pago {link.reference}: se anuló el pago de S/ 645.60 y "
            "se registró lo que queda, S/ 545.60"
        ),
    ).exists()


def test_a_stale_read_with_less_refunded_changes_nothing(loan, debtor):
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 333))
    notify(mp_payment(link, 333, detail="partially_refunded", refunded=Decimal("400.00")))

    notify(mp_payment(link, 333, detail="partially_refunded", refunded=Decimal("300.00")))
    notify(mp_payment(link, 333))

    assert applied_total(loan) == INSTALLMENT - Decimal("400.00")


def test_a_full_refund_after_a_partial_one_annuls_what_was_left(loan, debtor):
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 333))
    notify(mp_payment(link, 333, detail="partially_refunded", refunded=Decimal("300.00")))

    notify(refunded_whole(link, 333))

    assert applied_total(loan) == Decimal("0.00")
    assert not Payment.objects.filter(status=Payment.Status.APPLIED).exists()


def test_a_payment_first_seen_refunded_in_part_applies_only_what_was_kept(loan, debtor):
    link = installment_link(debtor, loan)

    notify(mp_payment(link, 444, detail="partially_refunded", refunded=Decimal("300.00")))
    notify(mp_payment(link, 444, detail="partially_refunded", refunded=Decimal("300.00")))

    payment = Payment.objects.get(loan=loan)
    assert (payment.external_id, payment.amount) == (
        "mercadopago:444:refunded:300.00",
        REFUNDED_300,
    )
    link.refresh_from_db()
    assert (link.status, link.payment_id) == (PaymentLink.Status.PAID, payment.pk)
    assert link_entries(debtor) == [
        f"Link de pago {link.reference} pagado por MercadoPago: S/ 945.60 (operación 444), de "
        "los que MercadoPago ya devolvió S/ 300.00: se registró S/ 645.60"
    ]


# --- At once ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_same_partial_refund_notified_twice_at_once_is_applied_once(roles, loan, debtor):
    link = installment_link(debtor, loan)
    notify(mp_payment(link, 333))
    refund = mp_payment(link, 333, detail="partially_refunded", refunded=Decimal("300.00"))

    _done, errors = at_once(lambda: notify(refund), lambda: notify(refund))

    assert errors == []
    assert Payment.objects.filter(loan=loan).count() == 2
    assert applied_total(loan) == REFUNDED_300
