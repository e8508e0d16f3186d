"""Measure the call center's hot paths: the queue page and orders under contention.

    make bench                      # SQLite under var/bench.sqlite3
    BENCH_DATABASE_URL=postgres://… make bench

(a) The queue page's server time (Django test client, no network) with 100,000 leads in
the queue: first page, a deep page, searches, filters and the HTMX refresh; target under
100 ms. (b) Orders confirmed per second when N agents (threads, each with its own
database connection) sell the same product at once, through `services.take_lead` and
`services.confirm_order`, until its stock runs out: the sold and refused counts show the
lock holds (sold == stock, never below zero).

The queue is filled once with bulk inserts (a benchmark fixture, not business data) under
Kommo ids from BENCH_FIRST_ID, and topped up when a run asks for more.
"""

import random
import statistics
import threading
import time
from datetime import timedelta
from decimal import Decimal

from celery import current_app
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callcenter import selectors
from callcenter.catalog import services as catalog_services
from callcenter.models import Lead, QueueSettings
from callcenter.services import calls as call_services
from crm import roles
from crm.management.commands.seed_demo import FIRST_NAMES, LAST_NAMES
from crm.models import Customer

TARGET_MS = 100
BENCH_FIRST_ID = 900_000_000
BATCH = 5_000
SOURCES = ["Facebook", "Instagram", "Web", "WhatsApp", "Referido", "TikTok"]


