"""What a payment leaves behind: its author on every ledger entry, the timeline, the receipt,
the loan's settlement; and what each refusal says, on which field.

LoanFactory's loan: 10,000 at 24 % in 12 monthly installments of 945.60 from 1 February 2026.
"""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from credits import selectors
from credits.models import Installment, LedgerEntry, Loan, Payment
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from crm.models import Interaction
from tests import receipts
from tests.credits.conftest import pay as pay_on
from tests.factories import LoanFactory, LoanProductFactory, UserFactory

SHORTEN = Payment.Overpayment.SHORTEN_TERM

pytestmark = pytest.mark.usefixtures("frozen_today")


def pay(loan, amount, on=date(2026, 1, 20), **kwargs):
    return pay_on(loan, amount, on, **kwargs)


def test_who_records_a_payment_is_its_author_everywhere(make_active_loan):
    cashier = UserFactory(username="cajera", first_name="Elena", last_name="Ríos")
    loan = make_active_loan()

    payment = pay(loan, "3945.60", overpayment=SHORTEN, actor=cashier)

    assert payment.recorded_by == cashier
    entries = LedgerEntry.objects.filter(payment=payment)
    assert {e.kind for e in entries} == {"payment", "allocation", "reschedule"}
    assert {e.actor for e in entries} == {cashier}
    assert Interaction.objects.get(kind=Interaction.Kind.PAYMENT).actor == cashier


def test_a_payment_and_its_annulment_are_told_on_the_timeline(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "1000.00", on=date(2026, 2, 1), reference="OP-991")
    payment_services.annul_payment(payment=payment, actor=None, reason="Rebotado")

    told, annulled = Interaction.objects.filter(kind=Interaction.Kind.PAYMENT).order_by("id")
    # Recorded on 15 June (the frozen day): the sentence names the day it was received.
    assert told.summary == (
        f"Pago de PEN 1000.00 al crédito {loan.payment_code} (Efectivo), recibido el 01/02/2026"
    )
    assert told.direction == Interaction.Direction.INBOUND
    assert told.payload == {
        "loan": loan.pk,
        "payment": payment.pk,
        "received_on": "2026-02-01",
        "reference": "OP-991",
        "prepaid_principal": "0.00",
        "credited": "0.00",
        "overpaid": "0.00",
    }
    assert annulled.summary == (
        f"Pago de PEN 1000.00 al crédito {loan.payment_code} anulado: Rebotado"
    )
    assert annulled.payload == {"loan": loan.pk, "payment": payment.pk, "annulled": True}


def test_a_payment_keeps_its_receipt_and_nothing_it_was_not_given(make_active_loan):
    loan = make_active_loan()
    receipt = SimpleUploadedFile("voucher.pdf", receipts.PDF, "application/pdf")

    with_file = pay(loan, "100.00", receipt=receipt)
    plain = pay(loan, "100.00")

    assert with_file.receipt.name.startswith("recibos/")
    assert with_file.receipt.name.endswith("/voucher.pdf")
    assert with_file.receipt.read() == receipts.PDF
    assert (plain.receipt.name, plain.reference, plain.receipt_url) == ("", "", "")
    assert plain.external_id is None


def test_money_that_all_goes_to_installments_leaves_no_credit_entry(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "945.60")

    assert payment.credited == 0
    assert not LedgerEntry.objects.filter(payment=payment, kind=LedgerEntry.Kind.CREDIT).exists()


def test_what_is_left_over_is_credited_with_its_reason(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "1891.21", on=date(2026, 2, 1))

    entry = LedgerEntry.objects.get(payment=payment, kind=LedgerEntry.Kind.CREDIT)
    assert (entry.component, entry.paid, entry.reason) == (
        "credit",
        Decimal("0.01"),
        "Excedente a saldo a favor",
    )


def test_the_payment_that_settles_a_loan_stamps_when_and_says_why(make_active_loan):
    loan = make_active_loan(principal=Decimal("500.00"), term=1)

    pay(loan, "510.00", on=date(2026, 2, 1))

    loan.refresh_from_db()
    assert loan.status == Loan.Status.PAID
    assert loan.paid_at == datetime(2026, 6, 15, 12, tzinfo=ZoneInfo("America/Lima"))
    move = LedgerEntry.objects.get(
        loan=loan, kind=LedgerEntry.Kind.STATUS, reason__contains="cancel"
    )
    assert move.reason == "Crédito cancelado por completo"


