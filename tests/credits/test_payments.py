"""Applying and annulling payments: allocation order, prepayment both ways, exact restoration."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from credits import selectors
from credits.models import Component, Installment, LedgerEntry, Loan, Payment
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from crm.models import Interaction
from tests.credits.conftest import pay
from tests.factories import LoanProductFactory

pytestmark = pytest.mark.usefixtures("frozen_today")


def snapshot(loan):
    """Every live installment's fields, to compare before and after."""
    return [
        (
            i.number,
            i.kind,
            i.due_date,
            *(i.due(c) for c in Component.values),
            *(i.paid(c) for c in Component.values),
            i.paid_on,
        )
        for i in selectors.live_installments(loan)
    ]


def test_it_pays_the_oldest_installment_first(make_active_loan):
    loan = make_active_loan()

    pay(loan, "1000.00", date(2026, 3, 1))

    first, second, third = selectors.live_installments(loan)[:3]
    assert first.total_paid == Decimal("945.60") and first.paid_on == date(2026, 3, 1)
    assert second.interest_paid == Decimal("54.40")
    assert second.principal_paid == 0
    assert third.total_paid == 0


def test_within_an_installment_the_default_order_is_late_interest_fees_interest_principal(
    make_active_loan,
):
    loan = make_active_loan(product=LoanProductFactory(fee_type="fixed", fee_value=Decimal("10")))
    first = selectors.live_installments(loan)[0]
    Installment.objects.filter(pk=first.pk).update(late_interest_due=Decimal("7.00"))

    pay(loan, "100.00", date(2026, 2, 5))

    first.refresh_from_db()
    assert first.late_interest_paid == Decimal("7.00")
    assert first.fee_paid == Decimal("10.00")
    assert first.interest_paid == Decimal("83.00")
    assert first.principal_paid == 0


def test_a_product_can_change_the_allocation_order(make_active_loan):
    product = LoanProductFactory(
        name="Capital primero", allocation_order=["principal", "interest", "fee", "late_interest"]
    )
    loan = make_active_loan(product=product)

    pay(loan, "100.00", date(2026, 2, 1))

    first = selectors.live_installments(loan)[0]
    assert first.principal_paid == Decimal("100.00")
    assert first.interest_paid == 0


def test_a_payment_covers_the_installment_in_course_before_it_is_due(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "945.60", date(2026, 1, 20))

    first = selectors.live_installments(loan)[0]
    assert first.paid_on == date(2026, 1, 20)
    assert payment.credited == 0 and payment.prepaid_principal == 0


def test_an_overpayment_kept_as_credit_stays_on_the_loan(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "1000.00", date(2026, 1, 20), overpayment=Payment.Overpayment.CREDIT)

    loan.refresh_from_db()
    assert payment.credited == Decimal("54.40")
    assert loan.credit_balance == Decimal("54.40")
    assert selectors.live_installments(loan)[1].total_paid == 0


def test_the_credit_balance_can_be_applied_later(make_active_loan):
    loan = make_active_loan()
    pay(loan, "1000.00", date(2026, 1, 20))

    payment_services.apply_credit_balance(loan=loan, actor=None)

    loan.refresh_from_db()
    assert loan.credit_balance == 0
    assert selectors.live_installments(loan)[1].interest_paid == Decimal("54.40")


def test_prepayment_lowering_the_installment_keeps_the_term(make_active_loan):
    loan = make_active_loan()

    payment = pay(
        loan, "2945.60", date(2026, 1, 20), overpayment=Payment.Overpayment.LOWER_INSTALLMENT
    )

    rows = list(selectors.live_installments(loan))
    regular = [r for r in rows if r.kind == Installment.Kind.REGULAR]
    assert payment.prepaid_principal == Decimal("2000.00")
    assert len(regular) == 12
    assert regular[-1].due_date == date(2027, 1, 1)
    assert regular[2].total_due < Decimal("945.60")
    assert sum(r.principal_due for r in rows) == loan.principal


def test_prepayment_shortening_the_term_keeps_the_installment(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "2945.60", date(2026, 1, 20), overpayment=Payment.Overpayment.SHORTEN_TERM)

    rows = list(selectors.live_installments(loan))
    regular = [r for r in rows if r.kind == Installment.Kind.REGULAR]
    assert payment.prepaid_principal == Decimal("2000.00")
    assert len(regular) < 12
    assert {r.total_due for r in regular[1:-1]} == {Decimal("945.60")}
    assert regular[-1].total_due <= Decimal("945.60")
    assert sum(r.principal_due for r in rows) == loan.principal


