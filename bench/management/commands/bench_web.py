"""Time the app's pages as users meet them, next to two anchors, in one run.

    make bench-web                       # PostgreSQL and Redis of its own under var/
    manage.py bench_web --settings=bench.settings --seconds 3 --rounds 3

Builds the data set once on PostgreSQL (150,000 customers, 100,000 queued leads, 43,000
loans with 1,000,000 installments, 1,000,000 gestiones, 1,000,000 messages in 100,000
conversations; bulk inserts that skip the
services, as the other bench commands do, and only top up what is missing, so it also
runs on a database holding the demo), starts gunicorn with production settings (DEBUG
off, 2 workers, persistent connections, the Redis cache), and drives every page with
wrk: 4 clients for a fixed time, several rounds, anchors and pages interleaved so that
the machine's drift hits them alike. The anchors are served by the same gunicorn in the
same run: a signed-in view that does nothing, a signed-in 50-row plain Django-template
table, and a POST that inserts one row.

Prints one table: page, requests per second, p50 and p95, the ratio to each anchor, the
queries one request ran, and whether the row meets its target (issue 14):
- list and detail pages: at least 0.5 x the 50-row table;
- a signed-in page that does nothing (/healthz with a session): at least 0.8 x the bare
  view;
- the Kommo and MercadoPago webhooks: at least 0.7 x the bare insert (MercadoPago's
  notifications signed beforehand, a new payment each);
- the collection bot's debt lookup (a bearer token, a different debtor each request) and
  the portal's account statement (a debtor's portal session): at least 0.5 x the table;
- reports and dashboards: p95 under 300 ms for one client at a time.
Exits with status 1 when a row misses its target.
"""

import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from bench.views import INSERT_TABLE
from callcenter.management.commands import bench_callcenter
from callcenter.models import Lead
from collections_app.management.commands import bench_conversations
from collections_app.portal import services as portal_services
from collections_app.portal import session as portal_session
from credits.management.commands import bench_credits
from credits.models import Loan
from crm import roles
from crm.gestiones import tasks as gestion_tasks
from crm.gestiones.management.commands import bench_gestiones
from crm.gestiones.models import Gestion, Outcome
from crm.gestiones.reports import views as report_views
from crm.management.commands import bench_customers
from crm.models import Customer, Message
from integrations import api_clients
from integrations.models import ApiClient

CUSTOMERS = 150_000
LEADS = 100_000
INSTALLMENTS = 1_000_000
GESTIONES = 1_000_000
MESSAGES = 1_000_000
CLIENTS = 4
PAGE_RATIO = 0.5
FLOOR_RATIO = 0.8
WEBHOOK_RATIO = 0.7
REPORT_MS = 300
KOMMO_SECRET = "bench-kommo-secret"  # noqa: S105 - the bench's own gunicorn only
MERCADOPAGO_SECRET = "bench-mercadopago-secret"  # noqa: S105 - the bench's own gunicorn only
# Signed MercadoPago notifications each wrk thread can send in one measurement: more than
# the fastest webhook answers in a few seconds, so none repeats (a repeat inserts nothing).
MERCADOPAGO_SIGNED = 30_000
MERCADOPAGO_TS = "1764842400"
KOMMO_SUBDOMAIN = "bench"

