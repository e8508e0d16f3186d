"""A loan holding a credit balance is settled by less than its installments: the portal, the
bot and a total link ask for what is owed minus the credit, and a payment of that spends the
credit with it, in one pass, and settles the loan (90-day pass: the loans ended «Pagado»
still holding S/ 1,292–25,695 of the debtor's money to give back).

`credits.selectors.settles_with_credit` says what is asked; `apply_payment` spends it.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.urls import reverse
from pytest_django.asserts import assertContains

from collections_app import receivables
from collections_app.strategies import variables
from credits import selectors
from credits.models import LedgerEntry, Loan, Payment
from credits.services import payments as payment_services
from crm.models import Interaction
from tests.credits.conftest import TODAY, at, pay
from tests.credits.test_ledger import assert_ledger_matches

pytestmark = pytest.mark.usefixtures("frozen_today")

SHORTEN = Payment.Overpayment.SHORTEN_TERM
# LoanFactory's loan on 15 June: installments 1 to 5 due, the 6th in course (945.60 each).
# 7,000 paid keeping the rest as credit leaves 7,000 - 6 x 945.60 = 1,326.40.
CREDIT = Decimal("1326.40")


@pytest.fixture
def loan_with_credit(make_active_loan) -> Loan:
    loan = make_active_loan()
    pay(loan, "7000.00", TODAY, overpayment=Payment.Overpayment.CREDIT)
    loan.refresh_from_db()
    assert loan.credit_balance == CREDIT
    return loan


def owed(loan: Loan) -> Decimal:
    return selectors.loan_balance(loan, TODAY).to_settle


def assert_payments_add_up(loan: Loan) -> None:
    """Each payment's allocations are its money plus the credit it spent, less what it left
    as credit; the credit balance is what the applied payments left and did not spend."""
    credit = Decimal("0.00")
    for payment in Payment.objects.filter(loan=loan):
        allocated = payment.allocations.aggregate(t=Sum("amount"))["t"] or Decimal("0.00")
        assert allocated + payment.credited == payment.amount + payment.credit_spent
        if payment.is_applied:
            credit += payment.credited - payment.credit_spent
            if payment.source == Payment.Source.CREDIT_BALANCE:
                credit -= payment.amount
    loan.refresh_from_db()
    assert loan.credit_balance == credit
    assert_ledger_matches(loan)


def test_the_total_asked_is_what_is_owed_less_the_credit_and_paying_it_settles_the_loan(
    loan_with_credit,
):
    loan = loan_with_credit
    kind = receivables.LoanReceivable()
    debt = kind.debt(loan.pk, TODAY)
    assert (debt.total, debt.credit) == (owed(loan) - CREDIT, CREDIT)

    payment_id = kind.apply_payment(
        receivable_id=loan.pk,
        amount=debt.total,
        received_on=TODAY,
        source="mercadopago",
        actor=None,
        reference="MP-1",
        external_id="mp-1",
        accept_overpayment=True,
    )

    loan.refresh_from_db()
    payment = Payment.objects.get(pk=payment_id)
    assert (loan.status, loan.credit_balance) == (Loan.Status.PAID, 0)
    assert (payment.amount, payment.credit_spent) == (debt.total, CREDIT)
    assert (payment.credited, payment.overpaid) == (0, 0)
    entry = LedgerEntry.objects.get(payment=payment, kind=LedgerEntry.Kind.CREDIT)
    assert entry.paid == -CREDIT
    assert entry.reason == "Saldo a favor aplicado con este pago, que cancela el crédito"
    assert_payments_add_up(loan)
    told = Interaction.objects.filter(payload__payment=payment.pk).get()
    assert "con S/ 1,326.40 de su saldo a favor" in told.summary
    assert told.payload["credit_spent"] == "1326.40"
    # A second delivery of the same payment spends nothing more.
    assert kind.debt(loan.pk, TODAY) is None or not kind.debt(loan.pk, TODAY).has_debt


def test_more_than_the_total_spends_only_the_credit_it_lacks(loan_with_credit):
    loan = loan_with_credit
    total = owed(loan) - CREDIT

    payment = pay(loan, total + Decimal("100.00"), TODAY, overpayment=SHORTEN)

    loan.refresh_from_db()
    assert payment.credit_spent == CREDIT - Decimal("100.00")
    assert payment.overpaid == 0
    assert (loan.status, loan.credit_balance) == (Loan.Status.PAID, Decimal("100.00"))
    assert_payments_add_up(loan)


@pytest.mark.parametrize(
    ("short_of_owed", "why"),
    [
        (Decimal("0.00"), "it settles the loan alone"),
        (CREDIT + Decimal("0.01"), "not even with the credit"),
        (CREDIT + Decimal("500.00"), "a part payment"),
    ],
)
def test_a_payment_the_credit_does_not_complete_spends_none(loan_with_credit, short_of_owed, why):
    loan = loan_with_credit

    payment = pay(loan, owed(loan) - short_of_owed, TODAY, overpayment=SHORTEN)

    loan.refresh_from_db()
    assert payment.credit_spent == 0, why
    assert loan.credit_balance == CREDIT
    assert_payments_add_up(loan)


def test_what_settles_the_loan_settles_it_even_if_an_excess_was_to_be_kept_as_credit(
    loan_with_credit,
):
    loan = loan_with_credit

    payment = pay(loan, owed(loan) - CREDIT, TODAY, overpayment=Payment.Overpayment.CREDIT)

    loan.refresh_from_db()
    assert payment.credit_spent == CREDIT
    assert payment.overpayment == SHORTEN  # the later principal was prepaid, as it says
    assert (loan.status, loan.credit_balance) == (Loan.Status.PAID, 0)
    assert_payments_add_up(loan)


def test_a_full_payoff_kept_as_credit_settles_the_loan(make_active_loan):
    # The form's choice by default: before, the later principal became credit, the loan
    # stayed open and the credit paid an installment a month, with its interest.
    loan = make_active_loan()

    payment = pay(loan, owed(loan), TODAY, overpayment=Payment.Overpayment.CREDIT)

    loan.refresh_from_db()
    assert (loan.status, loan.credit_balance, payment.credited) == (Loan.Status.PAID, 0, 0)


def test_annulling_it_gives_the_credit_back_and_opens_the_loan_again(loan_with_credit):
    loan = loan_with_credit
    before = owed(loan)
    payment = pay(loan, before - CREDIT, TODAY, overpayment=SHORTEN)

    payment_services.annul_payment(payment=payment, actor=None, reason="Rechazado por el banco")

    loan.refresh_from_db()
    assert (loan.status, loan.credit_balance) == (Loan.Status.ACTIVE, CREDIT)
    assert owed(loan) == before
    assert_payments_add_up(loan)


def test_a_written_off_loans_credit_waits_for_a_person(loan_with_credit):
    loan = loan_with_credit
    Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.WRITTEN_OFF)
    loan.refresh_from_db()

    assert receivables.LoanReceivable().debt(loan.pk, TODAY).total == owed(loan)
    payment = pay(loan, owed(loan) - CREDIT, TODAY, overpayment=SHORTEN)

    loan.refresh_from_db()
    assert payment.credit_spent == 0
    assert loan.credit_balance == CREDIT


def test_a_payment_keyed_in_before_a_later_one_spends_none(make_active_loan):
    loan = make_active_loan()
    pay(loan, "500.00", date(2026, 6, 1), overpayment=Payment.Overpayment.CREDIT)
    pay(loan, "7000.00", TODAY, overpayment=Payment.Overpayment.CREDIT)
    loan.refresh_from_db()
    credit = loan.credit_balance
    to_settle = selectors.open_installments(
        selectors.live_installments(loan), date(2026, 6, 10)
    ).to_settle

    # Received on 10 June, before the payment of the 15th that left the credit.
    payment = pay(loan, to_settle - credit, date(2026, 6, 10), overpayment=SHORTEN)

    loan.refresh_from_db()
    assert payment.credit_spent == 0
    assert loan.credit_balance == credit


def test_the_staffs_refusal_of_an_overpayment_is_unchanged_by_the_credit(loan_with_credit):
    loan = loan_with_credit

    with pytest.raises(ValidationError, match="supera lo que se debe"):
        pay(loan, owed(loan) + Decimal("0.01"), TODAY, overpayment=SHORTEN)

    loan.refresh_from_db()
    assert loan.credit_balance == CREDIT


def test_the_balance_a_message_names_is_less_the_credit(loan_with_credit):
    loan = loan_with_credit

    (values,) = variables.load_values(
        [variables.Recipient(loan.customer, receivable_kind="loan", receivable_id=loan.pk)],
        "vigente",
        TODAY,
    )

    assert values["saldo"] == "S/ " + f"{owed(loan) - CREDIT:,.2f}"


def test_the_payment_form_shows_both_totals_and_says_what_the_credit_paid(
    client, cobranzas, loan_with_credit
):
    loan = loan_with_credit
    net = owed(loan) - CREDIT
    client.force_login(cobranzas)
    url = reverse("credits:payment_create", args=[loan.pk])

    form = client.get(url)

    assertContains(form, f"O S/ {net:,.2f} con su saldo a favor de S/ 1,326.40", html=False)
    paid = client.post(
        url,
        {
            "amount": str(net),
            "received_on": TODAY.isoformat(),
            "source": Payment.Source.CASH,
            "reference": "",
            "receipt_url": "",
            "overpayment": SHORTEN,
        },
        follow=True,
    )
    assertContains(paid, "Con 1,326.40 del saldo a favor, cancela el crédito.")
    assertContains(paid, "Con saldo a favor, que cancela el crédito: 1,326.40")
    loan.refresh_from_db()
    assert (loan.status, loan.credit_balance) == (Loan.Status.PAID, 0)


def test_a_total_paid_the_day_before_the_nightly_spent_the_credit_still_settles_the_loan(
    make_active_loan,
):
    # Paid on 31 July (the link asked 4,076.20: what is owed less the credit), recorded on
    # 1 August after the night spent the credit on the 7th installment and the 8th: it
    # owed 90.92, the 8th's interest, not owed on 31 July.
    loan = make_active_loan()
    pay(loan, "7000.00", TODAY, overpayment=Payment.Overpayment.CREDIT)
    with at(date(2026, 7, 31), 20):
        quote = receivables.LoanReceivable().debt(loan.pk, date(2026, 7, 31)).total
    with at(date(2026, 8, 1), 3):
        assert payment_services.apply_due_credit_balances() == 1
    night = Payment.objects.get(loan=loan, source=Payment.Source.CREDIT_BALANCE)

    with at(date(2026, 8, 1), 10):
        receivables.LoanReceivable().apply_payment(
            receivable_id=loan.pk,
            amount=quote,
            received_on=date(2026, 7, 31),
            source="mercadopago",
            actor=None,
            reference="MP-2",
            external_id="mp-2",
            accept_overpayment=True,
        )

    loan.refresh_from_db()
    night.refresh_from_db()
    assert (loan.status, loan.credit_balance) == (Loan.Status.PAID, 0)
    assert night.status == Payment.Status.ANNULLED
    assert "aplicado de nuevo después del pago recibido el 31/07/2026" in night.annul_reason
    assert_payments_add_up(loan)


def test_a_payment_of_an_earlier_day_puts_the_credit_spent_after_it_back_in_order(
    make_active_loan,
):
    # Not settling: the night's spend is annulled, the payment applied on its day, and the
    # credit spent again after it, on what is due by then.
    loan = make_active_loan()
    pay(loan, "7000.00", TODAY, overpayment=Payment.Overpayment.CREDIT)
    with at(date(2026, 8, 1), 3):
        payment_services.apply_due_credit_balances()

    with at(date(2026, 8, 1), 10):
        pay(loan, "100.00", date(2026, 7, 31))

    loan.refresh_from_db()
    spends = Payment.objects.filter(loan=loan, source=Payment.Source.CREDIT_BALANCE)
    assert [p.status for p in spends.order_by("pk")] == [
        Payment.Status.ANNULLED,
        Payment.Status.APPLIED,
    ]
    assert loan.status == Loan.Status.ACTIVE
    assert_payments_add_up(loan)


def test_a_credit_that_covers_all_the_loan_owes_settles_it_that_night(make_active_loan):
    # 500 beyond what settled the loan, kept as credit by a payment made before the rule
    # that settles it (written here as the old code left it): the total asked is 0, and
    # each night the credit paid another installment with its interest.
    loan = make_active_loan()
    pay(loan, "5673.60", TODAY)  # the installments due and in course
    Loan.objects.filter(pk=loan.pk).update(credit_balance=owed(loan) + Decimal("500.00"))
    loan.refresh_from_db()
    assert receivables.LoanReceivable().debt(loan.pk, TODAY).total == 0

    with at(TODAY, 3):
        assert payment_services.apply_due_credit_balances() == 1

    loan.refresh_from_db()
    assert (loan.status, loan.credit_balance) == (Loan.Status.PAID, Decimal("500.00"))


def test_a_refunded_gateway_payment_the_nightly_spent_credit_after_is_annulled(
    make_active_loan,
):
    # A gateway payment, then the night's spend of the credit: the gateway's refund was
    # refused («Después de este pago se aplicaron los pagos #…»). Now the spend is annulled
    # with it and the credit spent again, as the nightly would.
    loan = make_active_loan()
    pay(loan, "7000.00", TODAY, overpayment=Payment.Overpayment.CREDIT)
    kind = receivables.LoanReceivable()
    with at(date(2026, 7, 20)):
        gateway = kind.apply_payment(
            receivable_id=loan.pk,
            amount=Decimal("300.00"),
            received_on=date(2026, 7, 20),
            source="mercadopago",
            actor=None,
            reference="MP-3",
            external_id="mp-3",
            accept_overpayment=True,
        )
    with at(date(2026, 8, 1), 3):
        assert payment_services.apply_due_credit_balances() == 1

    with at(date(2026, 8, 2)):
        kind.take_back_payment(payment_id=gateway, reason="Reembolso en MercadoPago")

    assert Payment.objects.get(pk=gateway).status == Payment.Status.ANNULLED
    spends = Payment.objects.filter(loan=loan, source=Payment.Source.CREDIT_BALANCE)
    assert [p.status for p in spends.order_by("pk")] == [
        Payment.Status.ANNULLED,
        Payment.Status.APPLIED,
    ]
    assert_payments_add_up(loan)
