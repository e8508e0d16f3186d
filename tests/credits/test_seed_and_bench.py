"""seed_credits loads a demo ledger in every state; bench_credits measures and fills once."""

import io

import pytest
from django.core.management import CommandError, call_command

from credits import selectors
from credits.models import (
    Bucket,
    Distribution,
    Installment,
    Investor,
    LedgerEntry,
    Liquidation,
    Loan,
    LoanProduct,
    Participation,
    Payment,
    PaymentAllocation,
)
from crm.models import Interaction

# Enough loans for every story of the seed at least once, few enough to run fast.
LOANS = 20


def seed() -> str:
    out = io.StringIO()
    call_command("seed_credits", loans=LOANS, stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(db):
    call_command("seed_demo", customers=10, demo_instance=True, stdout=io.StringIO())
    return seed()


def ledger_counts() -> dict:
    models = (
        LoanProduct, Loan, Installment, Payment, LedgerEntry, Investor, Participation,
        Distribution, Liquidation, Interaction,
    )  # fmt: skip
    return {model.__name__: model.objects.count() for model in models}


def test_it_adds_nothing_when_run_again(seeded):
    before = ledger_counts()

    output = seed()

    assert ledger_counts() == before
    assert "ya estaban cargados" in output


def test_it_covers_every_status_bucket_and_kind_of_payment(seeded):
    statuses = set(Loan.objects.values_list("status", flat=True))
    buckets = set(Loan.objects.filter(status__in=Loan.LIVE).values_list("bucket", flat=True))
    reported = {row["bucket"] for row in selectors.aging_report() if row["loans"]}

    assert statuses == set(Loan.Status.values)
    assert buckets == reported == set(Bucket.values)
    assert Payment.objects.filter(overpayment="shorten_term", prepaid_principal__gt=0).exists()
    assert Payment.objects.filter(overpayment="lower_installment", prepaid_principal__gt=0).exists()
    assert Payment.objects.filter(status=Payment.Status.ANNULLED).exclude(annul_reason="").exists()
    assert Loan.objects.filter(credit_balance__gt=0).exists()
    assert Distribution.objects.filter(liquidation__status=Liquidation.Status.PAID).exists()
    assert "Castigado" in seeded
    assert "Más de 90 días" in seeded


def test_the_ledger_recomputes_every_seeded_installment(seeded):
    for loan in Loan.objects.filter(status__in=[*Loan.LIVE, Loan.Status.PAID]):
        ledger = selectors.balances_from_ledger(loan)
        for inst in loan.installments.all():
            expected = {
                c: (0 if inst.is_superseded else inst.due(c), inst.paid(c))
                for c in ("principal", "interest", "fee", "late_interest")
            }
            assert ledger["installments"][inst.pk] == expected, (loan, inst.number)
        assert ledger["credit"] == loan.credit_balance, loan


def test_it_asks_for_seed_demo_first(db):
    with pytest.raises(CommandError, match="seed_demo"):
        seed()


def test_bench_prints_the_schedule_rate_and_the_report_times(db):
    out = io.StringIO()

    call_command("bench_credits", installments=2000, runs=1, schedules=50, stdout=out)

    output = out.getvalue()
    assert "créditos/s" in output
    assert "cuotas/s" in output
    assert "aging_report" in output
    assert "portfolio_summary" in output
    assert "portfolio_summary -30d" in output
    assert "portfolio_loans" in output
    assert Installment.objects.filter(loan__product__name="bench").count() >= 2000
    # The recent payments say how they were applied, for the historical report to undo.
    assert PaymentAllocation.objects.filter(payment__loan__product__name="bench").exists()


def test_bench_fills_its_portfolio_once(db):
    call_command("bench_credits", installments=2000, runs=1, schedules=10, stdout=io.StringIO())
    loans = Loan.objects.count()
    out = io.StringIO()

    call_command("bench_credits", installments=2000, runs=1, schedules=10, stdout=out)

    assert Loan.objects.count() == loans
    assert "ya cargada" in out.getvalue()


def test_the_demo_has_a_finished_loans_import_with_its_payment_history(seeded):
    from crm.models import ImportBatch

    batch = ImportBatch.objects.get(kind="loans")
    imported = Loan.objects.filter(payment_code__startswith="SA-")

    # Every balance the file reported matched the payments applied: nothing was refused.
    assert (batch.status, batch.is_applied, batch.created_count) == ("done", True, 3)
    assert batch.error_row_count == 0
    assert Payment.objects.filter(loan__in=imported).count() > 0


def test_the_demo_refuses_to_make_its_users_on_a_live_system(db, settings):
    from django.contrib.auth import get_user_model

    settings.DEBUG = False

    with pytest.raises(CommandError, match="--demo-instance"):
        call_command("seed_demo", customers=1, stdout=io.StringIO())

    assert not get_user_model().objects.filter(username="admin").exists()