# wrk's report, one line: requests, microseconds, p50 and p95 in microseconds, non-2xx/3xx
# answers, socket errors.
LUA_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""
# A Kommo delivery per request, each a new lead change (so a new inbox row), as Kommo
# sends them: form-encoded, with the account.
LUA_KOMMO = (
    """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local counter = 0
local nonce = "0"
init = function(args) nonce = args[1] end
request = function()
  counter = counter + 1
  local lead = nonce .. tostring(tid) .. string.format("%07d", counter)
  local body = "leads[status][0][id]=" .. lead .. "&leads[status][0][status_id]=142"
    .. "&leads[status][0][pipeline_id]=3508507&leads[status][0][last_modified]=" .. counter
    .. "&account[subdomain]=bench&account[id]=1"
  return wrk.format("POST", nil,
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
"""
    + LUA_REPORT
)
# A MercadoPago payment notification per request, each about a new payment (so a new inbox
# row), signed as MercadoPago signs them. wrk's Lua has no HMAC: the bench signs them
# beforehand, a list per thread, in the file named by the second argument.
LUA_MERCADOPAGO = (
    """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local counter = 0
local signed = {}
init = function(args) signed = dofile(args[2])[tid] end
request = function()
  counter = counter + 1
  local n = signed[counter]
  local body = '{"action":"payment.updated","api_version":"v1","data":{"id":"' .. n[1]
    .. '"},"date_created":"2026-12-04T10:00:00Z","id":' .. n[1]
    .. ',"live_mode":true,"type":"payment","user_id":202809963}'
  return wrk.format("POST", wrk.path .. "?data.id=" .. n[1] .. "&type=payment",
    {["Content-Type"] = "application/json", ["x-request-id"] = n[2], ["x-signature"] = n[3]},
    body)
end
"""
    + LUA_REPORT
)
# The collection bot's debt lookup, for a different debtor each time (the API also limits
# requests per document): documents of customers with loans, from the file named by the
# second argument.
LUA_BOT_LOOKUP = (
    """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local documents = {}
local base = ""
init = function(args)
  documents = dofile(args[2])
  base = wrk.path:match("^[^?]*")
  math.randomseed(tid * 7919)
end
request = function()
  local document = documents[math.random(#documents)]
  return wrk.format("GET", base .. "?tipo_documento=passport&numero_documento=" .. document)
end
"""
    + LUA_REPORT
)
LUA_INSERT = (
    """
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"},
    "leads[status][0][id]=" .. counter .. "&account[subdomain]=bench&account[id]=1")
end
"""
    + LUA_REPORT
)


@dataclass
class Target:
    name: str
    path: str
    kind: str  # bare, table, insert (anchors); page, floor, webhook, report
    user: str = "supervisor"  # whose session: supervisor, agent, advisor, debtor, none
    runs: list[tuple[int, float, float, float]] = field(default_factory=list)
    queries: int | None = None
    # The request wrk sends, when not the kind's: "mercadopago" (signed notifications).
    script: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return "POST" if self.kind in ("insert", "webhook") else "GET"

    @property
    def clients(self) -> int:
        # A report's target is the time of one request: one client at a time.
        return 1 if self.kind == "report" else CLIENTS

    @property
    def rate(self) -> float:
        requests = sum(r[0] for r in self.runs)
        seconds = sum(r[1] for r in self.runs)
        return requests / seconds if seconds else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(r[2] for r in self.runs)

    @property
    def p95(self) -> float:
        return statistics.median(r[3] for r in self.runs)


