"""Late interest charged on running totals: what an installment owes does not depend on how
often the nightly task ran (report DE F5).

Each run rounded its own days to the cent: 30 nightly runs on 2,285.56 at 12 % charged 22.81,
one run after 30 days 22.86, and a base under about S/ 18 at 10 % accrued 0.00 every night.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from credits import selectors
from credits.models import Installment, LedgerEntry, Loan
from credits.services import delinquency
from credits.services import payments as payment_services
from lib import money
from tests.credits.conftest import at, pay
from tests.factories import LoanProductFactory

DUE = date(2026, 2, 1)  # LoanFactory's first installment


def _loan(make_active_loan, *, rate: str, principal: str = "10000.00") -> Loan:
    product = LoanProductFactory(name=f"Mora {rate}", late_annual_rate=Decimal(rate), grace_days=0)
    return make_active_loan(product=product, principal=Decimal(principal))


def _first(loan: Loan) -> Installment:
    return selectors.live_installments(Loan.objects.get(pk=loan.pk))[0]


def _base(inst: Installment) -> Decimal:
    return inst.pending("principal") + inst.pending("interest")


def _leave_base(loan: Loan, base: Decimal, on: date) -> None:
    """Pay the first installment down on `on` so that `base` of its principal and interest
    stays unpaid."""
    with at(on):
        pay(loan, _first(loan).total_pending - base, on)
    assert _base(_first(loan)) == base


def _accrue(loan: Loan, today: date) -> Decimal:
    with transaction.atomic():
        return delinquency.accrue_late_interest(loan=Loan.objects.get(pk=loan.pk), today=today)


def _nightly(loan: Loan, first: date, last: date) -> None:
    day = first
    while day <= last:
        _accrue(loan, day)
        day += timedelta(days=1)


def _daily(rate: str) -> Decimal:
    return Decimal(rate) / 100 / 360


@pytest.mark.parametrize(
    ("rate", "principal", "base", "days", "owed"),
    [
        # The report's examples: exactly 22.856 and 33.4985.
        ("12", "30000.00", Decimal("2285.56"), 30, Decimal("22.86")),
        ("10", "10000.00", Decimal("337.80"), 357, Decimal("33.50")),
    ],
)
def test_nightly_runs_charge_what_one_catch_up_run_charges(
    make_active_loan, rate, principal, base, days, owed
):
    nightly = _loan(make_active_loan, rate=rate, principal=principal)
    catch_up = _loan(make_active_loan, rate=rate, principal=principal)
    for loan in (nightly, catch_up):
        _leave_base(loan, base, DUE)
    last = DUE + timedelta(days=days)

    _nightly(nightly, DUE + timedelta(days=1), last)
    _accrue(catch_up, last)

    assert money.cents(base * _daily(rate) * days) == owed
    assert _first(nightly).late_interest_due == _first(catch_up).late_interest_due == owed


def test_a_small_base_accrues_over_many_nights(make_active_loan):
    """17.50 at 10 % is 0.0049 a day: rounded night by night it never owed a cent."""
    loan = _loan(make_active_loan, rate="10")
    _leave_base(loan, Decimal("17.50"), DUE)

    _nightly(loan, DUE + timedelta(days=1), DUE + timedelta(days=60))

    first = _first(loan)
    # 17.50 × 10 % / 360 × 60 = 0.2917
    assert first.late_interest_due == Decimal("0.29")
    charges = LedgerEntry.objects.filter(
        installment=first, kind=LedgerEntry.Kind.LATE_INTEREST
    ).values_list("owed", flat=True)
    # A cent now and then, each night's share of the running total.
    assert set(charges) == {Decimal("0.01")}
    assert sum(charges) == Decimal("0.29")


def test_running_twice_a_day_or_for_an_earlier_day_charges_nothing_more(make_active_loan):
    loan = _loan(make_active_loan, rate="10")
    _leave_base(loan, Decimal("337.80"), DUE)

    for day in range(1, 31):
        on = DUE + timedelta(days=day)
        _accrue(loan, on)
        assert _accrue(loan, on) == 0
        assert _accrue(loan, on - timedelta(days=1)) == 0

    # 337.80 × 10 % / 360 × 30 = 2.815; night by night it was 0.09 × 30 = 2.70.
    first = _first(loan)
    assert first.late_interest_due == Decimal("2.82")
    assert (
        LedgerEntry.objects.filter(installment=first, kind=LedgerEntry.Kind.LATE_INTEREST).count()
        == 30
    )


def test_a_payment_mid_period_charges_the_new_base_on_its_own_running_total(make_active_loan):
    nightly = _loan(make_active_loan, rate="10")
    catch_up = _loan(make_active_loan, rate="10")
    paid_on = DUE + timedelta(days=10)
    for loan in (nightly, catch_up):
        _nightly(loan, DUE + timedelta(days=1), paid_on)
        _leave_base(loan, Decimal("337.80"), paid_on)
    before = _first(nightly).late_interest_due
    # 945.60 × 10 % / 360 × 10 = 2.6267, all paid by the payment.
    assert before == _first(nightly).late_interest_paid == Decimal("2.63")
    last = paid_on + timedelta(days=20)

    _nightly(nightly, paid_on + timedelta(days=1), last)
    _accrue(catch_up, last)

    after = _first(nightly).late_interest_due - before
    # 337.80 × 10 % / 360 × 20 = 1.8767; night by night it was 0.09 × 20 = 1.80.
    assert after == _first(catch_up).late_interest_due - before == Decimal("1.88")


def test_a_payment_recorded_late_leaves_what_it_would_have_left_recorded_on_its_day(
    make_active_loan,
):
    """Late interest taken back (`rewind_late_interest`) and charged again (`charge_again`)
    on running totals: the payment keyed in ten days late leaves the installment owing what
    it owes when keyed in on its day."""
    on_time = _loan(make_active_loan, rate="10")
    late = _loan(make_active_loan, rate="10")
    paid_on = DUE + timedelta(days=10)
    last = DUE + timedelta(days=20)

    _nightly(on_time, DUE + timedelta(days=1), paid_on)
    _leave_base(on_time, Decimal("337.80"), paid_on)
    _nightly(on_time, paid_on + timedelta(days=1), last)

    _nightly(late, DUE + timedelta(days=1), last)
    # 945.60 × 10 % / 360 × 20 = 5.2533; night by night it was 0.26 × 20 = 5.20.
    assert _first(late).late_interest_due == Decimal("5.25")
    with at(last):
        payment = pay(late, _first(on_time).total_paid, paid_on)

    got, expected = _first(late), _first(on_time)
    assert _base(got) == Decimal("337.80")
    fields = ("late_interest_due", "late_interest_paid", "late_accrued_through")
    assert [getattr(got, f) for f in fields] == [getattr(expected, f) for f in fields]
    # 2.63 for the first ten days, paid; 0.94 on what the payment left for the next ten
    # (337.80 × 10 % / 360 × 10 = 0.9383).
    assert (got.late_interest_due, got.late_interest_paid) == (Decimal("3.57"), Decimal("2.63"))

    # Annulled, the days after its day are charged again on the whole installment: as the
    # nightly task had charged them.
    with at(last):
        payment_services.annul_payment(payment=payment, actor=None, reason="rebotó")
    first = _first(late)
    assert (first.late_interest_due, first.late_interest_paid) == (Decimal("5.25"), 0)
    assert first.late_accrued_through == last

    # And the nightly goes on from there as if the payment had never been made.
    never_paid = _loan(make_active_loan, rate="10")
    _nightly(never_paid, DUE + timedelta(days=1), last)
    _nightly(late, last + timedelta(days=1), last + timedelta(days=10))
    _accrue(never_paid, last + timedelta(days=10))
    assert _first(late).late_interest_due == _first(never_paid).late_interest_due


def test_the_ledger_adds_up_to_what_each_installment_owes(make_active_loan):
    """Nothing is kept beside the ledger: the late interest an installment owes is the sum
    of its ledger entries, however the running totals split it."""
    loan = _loan(make_active_loan, rate="10")
    _nightly(loan, DUE + timedelta(days=1), DUE + timedelta(days=40))
    _leave_base(loan, Decimal("17.50"), DUE + timedelta(days=40))
    _nightly(loan, DUE + timedelta(days=41), DUE + timedelta(days=70))

    for inst in selectors.live_installments(Loan.objects.get(pk=loan.pk)):
        owed = LedgerEntry.objects.filter(installment=inst, component="late_interest").values_list(
            "owed", flat=True
        )
        assert sum(owed, Decimal(0)) == inst.late_interest_due
