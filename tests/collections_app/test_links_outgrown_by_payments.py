"""An open link asks for the amount fixed when it was made. Once another payment reduces the
debt (an agreement's down payment, a payment recorded by hand, a payment to verify), the
links now asking for more than they could pay are withdrawn, on the timeline, and the
portal no longer offers them: paid, they left the excess as credit to refund by hand.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from collections_app import services
from collections_app.models import AgreementRule, Origin, PaymentLink, ReportedPayment
from credits.models import Loan
from crm.models import Interaction
from integrations import payment_gateways
from tests import receipts
from tests.collections_app.conftest import INSTALLMENT, OVERDUE, TO_SETTLE, TODAY, pay
from tests.collections_app.test_portal import (  # noqa: F401 (fixtures, imported)
    PAY,
    STATEMENT,
    google,
    reachable,
    signed_in,
)
from tests.recovery.conftest import CAMPAIGN_AMOUNT, campaign, written_off  # noqa: F401

UNDER_WAY = "Ya empezó un pago de"
# 10 % of what is overdue: the least down payment of the rule below, less than installment 1.
DOWN_PAYMENT = (OVERDUE * Decimal("0.1")).quantize(Decimal("0.01"))  # 472.80


def link(debtor, kind, receivable_id, concept, *, origin=Origin.AGENT, **extra) -> PaymentLink:
    return services.create_payment_link(
        customer=debtor,
        receivable_kind=kind,
        receivable_id=receivable_id,
        concept=concept,
        provider="mercadopago",
        origin=origin,
        actor=None,
        **extra,
    )


def paid_by_gateway(link: PaymentLink, operation: str, amount: Decimal | None = None) -> None:
    services.apply_gateway_payment(
        provider="mercadopago",
        found=payment_gateways.GatewayPayment(
            provider_payment_id=operation,
            reference=link.reference,
            status=payment_gateways.APPROVED,
            amount=link.amount if amount is None else amount,
            currency=link.currency,
            paid_on=TODAY,
            raw={},
        ),
    )


def status(link: PaymentLink) -> str:
    link.refresh_from_db()
    return link.status


def withdrawal_entry(link: PaymentLink) -> Interaction:
    return Interaction.objects.get(payload__link=link.pk, summary__contains="anulado")


@pytest.fixture
def rule(loan):
    """Agreements of up to 3 payments, 10 % down, offered for the loan's overdue debt."""
    loan.days_past_due = 134
    loan.save()
    return AgreementRule.objects.create(
        name="Hasta 3 cuotas", max_installments=3, min_down_payment_percent=Decimal("10")
    )


@pytest.mark.usefixtures("reachable")
def test_an_agreements_down_payment_withdraws_the_installment_link_it_outgrew(debtor, loan, rule):
    client = signed_in(Client(), debtor)
    client.post(
        PAY,
        {
            "debt": f"loan:{loan.pk}",
            "concept": "installment",
            "installment_number": "1",
            "provider": "mercadopago",
        },
    )
    old = PaymentLink.objects.get()
    assert old.amount == INSTALLMENT
    assertContains(client.get(STATEMENT), UNDER_WAY)
    _agreement, down = services.create_agreement(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        option_key=f"{rule.pk}-3",
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
    )
    assert down.amount == DOWN_PAYMENT

    paid_by_gateway(down, "9100")

    assert status(down) == PaymentLink.Status.PAID
    assert status(old) == PaymentLink.Status.CANCELLED
    assert old.status_reason == (
        "El pago de S/ 472.80 redujo la deuda: el link por S/ 945.60 ya no corresponde"
    )
    assert withdrawal_entry(old).summary == (
        f"Link de pago {old.reference} de S/ 945.60 anulado: el pago de S/ 472.80 redujo la "
        "deuda y el link ya no corresponde (la cuota 1 debe S/ 472.80)"
    )
    statement = client.get(STATEMENT)
    assertNotContains(statement, UNDER_WAY)
    # Asked again, the installment is quoted as it stands now.
    client.post(
        PAY,
        {
            "debt": f"loan:{loan.pk}",
            "concept": "installment",
            "installment_number": "1",
            "provider": "mercadopago",
        },
    )
    fresh = PaymentLink.objects.exclude(pk__in=[old.pk, down.pk]).get()
    assert fresh.amount == INSTALLMENT - DOWN_PAYMENT


