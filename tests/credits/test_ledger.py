"""The append-only ledger: every balance can be recomputed from it."""

import contextlib
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from credits import selectors
from credits.models import Component, Installment, LedgerEntry, Loan, Payment
from credits.services import delinquency
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from tests.factories import LoanProductFactory


def assert_ledger_matches(loan: Loan) -> None:
    recomputed = selectors.balances_from_ledger(loan)
    for inst in Installment.objects.filter(loan=loan):
        parts = recomputed["installments"].get(inst.pk, {})
        for component in Component.values:
            due, paid = parts.get(component, (Decimal(0), Decimal(0)))
            if inst.is_superseded:
                # A superseded row owes nothing any more, and nothing paid stays on it.
                assert (due, paid) == (0, 0), (inst, component)
            else:
                assert (due, paid) == (inst.due(component), inst.paid(component)), (
                    inst,
                    component,
                )
    loan.refresh_from_db()
    assert recomputed["credit"] == loan.credit_balance


@pytest.mark.parametrize("seed", range(6))
def test_balances_recomputed_from_the_ledger_match_after_a_long_random_sequence(
    make_active_loan, seed
):
    rng = random.Random(seed)
    method = ["french", "german", "flat"][seed % 3]
    product = LoanProductFactory(
        name=f"Producto {seed}",
        method=method,
        late_annual_rate=Decimal("36"),
        grace_days=3,
        fee_type="fixed",
        fee_value=Decimal("5"),
    )

    def noon(day: date) -> datetime:
        return datetime.combine(day, time(12), tzinfo=ZoneInfo("America/Lima"))

    with time_machine.travel(noon(date(2026, 1, 1)), tick=False) as clock:
        loan = make_active_loan(product=product, term=18)
        day = date(2026, 1, 1)
        for _step in range(60):
            day += timedelta(days=rng.randint(1, 20))
            clock.move_to(noon(day))
            action = rng.random()
            live = Loan.objects.get(pk=loan.pk)
            if action < 0.15:
                delinquency.update_delinquency(today=day)
            elif action < 0.75 and live.is_live:
                payment_services.apply_payment(
                    loan=live,
                    amount=Decimal(rng.randint(50, 2500)) + Decimal(rng.randint(0, 99)) / 100,
                    # Never before the disbursement, which the service refuses.
                    received_on=max(live.start_date, day - timedelta(days=rng.randint(0, 3))),
                    source=Payment.Source.TRANSFER,
                    actor=None,
                    overpayment=rng.choice(Payment.Overpayment.values),
                    # Near the end the random amount may pass the balance: keep the excess.
                    accept_overpayment=True,
                )
            elif action < 0.85 and live.credit_balance > 0 and live.is_live:
                payment_services.apply_credit_balance(loan=live, actor=None)
            else:
                applied = list(Payment.objects.filter(loan=loan, status="applied"))
                if applied:
                    # A refused annulment must leave everything as it was.
                    with contextlib.suppress(ValidationError):
                        payment_services.annul_payment(
                            payment=rng.choice(applied), actor=None, reason="prueba"
                        )
            assert_ledger_matches(loan)

    live_rows = selectors.live_installments(loan)
    assert sum(r.principal_due for r in live_rows) == loan.principal


def test_ledger_entries_cannot_be_edited_or_deleted(make_active_loan):
    loan = make_active_loan()
    entry = LedgerEntry.objects.filter(loan=loan).first()

    entry.reason = "cambiado"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()


def test_disbursement_writes_what_the_schedule_owes(make_active_loan):
    loan = make_active_loan()

    owed = sum(LedgerEntry.objects.filter(loan=loan).values_list("owed", flat=True))

    assert owed == loan_services.schedule_for(loan).total
