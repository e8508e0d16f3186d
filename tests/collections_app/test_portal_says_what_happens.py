"""The portal tells the debtor what will really happen (DJ F5, F6, F8, F9, F11; DI 5):
installments are paid oldest first, and only the oldest owed one offers «Pagar»; an active
agreement's next payments are listed; a reported payment stays listed with its verdict; a
link's page says until when it may be paid; the forms about an amount name its currency;
one link opened twice is one timeline entry, its amount written as money.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from collections_app import receivables
from collections_app import services as collection_services
from collections_app.models import (
    AgreementRule,
    EventSetting,
    MessageTemplate,
    Origin,
    PaymentLink,
    Portfolio,
    ReportedPayment,
)
from collections_app.portal import services as portal_services
from crm.models import Interaction
from integrations import payment_gateways
from tests import receipts
from tests.collections_app.conftest import INSTALLMENT, TO_SETTLE, TODAY, pay
from tests.collections_app.test_portal import (
    PAY,
    STATEMENT,
    going_to,
    google,  # noqa: F401 (reCAPTCHA faked, autouse)
    signed_in,
)
from tests.factories import LoanProductFactory
from tests.races import at_once

REPORT = reverse("collections_app:portal_report")
PROMISE = reverse("collections_app:portal_promise")


@pytest.fixture
def reachable(debtor):
    """The debtor, with an e-mail on file: codes reach them."""
    debtor.email = "deudor@example.pe"
    debtor.save()
    return debtor


def installment(loan, number: int) -> dict:
    return {
        "debt": f"loan:{loan.pk}",
        "concept": "installment",
        "installment_number": str(number),
        "provider": "mercadopago",
    }


def link_page(link: PaymentLink) -> str:
    return reverse("collections_app:portal_link", args=[link.reference])


def gateway_paid(link: PaymentLink, amount: Decimal | None = None) -> None:
    collection_services.apply_gateway_payment(
        provider="mercadopago",
        found=payment_gateways.GatewayPayment(
            provider_payment_id=f"gw-{link.pk}",
            reference=link.reference,
            status=payment_gateways.APPROVED,
            amount=link.amount if amount is None else amount,
            currency=link.currency,
            paid_on=TODAY,
            raw={},
        ),
    )


def reported(customer, loan, amount: str = "100.00") -> ReportedPayment:
    return collection_services.report_payment(
        customer=customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=Decimal(amount),
        paid_on=TODAY,
        method="transfer",
        # A receipt of its own: the same file for the same debt is the same report.
        receipt=SimpleUploadedFile(
            f"r-{amount}.pdf",
            receipts.PDF.replace(b"%%EOF", f"%{amount}\n%%EOF".encode()),
            "application/pdf",
        ),
        origin=Origin.PORTAL,
        actor=None,
        reference=f"OP-{amount}",
    )


def message_texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- F5: installments are paid oldest first ----------------------------------------------


def test_only_the_oldest_installment_owed_offers_pagar_the_later_say_they_come_after(
    reachable, loan
):
    # What is left of installment 1 (it was partly paid) is the oldest owed.
    pay(loan, Decimal("300.00"), TODAY)
    client = signed_in(Client(), reachable)

    response = client.get(STATEMENT)

    assertContains(response, 'name="installment_number"', count=1)
    assertContains(response, 'name="installment_number" value="1"')
    assertContains(response, 'Pagar <span class="amount">S/ 645.60</span>')
    # Installments 2 to 12 say they are paid after the earlier ones.
    assertContains(response, 'data-pay="in-order"', count=11)
    assertContains(response, "Se paga después de las anteriores", count=11)


def test_a_later_installment_asked_for_is_refused_in_words_and_no_link_is_made(reachable, loan):
    """A page left open, or a crafted request: «cuota 4» would pay what is left of the
    oldest, and cuota 4 would still show as owed."""
    client = signed_in(Client(), reachable)

    response = client.post(PAY, installment(loan, 4), follow=True)

    assert response.redirect_chain[-1][0] == STATEMENT
    assert message_texts(response) == [
        "Las cuotas se pagan en orden, primero la más antigua: pague primero la cuota 1 "
        "(S/ 945.60)."
    ]
    assert not PaymentLink.objects.exists()


def test_the_oldest_installment_owed_is_paid_and_its_page_names_it(reachable, loan):
    pay(loan, INSTALLMENT, TODAY)
    client = signed_in(Client(), reachable)

    response = client.post(PAY, installment(loan, 2))

    link = PaymentLink.objects.get()
    assert response["Location"] == going_to(link)
    assert (link.installment_number, link.amount) == (2, INSTALLMENT)
    page = client.get(link_page(link))
    assertContains(page, f"Cuota 2 · {loan.payment_code}")


# --- F6: an active agreement's next payments --------------------------------------------


def test_an_active_agreements_next_payments_are_listed_with_amount_and_day(reachable, loan):
    loan.days_past_due = 134
    loan.save()
    rule = AgreementRule.objects.create(
        name="Hasta 3 cuotas",
        max_installments=3,
        min_down_payment_percent=Decimal("20"),
        days_between_installments=30,
    )
    debt = receivables.kind("loan").debt(loan.pk, TODAY)
    option = next(
        o for o in collection_services.agreement_options(debt, rules=[rule]) if o.installments == 3
    )
    agreement, down = collection_services.create_agreement(
        customer=reachable,
        receivable_kind="loan",
        receivable_id=loan.pk,
        option_key=option.key,
        provider="mercadopago",
        origin=Origin.PORTAL,
        actor=None,
    )
    gateway_paid(down)
    agreement.refresh_from_db()
    first, second = agreement.promises.order_by("promised_on")
    client = signed_in(Client(), reachable)

    response = client.get(STATEMENT)

    assertContains(response, f'id="agreement-payments-{agreement.pk}"')
    for promise in (first, second):
        assertContains(
            response,
            f'Pagar <span class="amount">S/ {promise.amount:,.2f}</span> hasta el '
            f"{promise.promised_on:%d/%m/%Y}",
        )
    # Not also listed as promises of their own.
    assertNotContains(response, "Compromiso de pagar")


# --- F8: a reported payment stays listed with its verdict --------------------------------


def test_a_reviewed_report_stays_listed_with_its_verdict_and_the_reason_told(
    reachable, loan, django_capture_on_commit_callbacks
):
    waiting = reported(reachable, loan, "100.00")
    verified = reported(reachable, loan, "200.00")
    refused = reported(reachable, loan, "300.00")
    with django_capture_on_commit_callbacks(execute=True):
        collection_services.approve_reported_payment(report=verified, actor=None)
        collection_services.reject_reported_payment(
            report=refused, actor=None, reason="El comprobante no es legible."
        )
    client = signed_in(Client(), reachable)

    response = client.get(STATEMENT)

    assertContains(response, 'id="reported-payments"')
    assertContains(response, f'id="reported-{waiting.pk}" data-status="pending"')
    assertContains(response, f'id="reported-{verified.pk}" data-status="approved"')
    assertContains(response, f'id="reported-{refused.pk}" data-status="rejected"')
    assertContains(response, "por verificar")
    assertContains(response, "verificado")
    assertContains(response, "no verificado")
    # The built-in e-mail told the debtor the reason: the statement says it too.
    assertContains(response, "Motivo: El comprobante no es legible.")


def test_a_reason_the_debtors_message_leaves_out_is_not_shown(reachable, loan):
    """The review page warns «Esa plantilla no incluye el motivo: el cliente no lo verá»."""
    template = MessageTemplate.objects.create(
        name="Pago no verificado (SMS)",
        channel=MessageTemplate.Channel.SMS,
        body="Hola {nombre}, no pudimos verificar su pago de {monto_pago}. Llámenos.",
    )
    EventSetting.objects.create(
        portfolio=Portfolio.CURRENT, event=EventSetting.Event.REJECTED, template=template
    )
    refused = reported(reachable, loan)
    collection_services.reject_reported_payment(
        report=refused, actor=None, reason="Nota interna: cliente conocido por fraude"
    )
    client = signed_in(Client(), reachable)

    response = client.get(STATEMENT)

    assertContains(response, f'id="reported-{refused.pk}" data-status="rejected"')
    assertNotContains(response, "Nota interna")
    assertNotContains(response, "Motivo:")


def test_a_report_reviewed_more_than_thirty_days_ago_is_no_longer_listed(reachable, loan):
    refused = reported(reachable, loan)
    collection_services.reject_reported_payment(report=refused, actor=None, reason="Ilegible.")

    with time_machine.travel(timezone.now() + timedelta(days=29), tick=False):
        soon = signed_in(Client(), reachable).get(STATEMENT)
    with time_machine.travel(timezone.now() + timedelta(days=31), tick=False):
        later = signed_in(Client(), reachable).get(STATEMENT)

    assertContains(soon, f'id="reported-{refused.pk}"')
    assertNotContains(later, 'id="reported-payments"')


# --- F9: a link's page says until when it may be paid ------------------------------------


def test_the_link_page_says_until_when_a_total_may_be_paid_and_that_it_changes_after(
    reachable, loan
):
    client = signed_in(Client(), reachable)
    client.post(PAY, {"debt": f"loan:{loan.pk}", "concept": "total", "provider": "mercadopago"})
    link = PaymentLink.objects.get()
    until = timezone.localtime(link.expires_at)

    going = client.get(going_to(link))
    waiting = client.get(link_page(link))

    for page in (going, waiting):
        assertContains(page, f"Válido hasta el {until:%d/%m/%Y} a las {until:%H:%M}.", count=1)
        assertContains(page, "Después, el total a pagar cambia")


def test_an_installments_link_page_says_until_when_and_not_that_a_total_changes(reachable, loan):
    client = signed_in(Client(), reachable)
    client.post(PAY, installment(loan, 1))
    link = PaymentLink.objects.get()
    until = timezone.localtime(link.expires_at)

    page = client.get(link_page(link))

    assertContains(page, f"Válido hasta el {until:%d/%m/%Y} a las {until:%H:%M}.")
    assertNotContains(page, "el total a pagar cambia")


def test_a_paid_links_page_says_no_expiry(reachable, loan):
    client = signed_in(Client(), reachable)
    client.post(PAY, installment(loan, 1))
    link = PaymentLink.objects.get()
    gateway_paid(link)

    page = client.get(link_page(link))

    assertContains(page, "Pago recibido")
    assertNotContains(page, "Válido hasta")


# --- DI 5: the forms about an amount name its currency -----------------------------------


@pytest.fixture
def dollars(make_active_loan, reachable):
    """A second loan of the debtor's, in US$."""
    return make_active_loan(
        customer=reachable, product=LoanProductFactory(name="Crédito dólares", currency="USD")
    )