def test_a_prepayment_beyond_the_balance_pays_off_the_loan_and_credits_the_rest(
    make_active_loan,
):
    loan = make_active_loan(principal=Decimal("1000.00"), term=3)

    payment = pay(
        loan,
        "1500.00",
        date(2026, 1, 20),
        overpayment=Payment.Overpayment.SHORTEN_TERM,
        accept_overpayment=True,
    )

    loan.refresh_from_db()
    assert loan.status == Loan.Status.PAID
    # 1,000 of principal and the first installment's 20.00 of interest settle it.
    assert payment.credited == payment.overpaid == Decimal("480.00")
    assert loan.credit_balance == payment.credited


@pytest.mark.parametrize(
    "overpayment",
    [
        Payment.Overpayment.CREDIT,
        Payment.Overpayment.SHORTEN_TERM,
        Payment.Overpayment.LOWER_INSTALLMENT,
    ],
)
def test_annulling_a_payment_restores_every_installment_exactly(make_active_loan, overpayment):
    loan = make_active_loan()
    pay(loan, "1500.00", date(2026, 3, 1))
    before = snapshot(loan)
    credit_before = Loan.objects.get(pk=loan.pk).credit_balance

    payment = pay(loan, "3100.00", date(2026, 3, 10), overpayment=overpayment)
    assert snapshot(loan) != before
    payment_services.annul_payment(payment=payment, actor=None, reason="Cheque sin fondos")

    assert snapshot(loan) == before
    assert Loan.objects.get(pk=loan.pk).credit_balance == credit_before
    payment.refresh_from_db()
    assert payment.status == Payment.Status.ANNULLED
    assert payment.annul_reason == "Cheque sin fondos"


def test_annulling_the_payment_that_settled_a_loan_reopens_it(make_active_loan):
    loan = make_active_loan(principal=Decimal("500.00"), term=1)
    payment = pay(loan, "510.00", date(2026, 2, 1))
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PAID

    payment_services.annul_payment(payment=payment, actor=None, reason="Error de digitación")

    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.ACTIVE


def test_a_reschedule_cannot_be_annulled_while_later_payments_use_it(make_active_loan):
    loan = make_active_loan()
    prepayment = pay(
        loan, "2945.60", date(2026, 1, 20), overpayment=Payment.Overpayment.LOWER_INSTALLMENT
    )
    later = pay(loan, "900.00", date(2026, 3, 1))

    with pytest.raises(ValidationError, match=f"#{later.pk}"):
        payment_services.annul_payment(payment=prepayment, actor=None, reason="x")

    payment_services.annul_payment(payment=later, actor=None, reason="x")
    payment_services.annul_payment(payment=prepayment, actor=None, reason="x")
    assert len(list(selectors.live_installments(loan))) == 12


def test_a_payment_needs_a_reason_to_be_annulled_and_is_annulled_once(make_active_loan):
    loan = make_active_loan()
    payment = pay(loan, "100.00", date(2026, 2, 1))

    with pytest.raises(ValidationError):
        payment_services.annul_payment(payment=payment, actor=None, reason=" ")
    payment_services.annul_payment(payment=payment, actor=None, reason="duplicado")
    with pytest.raises(ValidationError, match="ya fue anulado"):
        payment_services.annul_payment(payment=payment, actor=None, reason="duplicado")


def test_a_provider_payment_id_is_applied_once(make_active_loan):
    loan = make_active_loan()

    first = pay(loan, "100.00", date(2026, 2, 1), external_id="mp-123")
    second = pay(loan, "100.00", date(2026, 2, 1), external_id="mp-123")

    assert first.pk == second.pk
    assert Payment.objects.filter(loan=loan).count() == 1


@pytest.mark.parametrize(
    ("amount", "on", "message"),
    [
        ("0", date(2026, 2, 1), "positivo"),
        ("10.001", date(2026, 2, 1), "dos decimales"),
        ("10", date(2026, 7, 1), "futura"),
    ],
)
def test_it_refuses_bad_payments_and_writes_nothing(make_active_loan, amount, on, message):
    loan = make_active_loan()
    entries = LedgerEntry.objects.count()

    with pytest.raises(ValidationError, match=message):
        pay(loan, amount, on)

    assert Payment.objects.count() == 0
    assert LedgerEntry.objects.count() == entries


def test_payments_are_refused_on_loans_not_disbursed(db):
    from tests.factories import LoanFactory

    loan = LoanFactory()

    with pytest.raises(ValidationError, match="Borrador"):
        pay(loan, "100", date(2026, 2, 1))