class Command(BaseCommand):
    help = "Mide las páginas bajo gunicorn junto a dos anclas (vista vacía y tabla de 50 filas)."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=int, default=4, help="Segundos por medición.")
        parser.add_argument("--rounds", type=int, default=3, help="Rondas intercaladas.")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument(
            "--only",
            default="",
            help="Solo las filas cuyo nombre contiene esto (varias: separadas por |).",
        )
        parser.add_argument(
            "--no-fill", action="store_true", help="Medir sin completar los datos (pruebas)."
        )

    def handle(self, *args, seconds, rounds, port, workers, only, no_fill, **options):
        self.check_ready()
        roles.sync_roles()
        if not no_fill:
            self.fill()
        self.refresh_precomputed()
        self.prepare_anchor_table()
        cookies = self.sessions()
        targets = self.targets()
        if only:
            keep = [part.strip() for part in only.lower().split("|") if part.strip()]
            targets = [t for t in targets if t.kind in ("bare", "table", "insert")] + [
                t
                for t in targets
                if t.kind not in ("bare", "table", "insert")
                and any(part in t.name.lower() for part in keep)
            ]
        self.stdout.write("Recolectando archivos estáticos…")
        call_command("collectstatic", interactive=False, verbosity=0)
        with self.gunicorn(port, workers) as base:
            for target in targets:
                self.check_answer(base, target, cookies)
            self.stdout.write(
                f"Midiendo {len(targets)} filas: {rounds} rondas de {seconds} s cada una, "
                f"{CLIENTS} clientes (1 en los reportes)…"
            )
            with tempfile.TemporaryDirectory() as scripts:
                for round_number in range(rounds):
                    for target in targets:
                        target.runs.append(
                            self.wrk(base, target, cookies, seconds, Path(scripts), round_number)
                        )
                    self.stdout.write(f"  ronda {round_number + 1}/{rounds} lista")
            for target in targets:
                target.queries = self.count_queries(base, target, cookies)
        failed = self.report(targets)
        if failed:
            sys.exit(1)

    # --- Data --------------------------------------------------------------------------

    def check_ready(self) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "bench_web mide sobre PostgreSQL: defina DATABASE_URL=postgres://… "
                "(make bench-web inicia uno propio)."
            )
        if not settings.REDIS_URL:
            raise CommandError("bench_web usa la caché de Redis: defina REDIS_URL.")
        if settings.DEBUG:
            raise CommandError("bench_web mide con DEBUG apagado: use --settings=bench.settings.")
        if not shutil.which("wrk"):
            raise CommandError(
                "Falta wrk (paquete Debian 'wrk'): apt-get install wrk, o use make bench-web."
            )

    def fill(self) -> None:
        started = time.monotonic()
        self.stdout.write("Datos: clientes, leads, créditos y gestiones (solo lo que falte)…")
        customers = bench_customers.Command(stdout=self.stdout)
        customers.fill(CUSTOMERS, 5_000)
        bench_callcenter.Command(stdout=self.stdout).fill(LEADS)
        bench_credits.Command(stdout=self.stdout).fill(INSTALLMENTS)
        gestiones = bench_gestiones.Command(stdout=self.stdout)
        gestiones.fill(gestiones.configure(), GESTIONES)
        bench_conversations.Command(stdout=self.stdout).fill(MESSAGES)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(
            f"  {Customer.objects.count():,} clientes, "
            f"{Lead.objects.count():,} leads, {Loan.objects.count():,} créditos, "
            f"{Gestion.objects.count():,} gestiones ({time.monotonic() - started:.0f} s)"
        )

    def refresh_precomputed(self) -> None:
        """Bring the dashboards' summary up to date, as beat keeps it (every 5 minutes).

        A fresh bench database had none: its sections grouped the million gestiones, as a
        fresh install does until the first refresh, and measured 220–500 ms.
        """
        started = time.monotonic()
        self.stdout.write("Resumen de los tableros de gestiones (lo que beat refresca)…")
        seconds = gestion_tasks.refresh_report_summary()
        self.stdout.write(f"  {seconds:.1f} s ({time.monotonic() - started:.0f} s en total)")

    def prepare_anchor_table(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {INSERT_TABLE} (id bigserial PRIMARY KEY, body text)"
            )
            cursor.execute(f"TRUNCATE {INSERT_TABLE}")

    def users(self) -> dict:
        """Return the bench's signed-in people by role: who uses each page."""
        model = get_user_model()
        people = {}
        for key, username, group in (
            ("supervisor", "bench_supervisor", "Supervisor"),
            ("agent", "bench_agente", "Agente call center"),
            ("collections", "bench_cobranzas", "Cobranzas"),
        ):
            user, _ = model.objects.get_or_create(
                username=username, defaults={"first_name": "Bench", "last_name": group}
            )
            user.groups.add(Group.objects.get(name=group))
            people[key] = user
        # "My work" of the bench agent with the most open gestiones.
        busiest = (
            Gestion.objects.filter(gestion_type__code__startswith=bench_gestiones.MARKER)
            .filter(outcome=Outcome.OPEN)
            .values("agent")
            .annotate(n=Count("id"))
            .order_by("-n")
            .first()
        )
        if busiest:
            advisor = model.objects.get(pk=busiest["agent"])
            advisor.groups.add(Group.objects.get(name="Asesor"))
            people["advisor"] = advisor
        return people

    def sessions(self) -> dict[str, str]:
        """Sign each bench user in once; return the Cookie header of each."""
        self.people = self.users()
        cookies = {"none": "", "debtor": self.debtor_cookie()}
        for key, user in self.people.items():
            client = Client()
            client.force_login(user)
            cookies[key] = (
                f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
            )
        return cookies

    def targets(self) -> list[Target]:
        self.give_debtors_valid_documents()
        rich = Customer.objects.get(document_number=str(bench_customers.BENCH_DNI_START))
        loan = Loan.objects.filter(product__name=bench_credits.MARKER).order_by("pk").first()
        gestion = (
            Gestion.objects.filter(gestion_type__code__startswith=bench_gestiones.MARKER)
            .order_by("-pk")
            .first()
        )
        lead = Lead.objects.order_by("-pk").first()
        kommo = reverse("callcenter:kommo_webhook", args=[KOMMO_SECRET])
        rows = [
            Target("ancla: vista vacía con sesión", "/bench/bare/", "bare"),
            Target("ancla: tabla de 50 filas", "/bench/table/", "table"),
            Target("ancla: POST que inserta 1 fila", "/bench/insert/", "insert", "none"),
            Target("/healthz con sesión", reverse("healthz"), "floor"),
            # What every open page asks each minute: the unread count, a fragment.
            Target("campana de avisos (HTMX)", reverse("gestiones:notifications_badge"), "page"),
            Target("clientes, página 1", reverse("crm:customer_list"), "page"),
            Target(
                "clientes, búsqueda nombre", reverse("crm:customer_list") + "?q=rosa+huaman", "page"
            ),
            Target(
                "clientes, búsqueda documento", reverse("crm:customer_list") + "?q=70051234", "page"
            ),
            Target("cliente 360", rich.get_absolute_url(), "page"),
            Target(
                "conversaciones (1.000.000 de mensajes)",
                reverse("collections_app:conversation_list"),
                "page",
                "collections",
            ),
            Target(
                "conversación, detalle",
                reverse("collections_app:conversation_detail", args=[busiest_conversation()]),
                "page",
                "collections",
            ),
            Target("créditos", reverse("credits:loan_list"), "page"),
            Target("crédito, detalle", reverse("credits:loan_detail", args=[loan.pk]), "page"),
            Target("gestiones, todas", reverse("gestiones:list"), "page"),
            Target("gestión, detalle", reverse("gestiones:detail", args=[gestion.pk]), "page"),
            Target("cola del call center", reverse("callcenter:queue"), "page", "agent"),
            Target(
                "lead, detalle", reverse("callcenter:lead_detail", args=[lead.pk]), "page", "agent"
            ),
            Target("webhook Kommo (POST)", kommo, "webhook", "none"),
            Target(
                "webhook MercadoPago (POST)",
                reverse("collections_app:mercadopago_webhook"),
                "webhook",
                "none",
                script="mercadopago",
            ),
            Target(
                "bot: consulta de deuda (API)",
                reverse("api-v1:bot_lookup")
                + f"?tipo_documento=passport&numero_documento={loan.customer.document_number}",
                "page",
                "none",
                script="bot_lookup",
                headers={"Authorization": f"Bearer {self.bot_token()}"},
            ),
            Target(
                "portal: estado de cuenta",
                reverse("collections_app:portal_statement"),
                "page",
                "debtor",
            ),
            Target("cartera por tramos", reverse("credits:portfolio_report"), "report"),
            Target("tableros de gestiones", reverse("gestiones:dashboard"), "report"),
        ]
        if "advisor" in self.people:
            rows.insert(
                12,
                Target("mi trabajo (gestiones)", reverse("gestiones:my_work"), "page", "advisor"),
            )
        for key in self.dashboard_sections():
            rows.append(
                Target(
                    f"tablero, sección {key}",
                    reverse("gestiones:dashboard_section", args=[key]),
                    "report",
                )
            )
        return rows

    def debtor_cookie(self) -> str:
        """A portal session of a bench customer with loans who saw the statement already
        (as a debtor who reloads it): what the portal holds after the one-time code.

        The debtor with the fewest loans: the bench's loans fall on a few thousand
        customers (7 to 50 each), where a lender's debtor has one to three.
        """
        fewest = (
            Loan.objects.filter(product__name=bench_credits.MARKER, status__in=Loan.LIVE)
            .values("customer_id")
            .annotate(n=Count("id"))
            .order_by("n", "customer_id")
            .first()
        )
        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store[portal_session.VISITOR] = {
            "customer": fewest["customer_id"],
            "visit": "bench",
            # Far enough ahead that no run idles out; a real visit notes its activity.
            "seen_at": time.time() + 86_400,
            "steps": [portal_services.Step.IDENTIFIED, portal_services.Step.STATEMENT],
        }
        store.create()
        return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"

    def bot_token(self) -> str:
        """Give the bench's API client a new token, with a limit no bench reaches."""
        client = ApiClient.objects.filter(name="bench").first() or ApiClient(
            name="bench", scopes="collections"
        )
        client.rate_limit_per_minute = 10**9
        client.is_active = True
        token = api_clients.assign_token(client)
        client.save()
        api_clients.forget(client)
        return token

    def give_debtors_valid_documents(self) -> None:
        """The loans bench writes its customers' passports as "B000000123-004", which no
        passport is; the bot's API checks a document as a person types it. Rewrite them,
        once, as "B000012345" (the customer's id): valid, and unique."""
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE crm_customer SET document_number = 'B' || lpad(id::text, 9, '0') "
                "WHERE document_type = 'passport' AND document_number LIKE 'B%%-%%'"
            )

    def debtor_documents(self, folder: Path) -> Path:
        """Write, once, the Lua list of documents of the bench's customers with loans."""
        path = folder / "debtor-documents.lua"
        if not path.exists():
            documents = (
                Loan.objects.filter(product__name=bench_credits.MARKER, status__in=Loan.LIVE)
                .values_list("customer__document_number", flat=True)
                .distinct()[:20_000]
            )
            path.write_text("return {" + ",".join(f'"{d}"' for d in documents) + "}")
        return path

    def dashboard_sections(self) -> list[str]:
        return [section.key for section in report_views.SECTIONS]

    # --- Serving and measuring ---------------------------------------------------------

    def gunicorn(self, port: int, workers: int):
        command = self

        class Server:
            def __enter__(self):
                if _port_in_use(port):
                    raise CommandError(f"El puerto {port} está ocupado: use --port.")
                env = {
                    **os.environ,
                    "DJANGO_SETTINGS_MODULE": "bench.settings",
                    "KOMMO_WEBHOOK_SECRET": KOMMO_SECRET,
                    "KOMMO_SUBDOMAIN": KOMMO_SUBDOMAIN,
                    "KOMMO_ACCOUNT_ID": "1",
                    "MERCADOPAGO_WEBHOOK_SECRET": MERCADOPAGO_SECRET,
                    # Counted as in production, but a few thousand debtors asked about
                    # again and again within a minute must not run into the limit.
                    "BOT_API_DOCUMENT_RATE_LIMIT": "1000000/m",
                }
                self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log")
                self.process = subprocess.Popen(  # noqa: S603 - our own gunicorn
                    [
                        str(Path(sys.executable).with_name("gunicorn")),
                        "config.wsgi:application",
                        f"--bind=127.0.0.1:{port}",
                        f"--workers={workers}",
                        "--worker-class=sync",
                        "--error-logfile=-",
                    ],
                    env=env,
                    stdout=self.log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    if self.process.poll() is not None:
                        raise CommandError(f"gunicorn se detuvo: {self.output()}")
                    try:
                        urllib.request.urlopen(base + "/healthz", timeout=2)  # noqa: S310
                        break
                    except OSError:
                        time.sleep(0.2)
                else:
                    raise CommandError(f"gunicorn no respondió en 30 s: {self.output()}")
                command.stdout.write(f"gunicorn: {workers} procesos en {base}")
                return base

            def output(self) -> str:
                self.log.flush()
                return Path(self.log.name).read_text(errors="replace")[-2000:]

            def __exit__(self, *exc):
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.log.close()
                return False

        return Server()

    def check_answer(self, base: str, target: Target, cookies: dict) -> None:
        """Fail before timing a page that does not answer 200 (a redirect to the login)."""
        status, _ = _request(base, target, cookies, count=False)
        if status != 200:
            raise CommandError(f"{target.name}: {target.path} respondió {status}, no 200.")

    def count_queries(self, base: str, target: Target, cookies: dict) -> int | None:
        """Return the page's queries once the workers are warm: the fewest of a few asks
        (a worker's first view also loads its copies of the small tables, lib.small_tables)."""
        counts = []
        for _ in range(4):
            _status, headers = _request(base, target, cookies, count=True)
            value = headers.get("X-Bench-Queries")
            if value is not None:
                counts.append(int(value))
        return min(counts) if counts else None

    def wrk(self, base, target, cookies, seconds, scripts: Path, round_number: int):
        script = scripts / f"{target.script or target.kind}.lua"
        if not script.exists():
            lua = {"webhook": LUA_KOMMO, "insert": LUA_INSERT}.get(target.kind, LUA_REPORT)
            lua = {"mercadopago": LUA_MERCADOPAGO, "bot_lookup": LUA_BOT_LOOKUP}.get(
                target.script, lua
            )
            script.write_text(lua)
        command = [
            "wrk",
            f"--threads={min(target.clients, 2)}",
            f"--connections={target.clients}",
            f"--duration={seconds}s",
            "--timeout=10s",
            f"--script={script}",
        ]
        if cookies[target.user]:
            command.append(f"--header=Cookie: {cookies[target.user]}")
        command += [f"--header={name}: {value}" for name, value in target.headers.items()]
        # Lead ids no run has used: the round and a random number, then the thread and a counter.
        nonce = f"{round_number + 1}{random.randint(100_000, 999_999)}"  # noqa: S311
        command += [base + target.path, "--", nonce]
        if target.script == "mercadopago":
            command.append(str(_signed_notifications(scripts, nonce, threads=2)))
        elif target.script == "bot_lookup":
            command.append(str(self.debtor_documents(scripts)))
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        match = re.search(r"^BENCH (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", result.stdout, re.M)
        if not match:
            raise CommandError(f"wrk falló en {target.name}: {result.stdout} {result.stderr}")
        requests, micros, p50, p95, bad_status, socket_errors = map(int, match.groups())
        if bad_status or socket_errors:
            raise CommandError(
                f"{target.name}: {bad_status} respuestas de error y {socket_errors} errores "
                "de conexión durante la medición."
            )
        return requests, micros / 1e6, p50 / 1000, p95 / 1000

    # --- Report ------------------------------------------------------------------------

    def report(self, targets: list[Target]) -> bool:
        self.stdout.write(
            f"\nPostgreSQL {connection.pg_version // 10000}, "
            f"{Customer.objects.count():,} clientes, "
            f"{Lead.objects.count():,} leads, {Loan.objects.count():,} créditos, "
            f"{Gestion.objects.count():,} gestiones. gunicorn, DEBUG apagado, caché Redis.\n"
        )
        return self.print_table(targets)

    def print_table(self, targets: list[Target]) -> bool:
        """Print the table; return whether a row missed its target."""
        anchors = {t.kind: t for t in targets if t.kind in ("bare", "table", "insert")}
        bare, table, insert = anchors["bare"].rate, anchors["table"].rate, anchors["insert"].rate
        header = (
            f"{'página':<34}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}"
            f"{'× vacía':>9}{'× tabla':>9}{'consultas':>10}  objetivo"
        )
        self.stdout.write(header)
        self.stdout.write("-" * len(header) + "-" * 22)
        failed = False
        for t in targets:
            ratio_bare = t.rate / bare if bare else 0
            ratio_table = t.rate / table if table else 0
            if t.kind == "page":
                ok, goal = ratio_table >= PAGE_RATIO, f"≥ {PAGE_RATIO} × tabla"
            elif t.kind == "floor":
                ok, goal = ratio_bare >= FLOOR_RATIO, f"≥ {FLOOR_RATIO} × vacía"
            elif t.kind == "webhook":
                ratio_bare = t.rate / insert if insert else 0
                ok, goal = ratio_bare >= WEBHOOK_RATIO, f"≥ {WEBHOOK_RATIO} × POST"
            elif t.kind == "report":
                ok, goal = t.p95 < REPORT_MS, f"p95 < {REPORT_MS} ms (1 cliente)"
            else:
                ok, goal = True, "ancla"
            failed |= not ok
            queries = "-" if t.queries is None else str(t.queries)
            bare_cell = "-" if t.kind in ("bare", "insert") else f"{ratio_bare:.2f}"
            table_cell = "-" if t.kind in ("table", "insert", "webhook") else f"{ratio_table:.2f}"
            self.stdout.write(
                f"{t.name[:33]:<34}{t.rate:>8.0f}{t.p50:>9.1f}{t.p95:>9.1f}"
                f"{bare_cell:>9}{table_cell:>9}{queries:>10}  {goal} {'OK' if ok else 'NO'}"
            )
        self.stdout.write(
            "\n× vacía: req/s de la fila ÷ req/s de la vista vacía con sesión (el webhook: ÷ el "
            "POST que inserta 1 fila); × tabla: ÷ la tabla de 50 filas. Misma corrida, "
            f"mediciones intercaladas, {CLIENTS} clientes."
        )
        return failed


def _request(base: str, target: Target, cookies: dict, *, count: bool):
    data = None
    headers = {}
    if cookies[target.user]:
        headers["Cookie"] = cookies[target.user]
    if count:
        headers["X-Bench-Queries"] = "1"
    headers.update(target.headers)
    path = target.path
    if target.script == "mercadopago":
        payment = str(random.randint(10**12, 10**13))  # noqa: S311 - a payment no run has used
        request_id = f"bench-check-{payment}"
        path += f"?data.id={payment}&type=payment"
        data = json.dumps(
            {
                "action": "payment.updated",
                "api_version": "v1",
                "data": {"id": payment},
                "id": int(payment),
                "type": "payment",
            }
        ).encode()
        headers.update(
            {
                "Content-Type": "application/json",
                "x-request-id": request_id,
                "x-signature": _mercadopago_signature(payment, request_id),
            }
        )
    elif target.method == "POST":
        stamp = random.randint(10**12, 10**13)  # noqa: S311 - a lead id no run has used
        data = (
            f"leads[status][0][id]={stamp}&leads[status][0][status_id]=142"
            "&leads[status][0][pipeline_id]=3508507&leads[status][0][last_modified]=1"
            "&account[subdomain]=bench&account[id]=1"
        ).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(base + path, data=data, headers=headers)  # noqa: S310
    try:
        with opener.open(request, timeout=30) as response:
            response.read()
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def _mercadopago_signature(data_id: str, request_id: str) -> str:
    """Sign a notification as MercadoPago does (integrations.mercadopago.verify_webhook)."""
    manifest = f"id:{data_id};request-id:{request_id};ts:{MERCADOPAGO_TS};"
    digest = hmac.new(MERCADOPAGO_SECRET.encode(), manifest.encode(), hashlib.sha256)
    return f"ts={MERCADOPAGO_TS},v1={digest.hexdigest()}"


def _signed_notifications(folder: Path, nonce: str, *, threads: int) -> Path:
    """Write the Lua file of signed notifications for one wrk run: a list per thread of
    {payment id, request id, x-signature}, ids no other run uses."""
    path = folder / f"mercadopago-{nonce}.lua"
    lines = ["return {"]
    for thread in range(1, threads + 1):
        lines.append("{")
        for counter in range(1, MERCADOPAGO_SIGNED + 1):
            payment = f"{nonce}{thread}{counter:07d}"
            request_id = f"bench-{payment}"
            signature = _mercadopago_signature(payment, request_id)
            lines.append(f'{{"{payment}","{request_id}","{signature}"}},')
        lines.append("},")
    lines.append("}")
    path.write_text("\n".join(lines))
    return path


def busiest_conversation() -> int:
    """The customer whose conversation the bench opens: one with bench messages."""
    message = Message.objects.filter(provider=bench_conversations.MARKER).order_by("pk").first()
    return message.customer_id if message else Customer.objects.order_by("pk").first().pk


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
