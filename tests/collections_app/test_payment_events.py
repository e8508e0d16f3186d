"""The payment-event life cycle on a loan: links, gateway payments, payments to verify,
promises, annulments, agreements and call-back requests, through the services every path
calls."""

import itertools
import struct
import zlib
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum

from collections_app import receivables, services
from collections_app.models import (
    AgreementRule,
    CallbackRequest,
    Origin,
    PaymentAgreement,
    PaymentLink,
    PaymentPromise,
    ReportedPayment,
)
from collections_app.signals import Event, payment_event
from credits import selectors as credit_selectors
from credits.models import LedgerEntry, Loan, Payment
from credits.services import payments as payment_services
from crm.models import Interaction
from integrations import payment_gateways
from integrations.models import OutboxMessage
from integrations.webhooks import IgnoreEvent
from tests import receipts
from tests.collections_app.conftest import INSTALLMENT, OVERDUE, TO_SETTLE, TODAY, pay
from tests.factories import CustomerFactory
from tests.races import at_once

CENT = Decimal("0.01")
PNG = receipts.PNG


_PHOTOS = itertools.count()


def _photo(number: int) -> bytes:
    """A receipt of its own: PNG with a comment chunk before its end."""
    end = PNG[-12:]  # the IEND chunk
    text = b"Comment\x00" + str(number).encode()
    chunk = (
        struct.pack(">I", len(text))
        + b"tEXt"
        + text
        + struct.pack(">I", zlib.crc32(b"tEXt" + text))
    )
    return PNG[:-12] + chunk + end


