"""Measure the ledger's heavy paths: the schedule calculator and the portfolio report.

    make bench                      # SQLite under var/bench.sqlite3
    BENCH_DATABASE_URL=postgres://… make bench

(a) `schedule.build_schedule` over 10,000 varied loans, without the database: loans and
installments per second. (b) `selectors.aging_report` and `selectors.portfolio_summary`
over a portfolio of 1,000,000 installments, as of today and a month ago, and the Excel's
rows. (c) The page `/creditos/cartera/` through the test client, as of today and a month
ago: the first request (no snapshot: it computes and keeps the figures) and the repeated
one (the snapshot). The portfolio is filled once (bulk inserts: a benchmark fixture, not
business data, so it skips the services on purpose) under a loan product named "bench",
and only topped up when a run asks for more installments.
"""

import math
import random
import statistics
import time
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from credits import schedule, selectors
from credits.models import (
    Bucket,
    Component,
    Installment,
    Loan,
    LoanProduct,
    Payment,
    PaymentAllocation,
    PortfolioSnapshot,
)
from crm import roles
from crm.management.commands.seed_demo import FIRST_NAMES, LAST_NAMES
from crm.models import Customer

TARGET_MS = 1000
PAGE_TARGET_MS = 300  # the page, served from its snapshot
PAST_DAYS = 30  # the historical cases: the portfolio as it was a month ago
MARKER = "bench"  # the loan product that owns the benchmark portfolio
TERM = 24
LOAN_BATCH = 2000  # 48,000 installments per transaction
LOANS_PER_CUSTOMER = 20
UNSCHEDULED = (Loan.Status.DRAFT, Loan.Status.CANCELLED)
# Terms by frequency for the calculator cases: up to five years, or two of weekly loans.
TERMS = {
    schedule.Frequency.MONTHLY: (3, 60),
    schedule.Frequency.BIWEEKLY: (4, 48),
    schedule.Frequency.WEEKLY: (4, 104),
}


