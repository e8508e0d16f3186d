"""Measure the gestiones dashboards and an agent's "my work" list over 1,000,000 gestiones.

    make bench                      # SQLite under var/bench.sqlite3
    BENCH_DATABASE_URL=postgres://… make bench
    manage.py bench_gestiones --gestiones 20000 --runs 3

Fills the database once (bulk inserts: a benchmark fixture, not business data, so it
skips the services on purpose) under three gestión types whose codes start with "bench-",
and tops it up when a run asks for more. On PostgreSQL the rows go in with COPY, elsewhere
with bulk_create. The mix: 3 types with 26 states, 40 agents in 10 branches, 6 channels,
5 products, 20 rejection reasons, two years of creation dates, soles and dollars.

Then it rebuilds the dashboards' summary (what beat refreshes every 5 minutes) and prints
how long a full rebuild and a refresh of the changed months take. It times, as the median
of several runs, each dashboard section's request (the page loads each section by itself)
with the default filters (the last 12 months), over all time, with a branch, an agent, a
product and a type filter, and over a range that cuts two months, through Django's test
client (middleware, view, queries, template; no network); checks that every report read
through the summary equals the one grouped from the gestiones; times the page itself, the
page with every section at once (its no-JavaScript form) and the Excel; and an agent's
"my work" list (the first 25 open gestiones by due date, plus their count) and page.

It also runs on a database holding the demo data: types, branches, channels and products
that already exist by name are reused, whatever their codes.
"""

import logging
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.management.base import BaseCommand
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import F, Max
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from crm import roles
from crm.gestiones.models import (
    Gestion,
    GestionState,
    GestionType,
    Outcome,
    RejectionReason,
    SummaryBuild,
)
from crm.gestiones.reports import forms as report_forms
from crm.gestiones.reports import selectors as report_selectors
from crm.gestiones.reports import services as report_services
from crm.gestiones.reports import views as report_views
from crm.management.commands.seed_demo import FIRST_NAMES, LAST_NAMES
from crm.models import Branch, Channel, Customer, Product

SECTION_TARGET_MS = 300
MY_WORK_TARGET_MS = 100
MARKER = "bench-"  # the code prefix of every benchmark type, branch, channel and product
BATCH = 50_000  # gestiones per transaction
CUSTOMER_BATCH = 5_000
GESTIONES_PER_CUSTOMER = 20
AGENTS = 40
BRANCHES = 10
DAYS = 730
OPEN, SUCCESS, REJECTED, CLOSED = Outcome.OPEN, Outcome.SUCCESS, Outcome.REJECTED, Outcome.CLOSED
SECTION_NAMES = {
    "states": "1 Estados",
    "rejections": "2 Rechazos",
    "amounts": "3 Montos",
    "teams": "4 Sucursal y gestor",
    "channels": "5 Canales",
}


@dataclass(frozen=True)
class TypeSpec:
    code: str
    name: str
    weight: int
    product: str
    extra_product: str
    currencies: tuple[tuple[str, int], ...]  # currency and weight
    amount: tuple[int, int] | None  # requested range; None: no money involved
    states: tuple[tuple[str, str, int], ...]  # name, outcome, weight within the outcome
    reasons: tuple[str, ...]


