"""An agent withdraws a payment link sent by mistake: a page that asks first, then a trace."""

from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from collections_app import services
from collections_app.models import Origin, PaymentLink
from crm.models import Interaction


def open_link(debtor, loan) -> PaymentLink:
    return services.create_payment_link(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
    )


def test_the_links_list_offers_to_withdraw_an_open_link(client, cobranzas, debtor, loan):
    link = open_link(debtor, loan)
    client.force_login(cobranzas)

    page = client.get(reverse("collections_app:link_list"))

    assertContains(page, reverse("collections_app:link_cancel", args=[link.pk]))


def test_a_link_is_withdrawn_only_once_the_page_asked(client, cobranzas, debtor, loan):
    link = open_link(debtor, loan)
    client.force_login(cobranzas)
    url = reverse("collections_app:link_cancel", args=[link.pk])

    shown = client.get(url)
    asked = client.post(url, {"reason": "Monto equivocado"})

    assertContains(shown, link.reference)
    assertContains(asked, "¿Anular este link de pago?")
    link.refresh_from_db()
    assert link.status == PaymentLink.Status.ACTIVE

    done = client.post(url, {"reason": "Monto equivocado", "confirm": "yes"})

    assert done.status_code == 302
    link.refresh_from_db()
    assert link.status == PaymentLink.Status.CANCELLED
    entry = Interaction.objects.filter(customer=debtor, payload__link=link.pk).latest("pk")
    assert "anulado: Monto equivocado" in entry.summary


def test_a_link_no_longer_open_says_there_is_nothing_to_withdraw(client, cobranzas, debtor, loan):
    link = open_link(debtor, loan)
    PaymentLink.objects.filter(pk=link.pk).update(status=PaymentLink.Status.PAID)
    client.force_login(cobranzas)

    response = client.post(
        reverse("collections_app:link_cancel", args=[link.pk]),
        {"reason": "x", "confirm": "yes"},
    )

    assertContains(response, "no hay nada que anular")
    assertNotContains(response, 'name="reason"')
    link.refresh_from_db()
    assert link.status == PaymentLink.Status.PAID


def test_a_role_without_links_cannot_withdraw_one(client, asesor, debtor, loan):
    link = open_link(debtor, loan)
    client.force_login(asesor)

    response = client.post(
        reverse("collections_app:link_cancel", args=[link.pk]),
        {"reason": "x", "confirm": "yes"},
    )

    assert response.status_code == 403
    link.refresh_from_db()
    assert link.status == PaymentLink.Status.ACTIVE
