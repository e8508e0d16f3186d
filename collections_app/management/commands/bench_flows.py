"""Measure a flow step over 100,000 debtors: select, render and enqueue their messages.

    make bench                      # SQLite under var/bench.sqlite3
    BENCH_DATABASE_URL=postgres://… make bench

Fills the database once (bulk inserts: a benchmark fixture, not business data, so it
skips the services on purpose) with customers who each have a phone and one active loan
whose only installment falls due in three days, under a loan product named
"bench-flows"; a re-run on another day moves those installments to three days ahead.
Then runs the −3 step of a flow whose segment is that product's loans
(`flows.run_step`: the selection's server-side cursor, one render and one bulk send per
chunk of 1,000 customers) and prints its time, the messages queued, the batch tasks it
asked Celery for and the memory it took, against the targets. The broker is not called:
the bench records each task the run enqueues on commit (lib.queue.send_now) instead of
sending it, so no worker delivers 100,000 SMS, and counts them. Quiet hours are off for
the run (the bench may run at night) and set back afterwards. What the run wrote
(messages, timeline entries, outbox rows, conversations, the run) is deleted at the end,
so the bench can run again.
"""

import contextlib
import resource
import time
import tracemalloc
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from collections_app.models import (
    Conversation,
    Flow,
    FlowRun,
    FlowStep,
    MessageTemplate,
    Portfolio,
    Segment,
)
from collections_app.strategies import flows, segments, templating
from credits import schedule
from credits.models import Bucket, Installment, Loan, LoanProduct
from crm.management.commands.seed_demo import FIRST_NAMES, LAST_NAMES
from crm.models import Branch, Customer, Interaction, Message, MessagePolicy
from integrations.models import OutboxMessage
from lib import queue

TARGET_SECONDS = 30
TARGET_MB = 500
MARKER = "bench-flows"  # the loan product, branch, segment, template and flow of the bench
SAMPLE_MARKER = "bench-flows-muestra"  # the branch, segment and flow of the traced sample
SAMPLE = 10_000  # customers of the run measured with tracemalloc
BATCH = 5_000  # customers (and loans, and installments) per transaction while filling
DAYS_AHEAD = 3  # the step: −3, the installment due in three days
# The policy's largest daily limit: the bench's second run of the day is not capped.
MAX_DAILY_LIMIT = 50
PRINCIPAL = Decimal("1200.00")
INTEREST = Decimal("24.00")
BODY = (
    "Hola {nombre}, su cuota de {cuota} vence el {fecha_vencimiento}. Pague en línea: {link_pago}"
)


