"""The ledger's invariants under random sequences of real service calls (hypothesis).

A loan of a random product (French, German or flat; monthly, biweekly or weekly; with or
without fees, late interest and investors) is disbursed, then driven through payments of
random amounts and days (partial, exact, over the debt), annulments, the credit balance,
write-off and the nightly delinquency task, the clock moving forward between steps. After
every step what the loan owes, what its payments paid, its ledger, its investors' shares
and its status must agree with each other, to the cent. Each example runs in a savepoint
rolled back at its end.
"""

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from credits import schedule, selectors
from credits.investors import services as investor_services
from credits.models import (
    COMPONENTS,
    Bucket,
    Component,
    Distribution,
    Installment,
    LedgerEntry,
    Loan,
    Payment,
    PaymentAllocation,
)
from credits.services import delinquency
from credits.services import loans as loan_services
from credits.services import payments as payment_services
from lib import money
from tests.credits.test_ledger import assert_ledger_matches
from tests.factories import CustomerFactory, InvestorFactory, LoanProductFactory

LIMA = ZoneInfo("America/Lima")
START = date(2026, 1, 5)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SHORTEN = Payment.Overpayment.SHORTEN_TERM
LOWER = Payment.Overpayment.LOWER_INSTALLMENT
CREDIT = Payment.Overpayment.CREDIT

