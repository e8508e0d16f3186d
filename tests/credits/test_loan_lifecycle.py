"""A loan's life: creation on a product's terms, the legal status moves, disbursement."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from credits.models import Installment, LedgerEntry, Loan
from credits.services import loans as loan_services
from crm.models import Interaction
from tests.factories import LoanFactory, LoanProductFactory


def create(customer, **kwargs):
    args = {
        "actor": None,
        "customer": customer,
        "product": LoanProductFactory(name="Vehicular", min_term=6, max_term=48),
        "principal": Decimal("15000"),
        "term": 24,
        "start_date": date(2026, 1, 10),
        **kwargs,
    }
    return loan_services.create_loan(**args)


def test_a_new_loan_is_a_draft_on_the_product_terms_with_a_checked_payment_code(customer):
    loan = create(customer)

    assert loan.status == Loan.Status.DRAFT
    assert loan.annual_rate == loan.product.annual_rate
    assert loan.first_due_date == date(2026, 2, 10)
    assert loan_services.is_valid_payment_code(loan.payment_code)
    assert Interaction.objects.filter(customer=customer, summary__contains=loan.payment_code)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"principal": Decimal("50")}, "principal"),
        ({"term": 60}, "term"),
        ({"first_due_date": date(2026, 1, 5)}, "first_due_date"),
    ],
)
def test_terms_outside_the_product_are_refused(customer, kwargs, field):
    with pytest.raises(ValidationError) as error:
        create(customer, **kwargs)

    assert field in error.value.message_dict
    assert not Loan.objects.exists()


def test_a_payment_code_typo_is_caught_by_its_check_digit(customer):
    code = create(customer).payment_code
    typo = code[:-2] + str((int(code[-2]) + 1) % 10) + code[-1]

    assert not loan_services.is_valid_payment_code(typo)


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (Loan.Status.DRAFT, Loan.Status.PAID),
        (Loan.Status.DRAFT, Loan.Status.ACTIVE),
        (Loan.Status.CANCELLED, Loan.Status.DRAFT),
        (Loan.Status.AWAITING_SIGNATURE, Loan.Status.WRITTEN_OFF),
    ],
)
def test_illegal_moves_are_refused(db, start, to):
    loan = LoanFactory(status=start)

    with pytest.raises(ValidationError):
        loan_services.change_status(loan=loan, to=to, actor=None, reason="x")

    assert Loan.objects.get(pk=loan.pk).status == start


def test_a_move_to_the_state_a_loan_is_in_says_it_already_is(db):
    # A second click on "Enviar a firma" read «Por firmar» no puede pasar a «Por firmar».
    loan = LoanFactory(status=Loan.Status.AWAITING_SIGNATURE)

    with pytest.raises(ValidationError) as refused:
        loan_services.change_status(
            loan=loan, to=Loan.Status.AWAITING_SIGNATURE, actor=None, reason="x"
        )

    assert refused.value.messages == ["El crédito ya está en estado «Por firmar»."]


def test_cancelling_needs_a_reason_and_lands_on_the_timeline(db):
    loan = LoanFactory()

    with pytest.raises(ValidationError):
        loan_services.change_status(loan=loan, to=Loan.Status.CANCELLED, actor=None, reason="")
    loan_services.change_status(loan=loan, to=Loan.Status.CANCELLED, actor=None, reason="Desistió")

    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.CANCELLED
    assert Interaction.objects.filter(customer=loan.customer, summary__contains="Anulado").exists()


def test_only_a_loan_ready_to_disburse_is_disbursed(db):
    loan = LoanFactory(status=Loan.Status.AWAITING_SIGNATURE)

    with pytest.raises(ValidationError, match="Por desembolsar"):
        loan_services.disburse(loan=loan, actor=None)

    assert not Installment.objects.exists()


def test_disbursing_writes_the_schedule_and_activates_the_loan(db):
    loan = LoanFactory(status=Loan.Status.READY_TO_DISBURSE)

    loan_services.disburse(loan=loan, actor=None)

    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE and loan.disbursed_at is not None
    assert loan.installments.count() == 12
    assert LedgerEntry.objects.filter(loan=loan, kind=LedgerEntry.Kind.DISBURSEMENT).exists()


def test_write_off_needs_an_active_loan_and_a_reason(make_active_loan):
    loan = make_active_loan()

    with pytest.raises(ValidationError):
        loan_services.write_off(loan=loan, actor=None, reason="")
    loan_services.write_off(loan=loan, actor=None, reason="Inubicable")

    loan.refresh_from_db()
    assert loan.status == Loan.Status.WRITTEN_OFF
    with pytest.raises(ValidationError):
        loan_services.write_off(loan=loan, actor=None, reason="otra vez")