class Command(BaseCommand):
    help = "Mide un paso de flujo (seleccionar, armar y encolar) para 100.000 clientes."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument(
            "--traced",
            type=int,
            default=SAMPLE,
            help="Clientes de la ejecución medida con tracemalloc (0: sin ella).",
        )

    def handle(self, *args, customers, traced, **options):
        today = timezone.localdate()
        product = self.fill(customers, today, sample=min(traced, customers))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # fresh statistics after the bulk load
                cursor.execute(
                    "ANALYZE crm_customer, credits_loan, credits_installment, crm_message, "
                    "crm_interaction"
                )
        step = self.flow_step(product, MARKER, bench_segment(product, MARKER))
        sample_step = self.flow_step(product, SAMPLE_MARKER, bench_segment(product, SAMPLE_MARKER))
        selected = Loan.objects.filter(product=product).count()
        self.stdout.write(
            f"\nFlujos. Base de datos: {connection.vendor}, {selected:,} clientes con una cuota "
            f"que vence en {DAYS_AHEAD} días; paso {flows.offset_label(step.day_offset)} por "
            f"SMS (objetivos: < {TARGET_SECONDS} s, < {TARGET_MB} MB)"
        )
        self.clean(step)
        self.clean(sample_step)
        with quiet_hours_off():
            timed = self.measure(step, today, trace=False)
            self.clean(step)
            # tracemalloc slows Python down about five times: it follows a sample of the
            # customers, in the same chunks (memory depends on the chunk, not the total).
            sample = self.measure(sample_step, today, trace=True) if traced else None
            self.clean(sample_step)
        self.report(timed, sample)

    # --- The run -----------------------------------------------------------------------------

    def measure(self, step: FlowStep, today: date, *, trace: bool) -> dict:
        """Run the step once, recording the tasks it enqueues instead of sending them."""
        tasks: list[tuple[str, int]] = []

        def record(task_name, kwargs, *, countdown=None):
            tasks.append((task_name, len(kwargs.get("message_ids") or ()) or 1))

        rss_before = _rss_mb()
        sending = queue.send_now
        queue.send_now = record
        # As in production: with DEBUG on (make bench's default) Django would keep the text
        # of every query, and a 1,000-row insert's text is large.
        debug = settings.DEBUG
        settings.DEBUG = False
        try:
            if trace:
                tracemalloc.start()
            started = time.perf_counter()
            run = flows.run_step(step, today)
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
        finally:
            if trace:
                tracemalloc.stop()
            queue.send_now = sending
            settings.DEBUG = debug
        return {
            "run": run,
            "seconds": elapsed,
            "tasks": tasks,
            "rss_before": rss_before,
            "rss_after": _rss_mb(),
            "traced_mb": peak,
        }

    def report(self, timed: dict, traced: dict | None) -> None:
        run: FlowRun = timed["run"]
        seconds = timed["seconds"]
        batches = [n for name, n in timed["tasks"] if name == "integrations.deliver_messages"]
        singles = sum(1 for name, _n in timed["tasks"] if name == "integrations.deliver_message")
        is_fast = seconds < TARGET_SECONDS and run.status == FlowRun.Status.DONE
        rate = run.queued / seconds if seconds else 0
        self.stdout.write(f"{'caso':<34}{'tiempo':>10}{'mensajes/s':>12}  resultado")
        self.stdout.write(
            f"{'run_step (seleccionar+armar+encolar)':<34}{seconds:>8.1f} s{rate:>12,.0f}  "
            f"{'OK' if is_fast else 'LENTO'}"
        )
        if traced is not None:
            label = f"  {traced['run'].queued:,} con tracemalloc"
            self.stdout.write(
                f"{label:<34}{traced['seconds']:>8.1f} s"
                f"{traced['run'].queued / traced['seconds']:>12,.0f}"
            )
        self.stdout.write(
            f"Seleccionados {run.selected:,}; en cola {run.queued:,}; retenidos {run.held:,}; "
            f"omitidos {run.skipped:,}; "
            f"estado {run.get_status_display()}{f' ({run.error})' if run.error else ''}"
        )
        largest = max(batches, default=0)
        verdict = "OK" if batches and not singles else "MAL"
        self.stdout.write(
            f"Tareas de Celery encoladas: {len(timed['tasks']):,} — {len(batches):,} lotes "
            f"integrations.deliver_messages (hasta {largest:,} mensajes cada uno), "
            f"{singles:,} de un mensaje  {verdict}"
        )
        peak_rss = timed["rss_after"]
        traced_mb = traced["traced_mb"] if traced else None
        verdict = "OK" if peak_rss < TARGET_MB else "ALTO"
        traced_text = (
            f"; pico de tracemalloc al enviar {traced['run'].queued:,} {traced_mb:.1f} MB"
            if traced
            else ""
        )
        self.stdout.write(
            f"Memoria: ru_maxrss del proceso {peak_rss:.0f} MB (antes de la ejecución "
            f"{timed['rss_before']:.0f} MB){traced_text}  {verdict}"
        )

    # --- The flow ----------------------------------------------------------------------------

    def flow_step(self, product: LoanProduct, name: str, segment: Segment) -> FlowStep:
        """Return the −3 step of the bench flow `name`, making its template and flow once."""
        # Active: a step sends only an active template (a switched-off one fails its run).
        # The flow stays off, so beat never sends the bench's messages.
        template = MessageTemplate.objects.filter(name=MARKER).first()
        if template is None:
            template = templating.save_template(
                data={
                    "name": MARKER,
                    "channel": MessageTemplate.Channel.SMS,
                    "portfolio": Portfolio.CURRENT,
                    "body": BODY,
                    "is_active": True,
                }
            )
        elif not template.is_active:
            MessageTemplate.objects.filter(pk=template.pk).update(is_active=True)
            template.is_active = True
        flow = Flow.objects.filter(name=name).first()
        if flow is None:
            flow = flows.save_flow(
                flow=None,
                name=name,
                description="make bench",
                segment=segment,
                steps=[flows.StepData(step=None, day_offset=-DAYS_AHEAD, template=template)],
                removed=[],
                actor=None,
            )
        # Never active: the daily beat must not send the bench's 100,000 messages.
        return flow.steps.select_related("flow__segment", "template").get()

    # --- The data ----------------------------------------------------------------------------

    def fill(self, count: int, today: date, *, sample: int) -> LoanProduct:
        product, _ = LoanProduct.objects.get_or_create(
            name=MARKER,
            defaults={
                "annual_rate": Decimal("24.00"),
                "method": schedule.Method.FRENCH,
                "max_term": 60,
                "is_active": False,
            },
        )
        branch, _ = Branch.objects.get_or_create(code=MARKER, defaults={"name": "Bench flujos"})
        sample_branch, _ = Branch.objects.get_or_create(
            code=SAMPLE_MARKER, defaults={"name": "Bench flujos (muestra)"}
        )
        due = today + timedelta(days=DAYS_AHEAD)
        have = Loan.objects.filter(product=product).count()
        if have >= count:
            self.stdout.write(f"\nClientes de prueba de flujos: {have:,}, ya cargados.")
        else:
            self.stdout.write(
                f"\nCreando {count - have:,} clientes con un crédito y una cuota "
                f"(lotes de {BATCH:,})…"
            )
            started = time.perf_counter()
            for start in range(have, count, BATCH):
                end = min(start + BATCH, count)
                with transaction.atomic():
                    self.write(product, branch, start, end, due)
                self.stdout.write(f"  {end:,}/{count:,} ({time.perf_counter() - started:.0f} s)")
        # A run on another day: the installments fall due three days from this one.
        moved = (
            Installment.objects.filter(loan__product=product)
            .exclude(due_date=due, paid_on__isnull=True)
            .update(due_date=due, paid_on=None)
        )
        if moved:
            Loan.objects.filter(product=product).update(
                first_due_date=due, start_date=due - timedelta(days=30)
            )
            self.stdout.write(f"  {moved:,} cuotas movidas al {due:%d/%m/%Y}.")
        # The traced sample: the first `sample` loans, the only ones of the sample branch.
        loans = Loan.objects.filter(product=product)
        first = list(loans.order_by("pk").values_list("pk", flat=True)[:sample])
        loans.filter(pk__in=first).exclude(branch=sample_branch).update(branch=sample_branch)
        loans.filter(branch=sample_branch).exclude(pk__in=first).update(branch=branch)
        return product

    def write(self, product: LoanProduct, branch: Branch, start: int, end: int, due: date) -> None:
        rows = []
        surnames = len(LAST_NAMES)
        for n in range(start, end):
            customer = Customer(
                document_type=Customer.DocumentType.PASSPORT,
                document_number=f"F{n:09d}",
                first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
                last_name=f"{LAST_NAMES[n % surnames]} {LAST_NAMES[n // 7 % surnames]}",
                phone=f"+519{n % 10**8:08d}",
                branch=branch,
            )
            customer.search_text = customer.build_search_text()
            rows.append(customer)
        customers = Customer.objects.bulk_create(rows)
        loans = Loan.objects.bulk_create(
            Loan(
                customer=customer,
                product=product,
                payment_code=f"F{start + k:011d}",
                principal=PRINCIPAL,
                annual_rate=product.annual_rate,
                term=1,
                method=schedule.Method.FRENCH,
                frequency=schedule.Frequency.MONTHLY,
                fee_type=schedule.FeeType.NONE,
                start_date=due - timedelta(days=30),
                first_due_date=due,
                branch=branch,
                status=Loan.Status.ACTIVE,
                days_past_due=0,
                bucket=Bucket.CURRENT,
            )
            for k, customer in enumerate(customers)
        )
        Installment.objects.bulk_create(
            Installment(
                loan=loan,
                number=1,
                due_date=due,
                principal_due=PRINCIPAL,
                interest_due=INTEREST,
            )
            for loan in loans
        )

    def clean(self, step: FlowStep) -> None:
        """Delete what a run of a bench step wrote: its messages, their timeline entries and
        outbox rows, the bench customers' conversations, and its runs."""
        customers = Customer.objects.filter(branch__code__startswith=MARKER)
        with transaction.atomic():
            messages = Message.objects.filter(origin=flows.ORIGIN, origin_id=step.pk)
            entries = list(messages.values_list("interaction_id", flat=True))
            # Plain DELETEs: Django's collector would read 100,000 rows to delete them.
            messages._raw_delete(messages.db)
            OutboxMessage.objects.filter(
                payload__origin__name=flows.ORIGIN, payload__origin__id=step.pk
            )._raw_delete(OutboxMessage.objects.db)
            for start in range(0, len(entries), BATCH):
                Interaction.objects.filter(pk__in=entries[start : start + BATCH])._raw_delete(
                    Interaction.objects.db
                )
            # Entries of skipped messages have no Message: the system entries that name
            # the bench template.
            Interaction.objects.filter(
                customer__in=customers,
                kind=Interaction.Kind.SYSTEM,
                summary__contains=MARKER,
            ).delete()
            Conversation.objects.filter(customer__in=customers).delete()
            FlowRun.objects.filter(step=step).delete()
        if connection.vendor == "postgresql":
            # The next run must not meet autovacuum cleaning 100,000 dead rows mid-way: a
            # run measured 65 s instead of 27 s so.
            with connection.cursor() as cursor:
                cursor.execute(
                    "VACUUM ANALYZE crm_message, crm_interaction, integrations_outboxmessage, "
                    "collections_app_conversation, crm_customer"
                )


def bench_segment(product: LoanProduct, name: str) -> Segment:
    """Return the bench segment `name`: the bench product's loans (nothing else in the
    base), those of the sample branch only for the traced sample."""
    segment = Segment.objects.filter(name=name).first()
    if segment is None:
        branches = Branch.objects.filter(code=SAMPLE_MARKER) if name == SAMPLE_MARKER else []
        segment = segments.save_segment(
            data={
                "name": name,
                "description": "make bench",
                "products": [product],
                "branches": list(branches),
            },
            actor=None,
        )
    return segment


@contextlib.contextmanager
def quiet_hours_off() -> Iterator[None]:
    """No quiet hours and no daily limit while the bench runs (it may run at night, and
    again the same day); the policy as it was afterwards."""
    policy = MessagePolicy.current()
    kept = {
        "quiet_start": policy.quiet_start,
        "quiet_end": policy.quiet_end,
        "daily_limit": policy.daily_limit,
    }
    MessagePolicy.objects.filter(pk=policy.pk).update(
        quiet_end=policy.quiet_start, daily_limit=MAX_DAILY_LIMIT
    )
    try:
        yield
    finally:
        MessagePolicy.objects.filter(pk=policy.pk).update(**kept)


def _rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
