"""An agreement taken by mistake is withdrawn from the customer's collections page, after a
page that asks first; withdrawing its down-payment link withdraws it too. Either way the
debt may take another agreement at once, not days later (lapse_agreements)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from collections_app import services
from collections_app.models import AgreementRule, Origin, PaymentAgreement, PaymentLink
from credits.models import Loan, Payment
from crm.models import Interaction
from integrations import payment_gateways
from tests.collections_app.conftest import TODAY


@pytest.fixture
def rule(db):
    return AgreementRule.objects.create(
        name="Hasta 3 cuotas", max_installments=3, min_down_payment_percent=Decimal("20")
    )


@pytest.fixture
def late_loan(loan):
    from credits.services import delinquency

    loan.late_annual_rate = Decimal("36")
    loan.days_past_due = 134
    loan.save()
    delinquency.accrue_late_interest(loan=loan, today=TODAY)
    return Loan.objects.get(pk=loan.pk)


@pytest.fixture
def agent_client(client, cobranzas):
    client.force_login(cobranzas)
    return client


def take(loan, rule) -> tuple[PaymentAgreement, PaymentLink]:
    return services.create_agreement(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        option_key=f"{rule.pk}-3",
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
    )


def customer_url(customer) -> str:
    return reverse("collections_app:customer_collections", args=[customer.pk])


def cancel_url(agreement) -> str:
    return reverse("collections_app:agreement_cancel", args=[agreement.pk])


def shown(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_card_of_an_agreement_waiting_for_its_down_payment_offers_to_withdraw_it(
    agent_client, late_loan, rule
):
    agreement, _link = take(late_loan, rule)

    page = agent_client.get(customer_url(late_loan.customer))

    assertContains(page, "Esperando el pie")
    assertContains(page, cancel_url(agreement))
    assertContains(page, "Anular convenio")


def test_an_agreement_no_longer_waiting_offers_nothing_to_withdraw(agent_client, late_loan, rule):
    agreement, _link = take(late_loan, rule)
    PaymentAgreement.objects.filter(pk=agreement.pk).update(status=PaymentAgreement.Status.ACTIVE)

    page = agent_client.get(customer_url(late_loan.customer))
    refused = agent_client.post(cancel_url(agreement), {"reason": "x", "confirm": "yes"})

    assertNotContains(page, cancel_url(agreement))
    assert refused.status_code == 200
    assertContains(refused, "Solo se anula un convenio que espera su pie")
    assertNotContains(refused, 'name="reason"')
    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.ACTIVE


def test_withdrawing_an_agreement_asks_first_then_withdraws_it_and_its_link(
    agent_client, late_loan, rule
):
    debtor = late_loan.customer
    agreement, link = take(late_loan, rule)
    url = cancel_url(agreement)
    data = {"reason": "Se registró por error", "next": customer_url(debtor)}

    form = agent_client.get(url)
    asked = agent_client.post(url, data)

    assertContains(form, 'name="reason"')
    assertTemplateUsed(asked, "collections_app/confirm.html")
    assertContains(asked, "¿Anular este convenio de pago?")
    assertContains(asked, link.reference)
    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.PENDING

    done = agent_client.post(url, {**data, "confirm": "yes"}, follow=True)

    agreement.refresh_from_db()
    link.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.CANCELLED
    assert link.status == PaymentLink.Status.CANCELLED
    assert done.redirect_chain[-1][0] == customer_url(debtor)
    assert shown(done) == [
        f"Convenio #{agreement.pk} de {late_loan.payment_code} anulado, con su link de pago "
        f"del pie {link.reference}: la deuda puede tomar otro convenio."
    ]
    summaries = list(
        Interaction.objects.filter(customer=debtor).order_by("pk").values_list("summary", flat=True)
    )
    assert f"Convenio de pago #{agreement.pk} anulado: Se registró por error" in summaries
    assert any(
        s.startswith(f"Link de pago {link.reference}") and s.endswith("Se registró por error")
        for s in summaries
    )


def test_the_debt_takes_another_agreement_at_once_after_one_is_withdrawn(
    agent_client, late_loan, rule
):
    agreement, _link = take(late_loan, rule)
    agent_client.post(cancel_url(agreement), {"reason": "Error", "confirm": "yes"})

    again, _again_link = take(late_loan, rule)

    assert again.status == PaymentAgreement.Status.PENDING


def test_withdrawing_an_agreement_needs_a_reason(agent_client, late_loan, rule):
    agreement, _link = take(late_loan, rule)

    response = agent_client.post(cancel_url(agreement), {"reason": "  ", "confirm": "yes"})

    assert response.status_code == 200
    assertContains(response, "Indique el motivo.")
    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.PENDING


@pytest.mark.parametrize("who", ["asesor", "outsider"])
def test_a_role_that_may_not_withdraw_promises_may_not_withdraw_an_agreement(
    client, request, who, late_loan, rule
):
    agreement, _link = take(late_loan, rule)
    client.force_login(request.getfixturevalue(who))

    response = client.post(cancel_url(agreement), {"reason": "x", "confirm": "yes"})

    assert response.status_code == 403
    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.PENDING


def test_after_withdrawing_only_a_path_of_this_site_is_followed(agent_client, late_loan, rule):
    agreement, _link = take(late_loan, rule)

    done = agent_client.post(
        cancel_url(agreement),
        {"reason": "Error", "confirm": "yes", "next": "https://example.com/"},
    )

    assert done["Location"] == customer_url(late_loan.customer)


def test_withdrawing_an_agreement_withdraws_a_link_still_being_made(late_loan, rule, cobranzas):
    agreement, link = take(late_loan, rule)
    PaymentLink.objects.filter(pk=link.pk).update(status=PaymentLink.Status.CREATING)

    services.cancel_agreement(agreement=agreement, actor=cobranzas, reason="Error")

    link.refresh_from_db()
    assert link.status == PaymentLink.Status.CANCELLED


# --- Its down-payment link withdrawn -----------------------------------------------------


def test_withdrawing_the_down_payment_link_withdraws_the_agreement_waiting_for_it(
    late_loan, rule, cobranzas
):
    debtor = late_loan.customer
    agreement, link = take(late_loan, rule)

    withdrawn = services.cancel_payment_link(link=link, actor=cobranzas, reason="Monto equivocado")

    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.CANCELLED
    assert agreement.resolved_at is not None
    assert withdrawn.agreement.status == PaymentAgreement.Status.CANCELLED
    entry = Interaction.objects.filter(customer=debtor, payload__agreement=agreement.pk).latest(
        "pk"
    )
    assert entry.summary == (
        f"Convenio de pago #{agreement.pk} anulado con el link de su pie {link.reference}: "
        "Monto equivocado; la deuda puede tomar otro convenio"
    )
    assert entry.actor == cobranzas
    again, _again_link = take(late_loan, rule)
    assert again.status == PaymentAgreement.Status.PENDING


def test_the_link_page_says_the_agreement_goes_with_it_and_then_that_it_went(
    agent_client, late_loan, rule
):
    agreement, link = take(late_loan, rule)
    url = reverse("collections_app:link_cancel", args=[link.pk])

    form = agent_client.get(url)
    asked = agent_client.post(url, {"reason": "Monto equivocado"})
    done = agent_client.post(url, {"reason": "Monto equivocado", "confirm": "yes"}, follow=True)

    assertContains(form, f"Es el pie del convenio #{agreement.pk}")
    assertContains(asked, f"Es el pie del convenio #{agreement.pk}")
    assert shown(done) == [
        f"Link de pago {link.reference} anulado. También se anuló el convenio #{agreement.pk}, "
        f"que esperaba este pie: {late_loan.payment_code} puede tomar otro convenio."
    ]
    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.CANCELLED


def test_a_link_without_an_agreement_says_only_that_it_was_withdrawn(agent_client, loan):
    link = services.create_payment_link(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=PaymentLink.Concept.TOTAL,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
    )
    url = reverse("collections_app:link_cancel", args=[link.pk])

    done = agent_client.post(url, {"reason": "Monto equivocado", "confirm": "yes"}, follow=True)

    assert shown(done) == [f"Link de pago {link.reference} anulado."]


def test_a_down_payment_paid_after_its_link_was_withdrawn_is_recorded_without_activating(
    late_loan, rule, cobranzas
):
    agreement, link = take(late_loan, rule)
    services.cancel_payment_link(link=link, actor=cobranzas, reason="Error")

    services.apply_gateway_payment(
        provider="mercadopago",
        found=payment_gateways.GatewayPayment(
            provider_payment_id="555",
            reference=link.reference,
            status=payment_gateways.APPROVED,
            amount=link.amount,
            currency=link.currency,
            paid_on=TODAY,
            raw={},
        ),
    )

    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.CANCELLED
    assert not agreement.promises.exists()
    paid = Payment.objects.get(external_id="mercadopago:555")
    assert paid.amount == link.amount and paid.loan_id == late_loan.pk


def test_withdrawing_an_agreement_twice_is_refused_the_second_time(late_loan, rule, cobranzas):
    agreement, _link = take(late_loan, rule)
    services.cancel_agreement(agreement=agreement, actor=cobranzas, reason="Error")

    with pytest.raises(ValidationError, match="Solo se anula un convenio que espera su pie"):
        services.cancel_agreement(agreement=agreement, actor=cobranzas, reason="Error")