def receipt(name="comprobante.png", content=PNG, content_type="image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def link_for(debtor, loan, **kwargs):
    kwargs.setdefault("concept", PaymentLink.Concept.TOTAL)
    kwargs.setdefault("provider", "mercadopago")
    kwargs.setdefault("origin", Origin.AGENT)
    kwargs.setdefault("actor", None)
    return services.create_payment_link(
        customer=debtor, receivable_kind="loan", receivable_id=loan.pk, **kwargs
    )


def approved(link, *, payment_id="1234567890", status=payment_gateways.APPROVED, amount=None):
    return payment_gateways.GatewayPayment(
        provider_payment_id=payment_id,
        reference=link.reference,
        status=status,
        amount=link.amount if amount is None else amount,
        currency=link.currency,
        paid_on=TODAY,
        raw={},
    )


def owed(loan) -> Decimal:
    return credit_selectors.loan_balance(Loan.objects.get(pk=loan.pk), TODAY).total_due


@pytest.fixture
def events():
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    payment_event.connect(receiver)
    yield seen
    payment_event.disconnect(receiver)


# --- The debt as every path reads it ------------------------------------------------------------


def test_a_loan_debt_reads_what_settles_it_and_its_open_installments(loan):
    debt = receivables.kind("loan").debt(loan.pk, TODAY)

    assert debt.total == TO_SETTLE
    assert debt.overdue == OVERDUE
    assert debt.code == loan.payment_code
    assert [line.number for line in debt.lines] == list(range(1, 13))
    assert [line.is_overdue for line in debt.lines[:6]] == [True] * 5 + [False]


def test_open_debts_leave_out_paid_loans(loan, debtor):
    pay(loan, TO_SETTLE, TODAY, overpayment=Payment.Overpayment.SHORTEN_TERM)

    assert receivables.open_debts(debtor.pk, TODAY) == []


# --- Links ---------------------------------------------------------------------------------------


def test_a_total_link_charges_what_settles_the_loan(loan, debtor):
    link = link_for(debtor, loan, payer_email="deudor@example.com")

    assert link.status == PaymentLink.Status.ACTIVE
    assert link.amount == TO_SETTLE
    assert link.url
    assert link.receivable_code == loan.payment_code


def test_an_installment_link_charges_what_is_left_of_that_installment(loan, debtor):
    link = link_for(debtor, loan, concept=PaymentLink.Concept.INSTALLMENT, installment_number=3)

    assert link.amount == INSTALLMENT
    assert link.installment_number == 3


def test_a_paid_installment_cannot_get_a_link(loan, debtor):
    pay(loan, INSTALLMENT, TODAY)

    with pytest.raises(ValidationError, match="ya está pagada"):
        link_for(debtor, loan, concept=PaymentLink.Concept.INSTALLMENT, installment_number=1)


@pytest.mark.parametrize(
    "amount", [Decimal("9.99"), TO_SETTLE + Decimal("0.01"), Decimal("1e12"), Decimal("10.001")]
)
def test_a_custom_link_stays_within_the_allowed_range(loan, debtor, amount):
    with pytest.raises(ValidationError):
        link_for(debtor, loan, concept=PaymentLink.Concept.CUSTOM, amount=amount)

    assert not PaymentLink.objects.exists()


def test_a_custom_link_takes_an_amount_in_range(loan, debtor):
    link = link_for(debtor, loan, concept=PaymentLink.Concept.CUSTOM, amount=Decimal("10.00"))

    assert link.amount == Decimal("10.00")


def test_a_link_for_another_customers_loan_is_refused(loan):
    stranger = CustomerFactory()

    with pytest.raises(ValidationError, match="no es de este cliente"):
        link_for(stranger, loan)


def test_an_unknown_gateway_is_refused(loan, debtor):
    with pytest.raises(ValidationError):
        link_for(debtor, loan, provider="paypal")


def test_a_link_goes_on_the_timeline_and_is_announced(
    loan, debtor, events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        link = link_for(debtor, loan)

    entry = Interaction.objects.filter(customer=debtor, payload__link=link.pk).get()
    assert "Link de pago creado" in entry.summary
    assert [e["event"] for e in events] == [Event.LINK]


@pytest.mark.django_db(transaction=True)
def test_the_same_link_asked_for_twice_at_once_is_made_once(roles, loan, debtor):
    """A double click in the portal or the bot's retry: both requests found no open link
    and each made one; both could be paid (found on PostgreSQL)."""
    ask = lambda: link_for(debtor, loan, origin=Origin.PORTAL, reuse_open=True)  # noqa: E731

    done, errors = at_once(ask, ask, ask)

    assert errors == []
    assert {link.pk for link in done} == {PaymentLink.objects.get().pk}


def test_the_bot_gets_the_total_link_the_portal_opened_for_the_same_debt(loan, debtor):
    """The debtor opened a link for the total in the portal, then asked the bot: two open
    links for one debt, and both could be paid."""
    from_portal = link_for(debtor, loan, origin=Origin.PORTAL, reuse_open=True)

    from_bot = link_for(debtor, loan, origin=Origin.BOT, reuse_open=True)

    assert from_bot.pk == from_portal.pk
    assert PaymentLink.objects.count() == 1


def test_a_link_another_request_is_still_creating_is_not_made_twice(loan, debtor, monkeypatch):
    """The second request waits for the gateway's answer to the first, then says so."""
    monkeypatch.setattr(services, "LINK_WAIT", timedelta(0))
    creating = link_for(debtor, loan, origin=Origin.PORTAL)
    PaymentLink.objects.filter(pk=creating.pk).update(status=PaymentLink.Status.CREATING)

    with pytest.raises(ValidationError, match="se está creando"):
        link_for(debtor, loan, origin=Origin.PORTAL, reuse_open=True)

    assert PaymentLink.objects.count() == 1


def test_links_past_their_expiry_expire(loan, debtor):
    link = link_for(debtor, loan)

    services.expire_links(now=link.expires_at + timedelta(seconds=1))

    link.refresh_from_db()
    assert link.status == PaymentLink.Status.EXPIRED


# --- Gateway payments ----------------------------------------------------------------------------


def test_an_approved_gateway_payment_is_applied_once_however_often_it_is_notified(
    loan, debtor, events, django_capture_on_commit_callbacks
):
    link = link_for(debtor, loan, concept=PaymentLink.Concept.INSTALLMENT, installment_number=1)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            services.apply_gateway_payment(provider="mercadopago", found=approved(link))

    payment = Payment.objects.get(loan=loan)
    assert payment.amount == INSTALLMENT
    assert payment.source == Payment.Source.MERCADOPAGO
    assert payment.external_id == "mercadopago:1234567890"
    link.refresh_from_db()
    assert link.status == PaymentLink.Status.PAID
    assert link.payment_id == payment.pk
    assert [e["event"] for e in events if e["event"] == Event.PAYMENT] == [Event.PAYMENT]


@pytest.mark.parametrize(
    "status", [payment_gateways.PENDING, payment_gateways.REJECTED, payment_gateways.CANCELLED]
)
def test_a_payment_that_is_not_approved_applies_nothing(loan, debtor, status):
    link = link_for(debtor, loan)

    services.apply_gateway_payment(provider="mercadopago", found=approved(link, status=status))

    assert not Payment.objects.exists()
    link.refresh_from_db()
    assert link.status == PaymentLink.Status.ACTIVE


@pytest.mark.parametrize("status", [payment_gateways.REFUNDED, payment_gateways.CHARGED_BACK])
def test_a_refund_or_chargeback_annuls_the_payment_to_the_cent(loan, debtor, status):
    before = owed(loan)
    link = link_for(debtor, loan, concept=PaymentLink.Concept.INSTALLMENT, installment_number=2)
    services.apply_gateway_payment(provider="mercadopago", found=approved(link))
    assert owed(loan) == before - INSTALLMENT

    services.apply_gateway_payment(provider="mercadopago", found=approved(link, status=status))
    services.apply_gateway_payment(provider="mercadopago", found=approved(link, status=status))

    assert Payment.objects.get(loan=loan).status == Payment.Status.ANNULLED
    assert owed(loan) == before


def test_a_refund_notified_before_the_approval_changes_nothing(loan, debtor):
    link = link_for(debtor, loan)

    services.apply_gateway_payment(
        provider="mercadopago", found=approved(link, status=payment_gateways.REFUNDED)
    )

    assert not Payment.objects.exists()


def test_a_payment_for_an_unknown_reference_is_ignored(loan, debtor):
    link = link_for(debtor, loan)
    link.reference = "PL-nobody"

    with pytest.raises(IgnoreEvent):
        services.apply_gateway_payment(provider="mercadopago", found=approved(link))


def test_a_total_link_paid_settles_the_loan(loan, debtor):
    link = link_for(debtor, loan)

    services.apply_gateway_payment(provider="mercadopago", found=approved(link))

    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PAID
    assert receivables.open_debts(debtor.pk, TODAY) == []


def test_money_beyond_the_debt_by_the_time_it_arrives_is_kept_as_credit(loan, debtor):
    link = link_for(debtor, loan)
    pay(loan, INSTALLMENT, TODAY)

    services.apply_gateway_payment(provider="mercadopago", found=approved(link))

    payment = Payment.objects.get(external_id="mercadopago:1234567890")
    assert payment.overpaid == INSTALLMENT
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PAID


def test_a_second_link_paid_after_the_loan_was_paid_off_is_kept_as_credit(loan, debtor):
    """Two links for one debt both paid: the second money is in the lender's account, so it
    is in the books too, all of it as credit balance to give back (it was refused)."""
    first = link_for(debtor, loan)
    second = link_for(debtor, loan, origin=Origin.PORTAL)
    services.apply_gateway_payment(provider="mercadopago", found=approved(first))

    services.apply_gateway_payment(provider="mercadopago", found=approved(second, payment_id="999"))

    late = Payment.objects.get(external_id="mercadopago:999")
    paid_off = Loan.objects.get(pk=loan.pk)
    assert (late.overpaid, late.credited) == (second.amount, second.amount)
    assert paid_off.status == Loan.Status.PAID
    assert paid_off.credit_balance == second.amount
    second.refresh_from_db()
    assert second.status == PaymentLink.Status.PAID

    payment_services.annul_payment(payment=late, actor=None, reason="Devuelto al cliente")

    given_back = Loan.objects.get(pk=loan.pk)
    assert (given_back.status, given_back.credit_balance) == (Loan.Status.PAID, Decimal("0.00"))


def test_an_agent_cannot_record_a_payment_on_a_paid_loan_without_saying_it_was_paid(loan, debtor):
    services.apply_gateway_payment(provider="mercadopago", found=approved(link_for(debtor, loan)))

    with pytest.raises(ValidationError, match="No se registran pagos en un crédito «Pagado»"):
        pay(loan, INSTALLMENT, TODAY)


# --- Payments to verify --------------------------------------------------------------------------


def report(debtor, loan, **kwargs):
    kwargs.setdefault("amount", INSTALLMENT)
    kwargs.setdefault("paid_on", TODAY)
    kwargs.setdefault("method", ReportedPayment.Method.TRANSFER)
    # Each report its own photo: one file sent again is the same report.
    kwargs.setdefault("receipt", receipt(content=_photo(next(_PHOTOS))))
    kwargs.setdefault("origin", Origin.PORTAL)
    kwargs.setdefault("actor", None)
    return services.report_payment(
        customer=debtor, receivable_kind="loan", receivable_id=loan.pk, **kwargs
    )


def test_a_reported_payment_waits_and_tells_the_collections_team(loan, debtor):
    reported = report(debtor, loan, reference="OP-991")

    assert reported.status == ReportedPayment.Status.PENDING
    assert not Payment.objects.exists()
    mail = OutboxMessage.objects.get(destination="email")
    assert mail.payload["to"] == "cobranzas@cartera.test"
    assert "OP-991" in mail.payload["body"]
    assert Interaction.objects.filter(customer=debtor, payload__reported_payment=reported.pk)


def test_the_same_report_sent_again_is_the_one_waiting(loan, debtor):
    first = report(debtor, loan, reference="OP-991")
    unnumbered = report(debtor, loan, amount=Decimal("10.00"))

    assert report(debtor, loan, reference="OP-991") == first
    assert report(debtor, loan, amount=Decimal("10.00")) == unnumbered
    assert ReportedPayment.objects.count() == 2


def test_a_report_of_an_operation_already_verified_is_refused(loan, debtor, cobranzas):
    first = report(debtor, loan, reference="OP-991")
    services.approve_reported_payment(report=first, actor=cobranzas)

    with pytest.raises(ValidationError, match="ya se informó y se verificó"):
        report(debtor, loan, reference="OP-991")

    assert Payment.objects.filter(loan=loan).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_report_sent_twice_at_once_is_recorded_once(roles, loan, debtor):
    """A double click on «Informar pago»: two reports both approvable credited the loan
    twice (found on PostgreSQL; each request found no report like it)."""
    _done, errors = at_once(*[lambda: report(debtor, loan, reference="OP-777")] * 2)

    assert errors == []
    assert ReportedPayment.objects.filter(reference="OP-777").count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"paid_on": TODAY + timedelta(days=1)}, "paid_on"),
        ({"paid_on": date(2024, 1, 1)}, "paid_on"),
        ({"amount": Decimal("-5")}, "amount"),
        ({"amount": Decimal("1E+15")}, "amount"),
        ({"method": "bitcoin"}, "method"),
    ],
)
def test_a_reported_payment_with_bad_data_is_refused(loan, debtor, kwargs, field):
    with pytest.raises(ValidationError) as caught:
        report(debtor, loan, **kwargs)

    assert field in caught.value.message_dict
    assert not ReportedPayment.objects.exists()