class Command(BaseCommand):
    help = "Mide la cola de llamadas con 100.000 leads y los pedidos por segundo en contención."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=100_000)
        parser.add_argument("--repeat", type=int, default=20)
        parser.add_argument("--agents", type=int, default=8, help="Hilos que venden a la vez.")
        parser.add_argument("--stock", type=int, default=300, help="Unidades en disputa.")

    def handle(self, *args, leads, repeat, agents, stock, **options):
        roles.sync_roles()
        QueueSettings.objects.update_or_create(
            pk=1, defaults={"pipeline_id": 1, "queue_status_id": 2, "sold_status_id": 3}
        )
        self.fill(leads)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE callcenter_lead")
        self.bench_queue(repeat)
        self.bench_orders(agents, stock)

    # --- (a) The queue page ------------------------------------------------------------

    def bench_queue(self, repeat: int) -> None:
        user = self.agent("bench-agente")
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        url = reverse("callcenter:queue")
        sample = Lead.objects.filter(kommo_id__gte=BENCH_FIRST_ID).order_by("id")[50_000:50_001]
        sample = sample.first() or Lead.objects.first()
        phone_digits = "".join(c for c in sample.phone if c.isdigit())[-9:]
        scenarios = [
            ("cola, página 1", {}, {}),
            ("cola, página 100", {"page": 100}, {}),
            ("refresco HTMX (cada 5 s)", {}, {"HX-Request": "true"}),
            ("búsqueda por teléfono", {"q": phone_digits}, {}),
            ("búsqueda por nombre", {"q": "rosa huaman"}, {}),
            ("filtro origen + libres", {"source": "Facebook", "agent": "free"}, {}),
            ("filtro estado", {"state": "callback"}, {}),
        ]
        total = Lead.objects.filter(in_queue=True).count()
        self.stdout.write(
            f"\nCola de llamadas — base de datos: {connection.vendor}, {total:,} leads en cola; "
            f"{repeat} mediciones por caso (objetivo: < {TARGET_MS} ms)\n"
        )
        self.stdout.write(f"{'caso':<30}{'mediana':>10}{'p95':>10}{'consultas':>11}  resultado")
        for name, params, headers in scenarios:
            median, p95, queries = self.measure(client, url, params, headers, repeat)
            verdict = "OK" if median < TARGET_MS else "LENTO"
            self.stdout.write(f"{name:<30}{median:>8.1f}ms{p95:>8.1f}ms{queries:>11}  {verdict}")

    def measure(self, client, url, params, headers, repeat):
        for _ in range(2):  # warm the caches and the connection
            assert client.get(url, params, headers=headers).status_code == 200, url
        timings = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url, params, headers=headers)
                timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, url
        timings.sort()
        p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
        return statistics.median(timings), p95, len(queries)

    # --- (b) Orders under contention -----------------------------------------------------

    def bench_orders(self, agents: int, stock: int) -> None:
        # The Kommo update of each order is sent at commit, inline: without Kommo
        # configured it fails at once, with no network, and stays visible in admin.
        current_app.conf.task_always_eager = True
        product = catalog_services.create_product(
            actor=None,
            data={
                "sku": f"BENCH-{time.time_ns()}",
                "name": "Producto en disputa",
                "price": Decimal("10.00"),
                "stock": stock,
            },
        )
        sellers = [self.agent(f"bench-vendedor-{n}") for n in range(agents)]
        # Enough leads for every attempt: each agent tries until the stock is gone.
        per_agent = stock // agents + 20
        leads = self.contention_leads(agents * per_agent)
        results = {"sold": 0, "refused": 0, "errors": []}
        lock = threading.Lock()
        start = threading.Barrier(agents)

        def sell(agent, own_leads):
            try:
                start.wait(timeout=60)
                for lead in own_leads:
                    call_services.take_lead(lead=lead, agent=agent)
                    try:
                        call_services.confirm_order(
                            lead=lead, agent=agent, lines=[call_services.CartLine(product.pk, 1)]
                        )
                    except ValidationError:
                        with lock:
                            results["refused"] += 1
                        call_services.release_lead(lead=lead, actor=agent)
                        return  # sold out: this agent stops
                    with lock:
                        results["sold"] += 1
            except Exception as exc:
                with lock:
                    results["errors"].append(repr(exc))
            finally:
                connection.close()

        threads = [
            threading.Thread(target=sell, args=(agent, leads[i::agents]))
            for i, agent in enumerate(sellers)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        elapsed = time.perf_counter() - started
        # The leads nobody reached leave the queue, so the next run measures 100,000 again.
        Lead.objects.filter(pk__in=[lead.pk for lead in leads], in_queue=True).update(
            in_queue=False, taken_by=None, taken_at=None
        )
        product.refresh_from_db()
        self.stdout.write(
            f"\nPedidos en contención: {agents} agentes venden el mismo producto "
            f"({stock} unidades) hasta agotarlo"
        )
        self.stdout.write(
            f"  {results['sold']} pedidos en {elapsed:.2f} s: "
            f"{results['sold'] / elapsed:,.1f} pedidos/s; {results['refused']} rechazos por "
            f"stock; stock final {product.stock}; errores: {len(results['errors'])}"
        )
        for error in results["errors"][:5]:
            self.stdout.write(f"  ! {error}")

    def contention_leads(self, count: int) -> list[Lead]:
        customer = Customer.objects.order_by("id").first()
        now = timezone.now()
        base = Lead.objects.order_by("-kommo_id").values_list("kommo_id", flat=True).first() or 0
        rows = [
            Lead(
                kommo_id=base + 1 + i,
                name=f"Contención {i}",
                contact_name="Cliente contención",
                phone="+51999999999",
                address="Av. Bench 1",
                customer=customer,
                in_queue=True,
                queued_at=now,
                due_at=now,
                status_id=2,
                pipeline_id=1,
            )
            for i in range(count)
        ]
        Lead.objects.bulk_create(rows, batch_size=BATCH)
        return list(Lead.objects.filter(kommo_id__gt=base).order_by("kommo_id"))

    # --- fixtures ------------------------------------------------------------------------

    def agent(self, username: str):
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"first_name": "Bench", "last_name": username}
        )
        user.groups.add(Group.objects.get(name=selectors.AGENT_GROUP))
        return user

    @transaction.atomic
    def fill(self, leads: int) -> None:
        if not Customer.objects.exists():
            Customer.objects.create(
                document_type=Customer.DocumentType.DNI,
                document_number="79999999",
                first_name="Cliente",
                last_name="Bench",
            )
        have = Lead.objects.filter(
            kommo_id__gte=BENCH_FIRST_ID, kommo_id__lt=BENCH_FIRST_ID + 10_000_000
        ).count()
        if have >= leads:
            return
        self.stdout.write(f"Creando {leads - have:,} leads de prueba…")
        rng = random.Random(11)  # noqa: S311 (benchmark data)
        agents = [self.agent(f"bench-agente-{n}") for n in range(10)]
        now = timezone.now()
        for start in range(have, leads, BATCH):
            rows = []
            for i in range(start, min(start + BATCH, leads)):
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                lead = Lead(
                    kommo_id=BENCH_FIRST_ID + i,
                    name=f"Lead {i}",
                    contact_name=name,
                    phone=f"+519{rng.randint(10_000_000, 99_999_999)}",
                    document_number=str(40_000_000 + i),
                    address="Av. Benchmark 123",
                    source=rng.choice(SOURCES),
                    state=rng.choice(
                        [Lead.State.NEW] * 6 + [Lead.State.NO_ANSWER, Lead.State.CALLBACK]
                    ),
                    in_queue=True,
                    queued_at=now - timedelta(minutes=leads - i),
                    due_at=now - timedelta(minutes=leads - i),
                    attempts=rng.randint(0, 3),
                    taken_by=agents[i % 10] if i % 50 == 0 else None,
                    taken_at=now if i % 50 == 0 else None,
                    status_id=2,
                    pipeline_id=1,
                )
                lead.search_text = lead.build_search_text()
                rows.append(lead)
            Lead.objects.bulk_create(rows)