# A deeper search by hand: LEDGER_INVARIANT_EXAMPLES=2000 (about 8 minutes on SQLite).
RUNS = settings(
    max_examples=int(os.environ.get("LEDGER_INVARIANT_EXAMPLES", "60")),
    deadline=None,
    # No "explain" phase: it reruns a failing case a hundred times, minutes on SQLite.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=LIMA)


# --- What a loan is made of ---------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    method: str
    frequency: str
    fee_type: str
    fee_value: Decimal
    late_rate: Decimal
    grace_days: int
    platform_fee: Decimal
    annual_rate: Decimal
    principal: Decimal
    term: int
    first_due_date: date | None  # None: one period after START, as the form proposes
    shares: tuple[Decimal, ...]


fees = st.one_of(
    st.tuples(st.just("none"), st.just(ZERO)),
    st.tuples(st.just("fixed"), st.decimals(min_value=0, max_value=20, places=2)),
    st.tuples(st.just("percent"), st.decimals(min_value=0, max_value=5, places=2)),
)
share_lists = st.lists(
    st.decimals(min_value=Decimal("0.5"), max_value=Decimal("60"), places=2), max_size=3
).map(lambda shares: tuple(s for k, s in enumerate(shares) if sum(shares[: k + 1]) <= 100))


@st.composite
def specs(draw) -> Spec:
    fee_type, fee_value = draw(fees)
    return Spec(
        method=draw(st.sampled_from(schedule.Method.values)),
        frequency=draw(st.sampled_from(schedule.Frequency.values)),
        fee_type=fee_type,
        fee_value=fee_value,
        late_rate=draw(st.sampled_from([ZERO, Decimal("36"), Decimal("120")])),
        grace_days=draw(st.integers(0, 5)),
        platform_fee=draw(st.sampled_from([ZERO, Decimal("10"), Decimal("33.33")])),
        annual_rate=draw(st.decimals(min_value=0, max_value=60, places=2)),
        principal=draw(st.decimals(min_value=100, max_value=20000, places=2)),
        term=draw(st.integers(1, 12)),
        # Month ends and the days February lacks, where calendars go wrong.
        first_due_date=draw(
            st.sampled_from([None, date(2026, 1, 31), date(2026, 1, 30), date(2026, 1, 20)])
        ),
        shares=draw(share_lists),
    )


def open_loan(spec: Spec) -> Loan:
    """Create, sign and disburse a loan of `spec` through the services, on START."""
    product = LoanProductFactory(
        method=spec.method,
        frequency=spec.frequency,
        fee_type=spec.fee_type,
        fee_value=spec.fee_value,
        late_annual_rate=spec.late_rate,
        grace_days=spec.grace_days,
        platform_fee_percent=spec.platform_fee,
        annual_rate=spec.annual_rate,
    )
    loan = loan_services.create_loan(
        actor=None,
        customer=CustomerFactory(),
        product=product,
        principal=spec.principal,
        term=spec.term,
        start_date=START,
        first_due_date=spec.first_due_date,
    )
    loan_services.change_status(loan=loan, to=Loan.Status.READY_TO_DISBURSE, actor=None)
    loan = loan_services.disburse(loan=loan, actor=None, disbursed_at=noon(START))
    for share in spec.shares:
        investor_services.add_participation(
            loan=loan, investor=InvestorFactory(), actor=None, share=share
        )
    return loan


# --- The steps ----------------------------------------------------------------------------

# How a payment's amount is chosen from what the loan owes on its day.
# "net": what settles the loan less its credit balance, as the portal and the bot ask for it.
HOW = ("part", "installment", "settle", "net", "over", "absurd")

pay_steps = st.tuples(
    st.just("pay"),
    st.fixed_dictionaries(
        {
            "how": st.sampled_from(HOW),
            "fraction": st.integers(1, 99),
            "extra": st.decimals(min_value=CENT, max_value=500, places=2),
            "back": st.integers(0, 10),
            "mode": st.sampled_from([CREDIT, SHORTEN, LOWER]),
            "undo": st.booleans(),
        }
    ),
)
steps = st.tuples(
    st.integers(0, 45),  # days the clock moves first
    st.one_of(
        pay_steps,
        pay_steps,
        st.tuples(st.just("annul"), st.integers(0, 20)),
        st.tuples(st.just("credit"), st.none()),
        st.tuples(st.just("nightly"), st.none()),
        st.tuples(st.just("write_off"), st.none()),
    ),
)


def reload(loan: Loan) -> Loan:
    return Loan.objects.select_related("product").get(pk=loan.pk)


def snapshot(loan: Loan) -> tuple:
    """What a loan owes and holds, and what its investors got: all an annulment restores."""
    loan = reload(loan)
    # The live schedule: rows a re-schedule created stay behind, superseded, once annulled.
    rows = tuple(
        Installment.objects.filter(loan=loan, is_superseded=False)
        .order_by("pk")
        .values_list(
            "number",
            "kind",
            "due_date",
            "is_superseded",
            "paid_on",
            "late_accrued_through",
            *(f"{c}_due" for c in COMPONENTS),
            *(f"{c}_paid" for c in COMPONENTS),
        )
    )
    shares = tuple(
        Distribution.objects.filter(participation__loan=loan)
        .values_list("participation_id")
        .annotate(p=Sum("principal"), i=Sum("interest"), f=Sum("platform_fee"), n=Sum("net"))
        .order_by("participation_id")
    )
    # A payment and its reversal leave an investor nothing: as if neither had been made.
    shares = tuple(r for r in _exact(shares) if any(r[1:]))
    return (loan.status, loan.credit_balance, loan.paid_at, rows, shares)


def _exact(rows) -> tuple:
    # SQLite sums decimals as floats: read each sum back to the cent.
    return tuple((r[0], *(money.cents(v) for v in r[1:])) for r in rows)


def pay(loan: Loan, today: date, args: dict) -> None:
    if args["undo"]:
        # Annulling charges the late interest again up to today, as the nightly task (01:15)
        # had charged it before anyone records a payment during the day: the loan is
        # restored to that. Without it, a payment recorded on a day the sequence's nightly
        # skipped came back a day of late interest richer (found by hypothesis).
        delinquency.update_delinquency(today=today)
    loan = reload(loan)
    on = max(loan.disbursed_on, today - timedelta(days=args["back"]))
    if loan.is_live:
        # What a payment received that day charges first (apply_payment): the late
        # interest of the days up to it that no nightly of the sequence charged yet.
        with transaction.atomic():
            delinquency.accrue_late_interest(loan=reload(loan), today=on)
        loan = reload(loan)
    rows = list(selectors.live_installments(loan))
    split = selectors.open_installments(rows, on)
    to_settle = split.to_settle
    first_open = (split.due + split.in_course + split.later)[:1]
    how = args["how"]
    accept = how == "over"
    if how == "part":
        amount = money.cents(to_settle * args["fraction"] / 100)
    elif how == "installment":
        amount = first_open[0].total_pending if first_open else ZERO
    elif how == "settle":
        amount = to_settle
    elif how == "net":
        amount = selectors.settles_with_credit(loan, to_settle)
    elif how == "over":
        amount = to_settle + args["extra"]
    else:
        amount = Decimal("1000000000000.00")
    amount = max(amount, CENT)
    expected_ok = (loan.is_live and amount <= to_settle) or (
        accept and loan.status in (*Loan.LIVE, Loan.Status.PAID)
    )
    before = snapshot(loan)
    before_credit = loan.credit_balance
    try:
        payment = payment_services.apply_payment(
            loan=loan,
            amount=amount,
            received_on=on,
            source=Payment.Source.TRANSFER,
            actor=None,
            overpayment=args["mode"],
            accept_overpayment=accept,
        )
    except ValidationError as exc:
        assert not expected_ok, f"refused {amount} on {on} (owes {to_settle}): {exc}"
        assert snapshot(loan) == before, "a refused payment changed the loan"
        return
    assert expected_ok, f"took {amount} on {on} though the loan owed {to_settle}"
    allocated = _allocated(payment)
    assert allocated + payment.credited == amount + payment.credit_spent
    if payment.credit_spent:
        # Spent only to settle the loan, and then it does.
        assert reload(loan).status == Loan.Status.PAID
        assert payment.credit_spent <= before_credit
    if accept and loan.status != Loan.Status.PAID:
        assert payment.overpaid == max(ZERO, amount - to_settle)
    elif not accept:
        assert payment.overpaid == 0
    check_distributions(payment)
    check_invariants(loan, today)
    if args["undo"]:
        payment_services.annul_payment(payment=payment, actor=None, reason="prueba")
        assert snapshot(loan) == before, "annulling the last payment did not restore the loan"


def _allocated(payment: Payment) -> Decimal:
    return payment.allocations.aggregate(t=Sum("amount"))["t"] or ZERO


def annul(loan: Loan, today: date, index: int) -> None:
    applied = list(Payment.objects.filter(loan=loan, status=Payment.Status.APPLIED).order_by("pk"))
    if not applied:
        return
    payment = applied[index % len(applied)]
    before = snapshot(loan)
    try:
        payment_services.annul_payment(payment=payment, actor=None, reason="prueba")
    except ValidationError:
        assert snapshot(loan) == before, "a refused annulment changed the loan"
        return
    shares = _exact(
        Distribution.objects.filter(payment=payment)
        .values_list("participation_id")
        .annotate(p=Sum("principal"), i=Sum("interest"), f=Sum("platform_fee"), n=Sum("net"))
    )
    assert all(r[1:] == (0, 0, 0, 0) for r in shares), "a reversal left money with investors"


def use_credit(loan: Loan, today: date) -> None:
    loan = reload(loan)
    before = snapshot(loan)
    try:
        payment = payment_services.apply_credit_balance(loan=loan, actor=None)
    except ValidationError:
        assert snapshot(loan) == before
        return
    assert _allocated(payment) + payment.credited == payment.amount
    check_distributions(payment)


def write_off(loan: Loan, today: date) -> None:
    loan = reload(loan)
    before = snapshot(loan)
    try:
        loan_services.write_off(loan=loan, actor=None, reason="incobrable")
    except ValidationError:
        assert loan.status != Loan.Status.ACTIVE
        assert snapshot(loan) == before
        return
    assert reload(loan).status == Loan.Status.WRITTEN_OFF


def nightly(loan: Loan, today: date) -> None:
    delinquency.update_delinquency(today=today)
    loan = reload(loan)
    oldest = (
        Installment.objects.filter(
            loan=loan, is_superseded=False, paid_on__isnull=True, due_date__lt=today
        )
        .order_by("due_date")
        .values_list("due_date", flat=True)
        .first()
    )
    days = (today - oldest).days if oldest and loan.is_live else 0
    assert (loan.days_past_due, loan.bucket) == (days, Bucket.for_days(days))


# --- The invariants -----------------------------------------------------------------------


def check_distributions(payment: Payment) -> None:
    """A payment's investors got their share of its principal and interest, to the cent."""
    loan = payment.loan
    participations = list(loan.participations.all())
    parts = dict(payment.allocations.values_list("component").annotate(t=Sum("amount")).order_by())
    principal = money.cents(parts.get(Component.PRINCIPAL, ZERO))
    interest = money.cents(parts.get(Component.INTEREST, ZERO))
    # The principal is shared by capital (what a paid-off loan returns), the interest by share:
    # the funded part of each is `funded_by[key]` over `whole`.
    funded_by = {
        "p": (sum((p.amount for p in participations), ZERO), loan.principal),
        "i": (sum((p.share for p in participations), ZERO), Decimal(100)),
    }
    lines = list(Distribution.objects.filter(payment=payment, reversal_of__isnull=True))
    # Shared on running totals: after each payment the investors hold, in all, the funded
    # part of what the loan was paid in all, rounded once; each payment's lines are its own
    # funded part give or take the cent that rounding moves between payments.
    applied = PaymentAllocation.objects.filter(
        payment__loan=loan, payment__status=Payment.Status.APPLIED
    )
    paid_in_all = dict(applied.values_list("component").annotate(t=Sum("amount")).order_by())
    held = Distribution.objects.filter(participation__loan=loan).aggregate(
        p=Sum("principal", default=ZERO), i=Sum("interest", default=ZERO)
    )
    for key, component, now in (
        ("p", Component.PRINCIPAL, principal),
        ("i", Component.INTEREST, interest),
    ):
        funded, whole = funded_by[key]
        in_all = money.cents(paid_in_all.get(component, ZERO))
        assert money.cents(held[key]) == money.cents(in_all * funded / whole)
        line_sum = sum((getattr(d, "principal" if key == "p" else "interest") for d in lines), ZERO)
        assert abs(line_sum - now * funded / whole) <= money.CENT
        if funded == whole:
            assert line_sum == now
    # The fee on running totals too: what each participation has paid in fees is its
    # interest times the rate, rounded once.
    fee_rate = loan.product.platform_fee_percent / 100
    for d in lines:
        assert d.principal >= 0 and d.interest >= 0
        assert 0 <= d.platform_fee <= d.interest
        assert d.net == d.principal + d.interest - d.platform_fee
    for participation in participations:
        charged = Distribution.objects.filter(participation=participation).aggregate(
            i=Sum("interest", default=ZERO), f=Sum("platform_fee", default=ZERO)
        )
        assert money.cents(charged["f"]) == money.cents(money.cents(charged["i"]) * fee_rate)


def check_invariants(loan: Loan, today: date) -> None:
    loan = reload(loan)
    live = list(selectors.live_installments(loan))
    everything = list(Installment.objects.filter(loan=loan))
    for inst in everything:
        for component in COMPONENTS:
            due, paid = inst.due(component), inst.paid(component)
            assert due == due.quantize(CENT) and paid == paid.quantize(CENT)
            assert 0 <= paid <= due, (inst.number, component, due, paid)
    for inst in live:
        # paid_on says exactly "nothing left to pay" (open_balances reads it so).
        assert (inst.paid_on is None) == (inst.total_pending > 0), (inst.number, inst.paid_on)
    # The live schedule always repays exactly the loan's principal.
    assert sum((r.principal_due for r in live), ZERO) == loan.principal
    # A re-schedule keeps the days the loan was signed with (fewer of them, or the same).
    signed_days = {r.due_date for r in loan_services.schedule_for(loan).rows}
    regular_days = [r.due_date for r in live if r.kind == Installment.Kind.REGULAR]
    assert set(regular_days) <= signed_days, sorted(set(regular_days) - signed_days)

    # Every payment is all allocations plus credit, less the credit it spent to settle the
    # loan; the credit balance is what they left and did not spend.
    payments = list(Payment.objects.filter(loan=loan))
    credit = ZERO
    for payment in payments:
        assert _allocated(payment) + payment.credited == payment.amount + payment.credit_spent
        assert 0 <= payment.overpaid <= payment.credited
        if payment.is_applied:
            credit += payment.credited - payment.credit_spent
            if payment.source == Payment.Source.CREDIT_BALANCE:
                credit -= payment.amount
    assert loan.credit_balance == credit >= 0
    # The live rows' paid amounts are the applied payments' allocations to them.
    applied_to_live = PaymentAllocation.objects.filter(
        payment__status=Payment.Status.APPLIED, installment__in=live
    ).aggregate(t=Sum("amount"))["t"]
    assert money.cents(applied_to_live) == sum((r.total_paid for r in live), ZERO)

    # The ledger replayed gives every installment and the credit balance.
    assert_ledger_matches(loan)

    # What the loan owes, read the three ways the screens read it.
    balance = selectors.loan_balance(loan, today, installments=live)
    assert balance.principal_outstanding == sum(
        (r.pending(Component.PRINCIPAL) for r in live), ZERO
    )
    annotated = (
        Loan.objects.filter(pk=loan.pk)
        .annotate(o=selectors.outstanding_principal_expression())
        .values_list("o", flat=True)
        .get()
    )
    assert money.cents(annotated) == balance.principal_outstanding
    figures = selectors.open_balances([loan.pk], today)[loan.pk]
    assert figures.to_settle == balance.to_settle
    assert figures.overdue == balance.overdue
    assert (figures.next_due_date, figures.next_due_amount) == (
        balance.next_due_date,
        balance.next_due_amount,
    )

    # The status follows the balance.
    settled = all(r.total_pending == 0 for r in live)
    if loan.status == Loan.Status.PAID:
        assert settled and loan.paid_at is not None
    else:
        assert loan.status in Loan.LIVE and not settled and loan.paid_at is None
    written_off = LedgerEntry.objects.filter(loan=loan, kind=LedgerEntry.Kind.WRITE_OFF).exists()
    if loan.status == Loan.Status.ACTIVE:
        assert not written_off


ACTIONS = {"annul": annul, "write_off": write_off, "nightly": nightly}


def run(spec: Spec, plan: list) -> None:
    today = START
    with time_machine.travel(noon(today), tick=False) as clock:
        loan = open_loan(spec)
        check_invariants(loan, today)
        for days, (action, args) in plan:
            today += timedelta(days=days)
            clock.move_to(noon(today))
            if action == "pay":
                pay(loan, today, args)
            elif action == "credit":
                use_credit(loan, today)
            elif action == "annul":
                annul(loan, today, args)
            else:
                ACTIONS[action](loan, today)
            check_invariants(loan, today)


@pytest.mark.django_db
@RUNS
@given(spec=specs(), plan=st.lists(steps, min_size=1, max_size=14))
def test_the_ledger_holds_under_any_sequence_of_operations(spec, plan):
    with transaction.atomic():
        run(spec, plan)
        transaction.set_rollback(True)


# --- Plain cases ------------------------------------------------------------------------


def _loan_of_three(late_rate: Decimal = Decimal("36")) -> Loan:
    """1,000 at 24 % in three monthly installments of 346.75, due 5 February, March, April."""
    return open_loan(
        Spec(
            method="french",
            frequency="monthly",
            fee_type="none",
            fee_value=ZERO,
            late_rate=late_rate,
            grace_days=0,
            platform_fee=ZERO,
            annual_rate=Decimal("24"),
            principal=Decimal("1000.00"),
            term=3,
            first_due_date=None,
            shares=(Decimal("50"),),
        )
    )


def _cash(loan: Loan, amount: str, on: date) -> Payment:
    return payment_services.apply_payment(
        loan=reload(loan), amount=Decimal(amount), received_on=on, source="cash", actor=None
    )


def _live_state(loan: Loan) -> list[tuple]:
    return [
        (r.number, r.due_date, r.total_pending, r.paid_on)
        for r in selectors.live_installments(loan)
    ]


@pytest.mark.django_db
def test_a_prepayment_annulled_at_once_leaves_schedule_credit_and_investors_as_they_were():
    with time_machine.travel(noon(START), tick=False) as clock:
        loan = _loan_of_three()
        clock.move_to(noon(date(2026, 2, 10)))
        _cash(loan, "346.75", date(2026, 2, 5))
        before = snapshot(loan)

        payment = payment_services.apply_payment(
            loan=reload(loan),
            amount=Decimal("600.00"),
            received_on=date(2026, 2, 10),
            source="cash",
            actor=None,
            overpayment=LOWER,
        )
        assert payment.prepaid_principal > 0
        payment_services.annul_payment(payment=payment, actor=None, reason="error de digitación")

        assert snapshot(loan) == before
        check_invariants(loan, date(2026, 2, 10))


@pytest.mark.django_db
def test_annulling_an_earlier_payment_is_refused_while_later_ones_stand():
    """Annulled alone, it re-opened the oldest installment while a younger one stayed paid:
    the loan read 33 days late instead of 5, and was charged late interest for it."""
    with time_machine.travel(noon(START), tick=False) as clock:
        loan = _loan_of_three()
        clock.move_to(noon(date(2026, 3, 10)))
        first = _cash(loan, "346.75", date(2026, 2, 5))
        second = _cash(loan, "346.75", date(2026, 3, 5))
        before = snapshot(loan)
        with pytest.raises(ValidationError, match=f"#{second.pk}: anúlelos primero"):
            payment_services.annul_payment(payment=first, actor=None, reason="rebotó")
        assert snapshot(loan) == before


@pytest.mark.django_db
def test_a_refusal_names_the_newest_later_payments_and_counts_the_rest():
    """Under 1,300 later payments, the refusal listed every number (9,290 characters)."""
    with time_machine.travel(noon(START), tick=False) as clock:
        loan = _loan_of_three()
        clock.move_to(noon(date(2026, 1, 20)))
        first = _cash(loan, "1.00", date(2026, 1, 20))
        later = [
            payment_services.apply_payment(
                loan=reload(loan),
                amount=Decimal("1.00"),
                received_on=date(2026, 1, 20),
                source="cash",
                actor=None,
                repeat_ok=True,
            )
            for _ in range(7)
        ]
        with pytest.raises(ValidationError) as refused:
            payment_services.annul_payment(payment=first, actor=None, reason="rebotó")
    newest = ", ".join(f"#{p.pk}" for p in reversed(later[2:]))
    assert f"los pagos {newest} y 2 más: anúlelos primero" in refused.value.messages[0]


@pytest.mark.django_db
def test_annulled_newest_first_and_recorded_again_the_loan_is_a_replay_without_it():
    def history(with_first: bool) -> Loan:
        with time_machine.travel(noon(START), tick=False) as clock:
            loan = _loan_of_three()
            clock.move_to(noon(date(2026, 3, 10)))
            first = _cash(loan, "346.75", date(2026, 2, 5)) if with_first else None
            second = _cash(loan, "346.75", date(2026, 3, 5))
            if first is not None:
                payment_services.annul_payment(payment=second, actor=None, reason="orden")
                payment_services.annul_payment(payment=first, actor=None, reason="rebotó")
                _cash(loan, "346.75", date(2026, 3, 5))
            delinquency.update_delinquency(today=date(2026, 3, 10))
            return reload(loan)

    annulled, replayed = history(with_first=True), history(with_first=False)

    # Without the first payment, the one of 5 March paid the installment of 5 February but
    # for the late interest of its 28 days, which the payment charged (no nightly ran).
    assert _live_state(replayed)[0][2] == Decimal("9.76")
    assert replayed.days_past_due == 33
    assert _live_state(annulled) == _live_state(replayed)
    assert annulled.days_past_due == replayed.days_past_due


@pytest.mark.django_db
def test_a_payment_recorded_late_with_its_real_day_owes_no_late_interest_after_that_day():
    """It kept the 5.20 of late interest charged after its day, and the installment stayed
    open (late again at the next run)."""
    with time_machine.travel(noon(START), tick=False) as clock:
        loan = _loan_of_three()
        clock.move_to(noon(date(2026, 2, 20)))
        delinquency.update_delinquency(today=date(2026, 2, 20))
        assert selectors.live_installments(loan)[0].late_interest_due == Decimal("5.20")

        payment = _cash(loan, "346.75", date(2026, 2, 5))

        first = selectors.live_installments(loan)[0]
        assert (first.late_interest_due, first.paid_on) == (ZERO, date(2026, 2, 5))
        assert payment.credited == ZERO
        delinquency.update_delinquency(today=date(2026, 2, 21))
        assert reload(loan).days_past_due == 0
        check_invariants(loan, date(2026, 2, 20))


@pytest.mark.django_db
def test_a_payment_recorded_the_next_morning_leaves_nothing_open():
    """Without grace days the night after the due date charged a day: the exact
    installment, recorded next morning with its real day, left cents open."""
    with time_machine.travel(noon(START), tick=False) as clock:
        loan = _loan_of_three()
        clock.move_to(noon(date(2026, 2, 6)))
        delinquency.update_delinquency(today=date(2026, 2, 6))
        assert selectors.live_installments(loan)[0].late_interest_due > 0

        _cash(loan, "346.75", date(2026, 2, 5))

        first = selectors.live_installments(loan)[0]
        assert (first.total_pending, first.paid_on) == (ZERO, date(2026, 2, 5))


@pytest.mark.django_db
def test_a_part_payment_recorded_late_is_charged_on_what_it_left_from_its_day():
    with time_machine.travel(noon(START), tick=False) as clock:
        loan = _loan_of_three()
        clock.move_to(noon(date(2026, 2, 25)))
        delinquency.update_delinquency(today=date(2026, 2, 25))
        before = selectors.live_installments(loan)[0]
        full_base = before.pending("principal") + before.pending("interest")
        # 20 days late on the whole installment: 346.75 x 36 % / 360 x 20.
        assert before.late_interest_due == money.cents(full_base * Decimal("0.001") * 20)

        _cash(loan, "200.00", date(2026, 2, 15))

        first = selectors.live_installments(loan)[0]
        base_left = first.pending("principal") + first.pending("interest")
        # 10 days on the whole, paid by the 200; 10 more on what they left.
        charged_before = money.cents(full_base * Decimal("0.001") * 10)
        assert first.late_interest_paid == charged_before
        assert first.late_interest_due == charged_before + money.cents(
            base_left * Decimal("0.001") * 10
        )
        assert first.late_accrued_through == date(2026, 2, 25)
        check_invariants(loan, date(2026, 2, 25))


@pytest.mark.django_db
def test_annulling_a_payment_recorded_late_charges_its_days_again():
    with time_machine.travel(noon(START), tick=False) as clock:
        loan = _loan_of_three()
        clock.move_to(noon(date(2026, 2, 20)))
        delinquency.update_delinquency(today=date(2026, 2, 20))
        before = snapshot(loan)

        payment = _cash(loan, "346.75", date(2026, 2, 5))
        payment_services.annul_payment(payment=payment, actor=None, reason="rebotó")

        assert snapshot(loan) == before
        first = selectors.live_installments(loan)[0]
        assert (first.late_interest_due, first.late_accrued_through) == (
            Decimal("5.20"),
            date(2026, 2, 20),
        )
        check_invariants(loan, date(2026, 2, 20))


@pytest.mark.django_db
def test_a_payment_recorded_late_after_another_one_keeps_the_charges():
    """Another payment changed the installment since that day: what the nightly task
    charged is not one base times days, and stays as it was."""
    with time_machine.travel(noon(START), tick=False) as clock:
        loan = _loan_of_three()
        clock.move_to(noon(date(2026, 2, 15)))
        delinquency.update_delinquency(today=date(2026, 2, 15))
        _cash(loan, "100.00", date(2026, 2, 15))
        clock.move_to(noon(date(2026, 2, 20)))
        delinquency.update_delinquency(today=date(2026, 2, 20))
        owed = selectors.live_installments(loan)[0].late_interest_due

        _cash(loan, "50.00", date(2026, 2, 10))

        assert selectors.live_installments(loan)[0].late_interest_due == owed


@pytest.mark.django_db
def test_a_late_recorded_payment_of_what_the_screens_showed_owed_is_taken_whole():
    """What the screens showed owed (late interest since that day included) is taken whole,
    never refused as more than owed: what the late interest taken back frees goes where
    any excess goes."""
    with time_machine.travel(noon(START), tick=False) as clock:
        loan = _loan_of_three()
        clock.move_to(noon(date(2026, 2, 20)))
        delinquency.update_delinquency(today=date(2026, 2, 20))
        # What pays the loan off on 5 February, as the form says: 5.20 of late interest
        # charged since then included. It was refused as more than the loan owed.
        shown = selectors.open_installments(
            selectors.live_installments(loan), date(2026, 2, 5)
        ).to_settle

        payment = _cash(loan, str(shown), date(2026, 2, 5))

        assert (payment.amount, payment.overpaid) == (shown, ZERO)
        assert _allocated(payment) + payment.credited == shown
        check_invariants(loan, date(2026, 2, 20))