def test_a_receipt_that_is_not_a_pdf_or_image_is_refused(loan, debtor):
    with pytest.raises(ValidationError):
        report(debtor, loan, receipt=receipt("x.png", b"MZ\x90\x00 not an image", "image/png"))

    assert not ReportedPayment.objects.exists()


def test_approving_a_reported_payment_applies_it_and_tells_the_debtor(
    loan, debtor, cobranzas, events, django_capture_on_commit_callbacks
):
    debtor.email = "deudor@example.com"
    debtor.save()
    reported = report(debtor, loan)

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_reported_payment(report=reported, actor=cobranzas)

    reported.refresh_from_db()
    payment = Payment.objects.get(pk=reported.payment_id)
    assert payment.amount == INSTALLMENT
    assert payment.source == Payment.Source.TRANSFER
    assert reported.status == ReportedPayment.Status.APPROVED
    assert reported.reviewed_by == cobranzas
    assert OutboxMessage.objects.filter(payload__to="deudor@example.com").exists()
    assert Event.VERIFIED in [e["event"] for e in events]


def test_a_reported_payment_is_reviewed_once(loan, debtor, cobranzas):
    reported = report(debtor, loan)
    services.approve_reported_payment(report=reported, actor=cobranzas)

    with pytest.raises(ValidationError, match="ya fue revisado"):
        services.approve_reported_payment(report=reported, actor=cobranzas)
    with pytest.raises(ValidationError, match="ya fue revisado"):
        services.reject_reported_payment(report=reported, actor=cobranzas, reason="duplicado")

    assert Payment.objects.count() == 1