def test_the_debt_options_show_what_each_owes_in_its_currency(reachable, loan, dollars):
    client = signed_in(Client(), reachable)

    for url in (REPORT, PROMISE):
        page = client.get(url)

        assertContains(page, f"{loan.product.name} {loan.payment_code} · S/ {TO_SETTLE:,.2f}")
        assertContains(page, f"Crédito dólares {dollars.payment_code} · US$ ")


def test_the_amount_names_the_currency_once_the_debt_is_known(reachable, loan, dollars):
    client = signed_in(Client(), reachable)

    unknown = client.get(REPORT)
    chosen = client.get(f"{REPORT}?deuda=loan:{dollars.pk}")
    promise = client.get(f"{PROMISE}?deuda=loan:{dollars.pk}")
    soles = client.get(f"{PROMISE}?deuda=loan:{loan.pk}")

    assertContains(unknown, "Monto pagado")
    assertNotContains(unknown, "Monto pagado (")
    assertContains(chosen, "Monto pagado (US$)")
    assertContains(promise, "Monto que pagará (US$)")
    assertContains(soles, "Monto que pagará (S/)")


def test_one_debt_names_its_currency_without_choosing(reachable, loan):
    client = signed_in(Client(), reachable)

    assertContains(client.get(REPORT), "Monto pagado (S/)")


