"""Measure the server time of the customer screens with a large customer base.

    make bench                      # SQLite under var/bench.sqlite3
    BENCH_DATABASE_URL=postgres://… make bench

Fills the database once (bulk inserts: a benchmark fixture, not business data, so it
skips the services on purpose), then times each request in-process through Django's
full stack: middleware, view, queries and template. Network time is not included.
"""

import random
import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import roles
from crm.management.commands.seed_demo import FIRST_NAMES, LAST_NAMES
from crm.models import Branch, Channel, Customer, Interaction, Tag

TARGET_MS = 100
BATCH = 5000
BENCH_DNI_START = 70_000_000


# The timeline's next page and its search are what htmx asks for (without it, the whole page).
HTMX = {"HX-Request": "true"}


class Command(BaseCommand):
    help = "Mide el tiempo de servidor de la lista de clientes y de la ficha 360."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument("--events", type=int, default=5_000, help="Eventos en la ficha medida.")
        parser.add_argument("--repeat", type=int, default=20)

    def handle(self, *args, customers, events, repeat, **options):
        roles.sync_roles()
        self.fill(customers, events)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # fresh statistics after the bulk load
                cursor.execute("ANALYZE crm_customer, crm_interaction, crm_customer_tags")
        user = self.bench_user()
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        rich = rich_customer()
        last_page = Customer.objects.count() // 25
        oldest = rich.interactions.order_by("-occurred_at", "-id")[19]
        scenarios = [
            ("lista, página 1", reverse("crm:customer_list"), {}),
            ("lista, página 100", reverse("crm:customer_list"), {"page": 100}),
            ("lista, página intermedia", reverse("crm:customer_list"), {"page": last_page // 2}),
            (
                "lista, última interacción",
                reverse("crm:customer_list"),
                {"sort": "-last_interaction_at"},
            ),
            ("búsqueda por documento", reverse("crm:customer_list"), {"q": "70051234"}),
            ("búsqueda, 4 dígitos", reverse("crm:customer_list"), {"q": "7005"}),
            ("búsqueda por nombre", reverse("crm:customer_list"), {"q": "rosa huaman"}),
            ("búsqueda por teléfono", reverse("crm:customer_list"), {"q": "987 12"}),
            (
                "filtro sucursal + etiqueta",
                reverse("crm:customer_list"),
                {"branch": Branch.objects.first().pk, "tag": Tag.objects.get(name="VIP").pk},
            ),
            (f"ficha 360 ({events} eventos)", rich.get_absolute_url(), {}),
            (
                "línea de tiempo, página 2",
                reverse("crm:customer_timeline", args=[rich.pk]),
                {"before_at": oldest.occurred_at.isoformat(), "before_id": oldest.pk},
                HTMX,
            ),
            (
                "línea de tiempo, búsqueda",
                reverse("crm:customer_timeline", args=[rich.pk]),
                {"q": "zarzamora"},  # matches nothing: reads the whole history (capped)
                HTMX,
            ),
        ]
        self.stdout.write(
            f"\nBase de datos: {connection.vendor}, {Customer.objects.count():,} clientes; "
            f"{repeat} mediciones por caso (objetivo: < {TARGET_MS} ms)\n"
        )
        self.stdout.write(f"{'caso':<32}{'mediana':>10}{'p95':>10}{'consultas':>11}  resultado")
        for name, url, params, *headers in scenarios:
            median, p95, queries = self.measure(client, url, params, repeat, *headers)
            verdict = "OK" if p95 < TARGET_MS else "LENTO"
            self.stdout.write(f"{name:<32}{median:>8.1f}ms{p95:>8.1f}ms{queries:>11}  {verdict}")

    def measure(self, client, url, params, repeat, headers=None):
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

    def bench_user(self):
        user, _ = get_user_model().objects.get_or_create(
            username="bench", defaults={"first_name": "Bench", "last_name": "Asesor"}
        )
        user.groups.add(Group.objects.get(name="Asesor"))
        return user

    @transaction.atomic
    def fill(self, customers, events):
        rng = random.Random(7)
        branches = [
            Branch.objects.get_or_create(code=f"bench-{i}", defaults={"name": f"Sucursal {i}"})[0]
            for i in range(8)
        ]
        channels = [
            Channel.objects.get_or_create(code=f"bench-{i}", defaults={"name": f"Canal {i}"})[0]
            for i in range(6)
        ]
        vip, _ = Tag.objects.get_or_create(name="VIP")
        # The bench's own customers are those of its branches: a database holding the demo
        # (or anything else) keeps its customers, and their document numbers are skipped.
        have = bench_customers().count()
        if have < customers:
            self.stdout.write(f"Creando {customers - have:,} clientes de prueba…")
        taken = set(
            Customer.objects.filter(
                document_type=Customer.DocumentType.DNI,
                document_number__gte=str(BENCH_DNI_START),
                document_number__lt=str(BENCH_DNI_START + 2 * customers),
            ).values_list("document_number", flat=True)
        )
        free = (
            str(BENCH_DNI_START + n) for n in range(10**8) if str(BENCH_DNI_START + n) not in taken
        )
        now = timezone.now()
        for start in range(have, customers, BATCH):
            rows = [
                Customer(
                    document_type=Customer.DocumentType.DNI,
                    document_number=next(free),
                    first_name=rng.choice(FIRST_NAMES),
                    last_name=f"{rng.choice(LAST_NAMES)} {rng.choice(LAST_NAMES)}",
                    phone=f"+519{rng.randint(10_000_000, 99_999_999)}",
                    email=f"cliente{i}@correo.pe",
                    branch=rng.choice(branches),
                    channel=rng.choice(channels),
                    created_at=now - timedelta(minutes=i),
                    last_interaction_at=now - timedelta(minutes=rng.randint(0, 500_000)),
                )
                for i in range(start, min(start + BATCH, customers))
            ]
            for row in rows:
                row.search_text = row.build_search_text()
            created = Customer.objects.bulk_create(rows)
            Customer.tags.through.objects.bulk_create(
                Customer.tags.through(customer_id=c.pk, tag_id=vip.pk)
                for c in created
                if rng.random() < 0.1
            )
        rich = rich_customer()
        missing = events - rich.interactions.count()
        if missing > 0:
            Interaction.objects.bulk_create(
                Interaction(
                    customer=rich,
                    kind=rng.choice(Interaction.Kind.values),
                    summary=f"Evento de prueba {i}",
                    occurred_at=now - timedelta(hours=i),
                )
                for i in range(missing)
            )


def bench_customers():
    """Return the customers this bench created: those of its branches."""
    return Customer.objects.filter(branch__code__startswith="bench-")


def rich_customer() -> Customer:
    """Return the bench customer with the long timeline: its first, by document number."""
    return bench_customers().order_by("document_number").first()