def test_rejecting_needs_a_reason_and_applies_nothing(loan, debtor, cobranzas):
    reported = report(debtor, loan)

    with pytest.raises(ValidationError):
        services.reject_reported_payment(report=reported, actor=cobranzas, reason="  ")
    services.reject_reported_payment(report=reported, actor=cobranzas, reason="No figura")

    reported.refresh_from_db()
    assert reported.status == ReportedPayment.Status.REJECTED
    assert reported.reject_reason == "No figura"
    assert not Payment.objects.exists()


def test_approving_more_than_is_owed_needs_the_overpayment_accepted(loan, debtor, cobranzas):
    reported = report(debtor, loan, amount=TO_SETTLE + Decimal("100.00"), paid_more=True)

    with pytest.raises(ValidationError, match="supera lo que se debe"):
        services.approve_reported_payment(report=reported, actor=cobranzas)
    services.approve_reported_payment(report=reported, actor=cobranzas, accept_overpayment=True)

    assert Payment.objects.get().overpaid == Decimal("100.00")


@pytest.mark.parametrize(
    ("origin", "answer"),
    [
        (Origin.PORTAL, "«Pagué más de lo que debo»"),
        (Origin.AGENT, "«El cliente pagó más de lo que debe»"),
        (Origin.BOT, "pago_mayor_a_la_deuda=true"),
    ],
)
def test_a_report_above_the_debt_needs_the_debtor_to_say_they_paid_more(
    loan, debtor, cobranzas, origin, answer
):
    """10,000,000,000 typed for a debt of 10,970.27 was taken; every path now asks."""
    actor = cobranzas if origin == Origin.AGENT else None

    with pytest.raises(ValidationError) as refused:
        report(debtor, loan, amount=Decimal("10000000000"), origin=origin, actor=actor)
    said = report(debtor, loan, amount=TO_SETTLE + 1, origin=origin, actor=actor, paid_more=True)

    (message,) = refused.value.message_dict["amount"]
    assert message.startswith("El monto supera la deuda: S/ 10,970.27 la cancelan hoy.")
    assert answer in message
    assert ReportedPayment.objects.get() == said
    assert report(debtor, loan, amount=TO_SETTLE, origin=origin, actor=actor).amount == TO_SETTLE