def test_a_payment_and_its_annulment_land_on_the_customer_timeline(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "100.00", date(2026, 2, 1), reference="OP-991")
    payment_services.annul_payment(payment=payment, actor=None, reason="Rebotado")

    summaries = list(
        Interaction.objects.filter(customer=loan.customer, kind=Interaction.Kind.PAYMENT)
        .order_by("id")
        .values_list("summary", flat=True)
    )
    assert "100.00" in summaries[0] and loan.payment_code in summaries[0]
    assert "anulado: Rebotado" in summaries[1]


def test_each_allocation_is_written_to_the_ledger_with_its_payment(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "1000.00", date(2026, 3, 1))

    entries = LedgerEntry.objects.filter(payment=payment, kind=LedgerEntry.Kind.ALLOCATION)
    assert sorted((e.installment.number, e.component, e.paid) for e in entries) == [
        (1, "interest", Decimal("200.00")),
        (1, "principal", Decimal("745.60")),
        (2, "interest", Decimal("54.40")),
    ]
    assert {e.reason for e in entries} == {f"Pago {payment.pk}"}
    assert LedgerEntry.objects.get(payment=payment, kind=LedgerEntry.Kind.PAYMENT).reason == (
        "Pago recibido: 1000.00 (Efectivo)"
    )


def test_annulling_the_payment_that_settled_a_written_off_loan_writes_it_off_again(
    make_active_loan,
):
    loan = make_active_loan(principal=Decimal("500.00"), term=1)
    loan_services.write_off(loan=loan, actor=None, reason="Inubicable")
    payment = pay(loan, "510.00", date(2026, 2, 1))
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PAID

    payment_services.annul_payment(payment=payment, actor=None, reason="Rebotó")

    loan.refresh_from_db()
    assert (loan.status, loan.paid_at) == (Loan.Status.WRITTEN_OFF, None)


def test_annulling_a_payment_made_from_the_credit_balance_gives_the_credit_back(
    make_active_loan,
):
    loan = make_active_loan()
    pay(loan, "1000.00", date(2026, 1, 20))
    used = payment_services.apply_credit_balance(loan=loan, actor=None)
    assert Loan.objects.get(pk=loan.pk).credit_balance == 0

    payment_services.annul_payment(payment=used, actor=None, reason="Error")

    loan.refresh_from_db()
    assert loan.credit_balance == Decimal("54.40")
    assert selectors.live_installments(loan)[1].total_paid == 0
    entries = LedgerEntry.objects.filter(payment=used, kind=LedgerEntry.Kind.CREDIT)
    assert [e.paid for e in entries] == [Decimal("54.40")]


def test_a_loan_without_credit_balance_has_none_to_apply(make_active_loan):
    loan = make_active_loan()

    with pytest.raises(ValidationError) as refused:
        payment_services.apply_credit_balance(loan=loan, actor=None)

    assert refused.value.messages == ["El crédito no tiene saldo a favor."]


def test_a_credit_balance_already_spent_must_be_annulled_first(make_active_loan):
    loan = make_active_loan()
    overpaid = pay(loan, "1000.00", date(2026, 1, 20))
    payment_services.apply_credit_balance(loan=loan, actor=None)

    with pytest.raises(ValidationError, match="ya se usó"):
        payment_services.annul_payment(payment=overpaid, actor=None, reason="Error")


def test_a_payment_planned_over_rows_leaves_those_it_does_not_reach_as_they_were():
    # In memory, as the book import plans its payments: no database.
    due = {"principal_due": Decimal("80.00"), "interest_due": Decimal("20.00")}
    first = Installment(number=1, due_date=date(2026, 2, 1), **due)
    # Settled before this payment (a waiver): it keeps its day.
    waived = Installment(
        number=2,
        due_date=date(2026, 3, 1),
        paid_on=date(2026, 1, 20),
        principal_paid=Decimal("80.00"),
        interest_paid=Decimal("20.00"),
        **due,
    )
    later = Installment(number=3, due_date=date(2026, 4, 1), **due)
    payment = Payment(amount=Decimal("100.00"), received_on=date(2026, 2, 10))
    order = [Component.INTEREST, Component.PRINCIPAL]

    allocations, left = payment_services.plan_allocations(
        payment, [first, waived, later], Decimal("100.00"), order
    )

    assert left == 0
    assert [(a.installment.number, a.component, a.amount) for a in allocations] == [
        (1, Component.INTEREST, Decimal("20.00")),
        (1, Component.PRINCIPAL, Decimal("80.00")),
    ]
    assert first.paid_on == date(2026, 2, 10)
    assert (waived.paid_on, later.paid_on, later.total_paid) == (date(2026, 1, 20), None, 0)
