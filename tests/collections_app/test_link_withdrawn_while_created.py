"""A link withdrawn while its gateway was still making the checkout stays withdrawn."""

import pytest
from django.core.exceptions import ValidationError

from collections_app import services
from collections_app.models import Origin, PaymentLink
from crm.models import Interaction
from integrations import payment_gateways


@pytest.fixture
def withdrawn_meanwhile(monkeypatch):
    """The gateway answers after someone withdrew the link (the agent's «Anular», a
    campaign's finish, the hourly run giving it up as cut off)."""
    real = payment_gateways.gateway

    class Slow:
        def __init__(self, provider):
            self.inner = real(provider)

        def create_checkout(self, request):
            link = PaymentLink.objects.get(reference=request.reference)
            services.cancel_payment_link(link=link, actor=None, reason="Monto equivocado")
            return self.inner.create_checkout(request)

    monkeypatch.setattr(payment_gateways, "gateway", Slow)


def test_the_gateways_late_answer_does_not_bring_a_withdrawn_link_back(
    withdrawn_meanwhile, debtor, loan
):
    with pytest.raises(ValidationError, match="no se ofrece al cliente"):
        services.create_payment_link(
            customer=debtor,
            receivable_kind="loan",
            receivable_id=loan.pk,
            concept=PaymentLink.Concept.TOTAL,
            provider="mercadopago",
            origin=Origin.AGENT,
            actor=None,
        )

    link = PaymentLink.objects.get()
    assert link.status == PaymentLink.Status.CANCELLED
    assert link.url == ""
    assert link.provider_id
    entry = Interaction.objects.filter(customer=debtor, payload__link=link.pk).latest("pk")
    assert "cuando ya estaba anulado (Monto equivocado): no se ofrece" in entry.summary