# --- Promises ------------------------------------------------------------------------------------


def promise(debtor, loan, amount=INSTALLMENT, on=TODAY + timedelta(days=5)):
    return services.promise_payment(
        customer=debtor,
        receivable_kind="loan",
        receivable_id=loan.pk,
        amount=amount,
        promised_on=on,
        origin=Origin.BOT,
        actor=None,
    )


def test_a_promise_from_the_bot_is_a_bot_interaction(loan, debtor):
    made = promise(debtor, loan)

    entry = Interaction.objects.get(customer=debtor, payload__promise=made.pk)
    assert entry.kind == Interaction.Kind.BOT
    assert "Compromiso de pago" in entry.summary


def test_a_second_promise_while_one_is_pending_is_refused(loan, debtor):
    promise(debtor, loan)

    with pytest.raises(ValidationError, match="Ya hay un compromiso vigente"):
        promise(debtor, loan)


@pytest.mark.django_db(transaction=True)
def test_two_promises_made_at_once_leave_one(roles, loan, debtor):
    """Locking the open promise locked nothing while there was none: both were made."""
    done, errors = at_once(lambda: promise(debtor, loan), lambda: promise(debtor, loan))

    assert len(done) == 1
    assert len(errors) == 1
    assert "Ya hay un compromiso vigente" in errors[0]
    assert PaymentPromise.objects.filter(customer=debtor).count() == 1