def test_a_payment_that_does_not_settle_the_loan_leaves_it_active(make_active_loan):
    loan = make_active_loan()

    pay(loan, "945.60")

    loan.refresh_from_db()
    assert (loan.status, loan.paid_at) == (Loan.Status.ACTIVE, None)


@pytest.mark.parametrize(
    ("kwargs", "errors"),
    [
        ({"amount": "0"}, {"amount": ["El monto debe ser positivo, con hasta dos decimales."]}),
        (
            {"amount": "10.005"},
            {"amount": ["El monto debe ser positivo, con hasta dos decimales."]},
        ),
        ({"source": "cheque"}, {"source": ["Origen de pago desconocido."]}),
        ({"overpayment": "devolver"}, {"overpayment": ["Elija qué hacer con el excedente."]}),
        ({"on": date(2026, 6, 16)}, {"received_on": ["La fecha de pago no puede ser futura."]}),
    ],
)
def test_each_refusal_names_its_field_and_its_reason(make_active_loan, kwargs, errors):
    loan = make_active_loan()
    kwargs = {"amount": "100.00", **kwargs}

    with pytest.raises(ValidationError) as refused:
        pay(loan, **kwargs)

    assert refused.value.message_dict == errors


def test_a_loan_that_is_not_live_says_which_status_it_has(db):
    loan = LoanFactory(status=Loan.Status.CANCELLED)

    with pytest.raises(ValidationError) as refused:
        pay(loan, "100.00")

    assert refused.value.messages == ["No se registran pagos en un crédito «Anulado»."]


def test_half_a_sol_is_a_payment_like_any_other(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "0.50")

    assert selectors.live_installments(loan)[0].interest_paid == Decimal("0.50")
    assert payment.credited == 0


# --- Shortening the term to the edge --------------------------------------------------------


def test_a_french_loan_keeps_its_installment_and_ends_sooner(make_active_loan):
    loan = make_active_loan()

    payment = pay(loan, "3945.60", overpayment=SHORTEN)

    rows = [r for r in selectors.live_installments(loan) if r.kind == Installment.Kind.REGULAR]
    assert payment.prepaid_principal == Decimal("3000.00")
    assert [r.number for r in rows] == [1, *range(3, 11)]
    assert {r.total_due for r in rows[:-1]} == {Decimal("945.60")}
    assert (rows[-1].due_date, rows[-1].total_due) == (date(2026, 10, 1), Decimal("157.58"))


@pytest.mark.parametrize("method", ["german", "flat"])
def test_a_shorter_term_can_be_a_single_installment(make_active_loan, method):
    loan = make_active_loan(product=LoanProductFactory(method=method))

    # The first installment (1,033.33) in course, then all but 500.00 of the principal.
    pay(loan, Decimal("1033.33") + Decimal("9166.67") - 500, overpayment=SHORTEN)

    rows = [r for r in selectors.live_installments(loan) if r.kind == Installment.Kind.REGULAR]
    assert [(r.number, r.principal_due, r.interest_due) for r in rows[1:]] == [
        (3, Decimal("500.00"), Decimal("10.00"))
    ]


def test_an_installment_exactly_as_large_as_todays_is_allowed(make_active_loan):
    loan = make_active_loan(product=LoanProductFactory(method="flat"))

    # 1,013.07 left: 1,013.07 + 2 % (20.26) is 1,033.33, the installment it replaces.
    pay(loan, "9186.93", overpayment=SHORTEN)

    rows = [r for r in selectors.live_installments(loan) if r.kind == Installment.Kind.REGULAR]
    assert [(r.principal_due, r.total_due) for r in rows[1:]] == [
        (Decimal("1013.07"), Decimal("1033.33"))
    ]


# --- Annulments -----------------------------------------------------------------------------


def test_an_annulment_records_who_when_and_why(make_active_loan):
    supervisor = UserFactory(username="jefa", first_name="Marta", last_name="Salas")
    loan = make_active_loan()
    payment = pay(loan, "945.60")
    reason = "Cheque sin fondos. " + "x" * 300

    payment_services.annul_payment(payment=payment, actor=supervisor, reason=reason)

    payment.refresh_from_db()
    assert payment.annulled_by == supervisor
    assert payment.annulled_at == datetime(2026, 6, 15, 12, tzinfo=ZoneInfo("America/Lima"))
    assert payment.annul_reason == reason[:255]
    entries = LedgerEntry.objects.filter(payment=payment, kind=LedgerEntry.Kind.ANNULMENT)
    assert {e.actor for e in entries} == {supervisor}
    assert {e.reason for e in entries} == {f"Anulación del pago {payment.pk}: {reason}"[:255]}


