"""What a payment may be: an amount up to what pays the loan off, on a day of the loan's life.

The limits live in `services.payments.apply_payment`, so the payment form, the API and any
task or admin action that records a payment get them alike.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from credits import selectors
from credits.models import LedgerEntry, Loan, Payment
from credits.services import payments as payment_services
from tests.credits.conftest import TODAY
from tests.credits.conftest import pay as pay_on

# 10,000 at 24 % in 12 monthly installments of 945.60 from 1 February 2026 (LoanFactory).
# On 15 June installments 1 to 5 are due (4,728.00), the 6th is in course (945.60) and the
# later six owe 5,296.67 of principal (the balance once the 6th is paid).
TO_SETTLE = Decimal("10970.27")

pytestmark = pytest.mark.usefixtures("frozen_today")


def pay(loan, amount, on=TODAY, **kwargs):
    return pay_on(loan, amount, on, **kwargs)


def test_what_settles_the_loan_is_the_installments_due_the_one_in_course_and_later_principal(
    make_active_loan,
):
    loan = make_active_loan()

    assert selectors.loan_balance(loan, TODAY).to_settle == TO_SETTLE


def test_it_refuses_an_absurd_amount_and_writes_nothing(make_active_loan):
    loan = make_active_loan()
    entries = LedgerEntry.objects.count()

    with pytest.raises(ValidationError) as refused:
        pay(loan, "999999999999.00")

    message = refused.value.message_dict["amount"][0]
    assert "El monto supera lo que se debe: S/ 10,970.27 cancelan el crédito al 15/06/2026" in (
        message
    )
    assert "Registrar el exceso como saldo a favor" in message
    assert Payment.objects.count() == 0
    assert LedgerEntry.objects.count() == entries
    assert Loan.objects.get(pk=loan.pk).credit_balance == 0


@pytest.mark.parametrize("overpayment", Payment.Overpayment.values)
def test_exactly_what_settles_the_loan_is_accepted_without_a_word(make_active_loan, overpayment):
    loan = make_active_loan()

    payment = pay(loan, TO_SETTLE, overpayment=overpayment)

    assert payment.overpaid == 0


def test_a_cent_more_than_what_settles_the_loan_needs_the_payer_to_say_so(make_active_loan):
    loan = make_active_loan()

    with pytest.raises(ValidationError, match="supera lo que se debe"):
        pay(loan, TO_SETTLE + Decimal("0.01"), overpayment=Payment.Overpayment.SHORTEN_TERM)


def test_an_accepted_overpayment_settles_the_loan_and_keeps_the_excess_as_credit(
    make_active_loan,
):
    loan = make_active_loan()

    payment = pay(
        loan,
        "12000.00",
        overpayment=Payment.Overpayment.SHORTEN_TERM,
        accept_overpayment=True,
    )

    loan.refresh_from_db()
    assert payment.overpaid == Decimal("1029.73")
    assert payment.credited == Decimal("1029.73")
    assert payment.prepaid_principal == Decimal("5296.67")
    assert loan.credit_balance == Decimal("1029.73")
    assert loan.status == Loan.Status.PAID
    entry = LedgerEntry.objects.get(payment=payment, kind=LedgerEntry.Kind.CREDIT)
    assert entry.reason == "Pago en exceso a saldo a favor"


def test_a_payment_ahead_kept_as_credit_is_no_overpayment(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "7000.00", overpayment=Payment.Overpayment.CREDIT)

    assert payment.credited == Decimal("7000.00") - Decimal("4728.00") - Decimal("945.60")
    assert payment.overpaid == 0


def test_spending_a_credit_balance_larger_than_the_debt_is_not_refused(make_active_loan):
    loan = make_active_loan()
    pay(loan, "12000.00", on=date(2026, 3, 1), accept_overpayment=True)
    Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.ACTIVE)

    payment = payment_services.apply_credit_balance(loan=loan, actor=None)

    assert payment.overpaid == 0


def test_annulling_an_overpayment_takes_its_credit_back(make_active_loan):
    loan = make_active_loan()
    payment = pay(loan, "12000.00", accept_overpayment=True)

    payment_services.annul_payment(payment=payment, actor=None, reason="Monto mal digitado")

    loan.refresh_from_db()
    assert loan.credit_balance == 0
    assert loan.status == Loan.Status.ACTIVE


BEFORE_DISBURSEMENT = (
    "La fecha de pago no puede ser anterior al desembolso del crédito (01/01/2026)."
)


@pytest.mark.parametrize(
    ("on", "message"),
    [
        (date(1, 1, 1), BEFORE_DISBURSEMENT),
        (date(2025, 12, 31), BEFORE_DISBURSEMENT),
        (date(2026, 6, 16), "La fecha de pago no puede ser futura."),
        (date(9999, 12, 31), "La fecha de pago no puede ser futura."),
    ],
)
def test_a_payment_dated_outside_the_loans_life_is_refused(make_active_loan, on, message):
    loan = make_active_loan()

    with pytest.raises(ValidationError) as refused:
        pay(loan, "100.00", on=on)

    assert refused.value.message_dict == {"received_on": [message]}
    assert Payment.objects.count() == 0


def test_a_payment_on_the_day_of_the_disbursement_is_accepted(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "100.00", on=date(2026, 1, 1))

    assert payment.received_on == loan.start_date


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5", "El monto debe ser positivo, con hasta dos decimales."),
        ("0", "El monto debe ser positivo, con hasta dos decimales."),
        ("0.001", "El monto debe ser positivo, con hasta dos decimales."),
        ("NaN", "El monto debe ser positivo, con hasta dos decimales."),
        ("Infinity", "El monto debe ser positivo, con hasta dos decimales."),
        ("1000000000000.00", "El monto es demasiado grande."),
    ],
)
def test_amounts_that_are_no_money_are_refused(make_active_loan, amount, message):
    loan = make_active_loan()

    with pytest.raises(ValidationError) as refused:
        pay(loan, amount, accept_overpayment=True)

    assert refused.value.message_dict == {"amount": [message]}


def test_the_largest_amount_a_column_holds_is_still_recorded_as_an_overpayment(
    make_active_loan,
):
    loan = make_active_loan()

    payment = pay(loan, "999999999999.99", accept_overpayment=True)

    loan.refresh_from_db()
    assert payment.overpaid == Decimal("999999999999.99") - TO_SETTLE
    # It settles the loan (its later principal prepaid, though the excess was to be kept as
    # credit): only what is beyond that is kept as credit.
    assert loan.status == Loan.Status.PAID
    assert loan.credit_balance == payment.credited == payment.overpaid


def test_a_credit_balance_never_grows_past_what_its_column_holds(make_active_loan):
    loan = make_active_loan()
    Loan.objects.filter(pk=loan.pk).update(credit_balance=Decimal("999999980000.00"))

    with pytest.raises(ValidationError) as refused:
        pay(loan, "30000.00", accept_overpayment=True)
    payment = pay(loan, "19999.99", accept_overpayment=True)

    assert refused.value.message_dict == {"amount": ["El monto es demasiado grande."]}
    loan.refresh_from_db()
    assert loan.credit_balance == Decimal("999999980000.00") + payment.credited


# --- The payment form -------------------------------------------------------------------


def _post(client, loan, **data):
    fields = {
        "amount": "945.60",
        "received_on": TODAY.isoformat(),
        "source": Payment.Source.CASH,
        "reference": "",
        "receipt_url": "",
        "overpayment": Payment.Overpayment.CREDIT,
        **data,
    }
    return client.post(reverse("credits:payment_create", args=[loan.pk]), fields)


def test_the_form_shows_what_settles_the_loan_and_the_overpayment_box(
    client, cobranzas, make_active_loan
):
    loan = make_active_loan()
    client.force_login(cobranzas)

    response = client.get(reverse("credits:payment_create", args=[loan.pk]))

    assertContains(response, 'data-figure="to-settle">S/ 10,970.27</span>', html=False)
    assertContains(response, 'name="accept_overpayment"')
    assertContains(response, 'min="2026-01-01"')
    assertContains(response, 'max="2026-06-15"')


def test_the_form_refuses_an_absurd_amount_on_the_amount_field(client, cobranzas, make_active_loan):
    loan = make_active_loan()
    client.force_login(cobranzas)

    response = _post(client, loan, amount="999999999999")

    assert response.status_code == 200
    error = response.context["form"].errors["amount"][0]
    assert error.startswith("El monto supera lo que se debe: S/ 10,970.27")
    assert not loan.payments.exists()


@pytest.mark.parametrize("reference", ["x" * 81, "12\x0034"])
def test_a_bad_operation_number_is_not_also_called_missing(
    client, cobranzas, make_active_loan, reference
):
    loan = make_active_loan()
    client.force_login(cobranzas)

    response = _post(client, loan, source=Payment.Source.TRANSFER, reference=reference)

    errors = response.context["form"].errors["reference"]
    assert len(errors) == 1
    assert "Indique el número de operación" not in errors[0]
    assert not loan.payments.exists()


def test_the_form_refuses_a_date_before_the_disbursement(client, cobranzas, make_active_loan):
    loan = make_active_loan()
    client.force_login(cobranzas)

    response = _post(client, loan, received_on="0001-01-01")

    assert "anterior al desembolso" in response.context["form"].errors["received_on"][0]
    assert not loan.payments.exists()


def test_an_overpayment_ticked_on_the_form_is_shown_as_such(client, cobranzas, make_active_loan):
    loan = make_active_loan()
    client.force_login(cobranzas)

    response = _post(client, loan, amount="12000.00", accept_overpayment="on")
    page = client.get(response.url)

    assert response.status_code == 302
    assertContains(page, "Es un pago en exceso: 1,029.73 más de lo que cancelaba el crédito.")
    assertContains(page, 'class="text-warning-emphasis overpaid"')
    assertContains(page, "Pago en exceso")


def test_a_plain_payment_is_not_called_an_overpayment(client, cobranzas, make_active_loan):
    loan = make_active_loan()
    client.force_login(cobranzas)

    response = _post(client, loan, amount="7000.00")

    assertNotContains(client.get(response.url), "Pago en exceso")