@pytest.mark.parametrize(
    ("amount", "on"),
    [
        (INSTALLMENT, TODAY - timedelta(days=1)),
        (INSTALLMENT, TODAY + timedelta(days=61)),
        (TO_SETTLE + Decimal("0.01"), TODAY + timedelta(days=1)),
        (Decimal("0"), TODAY + timedelta(days=1)),
    ],
)
def test_a_promise_out_of_bounds_is_refused(loan, debtor, amount, on):
    with pytest.raises(ValidationError):
        promise(debtor, loan, amount=amount, on=on)


def test_a_promise_paid_by_its_day_is_kept(loan, debtor):
    made = promise(debtor, loan, on=TODAY + timedelta(days=2))
    pay(loan, INSTALLMENT, TODAY)

    counts = services.resolve_promises(today=TODAY + timedelta(days=3))

    made.refresh_from_db()
    assert counts == {"kept": 1, "broken": 0}
    assert made.status == PaymentPromise.Status.KEPT
    assert made.paid_amount == INSTALLMENT


def test_a_promise_not_paid_by_its_day_is_broken_once(loan, debtor, events):
    made = promise(debtor, loan, on=TODAY + timedelta(days=2))
    pay(loan, Decimal("100.00"), TODAY)

    services.resolve_promises(today=TODAY + timedelta(days=3))
    again = services.resolve_promises(today=TODAY + timedelta(days=4))

    made.refresh_from_db()
    assert made.status == PaymentPromise.Status.BROKEN
    assert made.paid_amount == Decimal("100.00")
    assert again == {"kept": 0, "broken": 0}


def test_a_promise_is_not_judged_before_its_day_has_passed(loan, debtor):
    made = promise(debtor, loan, on=TODAY + timedelta(days=2))

    services.resolve_promises(today=TODAY + timedelta(days=2))

    made.refresh_from_db()
    assert made.status == PaymentPromise.Status.PENDING


# --- Annulment -----------------------------------------------------------------------------------


def test_annulling_a_payment_restores_the_balance_to_the_cent(loan, debtor, cobranzas, events):
    before = credit_selectors.loan_balance(loan, TODAY)
    payment = pay(loan, Decimal("1234.56"), TODAY)

    services.annul_payment(
        customer=debtor,
        receivable_kind="loan",
        payment_id=payment.pk,
        actor=cobranzas,
        reason="Cheque rechazado",
    )

    after = credit_selectors.loan_balance(Loan.objects.get(pk=loan.pk), TODAY)
    assert after == before
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.ANNULLED


def test_annulling_needs_a_reason(loan, debtor, cobranzas):
    payment = pay(loan, Decimal("100.00"), TODAY)

    with pytest.raises(ValidationError):
        services.annul_payment(
            customer=debtor,
            receivable_kind="loan",
            payment_id=payment.pk,
            actor=cobranzas,
            reason="",
        )


def test_a_payment_is_annulled_in_the_name_of_its_customer_only(loan, cobranzas):
    payment = pay(loan, Decimal("100.00"), TODAY)

    with pytest.raises(ValidationError):
        services.annul_payment(
            customer=CustomerFactory(),
            receivable_kind="loan",
            payment_id=payment.pk,
            actor=cobranzas,
            reason="x",
        )

    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.APPLIED


# --- Agreements ----------------------------------------------------------------------------------