class Command(BaseCommand):
    help = "Mide el cálculo de cronogramas y el reporte de cartera con un millón de cuotas."

    def add_arguments(self, parser):
        parser.add_argument("--schedules", type=int, default=10_000)
        parser.add_argument("--installments", type=int, default=1_000_000)
        parser.add_argument("--runs", type=int, default=5, help="Mediciones por caso.")

    def handle(self, *args, schedules, installments, runs, **options):
        self.bench_schedules(schedules, runs)
        self.fill(installments)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # fresh statistics after the bulk load
                cursor.execute("ANALYZE credits_installment, credits_loan, credits_payment")
        self.bench_report(runs)
        self.bench_page(runs)

    # --- (a) Schedules -------------------------------------------------------------------

    def bench_schedules(self, count: int, runs: int) -> None:
        cases = schedule_cases(count)
        timings, rows = [], 0
        for _ in range(runs):
            started = time.perf_counter()
            rows = sum(len(schedule.build_schedule(**case).rows) for case in cases)
            timings.append(time.perf_counter() - started)
        median = statistics.median(timings)
        self.stdout.write(
            f"\nCronogramas (sin base de datos): {count:,} créditos variados, {rows:,} cuotas; "
            f"mediana de {runs} mediciones"
        )
        self.stdout.write(
            f"  {median:.2f} s: {count / median:,.0f} créditos/s, {rows / median:,.0f} cuotas/s"
        )

    # --- (b) Portfolio report ------------------------------------------------------------

    def bench_report(self, runs: int) -> None:
        today = timezone.localdate()
        live = Loan.objects.filter(status__in=Loan.LIVE).count()
        rows = Installment.objects.count()
        self.stdout.write(
            f"\nReporte de cartera. Base de datos: {connection.vendor}, {rows:,} cuotas, "
            f"{live:,} créditos vigentes o castigados; {runs} mediciones por caso "
            f"(objetivo: < {TARGET_MS} ms)"
        )
        self.stdout.write(f"{'caso':<28}{'mediana':>10}{'máx':>10}  resultado")
        # A month back every later payment exists (the last two months have theirs), so the
        # historical report undoes real allocations.
        past = today - timedelta(days=PAST_DAYS)
        cases = [
            ("aging_report", lambda: selectors.aging_report(today)),
            ("portfolio_summary", lambda: selectors.portfolio_summary(today)),
            (f"aging_report -{PAST_DAYS}d", lambda: selectors.aging_report(past)),
            (f"portfolio_summary -{PAST_DAYS}d", lambda: selectors.portfolio_summary(past)),
            ("portfolio_loans", lambda: sum(1 for _ in selectors.portfolio_loans(today))),
        ]
        for name, run in cases:
            run()  # warm the caches and the connection
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                run()
                timings.append((time.perf_counter() - started) * 1000)
            median, worst = statistics.median(timings), max(timings)
            verdict = "OK" if median < TARGET_MS else "LENTO"
            self.stdout.write(f"{name:<28}{median:>8.1f}ms{worst:>8.1f}ms  {verdict}")
        buckets = ", ".join(f"{b['label']} {b['loans']:,}" for b in selectors.aging_report(today))
        self.stdout.write(f"Créditos por tramo: {buckets}")

    # --- (c) The page ----------------------------------------------------------------------

    def bench_page(self, runs: int) -> None:
        today = timezone.localdate()
        past = today - timedelta(days=PAST_DAYS)
        roles.sync_roles()
        user, _ = get_user_model().objects.get_or_create(
            username="bench-supervisor", defaults={"first_name": "Bench", "last_name": "Supervisor"}
        )
        user.groups.add(Group.objects.get(name="Supervisor"))
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        url = reverse("credits:portfolio_report")
        self.stdout.write(
            f"\nPágina {url} (cliente de prueba, con la sesión); {runs} mediciones por caso "
            f"(objetivo con la foto del día: < {PAGE_TARGET_MS} ms)"
        )
        self.stdout.write(f"{'caso':<28}{'mediana':>10}{'máx':>10}{'consultas':>11}  resultado")
        for label, day in (("hoy", today), (f"-{PAST_DAYS}d", past)):
            params = {"as_of": day.isoformat()}
            first = self.measure_page(client, url, params, runs, drop=day)
            self.page_line(f"{label}, primera vez", *first, target=TARGET_MS)
            repeated = self.measure_page(client, url, params, runs)
            self.page_line(f"{label}, repetida", *repeated, target=PAGE_TARGET_MS)

    def measure_page(self, client, url, params, runs, drop=None) -> tuple[float, float, int]:
        """Return the median and worst milliseconds of `runs` requests, and their queries;
        with `drop`, each request finds no snapshot of that day and computes it."""
        assert client.get(url, params).status_code == 200, url  # warm the connection
        timings, queries = [], 0
        for _ in range(runs):
            if drop is not None:
                PortfolioSnapshot.objects.filter(as_of=drop).delete()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url, params)
                timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, url
            queries = len(captured)
        return statistics.median(timings), max(timings), queries

    def page_line(self, name: str, median: float, worst: float, queries: int, *, target) -> None:
        verdict = "OK" if median < target else "LENTO"
        self.stdout.write(f"{name:<28}{median:>8.1f}ms{worst:>8.1f}ms{queries:>11}  {verdict}")

    def fill(self, installments: int) -> None:
        product, _ = LoanProduct.objects.get_or_create(
            name=MARKER,
            defaults={
                "annual_rate": Decimal("24.00"),
                "method": schedule.Method.FRENCH,
                "max_term": 60,
                "late_annual_rate": Decimal("12.00"),
                "is_active": False,
            },
        )
        # Every disbursed bench loan has TERM installments; drafts and cancelled have none.
        wanted = math.ceil(installments / TERM)
        have = Loan.objects.filter(product=product).exclude(status__in=UNSCHEDULED).count()
        if have >= wanted:
            self.stdout.write(f"\nCartera de prueba: {have * TERM:,} cuotas, ya cargada.")
            return
        self.stdout.write(
            f"\nCreando {wanted - have:,} créditos de prueba con {(wanted - have) * TERM:,} "
            f"cuotas (lotes de {LOAN_BATCH:,} créditos)…"
        )
        started = time.perf_counter()
        builder = PortfolioBuilder(product, timezone.localdate())
        for start in range(have, wanted, LOAN_BATCH):
            end = min(start + LOAN_BATCH, wanted)
            with transaction.atomic():
                builder.write(start, end)
            self.stdout.write(
                f"  {end * TERM:,}/{wanted * TERM:,} cuotas ({time.perf_counter() - started:.0f} s)"
            )
        # The bulk inserts skip the services, which mark the report's snapshots stale: drop
        # them all; each is computed again the next time its day is asked for.
        PortfolioSnapshot.objects.all().delete()


