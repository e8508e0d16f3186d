"""What the ledger changes by itself reaches the customer's timeline, and reads true there: a
loan's change of bucket (the nightly run, a payment, an annulment), the day a payment was
received, and the nightly's use of a credit balance as bookkeeping, not as contact.

LoanFactory's loan: 10,000 at 24 % in 12 monthly installments of 945.60 from 1 February 2026.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.asserts import assertContains

from credits.models import Bucket, Loan, Payment
from credits.services import delinquency
from credits.services import payments as payment_services
from crm import timeline
from crm.models import Customer, Interaction
from recovery import services as recovery_services
from tests.credits.conftest import TODAY, at
from tests.factories import CustomerFactory, LoanProductFactory
from tests.recovery.conftest import make_campaign

LATE_RATE = Decimal("36.00")


def _loan(make_active_loan, **kwargs) -> Loan:
    """A loan disbursed on its start day (1 January 2026 unless told), its customer never
    contacted."""
    with at(kwargs.get("start_date", date(2026, 1, 1))):
        loan = make_active_loan(**kwargs)
    Customer.objects.filter(pk=loan.customer_id).update(last_interaction_at=None)
    return loan


def _late_loan(make_active_loan) -> Loan:
    return _loan(make_active_loan, product=LoanProductFactory(late_annual_rate=LATE_RATE))


def _nightly(day: date) -> None:
    with at(day, 1):
        delinquency.update_delinquency(today=day)


def _last_id() -> int:
    return Interaction.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _since(customer_id: int, last_id: int) -> list[Interaction]:
    return list(Interaction.objects.filter(customer_id=customer_id, id__gt=last_id).order_by("id"))


def _told(entry: Interaction) -> tuple:
    return (entry.kind, entry.direction, entry.actor_id, entry.summary, entry.payload)


# --- F1: a change of bucket, told once -----------------------------------------------------


def test_the_nightly_tells_a_loan_entering_late_payment_as_bookkeeping(make_active_loan):
    loan = _late_loan(make_active_loan)
    before = _last_id()

    _nightly(date(2026, 2, 11))

    # 945.60 unpaid × 36 % / 360 × 10 days = 9.456 → 9.46
    assert [_told(e) for e in _since(loan.customer_id, before)] == [
        (
            Interaction.Kind.SYSTEM,
            Interaction.Direction.INTERNAL,
            None,
            f"Crédito {loan.payment_code}: entra en mora, tramo «1–30 días» (10 días de "
            "atraso; interés moratorio pendiente S/ 9.46)",
            {"loan": loan.pk},
        )
    ]
    # The system's bookkeeping: nobody was in touch with the customer.
    assert Customer.objects.get(pk=loan.customer_id).last_interaction_at is None


def test_the_nightly_writes_nothing_while_the_bucket_stays(make_active_loan):
    loan = _late_loan(make_active_loan)
    _nightly(date(2026, 2, 11))
    before = _last_id()

    for day in (date(2026, 2, 12), date(2026, 2, 13), date(2026, 3, 1)):
        _nightly(day)

    loan.refresh_from_db()
    assert loan.days_past_due == 28  # the days moved every night...
    assert _since(loan.customer_id, before) == []  # ...the bucket did not


def test_the_nightly_tells_a_move_to_the_next_bucket(make_active_loan):
    loan = _loan(make_active_loan)  # no late rate: no late interest to name
    _nightly(date(2026, 3, 3))  # 30 days late
    before = _last_id()

    _nightly(date(2026, 3, 4))

    assert [e.summary for e in _since(loan.customer_id, before)] == [
        f"Crédito {loan.payment_code}: pasa al tramo de mora «31–60 días» (31 días de atraso)"
    ]


def test_a_payment_back_to_current_and_its_annulment_tell_the_bucket(make_active_loan):
    loan = _late_loan(make_active_loan)
    _nightly(date(2026, 2, 11))
    owed = loan.installments.get(number=1).total_pending
    before = _last_id()

    with at(date(2026, 2, 11)):
        payment = payment_services.apply_payment(
            loan=loan,
            amount=owed,
            received_on=date(2026, 2, 11),
            source=Payment.Source.CASH,
            actor=None,
        )
        paid = _since(loan.customer_id, before)
        payment_services.annul_payment(payment=payment, actor=None, reason="Rebotado")
    annulled = _since(loan.customer_id, paid[-1].id)

    assert owed == Decimal("955.06")
    assert [(e.kind, e.summary) for e in paid] == [
        (
            Interaction.Kind.PAYMENT,
            f"Pago de PEN 955.06 al crédito {loan.payment_code} (Efectivo)",
        ),
        (Interaction.Kind.SYSTEM, f"Crédito {loan.payment_code}: al día"),
    ]
    assert [(e.kind, e.summary) for e in annulled] == [
        (
            Interaction.Kind.PAYMENT,
            f"Pago de PEN 955.06 al crédito {loan.payment_code} anulado: Rebotado",
        ),
        (
            Interaction.Kind.SYSTEM,
            f"Crédito {loan.payment_code}: entra en mora, tramo «1–30 días» (10 días de "
            "atraso; interés moratorio pendiente S/ 9.46)",
        ),
    ]


def test_the_nightly_tells_many_buckets_without_a_query_per_loan(make_active_loan):
    def nightly_queries() -> int:
        Loan.objects.update(days_past_due=0, bucket=Bucket.CURRENT)
        with CaptureQueriesContext(connection) as captured:
            _nightly(date(2026, 2, 11))
        return len(captured)

    _loan(make_active_loan)
    one = nightly_queries()
    for _n in range(4):
        _loan(make_active_loan)
    Interaction.objects.all().delete()

    assert nightly_queries() == one
    assert Interaction.objects.filter(summary__contains=": entra en mora").count() == 5


# --- F3: the day a payment was received ------------------------------------------------------


def test_a_payment_received_yesterday_says_its_day_on_the_timeline(
    make_active_loan, cobranzas, client, supervisor
):
    loan = _loan(make_active_loan)
    yesterday = TODAY - timedelta(days=1)

    with at(TODAY, 10):
        payment = payment_services.apply_payment(
            loan=loan,
            amount=Decimal("500.00"),
            received_on=yesterday,
            source=Payment.Source.CASH,
            actor=cobranzas,
        )

    entry = Interaction.objects.get(payload__payment=payment.pk)
    assert entry.summary == (
        f"Pago de PEN 500.00 al crédito {loan.payment_code} (Efectivo), recibido el 14/06/2026"
    )
    assert entry.payload["received_on"] == "2026-06-14"
    # Dated when it was recorded: the timeline's order and «última interacción» follow it.
    assert timezone.localdate(entry.occurred_at) == TODAY
    assert ("Recibido el", "14/06/2026") in timeline.entry(entry).details
    client.force_login(supervisor)
    assertContains(client.get(loan.customer.get_absolute_url()), "Recibido el")


def test_a_payment_received_the_day_it_is_recorded_keeps_its_sentence(make_active_loan):
    loan = _loan(make_active_loan)

    with at(TODAY):
        payment = payment_services.apply_payment(
            loan=loan,
            amount=Decimal("500.00"),
            received_on=TODAY,
            source=Payment.Source.CASH,
            actor=None,
        )

    entry = Interaction.objects.get(payload__payment=payment.pk)
    assert entry.summary == f"Pago de PEN 500.00 al crédito {loan.payment_code} (Efectivo)"
    assert ("Recibido el", "15/06/2026") in timeline.entry(entry).details


def test_a_campaign_payment_received_yesterday_says_its_day_on_the_timeline(db):
    customer = CustomerFactory()
    with at(TODAY):
        campaign = make_campaign(customer)
        payment = recovery_services.apply_payment(
            campaign_id=campaign.pk,
            amount=Decimal("100.00"),
            received_on=TODAY - timedelta(days=1),
            source="transfer",
            actor=None,
        )

    entry = customer.interactions.get(payload__recovery_payment=payment.pk)
    assert entry.summary == (
        "Pago de PEN 100.00 a la campaña de cartera castigada CAST-2026-06, recibido el 14/06/2026"
    )
    assert ("Recibido el", "14/06/2026") in timeline.entry(entry).details


# --- F8: the nightly's credit balance is bookkeeping ------------------------------------------


def _with_credit_balance(make_active_loan) -> Loan:
    loan = _loan(make_active_loan, start_date=TODAY, first_due_date=TODAY + timedelta(days=30))
    Loan.objects.filter(pk=loan.pk).update(credit_balance=Decimal("100.00"))
    Customer.objects.filter(pk=loan.customer_id).update(last_interaction_at=None)
    return loan


def test_the_nightly_credit_balance_is_bookkeeping_not_contact(make_active_loan):
    loan = _with_credit_balance(make_active_loan)

    with at(TODAY + timedelta(days=30), 1):
        assert payment_services.apply_due_credit_balances() == 1

    payment = Payment.objects.get(loan=loan, source=Payment.Source.CREDIT_BALANCE)
    entry = Interaction.objects.get(payload__payment=payment.pk)
    assert (entry.kind, entry.direction, entry.actor) == (
        Interaction.Kind.SYSTEM,
        Interaction.Direction.INTERNAL,
        None,
    )
    assert entry.summary == f"Pago de PEN 100.00 al crédito {loan.payment_code} (Saldo a favor)"
    assert Customer.objects.get(pk=loan.customer_id).last_interaction_at is None


def test_a_credit_balance_applied_by_hand_is_still_a_payment_entry(make_active_loan, cobranzas):
    loan = _with_credit_balance(make_active_loan)

    with at(TODAY + timedelta(days=30), 10):
        payment = payment_services.apply_credit_balance(loan=loan, actor=cobranzas)

    entry = Interaction.objects.get(payload__payment=payment.pk)
    assert (entry.kind, entry.direction, entry.actor) == (
        Interaction.Kind.PAYMENT,
        Interaction.Direction.INBOUND,
        cobranzas,
    )
    assert Customer.objects.get(pk=loan.customer_id).last_interaction_at == entry.occurred_at


def test_a_payment_while_the_nightly_runs_is_not_overwritten_by_its_first_read(
    make_active_loan, monkeypatch
):
    """The nightly reads every loan's late installments, then writes the buckets: a
    gateway's payment between the two left the loan marked late until the next night."""
    loan = _late_loan(make_active_loan)
    _nightly(date(2026, 2, 11))
    day = date(2026, 2, 12)
    first_read = delinquency._late_by_loan
    calls = []

    def read_then_pay(today, rows):
        found = first_read(today, rows)
        if not calls:  # the run's first, global read; then the payment comes in
            with at(day, 1):
                payment_services.apply_payment(
                    loan=loan,
                    amount=loan.installments.get(number=1).total_pending,
                    received_on=day,
                    source=Payment.Source.CASH,
                    actor=None,
                )
        calls.append(today)
        return found

    monkeypatch.setattr(delinquency, "_late_by_loan", read_then_pay)
    before = _last_id()
    with at(day, 1):
        delinquency.update_delinquency(today=day)

    loan.refresh_from_db()
    assert (loan.days_past_due, loan.bucket) == (0, Bucket.CURRENT)
    assert [e.summary for e in _since(loan.customer_id, before)][1:] == [
        f"Crédito {loan.payment_code}: al día"
    ]
