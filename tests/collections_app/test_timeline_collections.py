"""What collections' system-made changes leave on the customer's 360 timeline: agreements
activated, broken or completed, links that expire or are paid, promises judged at night.

They are bookkeeping (SYSTEM entries by nobody): they say what happened and leave the
customer's *última interacción* as it was. A gateway payment is one payment.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from collections_app import receivables, services
from collections_app.models import (
    AgreementRule,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    Segment,
)
from collections_app.strategies import segments
from credits.models import Loan
from credits.services import delinquency
from crm import display
from crm.models import Customer, Interaction
from integrations import payment_gateways
from tests.collections_app.conftest import INSTALLMENT, TODAY, at, pay
from tests.races import at_once

SYSTEM = Interaction.Kind.SYSTEM


def link_for(loan, **kwargs):
    kwargs.setdefault("concept", PaymentLink.Concept.TOTAL)
    return services.create_payment_link(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
        **kwargs,
    )


def approved(link, payment_id="123"):
    return payment_gateways.GatewayPayment(
        provider_payment_id=payment_id,
        reference=link.reference,
        status=payment_gateways.APPROVED,
        amount=link.amount,
        currency=link.currency,
        paid_on=TODAY,
        raw={},
    )


def soles(amount) -> str:
    return display.money_text(Decimal(amount), "PEN")


def never_contacted(customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(last_interaction_at=None)


def last_interaction(customer):
    return Customer.objects.get(pk=customer.pk).last_interaction_at


def latest(customer) -> Interaction:
    return Interaction.objects.filter(customer=customer).latest("id")


# --- Agreements ----------------------------------------------------------------------------


@pytest.fixture
def rule(db):
    return AgreementRule.objects.create(
        name="Hasta 4 cuotas",
        max_installments=4,
        min_down_payment_percent=Decimal("20"),
        late_interest_discount_percent=Decimal("50"),
        min_days_past_due=1,
        days_between_installments=30,
    )


@pytest.fixture
def late_loan(loan):
    loan.late_annual_rate = Decimal("36")
    loan.save()
    delinquency.update_delinquency(today=TODAY)
    return Loan.objects.get(pk=loan.pk)


def agreement_paid(loan, installments):
    """Take an agreement in `installments` (down payment included) and pay its down payment."""
    debt = receivables.kind("loan").debt(loan.pk, TODAY)
    option = next(o for o in services.agreement_options(debt) if o.installments == installments)
    agreement, link = services.create_agreement(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        option_key=option.key,
        provider="mercadopago",
        origin=Origin.BOT,
        actor=None,
    )
    services.apply_gateway_payment(provider="mercadopago", found=approved(link))
    agreement.refresh_from_db()
    return agreement


def agreement_entry(agreement) -> Interaction:
    return Interaction.objects.filter(payload__agreement=agreement.pk).latest("id")


def test_an_agreement_activated_by_its_down_payment_says_so_with_its_installments(late_loan, rule):
    agreement = agreement_paid(late_loan, 3)

    assert agreement.status == PaymentAgreement.Status.ACTIVE
    first, second = agreement.promises.order_by("promised_on")
    entry = agreement_entry(agreement)
    expected = (
        f"Convenio de pago #{agreement.pk} activo: pie de {soles(agreement.down_payment)} "
        f"pagado; 2 cuotas de {soles(first.amount)} desde el "
        f"{TODAY + timedelta(days=30):%d/%m/%Y}"
    )
    if second.amount != first.amount:
        expected += f" (la última de {soles(second.amount)}, el {second.promised_on:%d/%m/%Y})"
    assert entry.summary == expected
    assert (entry.kind, entry.direction, entry.actor) == (SYSTEM, "internal", None)


def test_an_agreement_in_one_payment_is_completed_by_it_on_the_timeline(late_loan, rule):
    agreement = agreement_paid(late_loan, 1)

    assert agreement.status == PaymentAgreement.Status.COMPLETED
    entry = agreement_entry(agreement)
    assert entry.summary == (
        f"Convenio de pago #{agreement.pk} cumplido: pagado en una cuota de "
        f"{soles(agreement.down_payment)}"
    )
    assert entry.kind == SYSTEM


def test_a_broken_agreement_says_how_many_installments_it_withdrew(late_loan, rule):
    agreement = agreement_paid(late_loan, 4)

    services.resolve_promises(today=TODAY + timedelta(days=31))

    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.BROKEN
    entry = agreement_entry(agreement)
    assert entry.summary == (
        f"Convenio de pago #{agreement.pk} incumplido: se anularon 2 cuotas pendientes"
    )
    assert (entry.kind, entry.actor) == (SYSTEM, None)
    assert agreement.promises.filter(status=PaymentPromise.Status.CANCELLED).count() == 2


def test_an_agreement_broken_on_its_next_to_last_installment_withdrew_one(late_loan, rule):
    agreement = agreement_paid(late_loan, 3)

    services.resolve_promises(today=TODAY + timedelta(days=31))

    assert agreement_entry(agreement).summary == (
        f"Convenio de pago #{agreement.pk} incumplido: se anuló 1 cuota pendiente"
    )


def test_a_completed_agreement_says_so(late_loan, rule):
    agreement = agreement_paid(late_loan, 3)
    owed = sum(p.amount for p in agreement.promises.all())
    pay(late_loan, owed, TODAY)

    services.resolve_promises(today=TODAY + timedelta(days=61))

    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.COMPLETED
    entry = agreement_entry(agreement)
    assert entry.summary == f"Convenio de pago #{agreement.pk} cumplido"
    assert entry.kind == SYSTEM


# --- Links that expire ---------------------------------------------------------------------


def test_an_expired_link_says_so_on_its_customers_timeline(loan):
    link = link_for(loan)
    never_contacted(loan.customer)

    assert services.expire_links(now=link.expires_at + timedelta(minutes=1)) == 1

    link.refresh_from_db()
    assert link.status == PaymentLink.Status.EXPIRED
    entry = latest(loan.customer)
    assert entry.summary == (
        f"Link de pago {link.reference} de {soles(link.amount)} venció sin pagarse"
    )
    assert (entry.kind, entry.direction, entry.actor, entry.payload) == (
        SYSTEM,
        "internal",
        None,
        {"link": link.pk},
    )
    assert last_interaction(loan.customer) is None  # bookkeeping, not contact


def test_only_the_links_a_run_expires_are_noted(loan):
    expiring = link_for(loan)
    withdrawn = link_for(loan, concept=PaymentLink.Concept.INSTALLMENT, installment_number=1)
    services.cancel_payment_link(link=withdrawn, actor=None, reason="Pidió otro monto")
    later = expiring.expires_at + timedelta(minutes=1)

    services.expire_links(now=later)
    again = services.expire_links(now=later + timedelta(hours=1))

    assert again == 0
    noted = Interaction.objects.filter(customer=loan.customer, summary__contains="venció")
    assert [e.payload for e in noted] == [{"link": expiring.pk}]


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_note_each_link_once(roles, loan):
    """The hourly beat and a run by hand (or two workers) at the same time."""
    links = [
        link_for(loan, concept=PaymentLink.Concept.INSTALLMENT, installment_number=n)
        for n in (1, 2, 3)
    ]
    later = max(link.expires_at for link in links) + timedelta(minutes=1)

    done, errors = at_once(*[lambda: services.expire_links(now=later)] * 3)

    assert errors == []
    assert sum(done) == 3
    noted = Interaction.objects.filter(customer=loan.customer, summary__contains="venció")
    assert sorted(e.payload["link"] for e in noted) == sorted(link.pk for link in links)


# --- A gateway payment is one payment ------------------------------------------------------


def test_a_gateway_payment_is_one_payment_on_the_360_page(loan, client, supervisor):
    link = link_for(loan)
    client.force_login(supervisor)
    page = reverse("crm:customer_detail", args=[loan.customer_id])

    def payments_counted() -> int:
        kinds = client.get(page).context["kinds"]
        # Each filter: (kind, label, count, …).
        return next(row[2] for row in kinds if row[0] == Interaction.Kind.PAYMENT)

    before = payments_counted()

    services.apply_gateway_payment(provider="mercadopago", found=approved(link))

    assert payments_counted() == before + 1
    said = Interaction.objects.get(customer=loan.customer, payload__link=link.pk, kind=SYSTEM)
    assert said.summary == (
        f"Link de pago {link.reference} pagado por MercadoPago: {soles(link.amount)} "
        "(operación 123)"
    )


# --- Promises judged at night --------------------------------------------------------------


def promise(loan, on):
    return services.promise_payment(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=INSTALLMENT,
        promised_on=on,
        origin=Origin.AGENT,
        actor=None,
    )


def test_a_promise_judged_at_night_is_not_contact(loan):
    broken = promise(loan, TODAY + timedelta(days=2))
    never_contacted(loan.customer)
    night = TODAY + timedelta(days=3)

    services.resolve_promises(today=night)

    entry = Interaction.objects.filter(payload__promise=broken.pk).latest("id")
    assert entry.summary.startswith("Compromiso de pago incumplido")
    assert (entry.kind, entry.actor) == (SYSTEM, None)
    assert last_interaction(loan.customer) is None
    # The segments read the promises themselves, and still find it; and the customer still
    # reads as not contacted.
    found = segments.customers(
        segments.Rules(promise_status=Segment.PromiseStatus.BROKEN, no_contact_days=7), night
    )
    assert list(found) == [loan.customer]


def test_a_broken_promise_made_kept_by_a_late_recorded_payment_is_not_contact(loan):
    made = promise(loan, TODAY + timedelta(days=2))
    services.resolve_promises(today=TODAY + timedelta(days=3))
    with at(TODAY + timedelta(days=4)):
        pay(loan, INSTALLMENT, TODAY + timedelta(days=1))  # received by its day, keyed in after
        never_contacted(loan.customer)

        services.resolve_promises(today=TODAY + timedelta(days=4))

    made.refresh_from_db()
    assert made.status == PaymentPromise.Status.KEPT
    entry = Interaction.objects.filter(payload__promise=made.pk).latest("id")
    assert entry.summary.startswith("Compromiso de pago cumplido")
    assert entry.kind == SYSTEM
    assert last_interaction(loan.customer) is None


def agreement_taken(loan, installments=3):
    debt = receivables.kind("loan").debt(loan.pk, TODAY)
    option = next(o for o in services.agreement_options(debt) if o.installments == installments)
    return services.create_agreement(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        option_key=option.key,
        provider="mercadopago",
        origin=Origin.BOT,
        actor=None,
    )


def test_an_agreement_whose_down_payment_went_unpaid_lapses_a_day_after_its_link(late_loan, rule):
    """It stayed pending for good, and the debt could take no other agreement."""
    agreement, link = agreement_taken(late_loan)
    services.expire_links(now=link.expires_at + timedelta(minutes=1))

    early = services.lapse_agreements(now=link.expires_at + timedelta(hours=23))
    lapsed = services.lapse_agreements(now=link.expires_at + timedelta(hours=25))

    agreement.refresh_from_db()
    assert (early, lapsed, agreement.status) == (0, 1, PaymentAgreement.Status.CANCELLED)
    assert agreement_entry(agreement).summary == (
        f"Convenio de pago #{agreement.pk} sin efecto: su pie de "
        f"{soles(agreement.down_payment)} no se pagó a tiempo; la deuda puede tomar otro "
        "convenio"
    )
    again, _link = agreement_taken(late_loan)
    assert again.status == PaymentAgreement.Status.PENDING


def test_an_agreement_with_its_link_open_or_paid_does_not_lapse(late_loan, rule):
    agreement, link = agreement_taken(late_loan)

    kept = services.lapse_agreements(now=link.expires_at + timedelta(days=5))

    agreement.refresh_from_db()
    assert (kept, agreement.status) == (0, PaymentAgreement.Status.PENDING)
