"""«Reabrir» a payment to verify rejected by mistake: back in the queue, waiting, with the
rejection it undoes on the customer's timeline; the debtor is not messaged (verified later,
they are told as usual; rejected again, not twice). Only for who may reject, only a
rejected report, and never beside another report of the same payment, waiting or verified
(the same money could be applied twice)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from collections_app import services
from collections_app.models import Origin, ReportedPayment
from credits.models import Payment
from crm.models import Interaction
from integrations.models import OutboxMessage
from lib import people
from tests import receipts
from tests.collections_app.conftest import INSTALLMENT, TODAY
from tests.collections_app.test_agent_screens import receipt, report_of, shown
from tests.factories import UserFactory
from tests.races import at_once

REASON = "El comprobante es ilegible"


def url_of(report: ReportedPayment, action: str = "reopen") -> str:
    return reverse(f"collections_app:reported_{action}", args=[report.pk])


@pytest.fixture
def rejected(debtor, loan, cobranzas):
    """A payment to verify rejected by an agent, the debtor told by e-mail."""
    debtor.email = "deudor@example.com"
    debtor.save()
    report = report_of(debtor, loan)
    services.reject_reported_payment(report=report, actor=cobranzas, reason=REASON)
    report.refresh_from_db()
    return report


@pytest.fixture
def agent(client, cobranzas):
    client.force_login(cobranzas)
    return client


def reopen_entries(report: ReportedPayment):
    return Interaction.objects.filter(
        payload__reported_payment=report.pk, summary__contains="reabierto"
    )


def messages_to_debtor() -> int:
    return OutboxMessage.objects.filter(payload__to="deudor@example.com").count()


# --- Who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["cobranzas", "supervisor"])
def test_who_may_reject_may_reopen(client, request, who, rejected):
    client.force_login(request.getfixturevalue(who))

    detail = client.get(url_of(rejected, "detail"))
    assertContains(detail, url_of(rejected))
    client.post(url_of(rejected), {"confirm": "yes"})

    rejected.refresh_from_db()
    assert rejected.status == ReportedPayment.Status.PENDING


@pytest.mark.parametrize("who", ["asesor", "agente", "outsider"])
def test_who_may_not_reject_may_not_reopen(client, request, who, rejected):
    client.force_login(request.getfixturevalue(who))

    assert client.post(url_of(rejected), {"confirm": "yes"}).status_code == 403

    rejected.refresh_from_db()
    assert rejected.status == ReportedPayment.Status.REJECTED
    assert not reopen_entries(rejected).exists()


def test_who_only_reads_the_payments_sees_no_reopen_button(client, rejected):
    reader = UserFactory(username="lector")
    reader.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_reportedpayment", "view_customer"],
            content_type__app_label__in=["collections_app", "crm"],
        )
    )
    client.force_login(reader)

    detail = client.get(url_of(rejected, "detail"))

    assert detail.status_code == 200
    assertNotContains(detail, url_of(rejected))
    assert client.post(url_of(rejected), {"confirm": "yes"}).status_code == 403


def test_a_get_is_not_allowed(agent, rejected):
    assert agent.get(url_of(rejected)).status_code == 405


# --- What it does ----------------------------------------------------------------------------


def test_reopening_asks_first_then_puts_the_payment_back_in_the_queue(agent, cobranzas, rejected):
    told = messages_to_debtor()
    rejected_at = rejected.reviewed_at

    asked = agent.post(url_of(rejected))

    assertTemplateUsed(asked, "collections_app/confirm.html")
    assertContains(asked, "¿Reabrir este pago?")
    assertContains(asked, REASON)
    assertContains(asked, "No se avisará al cliente de la reapertura.")
    assertContains(asked, 'name="confirm" value="yes"')  # a plain form: no JavaScript needed
    rejected.refresh_from_db()
    assert rejected.status == ReportedPayment.Status.REJECTED

    done = agent.post(url_of(rejected), {"confirm": "yes"}, follow=True)

    assert done.redirect_chain == [(url_of(rejected, "detail"), 302)]
    assert shown(done) == [
        "Pago reabierto: volvió a la cola de pagos por verificar. No se avisó al cliente."
    ]
    rejected.refresh_from_db()
    assert rejected.status == ReportedPayment.Status.PENDING
    assert (rejected.reviewed_by, rejected.reviewed_at, rejected.reject_reason) == (None, None, "")
    assert messages_to_debtor() == told  # not messaged again
    # Waiting again in the queue, and reviewable on its page.
    queue = agent.get(reverse("collections_app:reported_list"), {"status": "pending"})
    assert [report.pk for report in queue.context["page"].object_list] == [rejected.pk]
    assertContains(done, url_of(rejected, "approve"))
    entry = reopen_entries(rejected).get()
    assert entry.actor == cobranzas
    assert entry.summary == (
        f"Pago a verificar #{rejected.pk} reabierto: antes Rechazado (motivo: {REASON}), por "
        f"{people.display_name(cobranzas)} el "
        f"{timezone.localtime(rejected_at):%d/%m/%Y %H:%M}; vuelve a estar por verificar. "
        "No se avisó al cliente"
    )


def test_the_timeline_names_who_rejected_and_when(cobranzas, supervisor, rejected):
    services.reopen_reported_payment(report=rejected, actor=supervisor)

    entry = reopen_entries(rejected).get()
    assert entry.actor == supervisor
    assert f"por {people.display_name(cobranzas)} el 15/06/2026 " in entry.summary


def test_a_reopened_payment_verified_applies_it_and_tells_the_debtor(agent, rejected):
    agent.post(url_of(rejected), {"confirm": "yes"}, follow=True)
    told = messages_to_debtor()

    done = agent.post(url_of(rejected, "approve"), {"confirm": "yes"}, follow=True)

    rejected.refresh_from_db()
    assert rejected.status == ReportedPayment.Status.APPROVED
    assert Payment.objects.get().amount == INSTALLMENT
    assert messages_to_debtor() == told + 1
    assert shown(done) == [
        f"Pago verificado y aplicado al crédito {rejected.receivable_code}. Aviso al cliente "
        "en cola (correo)."
    ]


def test_a_reopened_payment_rejected_again_does_not_tell_the_debtor_twice(agent, rejected):
    agent.post(url_of(rejected), {"confirm": "yes"}, follow=True)
    told = messages_to_debtor()

    asked = agent.post(url_of(rejected, "reject"), {"reason": "No figura en el banco"})
    assertContains(asked, "No se avisará al cliente: este pago ya se rechazó una vez")
    done = agent.post(
        url_of(rejected, "reject"),
        {"reason": "No figura en el banco", "confirm": "yes"},
        follow=True,
    )

    rejected.refresh_from_db()
    assert rejected.status == ReportedPayment.Status.REJECTED
    assert rejected.reject_reason == "No figura en el banco"
    assert messages_to_debtor() == told
    assert shown(done) == [
        "Pago rechazado. No se avisó al cliente: este pago ya se había rechazado antes de "
        "reabrirse."
    ]
    entry = Interaction.objects.filter(
        payload__reported_payment=rejected.pk, summary__contains="No figura"
    ).get()
    assert entry.summary.endswith("(otra vez, tras reabrirse: no se avisó al cliente)")


# --- When it may not -------------------------------------------------------------------------


def test_posted_twice_it_reopens_once(agent, rejected):
    agent.post(url_of(rejected), {"confirm": "yes"})

    again = agent.post(url_of(rejected), {"confirm": "yes"})

    assert again.status_code == 200
    assertTemplateUsed(again, "collections_app/reported_detail.html")
    assertContains(again, "No se reabrió el pago:")
    assertContains(again, "Este pago ya está por verificar.")
    assert reopen_entries(rejected).count() == 1


def test_a_pending_payment_is_not_reopened(agent, debtor, loan):
    report = report_of(debtor, loan)

    response = agent.post(url_of(report), {"confirm": "yes"})

    assertContains(response, "Este pago ya está por verificar.")
    assert not reopen_entries(report).exists()
    with pytest.raises(ValidationError, match="ya está por verificar"):
        services.reopen_reported_payment(report=report, actor=None)


def test_a_verified_payment_is_not_reopened(agent, cobranzas, debtor, loan):
    report = report_of(debtor, loan)
    services.approve_reported_payment(report=report, actor=cobranzas)

    response = agent.post(url_of(report), {"confirm": "yes"})

    assertContains(response, "Solo se reabre un pago rechazado: este ya fue verificado.")
    report.refresh_from_db()
    assert report.status == ReportedPayment.Status.APPROVED
    assert Payment.objects.count() == 1
    assertNotContains(agent.get(url_of(report, "detail")), url_of(report))


def _again(debtor, loan, **kwargs):
    """The debtor reports a payment again after the rejection."""
    return services.report_payment(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=kwargs.pop("amount", INSTALLMENT),
        paid_on=kwargs.pop("paid_on", TODAY - timedelta(days=1)),
        method=ReportedPayment.Method.TRANSFER,
        origin=Origin.PORTAL,
        actor=None,
        **kwargs,
    )


@pytest.mark.parametrize("verified", [False, True])
def test_the_same_receipt_reported_again_since_keeps_it_closed(
    agent, cobranzas, debtor, loan, rejected, verified
):
    # The same file sent again, with the figures typed differently.
    again = _again(debtor, loan, amount=Decimal("900.00"), receipt=receipt(), reference="")
    if verified:
        services.approve_reported_payment(report=again, actor=cobranzas)
    status = "verificado" if verified else "por verificar"

    response = agent.post(url_of(rejected))  # refused before the confirmation page

    assertContains(
        response,
        f"El pago a verificar #{again.pk} ({status}, informado el 15/06/2026) trae el mismo "
        "comprobante",
    )
    rejected.refresh_from_db()
    assert rejected.status == ReportedPayment.Status.REJECTED
    with pytest.raises(ValidationError, match="mismo comprobante"):
        services.reopen_reported_payment(report=rejected, actor=cobranzas)


def test_the_same_operation_reported_again_with_another_receipt_keeps_it_closed(
    agent, debtor, loan, rejected
):
    photo = receipt("foto.png", receipts.PNG, "image/png")
    again = _again(debtor, loan, receipt=photo, reference="OP-778899")

    response = agent.post(url_of(rejected), {"confirm": "yes"})

    assertContains(
        response, f"El pago a verificar #{again.pk} (por verificar, informado el 15/06/2026)"
    )
    assertContains(response, "mismo monto, fecha y n.º de operación")
    rejected.refresh_from_db()
    assert rejected.status == ReportedPayment.Status.REJECTED


def test_another_payment_reported_since_or_a_rejected_copy_does_not_keep_it_closed(
    agent, cobranzas, debtor, loan, rejected
):
    photo = receipt("foto.png", receipts.PNG, "image/png")
    other = _again(debtor, loan, amount=Decimal("120.00"), receipt=photo, reference="OP-1")
    copy = _again(debtor, loan, receipt=receipt(), reference="OP-778899")
    services.reject_reported_payment(report=copy, actor=cobranzas, reason="Repetido")

    agent.post(url_of(rejected), {"confirm": "yes"})

    rejected.refresh_from_db()
    assert rejected.status == ReportedPayment.Status.PENDING
    other.refresh_from_db()
    assert other.status == ReportedPayment.Status.PENDING


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL: real row locks")
def test_two_reopens_at_once_reopen_once(transactional_db, roles, debtor, loan):
    agent = UserFactory(username="cobranzas", role="Cobranzas")
    report = report_of(debtor, loan)
    services.reject_reported_payment(report=report, actor=agent, reason=REASON)

    done, errors = at_once(
        lambda: services.reopen_reported_payment(report=report, actor=agent),
        lambda: services.reopen_reported_payment(report=report, actor=agent),
    )

    assert len(done) == 1
    assert len(errors) == 1 and "ya está por verificar" in errors[0]
    assert reopen_entries(report).count() == 1