def test_a_payment_by_hand_withdraws_the_links_it_outgrew_and_leaves_those_that_fit(debtor, loan):
    first = link(debtor, "loan", loan.pk, PaymentLink.Concept.INSTALLMENT, installment_number=1)
    second = link(debtor, "loan", loan.pk, PaymentLink.Concept.INSTALLMENT, installment_number=2)
    total = link(debtor, "loan", loan.pk, PaymentLink.Concept.TOTAL)
    small = link(debtor, "loan", loan.pk, PaymentLink.Concept.CUSTOM, amount=Decimal("100.00"))
    near_total = link(
        debtor, "loan", loan.pk, PaymentLink.Concept.CUSTOM, amount=TO_SETTLE - Decimal("10.00")
    )

    pay(loan, "500.00", TODAY)

    assert status(first) == PaymentLink.Status.CANCELLED
    assert status(total) == PaymentLink.Status.CANCELLED
    assert status(near_total) == PaymentLink.Status.CANCELLED
    assert "(la deuda total es S/ 10,470.27)" in withdrawal_entry(total).summary
    # Installment 2 owes what it did, and 100.00 is still less than the debt.
    assert status(second) == PaymentLink.Status.ACTIVE
    assert status(small) == PaymentLink.Status.ACTIVE


def test_an_installment_paid_off_says_so(debtor, loan):
    first = link(debtor, "loan", loan.pk, PaymentLink.Concept.INSTALLMENT, installment_number=1)

    pay(loan, INSTALLMENT, TODAY)

    assert status(first) == PaymentLink.Status.CANCELLED
    assert withdrawal_entry(first).summary.endswith("(la cuota 1 ya está pagada)")


def test_a_link_withdrawn_and_paid_anyway_says_the_excess_on_the_timeline(debtor, loan):
    total = link(debtor, "loan", loan.pk, PaymentLink.Concept.TOTAL)
    pay(loan, "500.00", TODAY)
    assert status(total) == PaymentLink.Status.CANCELLED

    # The checkout stays open at the gateway: the debtor pays the old figure.
    paid_by_gateway(total, "9200")

    loan.refresh_from_db()
    assert loan.status == Loan.Status.PAID
    assert loan.credit_balance == Decimal("500.00")
    entry = Interaction.objects.get(payload__link=total.pk, summary__contains="pagado")
    assert entry.summary.endswith(
        "; S/ 500.00 superaban lo que se debía y quedaron a favor del cliente, para "
        "devolverlos o aplicarlos a mano"
    )


def test_the_link_a_gateway_pays_is_not_withdrawn_by_its_own_payment(debtor, loan):
    total = link(debtor, "loan", loan.pk, PaymentLink.Concept.TOTAL)

    paid_by_gateway(total, "9300")

    assert status(total) == PaymentLink.Status.PAID
    assert total.payment_id is not None
    assert not Interaction.objects.filter(payload__link=total.pk, summary__contains="anulado")
    entry = Interaction.objects.get(payload__link=total.pk, summary__contains="pagado")
    assert "superaban" not in entry.summary


def test_a_campaign_payment_withdraws_the_campaigns_links_it_outgrew(
    debtor,
    campaign,  # noqa: F811 (recovery's fixture)
):
    total = link(debtor, "campaign", campaign.pk, PaymentLink.Concept.TOTAL)
    large = link(
        debtor, "campaign", campaign.pk, PaymentLink.Concept.CUSTOM, amount=Decimal("7000.00")
    )
    fits = link(
        debtor, "campaign", campaign.pk, PaymentLink.Concept.CUSTOM, amount=Decimal("1000.00")
    )
    assert total.amount == CAMPAIGN_AMOUNT
    report = services.report_payment(
        customer=debtor,
        receivable_kind="campaign",
        receivable_id=campaign.pk,
        amount=Decimal("500.00"),
        paid_on=TODAY - timedelta(days=1),
        method=ReportedPayment.Method.TRANSFER,
        receipt=SimpleUploadedFile("r.png", receipts.PNG, "image/png"),
        origin=Origin.PORTAL,
        actor=None,
    )

    services.approve_reported_payment(report=report, actor=None)

    assert status(total) == PaymentLink.Status.CANCELLED
    assert status(large) == PaymentLink.Status.CANCELLED
    assert status(fits) == PaymentLink.Status.ACTIVE
    assert withdrawal_entry(large).summary.endswith(
        "el pago de S/ 500.00 redujo la deuda y el link ya no corresponde "
        "(la deuda total es S/ 6,700.00)"
    )
