"""Time pages in-process next to the anchors: the quick loop while working on a page.

    DJANGO_SETTINGS_MODULE=bench.settings manage.py bench_page /clientes/ /creditos/
    ... bench_page --user bench_agente --runs 50 /call-center-queue/

Django's test client, no network and no gunicorn: each URL's median and p90 over the
runs, and its ratio to the 50-row table anchor timed in the same loop. `make bench-web`
is the measure that counts; this one is for finding where a page's time goes.
"""

import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

ANCHORS = ("/bench/bare/", "/bench/table/")


class Command(BaseCommand):
    help = "Mide páginas en el proceso (cliente de pruebas) junto a las anclas."

    def add_arguments(self, parser):
        parser.add_argument("urls", nargs="+")
        parser.add_argument("--user", default="bench_supervisor")
        parser.add_argument("--runs", type=int, default=30)
        parser.add_argument("--htmx", action="store_true", help="Pedir el fragmento HTMX.")

    def handle(self, *args, urls, user, runs, htmx, **options):
        try:
            person = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No existe el usuario {user} (lo crea make bench-web).") from None
        client = Client(SERVER_NAME="127.0.0.1")
        client.force_login(person)
        headers = {"HX-Request": "true"} if htmx else {}
        urls = [*ANCHORS, *urls]
        for url in urls:  # warm the caches and the connection
            for _ in range(3):
                status = client.get(url, headers=headers).status_code
                if status != 200:
                    raise CommandError(f"{url} respondió {status}.")
        timings = {url: [] for url in urls}
        for _ in range(runs):  # interleaved, so drift hits every URL alike
            for url in urls:
                started = time.perf_counter()
                client.get(url, headers=headers)
                timings[url].append((time.perf_counter() - started) * 1000)
        table = statistics.median(timings["/bench/table/"])
        self.stdout.write(f"{'url':<48}{'mediana':>9}{'p90':>9}{'× tabla':>9}{'consultas':>10}")
        for url in urls:
            values = sorted(timings[url])
            median = statistics.median(values)
            with CaptureQueriesContext(connection) as queries:
                client.get(url, headers=headers)
            self.stdout.write(
                f"{url[:47]:<48}{median:>7.1f}ms{values[int(len(values) * 0.9)]:>7.1f}ms"
                f"{table / median:>9.2f}{len(queries):>10}"
            )
