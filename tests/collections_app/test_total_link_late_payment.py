"""A "pay the total" link paid days after it was made: what it quoted cancels the loan.

The link's amount is fixed the day it is made and the link lasts 72 hours (a total link
ends sooner, with the last day its amount settles the loan), while the nightly run keeps
charging late interest. Paid while open, the late interest charged since
is waived (through the receivable's discount), and nothing else; installment and
free-amount links get no waiver.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from collections_app import services
from collections_app.models import Origin, PaymentLink
from credits import selectors as credit_selectors
from credits.models import Component, LedgerEntry, Loan
from credits.services import delinquency
from crm.models import Interaction
from integrations import payment_gateways
from tests.credits.conftest import at
from tests.factories import LoanProductFactory

LINK_DAY = date(2026, 5, 5)
PAY_DAY = date(2026, 5, 7)


def _nightly(day: date) -> None:
    with at(day, 1):
        delinquency.update_delinquency()


@pytest.fixture
def late_loan(make_active_loan):
    """3,000 in three monthly installments from 10 February, none paid; late rate 36 %."""
    with at(date(2026, 1, 10), 9):
        product = LoanProductFactory(late_annual_rate=Decimal("36.00"))
        loan = make_active_loan(
            product=product,
            start_date=date(2026, 1, 10),
            first_due_date=date(2026, 2, 10),
            term=3,
            principal=Decimal("3000.00"),
        )
    _nightly(LINK_DAY)
    return loan


def _link(loan, concept=PaymentLink.Concept.TOTAL, **fields) -> PaymentLink:
    return services.create_payment_link(
        customer=loan.customer,
        receivable_kind="loan",
        receivable_id=loan.pk,
        concept=concept,
        provider="mercadopago",
        origin=Origin.AGENT,
        actor=None,
        **fields,
    )


def _gateway_pays(link: PaymentLink, paid_on: date, operation: str = "1") -> None:
    services.apply_gateway_payment(
        provider="mercadopago",
        found=payment_gateways.GatewayPayment(
            provider_payment_id=operation,
            reference=link.reference,
            status=payment_gateways.APPROVED,
            amount=link.amount,
            currency=link.currency,
            paid_on=paid_on,
            raw={},
        ),
    )


def _to_settle(loan, day: date) -> Decimal:
    return credit_selectors.loan_balance(loan, day).to_settle


def _waived(loan) -> Decimal:
    return -sum(
        LedgerEntry.objects.filter(
            loan=loan,
            kind=LedgerEntry.Kind.LATE_INTEREST,
            component=Component.LATE_INTEREST,
            reason__startswith="Descuento de mora",
        ).values_list("owed", flat=True),
        Decimal("0.00"),
    )


def _waiver_entries(loan) -> list[str]:
    return list(
        Interaction.objects.filter(
            customer=loan.customer, payload__late_interest_waived__isnull=False
        ).values_list("summary", flat=True)
    )


def test_a_total_link_paid_two_days_later_settles_and_closes_the_loan(late_loan):
    with at(LINK_DAY, 10):
        link = _link(late_loan)
    _nightly(date(2026, 5, 6))
    _nightly(PAY_DAY)
    with at(PAY_DAY, 9):
        charged_since = _to_settle(late_loan, PAY_DAY) - link.amount

    with at(PAY_DAY, 10):
        _gateway_pays(link, PAY_DAY)

    late_loan.refresh_from_db()
    assert charged_since > 0
    assert (late_loan.status, _to_settle(late_loan, PAY_DAY)) == (Loan.Status.PAID, 0)
    assert _waived(late_loan) == charged_since
    payment = late_loan.payments.get()
    assert (payment.amount, payment.overpaid, payment.credited) == (link.amount, 0, 0)
    assert _waiver_entries(late_loan) == [
        f"Interés moratorio de S/ {charged_since} generado después del link de pago total "
        "del 05/05 condonado: el link cotizaba la cancelación"
    ]
    _nightly(date(2026, 5, 8))
    late_loan.refresh_from_db()
    assert (late_loan.status, late_loan.days_past_due) == (Loan.Status.PAID, 0)


def test_a_total_link_paid_the_day_it_was_made_waives_nothing(late_loan):
    with at(LINK_DAY, 10):
        link = _link(late_loan)

    with at(LINK_DAY, 15):
        _gateway_pays(link, LINK_DAY)

    late_loan.refresh_from_db()
    assert (late_loan.status, _to_settle(late_loan, LINK_DAY)) == (Loan.Status.PAID, 0)
    assert (_waived(late_loan), _waiver_entries(late_loan)) == (0, [])


def test_a_total_link_paid_late_at_night_and_notified_after_the_nightly_waives_once(late_loan):
    # Paid at 23:00 on the 6th; the gateway's notice is processed on the 7th, after the
    # nightly charged the 7th, which the payment itself takes back.
    with at(LINK_DAY, 10):
        link = _link(late_loan)
    _nightly(date(2026, 5, 6))
    with at(date(2026, 5, 6), 23):
        charged_since = _to_settle(late_loan, date(2026, 5, 6)) - link.amount
    _nightly(PAY_DAY)

    with at(PAY_DAY, 10):
        _gateway_pays(link, date(2026, 5, 6))

    late_loan.refresh_from_db()
    assert (late_loan.status, _to_settle(late_loan, PAY_DAY)) == (Loan.Status.PAID, 0)
    assert _waived(late_loan) == charged_since
    payment = late_loan.payments.get()
    assert (payment.overpaid, payment.credited, late_loan.credit_balance) == (0, 0, 0)


@pytest.mark.parametrize(
    ("concept", "fields"),
    [
        (PaymentLink.Concept.INSTALLMENT, {"installment_number": 1}),
        (PaymentLink.Concept.CUSTOM, {"amount": Decimal("500.00")}),
    ],
)
def test_installment_and_free_amount_links_paid_later_waive_nothing(late_loan, concept, fields):
    with at(LINK_DAY, 10):
        link = _link(late_loan, concept, **fields)
    _nightly(date(2026, 5, 6))
    _nightly(PAY_DAY)
    with at(PAY_DAY, 9):
        before = _to_settle(late_loan, PAY_DAY)

    with at(PAY_DAY, 10):
        _gateway_pays(link, PAY_DAY)

    assert (_waived(late_loan), _waiver_entries(late_loan)) == (0, [])
    assert _to_settle(late_loan, PAY_DAY) == before - link.amount


def test_a_withdrawn_total_link_paid_anyway_waives_nothing(late_loan):
    with at(LINK_DAY, 10):
        link = _link(late_loan)
        services.cancel_payment_link(link=link, actor=None, reason="Monto equivocado")
    _nightly(date(2026, 5, 6))

    with at(date(2026, 5, 6), 10):
        _gateway_pays(link, date(2026, 5, 6))

    late_loan.refresh_from_db()
    assert late_loan.status == Loan.Status.ACTIVE
    assert _waived(late_loan) == 0


def test_a_total_link_made_on_the_eve_of_a_due_date_ends_that_night(make_active_loan):
    # Six installments from 10 February. The link (9 May) quotes February to April overdue,
    # May in course and the later principal. On 10 May June's interest enters what settles
    # the loan: the quote ends with 9 May, and money after that day waives nothing.
    with at(date(2026, 1, 10), 9):
        product = LoanProductFactory(late_annual_rate=Decimal("36.00"))
        loan = make_active_loan(
            product=product,
            start_date=date(2026, 1, 10),
            first_due_date=date(2026, 2, 10),
            term=6,
            principal=Decimal("6000.00"),
        )
    _nightly(date(2026, 5, 9))
    with at(date(2026, 5, 9), 10):
        link = _link(loan)
    _nightly(date(2026, 5, 10))
    _nightly(date(2026, 5, 11))

    with at(date(2026, 5, 11), 10):
        _gateway_pays(link, date(2026, 5, 11))

    loan.refresh_from_db()
    assert _local(link).strftime("%d/%m/%Y %H:%M:%S") == "09/05/2026 23:59:59"
    assert _waived(loan) == 0
    assert loan.status == Loan.Status.ACTIVE
    with at(date(2026, 5, 11), 11):
        assert credit_selectors.loan_balance(loan).to_settle > 0


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (payment_gateways.REFUNDED, "devuelto por MercadoPago"),
        (payment_gateways.CHARGED_BACK, "contracargo en MercadoPago"),
    ],
)
def test_a_refunded_total_link_payment_owes_again_the_late_interest_it_waived(
    late_loan, status, why
):
    with at(LINK_DAY, 10):
        link = _link(late_loan)
    _nightly(date(2026, 5, 6))
    _nightly(PAY_DAY)
    with at(PAY_DAY, 9):
        before = _to_settle(late_loan, PAY_DAY)
    with at(PAY_DAY, 10):
        _gateway_pays(link, PAY_DAY)
    waived = _waived(late_loan)
    assert waived > 0

    refund = payment_gateways.GatewayPayment(
        provider_payment_id="1",
        reference=link.reference,
        status=status,
        amount=link.amount,
        currency=link.currency,
        paid_on=PAY_DAY,
        raw={},
    )
    with at(PAY_DAY, 15):
        services.apply_gateway_payment(provider="mercadopago", found=refund)
        # The same notification again restores nothing more.
        services.apply_gateway_payment(provider="mercadopago", found=refund)

    late_loan.refresh_from_db()
    assert late_loan.status == Loan.Status.ACTIVE
    assert _to_settle(late_loan, PAY_DAY) == before
    assert late_loan.days_past_due > 0
    restored = Interaction.objects.get(
        customer=late_loan.customer, payload__late_interest_restored__isnull=False
    )
    assert restored.summary == (
        f"Interés moratorio de S/ {waived} condonado por el link de pago total "
        f"{link.reference}, adeudado otra vez: el pago fue anulado ({why})"
    )
    assert Interaction.objects.filter(summary__contains="pagado por MercadoPago").exists()


# --- A total link's life ends where its amount stops settling the loan -----------------------


@pytest.fixture
def current_loan(make_active_loan):
    """3,000 in six monthly installments from 10 May, nothing due yet on 8 May."""
    with at(date(2026, 4, 10), 9):
        return make_active_loan(
            start_date=date(2026, 4, 10),
            first_due_date=date(2026, 5, 10),
            term=6,
            principal=Decimal("3000.00"),
        )


def _local(link: PaymentLink):
    return timezone.localtime(link.expires_at)


def test_a_total_link_ends_the_day_before_the_installment_in_course_falls_due(current_loan):
    with at(date(2026, 5, 8), 10):
        total = _link(current_loan)
        installment = _link(
            current_loan, concept=PaymentLink.Concept.INSTALLMENT, installment_number=1
        )

    # On 10 May the second installment enters what settles the loan, its interest with it.
    assert _to_settle(current_loan, date(2026, 5, 10)) > total.amount
    assert _local(total).strftime("%d/%m/%Y %H:%M:%S") == "09/05/2026 23:59:59"
    # An installment's amount does not move: it keeps the link's usual 72 hours.
    assert _local(installment).strftime("%d/%m/%Y %H:%M") == "11/05/2026 10:00"
    entry = Interaction.objects.filter(
        customer=current_loan.customer, summary__contains="total"
    ).get()
    assert "vence el 09/05/2026" in entry.summary


def test_a_total_link_paid_on_its_last_day_settles_the_loan(current_loan):
    with at(date(2026, 5, 8), 10):
        link = _link(current_loan)

    with at(date(2026, 5, 9), 22):
        _gateway_pays(link, date(2026, 5, 9))

    current_loan.refresh_from_db()
    assert current_loan.status == Loan.Status.PAID


def test_a_total_link_keeps_its_hours_when_no_installment_follows_the_one_in_course(late_loan):
    with at(LINK_DAY, 10):
        link = _link(late_loan)

    # Every installment is due already: only late interest can grow, and it is waived.
    assert _local(link).strftime("%d/%m/%Y %H:%M") == "08/05/2026 10:00"


def test_a_total_link_paid_before_the_nightly_still_settles_the_loan(late_loan):
    # Paid at 00:30 the next day, before the 01:15 run (or with the worker stopped): the
    # payment charges that day's late interest first, and the quote waives it too.
    with at(LINK_DAY, 10):
        link = _link(late_loan)

    with at(date(2026, 5, 6), 0):
        _gateway_pays(link, date(2026, 5, 6))

    late_loan.refresh_from_db()
    assert late_loan.status == Loan.Status.PAID
    assert _waived(late_loan) > 0
    payment = late_loan.payments.get()
    assert (payment.amount, payment.overpaid) == (link.amount, 0)
