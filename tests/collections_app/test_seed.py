"""The collections demo: every event in every state a person can find it in."""

import io

from django.core.management import call_command
from django.utils import timezone

from collections_app.models import (
    CallbackRequest,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    ReportedPayment,
)


def states(model) -> set[str]:
    return set(model.objects.values_list("status", flat=True))


def test_the_demo_has_every_event_in_every_state(demo):
    assert states(PaymentLink) == set(PaymentLink.Status.values) - {PaymentLink.Status.CREATING}
    assert states(ReportedPayment) == set(ReportedPayment.Status.values)
    assert states(PaymentPromise) == set(PaymentPromise.Status.values)
    assert states(PaymentAgreement) == set(PaymentAgreement.Status.values)
    assert states(CallbackRequest) == set(CallbackRequest.Status.values)


def test_loading_the_demo_again_adds_nothing(demo):
    before = PaymentLink.objects.count(), PaymentPromise.objects.count()

    out = io.StringIO()
    call_command("seed_collections", stdout=out)

    assert (PaymentLink.objects.count(), PaymentPromise.objects.count()) == before
    assert "ya estaba cargada" in out.getvalue()


def test_the_demos_expired_link_expired_in_the_past(demo):
    """It was stored as expired with its expiry days ahead: "Vencido · vence 08/12/2026"."""
    (link,) = PaymentLink.objects.filter(status=PaymentLink.Status.EXPIRED)

    assert link.created_at < link.expires_at < timezone.now()
