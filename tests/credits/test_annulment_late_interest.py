"""Annulling a payment leaves each installment's late interest as if the payment had never
been made (report K6).

The annulment wrote back only what the payment charged again (`charge_again`) and charged
from the payment's day on the whole installment: the nightly runs' charges on what the
payment left stayed. A part payment of 300.00 recorded ten days late, ten nightly runs, then
annulled: 34.92 owed against 28.37 for the same loan never paid. Recorded on its day, the
nights it covered were charged on the reduced base only, and nothing more after annulling.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from credits import selectors
from credits.models import Installment, LedgerEntry, Loan
from credits.services import delinquency
from credits.services import payments as payment_services
from tests.credits.conftest import at, pay
from tests.factories import LoanProductFactory

DUE = date(2026, 2, 1)  # LoanFactory's first installment


def _loan(make_active_loan) -> Loan:
    product = LoanProductFactory(name="Mora 36", late_annual_rate=Decimal("36"), grace_days=0)
    return make_active_loan(product=product, principal=Decimal("10000.00"))


def _rows(loan: Loan) -> list[Installment]:
    return selectors.live_installments(Loan.objects.get(pk=loan.pk))


def _nightly(loan: Loan, first: date, last: date) -> None:
    day = first
    while day <= last:
        with at(day, hour=1), transaction.atomic():
            delinquency.accrue_late_interest(loan=Loan.objects.get(pk=loan.pk), today=day)
        day += timedelta(days=1)


def _late(loan: Loan) -> list[tuple]:
    """Each live installment's late interest owed and paid, and the day charged through."""
    return [
        (r.number, r.late_interest_due, r.late_interest_paid, r.late_accrued_through)
        for r in _rows(loan)
    ]


def _ledger_adds_up(loan: Loan) -> None:
    for inst in _rows(loan):
        owed = LedgerEntry.objects.filter(installment=inst, component="late_interest").values_list(
            "owed", flat=True
        )
        assert sum(owed, Decimal(0)) == inst.late_interest_due


def _paid_then_annulled(make_active_loan, *, amount: str, late_by: int, waive=None) -> Loan:
    """Nightly runs to the 20th day past due; a payment received on the 10th (recorded
    `late_by` days after it); nightly runs to the 30th day; the payment annulled then."""
    loan = _loan(make_active_loan)
    received_on = DUE + timedelta(days=10)
    recorded_on = received_on + timedelta(days=late_by)
    annulled_on = DUE + timedelta(days=30)
    _nightly(loan, DUE + timedelta(days=1), recorded_on)
    with at(recorded_on):
        first = _rows(loan)[0]
        whole = first.total_pending
        payment = pay(loan, whole if amount == "full" else Decimal(amount), received_on)
    if amount == "full":
        assert _rows(loan)[0].paid_on == received_on
    _nightly(loan, recorded_on + timedelta(days=1), annulled_on)
    if waive is not None:
        with at(annulled_on):
            delinquency.waive_late_interest(
                loan=Loan.objects.get(pk=loan.pk), amount=waive, actor=None, reason="acuerdo"
            )
    with at(annulled_on, hour=15):
        payment_services.annul_payment(payment=payment, actor=None, reason="rebotó")
    return loan


def _never_paid(make_active_loan) -> Loan:
    loan = _loan(make_active_loan)
    _nightly(loan, DUE + timedelta(days=1), DUE + timedelta(days=30))
    return loan


@pytest.mark.parametrize(
    ("amount", "late_by"),
    [
        # The report's probe: a part payment keyed in ten days after it came.
        ("300.00", 10),
        # Recorded on its day: the nights after it were charged on what it left.
        ("300.00", 0),
        # The first installment paid off (the nightly stopped charging it), either way.
        ("full", 0),
        ("full", 10),
    ],
)
def test_an_annulled_payment_leaves_the_late_interest_of_a_loan_never_paid(
    make_active_loan, amount, late_by
):
    annulled = _paid_then_annulled(make_active_loan, amount=amount, late_by=late_by)
    never_paid = _never_paid(make_active_loan)

    expected = _late(never_paid)
    # 10,000 at 36 %: the first installment's 945.60 for 30 days is 28.37.
    assert expected[0][1:] == (Decimal("28.37"), Decimal("0.00"), DUE + timedelta(days=30))
    assert _late(annulled) == expected
    _ledger_adds_up(annulled)

    # And the nightly goes on from there as on the loan never paid.
    for loan in (annulled, never_paid):
        _nightly(loan, DUE + timedelta(days=31), DUE + timedelta(days=40))
    assert _late(annulled) == _late(never_paid)


def test_the_entries_of_the_annulment_say_why_in_spanish(make_active_loan):
    loan = _paid_then_annulled(make_active_loan, amount="300.00", late_by=10)

    entry = LedgerEntry.objects.filter(loan=loan, kind="late_interest").order_by("id").last()
    assert entry.payment.status == "annulled"
    assert entry.reason == (
        f"Anulación del pago {entry.payment_id}: rebotó. Mora desde el 11/02/2026 como si el "
        "pago no se hubiera hecho"
    )


def test_a_waiver_granted_in_between_stays(make_active_loan):
    waived = _paid_then_annulled(make_active_loan, amount="300.00", late_by=10, waive="0.50")
    never_paid = _never_paid(make_active_loan)

    total = sum(due for _n, due, _paid, _through in _late(waived))
    assert total == sum(due for _n, due, _paid, _through in _late(never_paid)) - Decimal("0.50")
    assert LedgerEntry.objects.filter(
        loan=waived, kind="late_interest", owed=Decimal("-0.50"), reason__contains="acuerdo"
    ).exists()
    _ledger_adds_up(waived)