TYPES = (
    TypeSpec(
        code="bench-consumo",
        name="Crédito de consumo",
        weight=55,
        product="Crédito de consumo",
        extra_product="Seguro de desgravamen",
        currencies=(("PEN", 90), ("USD", 10)),
        amount=(500, 60_000),
        states=(
            ("Creado", OPEN, 3),
            ("Pre estudio adm", OPEN, 2),
            ("En estudio", OPEN, 3),
            ("Estudio adm realizado", OPEN, 2),
            ("Condicionado análisis", OPEN, 1),
            ("Aprobado análisis", OPEN, 2),
            ("Desembolsado", SUCCESS, 1),
            ("Rechazado comité de crédito", REJECTED, 5),
            ("Rechazado gerente de negocios", REJECTED, 2),
            ("Rechazada adm cartera", REJECTED, 1),
            ("No califica gerencia de oficina", REJECTED, 3),
            ("Venta no efectiva", REJECTED, 2),
            ("Desistido", CLOSED, 1),
        ),
        reasons=(
            "Baja capacidad de pago",
            "No califica",
            "Sobreendeudado",
            "Historial crediticio",
            "Documentación incompleta",
            "Ingresos no verificables",
            "Edad fuera de rango",
            "Zona de riesgo",
            "Actividad no financiable",
            "Garantía insuficiente",
        ),
    ),
    TypeSpec(
        code="bench-vehicular",
        name="Crédito vehicular",
        weight=30,
        product="Crédito vehicular",
        extra_product="Seguro vehicular",
        currencies=(("USD", 60), ("PEN", 40)),
        amount=(8_000, 120_000),
        states=(
            ("Creado", OPEN, 3),
            ("Evaluación", OPEN, 3),
            ("Tasación", OPEN, 2),
            ("Aprobado", OPEN, 1),
            ("Desembolsado", SUCCESS, 1),
            ("Rechazado comité técnico", REJECTED, 3),
            ("Rechazado consejo ampliado", REJECTED, 1),
            ("Rechazado comité gerencial", REJECTED, 2),
            ("Desistido", CLOSED, 1),
        ),
        reasons=(
            "Baja capacidad de pago",
            "Sobreendeudado",
            "Historial crediticio",
            "Cuota inicial insuficiente",
            "Vehículo no asegurable",
            "Tasación insuficiente",
            "Antigüedad del vehículo",
            "Uso comercial no autorizado",
            "Ingresos no verificables",
            "Documentación incompleta",
        ),
    ),
    TypeSpec(
        code="bench-servicio",
        name="Atención al cliente",
        weight=15,
        product="Tarjeta de crédito",
        extra_product="Seguro de desgravamen",
        currencies=(("PEN", 1),),
        amount=None,
        states=(
            ("Registrada", OPEN, 2),
            ("En atención", OPEN, 3),
            ("Resuelta", SUCCESS, 1),
            ("Cerrada sin solución", CLOSED, 1),
        ),
        reasons=(),
    ),
)
CHANNELS = (
    ("Oficina", 35),
    ("Web", 20),
    ("WhatsApp", 20),
    ("Facebook", 10),
    ("Call center", 10),
    ("Referido", 5),
)
# The gestión's columns as written; every NOT NULL column must be here (checked at start).
COLUMNS = (
    "id",
    "customer_id",
    "gestion_type_id",
    "state_id",
    "outcome",
    "agent_id",
    "branch_id",
    "channel_id",
    "subject",
    "is_time_controlled",
    "state_entered_at",
    "due_at",
    "amount_requested",
    "amount_approved",
    "currency",
    "rejection_reason_id",
    "data",
    "created_at",
    "updated_at",
    "last_follow_up_at",
    "closed_at",
)


@dataclass
class Setup:
    """The configuration rows the benchmark gestiones point at."""

    types: list[tuple[TypeSpec, GestionType, dict[str, list], list[int], int, int]]
    branches: list[Branch]
    channels: list[Channel]
    channel_weights: list[int]
    agents: list[AbstractBaseUser]
    supervisor: AbstractBaseUser