@pytest.fixture
def rule(db):
    return AgreementRule.objects.create(
        name="Hasta 3 cuotas",
        max_installments=3,
        min_down_payment_percent=Decimal("20"),
        late_interest_discount_percent=Decimal("50"),
        min_days_past_due=1,
        days_between_installments=30,
    )


@pytest.fixture
def late_loan(loan):
    loan.late_annual_rate = Decimal("36")
    loan.days_past_due = 134
    loan.save()
    from credits.services import delinquency

    delinquency.accrue_late_interest(loan=loan, today=TODAY)
    return Loan.objects.get(pk=loan.pk)


def take(loan, option):
    """Take an agreement for the loan from the bot, as its debtor."""
    return services.create_agreement(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        option_key=option.key,
        provider="mercadopago",
        origin=Origin.BOT,
        actor=None,
    )


def test_agreement_options_follow_the_rule(late_loan, rule):
    debt = receivables.kind("loan").debt(late_loan.pk, TODAY)

    options = services.agreement_options(debt)

    assert [o.installments for o in options] == [1, 2, 3]
    for option in options:
        assert option.discount_amount == (debt.late_interest / 2).quantize(CENT, ROUND_HALF_UP)
        amounts = [amount for _, _, amount in option.plan]
        assert sum(amounts) == option.total == debt.overdue - option.discount_amount
    assert options[2].down_payment == (options[2].total / 5).quantize(CENT, ROUND_HALF_UP)


def test_a_rule_without_a_least_down_payment_asks_the_least_link_down(late_loan, rule, settings):
    # 0 % had offered S/ 0.01 down: one cent through a gateway bought the late-interest
    # discount and turned the rest into promises.
    rule.min_down_payment_percent = Decimal("0")
    rule.save()
    settings.COLLECTIONS_MIN_LINK_AMOUNT = Decimal("10.00")
    debt = receivables.kind("loan").debt(late_loan.pk, TODAY)

    options = services.agreement_options(debt)

    assert [o.down_payment for o in options[1:]] == [Decimal("10.00"), Decimal("10.00")]
    for option in options:
        assert sum(amount for _, _, amount in option.plan) == option.total


def test_taking_an_agreement_makes_its_down_payment_link(late_loan, rule):
    debt = receivables.kind("loan").debt(late_loan.pk, TODAY)
    option = services.agreement_options(debt)[2]

    agreement, link = take(late_loan, option)

    assert agreement.status == PaymentAgreement.Status.PENDING
    assert link.concept == PaymentLink.Concept.AGREEMENT
    assert link.amount == option.down_payment
    with pytest.raises(ValidationError, match="ya tiene un convenio"):
        take(late_loan, option)


def test_paying_the_down_payment_grants_the_discount_and_turns_installments_into_promises(
    late_loan, rule
):
    debt = receivables.kind("loan").debt(late_loan.pk, TODAY)
    option = services.agreement_options(debt)[2]
    agreement, link = take(late_loan, option)
    owed_before = owed(late_loan)

    services.apply_gateway_payment(provider="mercadopago", found=approved(link))

    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.ACTIVE
    assert owed(late_loan) == owed_before - option.discount_amount - option.down_payment
    waived = LedgerEntry.objects.filter(
        loan=late_loan, kind=LedgerEntry.Kind.LATE_INTEREST, owed__lt=0
    ).aggregate(total=Sum("owed"))["total"]
    assert waived == -option.discount_amount
    promises = list(agreement.promises.order_by("promised_on"))
    assert [p.amount for p in promises] == [amount for n, _, amount in option.plan if n]
    assert [p.promised_on for p in promises] == [
        TODAY + timedelta(days=30),
        TODAY + timedelta(days=60),
    ]


def test_an_agreement_is_broken_by_its_first_broken_installment(late_loan, rule):
    debt = receivables.kind("loan").debt(late_loan.pk, TODAY)
    option = services.agreement_options(debt)[2]
    agreement, link = take(late_loan, option)
    services.apply_gateway_payment(provider="mercadopago", found=approved(link))

    services.resolve_promises(today=TODAY + timedelta(days=31))

    agreement.refresh_from_db()
    assert agreement.status == PaymentAgreement.Status.BROKEN
    assert list(agreement.promises.values_list("status", flat=True).order_by("promised_on")) == [
        PaymentPromise.Status.BROKEN,
        PaymentPromise.Status.CANCELLED,
    ]


