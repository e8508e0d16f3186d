"""A gateway refund the loan cannot take back (a payment recorded by hand after it) is told."""

from django.utils import timezone

from collections_app import services
from collections_app.models import PaymentLink
from credits.models import Loan, Payment
from credits.services import payments as payment_services
from crm.models import Interaction
from integrations import payment_gateways
from integrations.models import OutboxMessage
from tests.collections_app.conftest import INSTALLMENT, TODAY, pay
from tests.collections_app.test_payment_events import approved, link_for

TEAM = "cobranzas@cartera.test"  # config/test_settings.COLLECTIONS_TEAM_EMAILS


def _refund(link):
    services.apply_gateway_payment(
        provider="mercadopago", found=approved(link, status=payment_gateways.REFUNDED)
    )


def _refused_refund(loan, debtor):
    link = link_for(debtor, loan, concept=PaymentLink.Concept.INSTALLMENT, installment_number=1)
    services.apply_gateway_payment(provider="mercadopago", found=approved(link))
    cash = pay(Loan.objects.get(pk=loan.pk), INSTALLMENT, TODAY)
    return link, Payment.objects.get(external_id="mercadopago:1234567890"), cash


def test_a_refund_that_cannot_be_taken_back_tells_the_timeline_and_the_team(loan, debtor):
    link, gateway, cash = _refused_refund(loan, debtor)

    _refund(link)

    gateway.refresh_from_db()
    assert gateway.status == Payment.Status.APPLIED
    (entry,) = Interaction.objects.filter(customer=debtor, payload__has_key="refund_not_taken_back")
    assert entry.summary.startswith(
        f"Pago #{gateway.pk} (S/ 945.60, operación 1234567890 del link de pago {link.reference}) "
        f"devuelto por MercadoPago, pero no se pudo anular y sigue aplicado a "
        f"{loan.payment_code}: Después de este pago se aplicaron los pagos #{cash.pk}"
    )
    (mail,) = OutboxMessage.objects.filter(
        payload__to=TEAM, dedupe_key__startswith="refund-not-taken-back-"
    )
    assert (
        mail.payload["subject"]
        == f"Devolución sin aplicar: {debtor.full_name}, {loan.payment_code}"
    )
    assert entry.summary in mail.payload["body"]


def test_the_same_refund_notified_again_tells_no_one_again(loan, debtor):
    link, _gateway, _cash = _refused_refund(loan, debtor)

    for _ in range(3):
        _refund(link)

    assert (
        Interaction.objects.filter(
            customer=debtor, payload__has_key="refund_not_taken_back"
        ).count()
        == 1
    )
    assert (
        OutboxMessage.objects.filter(dedupe_key__startswith="refund-not-taken-back-").count() == 1
    )


def test_the_refund_notified_again_once_the_later_payment_is_annulled_is_taken_back(loan, debtor):
    link, gateway, cash = _refused_refund(loan, debtor)
    _refund(link)

    payment_services.annul_payment(payment=cash, actor=None, reason="se registrará de nuevo")
    _refund(link)

    gateway.refresh_from_db()
    assert gateway.status == Payment.Status.ANNULLED
    assert gateway.annulled_at <= timezone.now()