def schedule_cases(count: int) -> list[dict]:
    """Return `count` varied loans for the calculator: every method, frequency and fee."""
    rng = random.Random(11)  # noqa: S311 - benchmark data
    cases = []
    for _ in range(count):
        frequency = rng.choice(schedule.Frequency.values)
        fee_type = rng.choice(schedule.FeeType.values)
        cases.append(
            {
                "principal": Decimal(rng.randrange(300, 150_001, 50)),
                "annual_rate": Decimal(rng.randrange(0, 6_001)) / 100,
                "term": rng.randint(*TERMS[frequency]),
                "method": rng.choice(schedule.Method.values),
                "frequency": frequency,
                "first_due_date": date(2026, 1, 1) + timedelta(days=rng.randrange(365)),
                "fee_type": fee_type,
                "fee_value": {"fixed": Decimal("25.00"), "percent": Decimal("1.50")}.get(
                    fee_type, schedule.ZERO
                ),
            }
        )
    return cases


class PortfolioBuilder:
    """Write the benchmark portfolio: 24 monthly installments a loan, in a realistic mix.

    Loans started up to two years ago, so their installments are paid, overdue or still
    to come: most loans are current, the rest spread over the aging buckets; some are paid
    off, written off, or never disbursed (no installments). The last two months' paid
    installments get their payments, for the summary's "collected this month".
    """

    def __init__(self, product: LoanProduct, today: date):
        self.product = product
        self.today = today
        self.amounts: dict[tuple, list] = {}
        self.dates: dict[date, list[date]] = {}

    def write(self, start: int, end: int) -> None:
        rng = random.Random(start)  # noqa: S311 - a batch is the same whenever it is written
        customers = Customer.objects.bulk_create(
            self.customer(rng, f"B{start:09d}-{k:03d}")
            for k in range(max(1, (end - start) // LOANS_PER_CUSTOMER))
        )
        plans = [self.plan(rng, k, rng.choice(customers)) for k in range(start, end)]
        Loan.objects.bulk_create(plan[0] for plan in plans)
        # Loans never disbursed, which the report must leave out: one every 30.
        Loan.objects.bulk_create(
            self.unscheduled(rng, k, rng.choice(customers))
            for k in range(start, end)
            if k % 30 == 0
        )
        rows, payments = [], []
        for loan, unpaid_from in plans:
            for k, row in enumerate(self.schedule(loan)):
                paid_on = None
                installment = Installment(
                    loan=loan,
                    number=k + 1,
                    due_date=row[0],
                    principal_due=row[1],
                    interest_due=row[2],
                )
                if k < unpaid_from:
                    paid_on = min(self.today, row[0] + timedelta(days=rng.randint(-5, 3)))
                    installment.principal_paid, installment.interest_paid = row[1], row[2]
                    installment.paid_on = paid_on
                    if paid_on >= self.today - timedelta(days=62):
                        payment = Payment(
                            loan=loan,
                            amount=row[1] + row[2],
                            received_on=paid_on,
                            source=rng.choice([Payment.Source.CASH, Payment.Source.MERCADOPAGO]),
                        )
                        payments.append((payment, installment))
                rows.append(installment)
        Installment.objects.bulk_create(rows, batch_size=5000)
        Payment.objects.bulk_create((p for p, _i in payments), batch_size=5000)
        # How each recent payment was applied: what the historical report undoes.
        PaymentAllocation.objects.bulk_create(
            (
                PaymentAllocation(
                    payment=payment, installment=installment, component=component, amount=amount
                )
                for payment, installment in payments
                for component, amount in (
                    (Component.INTEREST, installment.interest_paid),
                    (Component.PRINCIPAL, installment.principal_paid),
                )
                if amount
            ),
            batch_size=5000,
        )

    def customer(self, rng, document_number: str) -> Customer:
        customer = Customer(
            document_type=Customer.DocumentType.PASSPORT,
            document_number=document_number,
            first_name=rng.choice(FIRST_NAMES),
            last_name=f"{rng.choice(LAST_NAMES)} {rng.choice(LAST_NAMES)}",
        )
        customer.search_text = customer.build_search_text()
        return customer

    def plan(self, rng, k: int, customer: Customer) -> tuple[Loan, int]:
        """Return an unsaved loan and how many of its installments are paid."""
        status = rng.choices(
            [Loan.Status.ACTIVE, Loan.Status.PAID, Loan.Status.WRITTEN_OFF], weights=[78, 14, 8]
        )[0]
        # Written-off loans are old enough to owe many installments; some active loans
        # have nothing due yet.
        youngest = {Loan.Status.WRITTEN_OFF: 240, Loan.Status.PAID: 90}.get(status, -25)
        first_due = self.today - timedelta(days=rng.randint(youngest, 720))
        dates = self.due_dates(first_due)
        past = sum(1 for d in dates if d < self.today)
        if status == Loan.Status.PAID:
            unpaid_from = TERM
        elif status == Loan.Status.WRITTEN_OFF:
            unpaid_from = max(0, past - rng.randint(5, 15))
        else:
            # Installments overdue: none for most loans, then one per aging bucket or more.
            behind = rng.choices([0, 1, 2, 3, rng.randint(4, 12)], weights=[70, 12, 6, 4, 8])[0]
            unpaid_from = max(0, past - behind)
            if unpaid_from >= TERM:
                status = Loan.Status.PAID
        oldest_unpaid = dates[unpaid_from] if unpaid_from < TERM else None
        days = (self.today - oldest_unpaid).days if oldest_unpaid else 0
        principal = Decimal(rng.randrange(1_000, 60_001, 100))
        loan = Loan(
            customer=customer,
            product=self.product,
            payment_code=f"B{k:011d}",
            principal=principal,
            annual_rate=rng.choice([Decimal(18), Decimal(24), Decimal(28), Decimal(36)]),
            term=TERM,
            method=rng.choice([schedule.Method.FRENCH, schedule.Method.GERMAN]),
            frequency=schedule.Frequency.MONTHLY,
            fee_type=schedule.FeeType.NONE,
            late_annual_rate=self.product.late_annual_rate,
            start_date=first_due - timedelta(days=30),
            first_due_date=first_due,
            status=status,
            days_past_due=max(days, 0) if status in Loan.LIVE else 0,
            bucket=Bucket.for_days(days) if status in Loan.LIVE else Bucket.CURRENT,
        )
        return loan, unpaid_from

    def unscheduled(self, rng, k: int, customer: Customer) -> Loan:
        start = self.today + timedelta(days=rng.randint(-60, 10))
        return Loan(
            customer=customer,
            product=self.product,
            payment_code=f"D{k:011d}",
            principal=Decimal(rng.randrange(1_000, 60_001, 100)),
            annual_rate=self.product.annual_rate,
            term=TERM,
            method=schedule.Method.FRENCH,
            frequency=schedule.Frequency.MONTHLY,
            fee_type=schedule.FeeType.NONE,
            start_date=start,
            first_due_date=start + timedelta(days=30),
            status=rng.choice(UNSCHEDULED),
        )

    def schedule(self, loan: Loan) -> list[tuple[date, Decimal, Decimal]]:
        """Return (due date, principal, interest) rows; amounts are shared by equal loans."""
        key = (loan.principal, loan.annual_rate, loan.method)
        if key not in self.amounts:
            plan = schedule.build_schedule(
                principal=loan.principal,
                annual_rate=loan.annual_rate,
                term=TERM,
                method=loan.method,
                frequency=loan.frequency,
                first_due_date=loan.first_due_date,
            )
            self.amounts[key] = [(r.principal, r.interest) for r in plan.rows]
        dates = self.due_dates(loan.first_due_date)
        return [(d, p, i) for d, (p, i) in zip(dates, self.amounts[key], strict=True)]

    def due_dates(self, first_due: date) -> list[date]:
        if first_due not in self.dates:
            self.dates[first_due] = schedule.due_dates(first_due, schedule.Frequency.MONTHLY, TERM)
        return self.dates[first_due]