def test_no_agreement_is_offered_when_nothing_is_late(make_active_loan, rule):
    loan = make_active_loan(start_date=TODAY, first_due_date=TODAY + timedelta(days=30))

    assert services.agreement_options(receivables.kind("loan").debt(loan.pk, TODAY)) == []


# --- Call-back requests ------------------------------------------------------------------------


def test_a_callback_request_waits_for_an_agent(debtor):
    callback = services.request_callback(
        customer=debtor,
        phone="+51 987 654 321",
        preferred_time="tarde",
        origin=Origin.BOT,
        actor=None,
    )

    assert callback.status == CallbackRequest.Status.OPEN
    assert callback.phone == "+51987654321"
    assert Interaction.objects.get(customer=debtor, payload__callback=callback.pk).kind == (
        Interaction.Kind.BOT
    )


@pytest.mark.parametrize("phone", ["123", "x" * 30, "9" * 16, "1234567", "000000000"])
def test_a_callback_needs_a_phone_number(debtor, phone):
    with pytest.raises(ValidationError) as refused:
        services.request_callback(customer=debtor, phone=phone, origin=Origin.BOT, actor=None)

    assert refused.value.message_dict["phone"][0].startswith("Indique un teléfono válido, p. ej.")
    assert not CallbackRequest.objects.exists()


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("987 654 321", "+51987654321"),
        ("(01) 234-5678", "+5112345678"),
        ("９８７６５４３２１", "+51987654321"),
        ("+34 612 345 678", "+34612345678"),
    ],
)
def test_a_callback_keeps_a_mobile_or_landline_ready_to_dial(debtor, typed, kept):
    callback = services.request_callback(
        customer=debtor, phone=typed, origin=Origin.BOT, actor=None
    )

    assert callback.phone == kept


def test_a_number_asked_again_while_its_call_waits_is_the_same_request(debtor, cobranzas):
    first = services.request_callback(
        customer=debtor, phone="987 654 321", origin=Origin.AGENT, actor=cobranzas
    )
    again = services.request_callback(
        customer=debtor, phone="+51987654321", origin=Origin.BOT, actor=None
    )
    other = services.request_callback(
        customer=debtor, phone="912 345 678", origin=Origin.BOT, actor=None
    )

    assert (again.pk, again.is_repeat, first.is_repeat) == (first.pk, True, False)
    assert other.pk != first.pk
    assert Interaction.objects.filter(customer=debtor, payload__has_key="callback").count() == 2
    services.close_callback(
        callback=first, actor=cobranzas, status=CallbackRequest.Status.DONE, outcome="Llamado"
    )
    after = services.request_callback(
        customer=debtor, phone="987654321", origin=Origin.BOT, actor=None
    )
    assert after.pk not in (first.pk, other.pk)


@pytest.mark.django_db(transaction=True)
def test_a_call_asked_for_twice_at_once_is_one_request(roles, debtor):
    def ask():
        return services.request_callback(
            customer=debtor, phone="987654321", origin=Origin.BOT, actor=None
        ).pk

    done, errors = at_once(ask, ask, ask)

    assert errors == []
    assert len(set(done)) == 1
    assert CallbackRequest.objects.filter(customer=debtor).count() == 1


def test_a_callback_is_closed_once_with_an_outcome(debtor, cobranzas):
    callback = services.request_callback(
        customer=debtor, phone="987654321", origin=Origin.PORTAL, actor=None
    )

    services.close_callback(
        callback=callback, actor=cobranzas, status=CallbackRequest.Status.DONE, outcome="Pagará"
    )
    with pytest.raises(ValidationError):
        services.close_callback(
            callback=callback, actor=cobranzas, status=CallbackRequest.Status.DONE, outcome="x"
        )

    callback.refresh_from_db()
    assert callback.closed_by == cobranzas