@pytest.mark.parametrize(
    ("reason", "errors"), [(" ", {"reason": ["Indique el motivo de la anulación."]})]
)
def test_an_annulment_needs_a_reason_on_its_field(make_active_loan, reason, errors):
    payment = pay(make_active_loan(), "100.00")

    with pytest.raises(ValidationError) as refused:
        payment_services.annul_payment(payment=payment, actor=None, reason=reason)

    assert refused.value.message_dict == errors


def test_a_payment_is_annulled_only_once(make_active_loan, supervisor):
    supervisor.first_name, supervisor.last_name = "Ana", "Pérez"
    supervisor.save()
    payment = pay(make_active_loan(), "100.00")
    payment_services.annul_payment(payment=payment, actor=supervisor, reason="Duplicado")
    Payment.objects.filter(pk=payment.pk).update(
        annulled_at=datetime(2026, 3, 9, 19, 5, tzinfo=ZoneInfo("America/Lima"))
    )

    with pytest.raises(ValidationError) as refused:
        payment_services.annul_payment(payment=payment, actor=supervisor, reason="Duplicado")

    assert refused.value.messages == [
        "Este pago ya fue anulado el 09/03/2026 a las 19:05 por Ana Pérez; no se anuló otra vez."
    ]


def test_a_re_schedule_names_the_payments_to_annul_first(make_active_loan):
    loan = make_active_loan()
    prepayment = pay(loan, "2945.60", overpayment=Payment.Overpayment.LOWER_INSTALLMENT)
    later = [pay(loan, "900.00", on=date(2026, 3, 1)), pay(loan, "900.00", on=date(2026, 4, 1))]

    with pytest.raises(ValidationError) as refused:
        payment_services.annul_payment(payment=prepayment, actor=None, reason="x")

    assert refused.value.messages == [
        "Este pago reprogramó el cronograma y luego se pagaron cuotas nuevas: anule primero "
        f"los pagos #{later[0].pk}, #{later[1].pk}."
    ]


def test_a_credit_already_spent_is_named_as_the_reason_to_wait(make_active_loan):
    loan = make_active_loan()
    overpaid = pay(loan, "1000.00")
    payment_services.apply_credit_balance(loan=loan, actor=None)

    with pytest.raises(ValidationError) as refused:
        payment_services.annul_payment(payment=overpaid, actor=None, reason="Error")

    assert refused.value.messages == [
        "El saldo a favor que dejó este pago ya se usó: anule primero ese uso."
    ]


def test_annulling_the_cent_that_completed_an_installment_reopens_it(make_active_loan):
    loan = make_active_loan()
    pay(loan, "945.59", on=date(2026, 2, 1))
    cent = pay(loan, "0.01", on=date(2026, 2, 2))

    payment_services.annul_payment(payment=cent, actor=None, reason="Error")

    first = selectors.live_installments(loan)[0]
    assert (first.total_pending, first.paid_on) == (Decimal("0.01"), None)


def test_a_few_cents_of_credit_can_be_applied_too(make_active_loan):
    loan = make_active_loan()
    pay(loan, "1891.21", on=date(2026, 2, 1))

    used = payment_services.apply_credit_balance(loan=loan, actor=None)

    assert (used.amount, used.source) == (Decimal("0.01"), Payment.Source.CREDIT_BALANCE)
    entry = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CREDIT).latest("id")
    assert (entry.paid, entry.reason) == (Decimal("-0.01"), "Saldo a favor aplicado a cuotas")


@pytest.mark.django_db(transaction=True)
def test_payments_credit_and_annulments_run_in_their_own_transactions():
    # As a task or an API call runs them: no transaction around, the services open theirs.
    # On PostgreSQL a service without its own transaction fails here (its row locks need
    # one); SQLite takes no row locks and lets it pass.
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE)
    at = datetime(2026, 1, 1, 9, tzinfo=ZoneInfo("America/Lima"))
    loan = loan_services.disburse(loan=loan, actor=None, disbursed_at=at)

    payment = pay(loan, "1000.00")
    used = payment_services.apply_credit_balance(loan=loan, actor=None)
    payment_services.annul_payment(payment=used, actor=None, reason="Error")

    assert Loan.objects.get(pk=loan.pk).credit_balance == payment.credited