class Command(BaseCommand):
    help = "Mide los tableros de gestiones y «mi trabajo» con un millón de gestiones."

    def add_arguments(self, parser):
        parser.add_argument("--gestiones", type=int, default=1_000_000)
        parser.add_argument("--runs", type=int, default=5, help="Mediciones por caso.")
        parser.add_argument(
            "--without-summary",
            action="store_true",
            help="Mide las secciones sin resumen (agrupando las gestiones), para comparar; "
            "el resumen queda por recalcular.",
        )

    def handle(
        self, *args, gestiones: int, runs: int, without_summary: bool = False, **options
    ) -> None:
        roles.sync_roles()
        setup = self.configure()
        filled = self.fill(setup, gestiones)
        if connection.vendor == "postgresql":
            # Fresh statistics after the load; VACUUM also sets the visibility map, which
            # lets the counts answer from the indexes alone.
            with connection.cursor() as cursor:
                # VACUUM cannot run in a transaction (a test's, for one).
                vacuum = filled and not connection.in_atomic_block
                verb = "VACUUM (ANALYZE)" if vacuum else "ANALYZE"
                cursor.execute(f"{verb} gestiones_gestion, gestiones_gestion_products")
        if without_summary:
            # What a fresh install reads until beat first refreshes the summary.
            SummaryBuild.objects.all().delete()
            self.stdout.write("\nSin resumen: las secciones agrupan las gestiones.")
        else:
            self.bench_summary()
        self.bench_dashboard(setup, runs)
        self.bench_my_work(setup, runs)

    # --- Measuring -----------------------------------------------------------------------

    def bench_summary(self) -> None:
        """Rebuild the dashboards' summary in full, then refresh it as beat does."""
        started = time.perf_counter()
        build = report_services.refresh_summary(full=True)
        full = time.perf_counter() - started
        rows = sum(model.objects.count() for model in report_services.SECTIONS)
        self.stdout.write(
            f"\nResumen de los tableros: recálculo completo {full:.1f} s ({rows:,} filas en "
            f"{build.first_day:%m/%Y}–{build.last_day:%m/%Y})"
            if build.first_day
            else f"\nResumen de los tableros: recálculo completo {full:.1f} s (sin gestiones)"
        )
        months = report_services.changed_months(since=build.built_at - report_services.LOOK_BACK)
        started = time.perf_counter()
        report_services.refresh_summary()
        self.stdout.write(
            f"  refresco cada {report_services.REFRESH_MINUTES} minutos: "
            f"{time.perf_counter() - started:.1f} s ({len(months)} meses con cambios en la "
            f"última hora)"
        )

    def bench_dashboard(self, setup: Setup, runs: int) -> None:
        today = timezone.localdate()
        start = report_forms.default_start(today)
        # The product the benchmark's busiest type links to (the demo's own, if it had one).
        product = Product.objects.get(pk=setup.types[0][4])
        branch = setup.branches[0]
        agent = setup.agents[len(setup.agents) // 2]
        gestion_type = setup.types[1][1]
        # A range that cuts a month at each end: the summary's months and the cut days.
        cut_start, cut_end = months_before(today, 8).replace(day=15), months_before(today, 1)
        cut_end = cut_end.replace(day=10)
        Filters = report_selectors.ReportFilters
        cases = [
            ("12 meses", Filters(start=start, end=today), {}),
            ("todo", Filters(), {"start": "", "end": ""}),
            ("sucursal", Filters(start=start, end=today, branch=branch), {"branch": branch.pk}),
            ("gestor", Filters(start=start, end=today, agent=agent), {"agent": agent.pk}),
            ("producto", Filters(start=start, end=today, product=product), {"product": product.pk}),
            (
                "tipo",
                Filters(start=start, end=today, gestion_type=gestion_type),
                {"gestion_type": gestion_type.pk},
            ),
            (
                "rango",
                Filters(start=cut_start, end=cut_end),
                {"start": cut_start.isoformat(), "end": cut_end.isoformat()},
            ),
        ]
        total = Gestion.objects.count()
        self.stdout.write(
            f"\nTableros de gestiones. Base de datos: {connection.vendor}, {total:,} gestiones; "
            f"mediana de {runs} mediciones (objetivo: < {SECTION_TARGET_MS} ms por sección)"
        )
        self.stdout.write(
            f"Filtros: 12 meses = {start:%d/%m/%Y}–{today:%d/%m/%Y}; sucursal = {branch.name}, "
            f"gestor = {agent.username}, producto = {product.name} y tipo = "
            f"{gestion_type.name}, en los 12 meses; rango = {cut_start:%d/%m/%Y}–"
            f"{cut_end:%d/%m/%Y}; todo = sin filtros."
        )
        summary = report_selectors.summary_build()
        counted = [
            report_selectors.gestiones_by_state(filters, summary).total for _, filters, _ in cases
        ]
        self.stdout.write(self.line("gestiones filtradas", [f"{n:,}" for n in counted]))
        # The summary must give what grouping the gestiones gives, report by report.
        same: list[bool] = []
        if summary is not None:
            reports = (
                report_selectors.gestiones_by_state,
                report_selectors.rejections_by_reason,
                report_selectors.requested_vs_approved,
                report_selectors.branches_and_agents,
                report_selectors.by_channel,
            )
            same = [
                all(report(filters, summary) == report(filters) for report in reports)
                for _, filters, _ in cases
            ]
            self.stdout.write(self.line("= consulta directa", ["sí" if s else "NO" for s in same]))
        self.stdout.write(self.line("caso", [name for name, _, _ in cases]))
        slow = False
        client = Client(SERVER_NAME="localhost")
        client.force_login(setup.supervisor)
        # Each section is its own request (the page loads them one by one): its whole
        # server time, through middleware, view, queries and template.
        for section in report_views.SECTIONS:
            url = reverse("gestiones:dashboard_section", args=[section.key])
            cells = []
            for _, _, params in cases:

                def run(url=url, params=params) -> None:
                    response = client.get(url, params)
                    assert response.status_code == 200, (url, params, response.status_code)

                median = measure(run, runs)
                slow = slow or median >= SECTION_TARGET_MS
                cells.append(f"{median:,.0f} ms")
            self.stdout.write(self.line(SECTION_NAMES[section.key], cells))

        pages = (
            ("página (sin secciones)", "dashboard", {}),
            ("página con todo (sin JS)", "dashboard", {"completo": "1"}),
            ("Excel", "dashboard_xlsx", {}),
        )
        for label, url_name, extra in pages:
            url = reverse(f"gestiones:{url_name}")
            cells = []
            for _, _, params in cases:

                def get(url=url, query=(params, extra)) -> None:
                    response = client.get(url, {**query[0], **query[1]})
                    assert response.status_code == 200, (url, query, response.status_code)

                cells.append(f"{measure(get, runs):,.0f} ms")
            self.stdout.write(self.line(label, cells))
        self.stdout.write("Secciones: " + ("ALGUNA LENTA" if slow else "todas OK"))
        if not all(same):
            self.stdout.write("Cifras: ALGUNA DISTINTA de la consulta directa")

    def bench_my_work(self, setup: Setup, runs: int) -> None:
        from crm.gestiones import selectors

        agent = setup.agents[len(setup.agents) // 2]
        repeat = max(runs * 4, 10)
        my_work = getattr(selectors, "my_work", None)

        def queryset():
            if my_work is not None:
                return my_work(agent)
            return (
                Gestion.objects.filter(agent=agent, outcome=Outcome.OPEN)
                .select_related("customer", "gestion_type", "state", "branch")
                .order_by(F("due_at").asc(nulls_last=True), "id")
            )

        def run() -> None:
            work = queryset()
            list(work[:25])
            work.count()

        median = measure(run, repeat)
        open_count = queryset().count()
        source = "selectors.my_work" if my_work else "consulta directa"
        verdict = "OK" if median < MY_WORK_TARGET_MS else "LENTO"
        self.stdout.write(
            f"\nMi trabajo ({source}: 25 primeras por vencimiento + total), gestor con "
            f"{open_count:,} gestiones en curso; mediana de {repeat} (objetivo: < "
            f"{MY_WORK_TARGET_MS} ms)"
        )
        self.stdout.write(f"  consulta: {median:.1f} ms  {verdict}")
        # The page belongs to the work-list screen: measured when it answers, else skipped.
        client = Client(SERVER_NAME="localhost", raise_request_exception=False)
        client.force_login(agent)
        try:
            url = reverse("gestiones:my_work")
        except NoReverseMatch:
            self.stdout.write("  página completa: sin URL gestiones:my_work, no se mide")
            return
        request_log = logging.getLogger("django.request")
        level = request_log.level
        request_log.setLevel(logging.CRITICAL)
        try:
            status = client.get(url).status_code
        finally:
            request_log.setLevel(level)
        if status != 200:
            self.stdout.write(f"  página completa: responde {status}, no se mide")
            return

        def get() -> None:
            client.get(url)

        page = measure(get, repeat)
        self.stdout.write(f"  página completa: {page:.1f} ms")

    def line(self, name: str, cells: list[str]) -> str:
        return f"{name:<22}" + "".join(f"{cell:>13}" for cell in cells)

    # --- Filling -------------------------------------------------------------------------

    def configure(self) -> Setup:
        """Get or create the types, states, reasons, branches, channels, products and agents."""
        products = {}
        for spec in TYPES:
            for name in (spec.product, spec.extra_product):
                if name not in products:
                    code = MARKER + name.lower().replace(" ", "-")[:20]
                    if name == spec.product:
                        code = spec.code
                    products[name] = named(Product, code, name)
        types = []
        for spec in TYPES:
            gestion_type, _ = GestionType.objects.get_or_create(
                code=spec.code,
                defaults={"name": spec.name, "product": products[spec.product]},
            )
            by_outcome: dict[str, list] = {OPEN: [], SUCCESS: [], REJECTED: [], CLOSED: []}
            for order, (name, outcome, weight) in enumerate(spec.states):
                state, _ = GestionState.objects.get_or_create(
                    gestion_type=gestion_type,
                    name=name,
                    defaults={"order": order, "outcome": outcome, "is_initial": order == 0},
                )
                by_outcome[outcome].append((state.pk, weight))
            reasons = [
                RejectionReason.objects.get_or_create(gestion_type=gestion_type, name=name)[0].pk
                for name in spec.reasons
            ]
            types.append(
                (
                    spec,
                    gestion_type,
                    by_outcome,
                    reasons,
                    products[spec.product].pk,
                    products[spec.extra_product].pk,
                )
            )
        branches = [
            named(Branch, f"{MARKER}ag-{k:02d}", f"Agencia {k:02d}") for k in range(1, BRANCHES + 1)
        ]
        channels = [
            named(Channel, MARKER + name.lower().replace(" ", "-"), name) for name, _ in CHANNELS
        ]
        User = get_user_model()
        asesor = Group.objects.get(name="Asesor")
        rng = random.Random(3)  # noqa: S311 - benchmark data
        agents = []
        for k in range(1, AGENTS + 1):
            user, created = User.objects.get_or_create(
                username=f"bench-gestor-{k:02d}",
                defaults={
                    "first_name": rng.choice(FIRST_NAMES),
                    "last_name": rng.choice(LAST_NAMES),
                },
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                user.groups.add(asesor)
            agents.append(user)
        supervisor, created = User.objects.get_or_create(
            username="bench-supervisor", defaults={"first_name": "Bench", "last_name": "Supervisor"}
        )
        supervisor.groups.add(Group.objects.get(name="Supervisor"))
        return Setup(
            types=types,
            branches=branches,
            channels=channels,
            channel_weights=[weight for _, weight in CHANNELS],
            agents=agents,
            supervisor=supervisor,
        )

    def fill(self, setup: Setup, wanted: int) -> bool:
        """Top the benchmark gestiones up to `wanted`; return whether any were written."""
        have = Gestion.objects.filter(gestion_type__code__startswith=MARKER).count()
        if have >= wanted:
            self.stdout.write(f"\nGestiones de prueba: {have:,}, ya cargadas.")
            return False
        required = {f.column for f in Gestion._meta.concrete_fields if not f.null}
        missing = required - set(COLUMNS)
        assert not missing, f"bench_gestiones does not write the NOT NULL columns {missing}"
        customers = self.customers(max(1, wanted // GESTIONES_PER_CUSTOMER))
        use_copy = connection.vendor == "postgresql"
        self.stdout.write(
            f"\nCreando {wanted - have:,} gestiones de prueba "
            f"({'COPY' if use_copy else 'bulk_create'}, lotes de {BATCH:,})…"
        )
        started = time.perf_counter()
        first_id = (Gestion.objects.aggregate(last=Max("id"))["last"] or 0) + 1
        builder = GestionBuilder(setup, customers, timezone.now(), wanted)
        for start in range(have, wanted, BATCH):
            end = min(start + BATCH, wanted)
            rows, products = builder.rows(start, end, first_id + start - have)
            with transaction.atomic():
                if use_copy:
                    copy_rows(Gestion._meta.db_table, COLUMNS, rows)
                    copy_rows(Gestion.products.through._meta.db_table, PRODUCT_COLUMNS, products)
                else:
                    Gestion.objects.bulk_create(
                        (Gestion(**dict(zip(COLUMNS, row, strict=True))) for row in rows),
                        batch_size=2_000,
                    )
                    Gestion.products.through.objects.bulk_create(
                        (Gestion.products.through(gestion_id=g, product_id=p) for g, p in products),
                        batch_size=5_000,
                    )
            self.stdout.write(f"  {end:,}/{wanted:,} ({time.perf_counter() - started:.0f} s)")
        # Explicit ids leave PostgreSQL's sequence behind; the next real gestión needs it.
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Gestion]):
                cursor.execute(sql)
        return True

    def customers(self, wanted: int) -> list[int]:
        """Return the ids of `wanted` benchmark customers, creating the missing ones."""
        bench = Customer.objects.filter(
            document_type=Customer.DocumentType.PASSPORT, document_number__startswith="G"
        )
        have = bench.count()
        rng = random.Random(5)  # noqa: S311 - benchmark data
        for start in range(have, wanted, CUSTOMER_BATCH):
            rows = []
            for k in range(start, min(start + CUSTOMER_BATCH, wanted)):
                customer = Customer(
                    document_type=Customer.DocumentType.PASSPORT,
                    document_number=f"G{k:09d}",
                    first_name=rng.choice(FIRST_NAMES),
                    last_name=f"{rng.choice(LAST_NAMES)} {rng.choice(LAST_NAMES)}",
                )
                customer.search_text = customer.build_search_text()
                rows.append(customer)
            Customer.objects.bulk_create(rows)
        return list(bench.order_by("id").values_list("id", flat=True)[:wanted])


PRODUCT_COLUMNS = ("gestion_id", "product_id")


def months_before(day: date, months: int) -> date:
    """Return the first day of the month `months` before `day`'s."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def named(model, code: str, name: str):
    """Return the row with this code, else the one with this name, else a new one."""
    row = model.objects.filter(code=code).first() or model.objects.filter(name=name).first()
    return row or model.objects.create(code=code, name=name)


def copy_rows(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Write rows with PostgreSQL's COPY: several times faster than INSERT."""
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor, under Django's wrapper
        with raw.copy(f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def measure(run: Callable[[], None], runs: int) -> float:
    """Return the median milliseconds of `runs` calls, after one to warm caches."""
    run()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


class GestionBuilder:
    """Make benchmark gestiones as rows of COLUMNS, plus their product links.

    Creation dates spread evenly over two years in id order (as real inserts are) with
    some jitter. Recent gestiones are mostly open; older ones mostly finished: about half
    successful, a third rejected (most with a reason) and the rest closed.
    """

    def __init__(self, setup: Setup, customers: list[int], now: datetime, wanted: int):
        self.setup = setup
        self.customers = customers
        self.now = now
        self.wanted = wanted
        self.type_weights = [spec.weight for spec, *_ in setup.types]

    def rows(self, start: int, end: int, first_id: int) -> tuple[list[tuple], list[tuple]]:
        rng = random.Random(start)  # noqa: S311 - a batch is the same whenever it is written
        setup = self.setup
        rows, products = [], []
        span = DAYS * 86_400
        for k in range(start, end):
            gestion_id = first_id + k - start
            seconds = span * (k + rng.random()) / self.wanted
            created = self.now - timedelta(seconds=span - seconds)
            age_days = (self.now - created).days
            spec, gestion_type, by_outcome, reasons, product_id, extra_id = rng.choices(
                setup.types, weights=self.type_weights
            )[0]
            outcome = self.outcome(rng, age_days, by_outcome)
            states = by_outcome[outcome]
            state_id = rng.choices([s for s, _ in states], weights=[w for _, w in states])[0]
            agent_index = rng.randrange(len(setup.agents))
            agent = setup.agents[agent_index] if rng.random() > 0.02 else None
            branch = setup.branches[agent_index % len(setup.branches)]
            channel = rng.choices(setup.channels, weights=setup.channel_weights)[0]
            currency = rng.choices(
                [c for c, _ in spec.currencies], weights=[w for _, w in spec.currencies]
            )[0]
            requested = approved = None
            if spec.amount:
                requested = Decimal(rng.randrange(*spec.amount, 50))
                if outcome == SUCCESS:
                    approved = (requested * Decimal(rng.randint(60, 100)) / 100).quantize(
                        Decimal("1.00")
                    )
            reason = None
            if outcome == REJECTED and reasons and rng.random() > 0.05:
                # A few reasons explain most rejections, as in the seed's table.
                reason = reasons[min(int(rng.expovariate(0.35)), len(reasons) - 1)]
            entered = created + timedelta(hours=rng.randint(0, 24 * min(age_days, 20)))
            closed = entered if outcome != OPEN else None
            due = entered + timedelta(days=rng.randint(1, 10)) if outcome == OPEN else None
            rows.append(
                (
                    gestion_id,
                    self.customers[k % len(self.customers)],
                    gestion_type.pk,
                    state_id,
                    outcome,
                    agent.pk if agent else None,
                    branch.pk if rng.random() > 0.01 else None,
                    channel.pk,
                    "",
                    True,
                    entered,
                    due,
                    requested,
                    approved,
                    currency,
                    reason,
                    "{}" if connection.vendor == "postgresql" else {},
                    created,
                    entered,
                    entered,
                    closed,
                )
            )
            products.append((gestion_id, product_id))
            if rng.random() < 0.3:
                products.append((gestion_id, extra_id))
        return rows, products

    def outcome(self, rng: random.Random, age_days: int, by_outcome: dict[str, list]) -> str:
        open_share = 0.6 if age_days < 30 else 0.25 if age_days < 90 else 0.05
        if rng.random() < open_share:
            return OPEN
        finished = [o for o in (SUCCESS, REJECTED, CLOSED) if by_outcome[o]]
        weights = {SUCCESS: 52, REJECTED: 35, CLOSED: 13}
        return rng.choices(finished, weights=[weights[o] for o in finished])[0]