def test_the_confirmations_echo_the_amount_with_its_currency(reachable, loan, dollars):
    client = signed_in(Client(), reachable)

    report = client.post(
        REPORT,
        {
            "debt": f"loan:{dollars.pk}",
            "amount": "1000",
            "paid_on": "2026-06-14",
            "method": "transfer",
            "reference": "OP-1",
            "receipt": SimpleUploadedFile("c.png", receipts.PNG, content_type="image/png"),
        },
        follow=True,
    )
    promise = client.post(
        PROMISE,
        {"debt": f"loan:{dollars.pk}", "amount": "500", "promised_on": "2026-06-30"},
        follow=True,
    )

    assert message_texts(report) == [
        "Recibimos su pago informado de US$ 1,000.00. Lo verificaremos y le avisaremos del "
        "resultado."
    ]
    assert message_texts(promise) == [
        "Registramos su compromiso de pagar US$ 500.00 hasta el 30/06/2026. ¡Gracias!"
    ]
    steps = list(
        Interaction.objects.filter(
            customer=reachable,
            kind=Interaction.Kind.PORTAL_VISIT,
            payload__step__in=["reported", "promised"],
        )
        .order_by("pk")
        .values_list("summary", flat=True)
    )
    assert steps == [
        f"Portal del cliente: informó un pago ({dollars.payment_code}, US$ 1,000.00)",
        f"Portal del cliente: se comprometió a pagar ({dollars.payment_code}, US$ 500.00, "
        "30/06/2026)",
    ]


# --- F11: one link opened twice is one timeline entry ------------------------------------


def test_pressing_pagar_el_total_twice_writes_one_step_with_the_amount_as_money(reachable, loan):
    client = signed_in(Client(), reachable)
    total = {"debt": f"loan:{loan.pk}", "concept": "total", "provider": "mercadopago"}

    first = client.post(PAY, total)
    again = client.post(PAY, total)

    link = PaymentLink.objects.get()
    assert first["Location"] == again["Location"] == going_to(link)
    (entry,) = Interaction.objects.filter(
        customer=reachable, kind=Interaction.Kind.PORTAL_VISIT, payload__step="link"
    )
    assert entry.summary == (
        f"Portal del cliente: abrió un link de pago (deuda total, S/ {TO_SETTLE:,.2f}, "
        f"{link.reference})"
    )


def test_an_installments_step_names_the_installment(reachable, loan):
    client = signed_in(Client(), reachable)

    client.post(PAY, installment(loan, 1))

    link = PaymentLink.objects.get()
    (entry,) = Interaction.objects.filter(
        customer=reachable, kind=Interaction.Kind.PORTAL_VISIT, payload__step="link"
    )
    assert entry.summary == (
        f"Portal del cliente: abrió un link de pago (cuota 1, S/ 945.60, {link.reference})"
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL: real row locks")
def test_two_presses_at_once_write_one_step(transactional_db, loan):
    """A double click sends both requests together: the customer's lock orders them."""
    customer = loan.customer
    link = collection_services.create_payment_link(
        customer=customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.PORTAL,
        actor=None,
    )

    def press():
        return portal_services.record_link_step(customer=customer, visit="v1", link=link)

    done, errors = at_once(press, press)

    assert not errors
    assert sorted(done) == [False, True]
    assert (
        Interaction.objects.filter(
            customer=customer, kind=Interaction.Kind.PORTAL_VISIT, payload__step="link"
        ).count()
        == 1
    )
