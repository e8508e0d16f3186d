"""Time what `make run` does before serving: migrate an empty database and load the demo.

    make bench
    python manage.py bench_demo_load [--database-url postgres://…/empty_db]

Each step runs as its own `manage.py` process, as `make run` runs it, against a new
SQLite file in a temporary folder (deleted afterwards) or against the empty database
given. The target is the demo data (the seven seed commands) in under a minute.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

TARGET_SECONDS = 60
MIGRATE = ("migrate", "--noinput", "-v0")
SEEDS = (
    ("seed_demo", "--demo-instance"),  # a throwaway database: DEBUG may be off here
    ("seed_credits",),
    ("seed_callcenter",),
    ("seed_gestiones",),
    ("seed_collections",),
    ("seed_strategies",),
    ("seed_recovery",),
)


class Command(BaseCommand):
    help = "Mide cuánto tardan las migraciones y la carga de los datos de demostración."

    def add_arguments(self, parser):
        parser.add_argument(
            "--database-url",
            default="",
            help="Una base VACÍA donde medir (por omisión, un SQLite nuevo y temporal).",
        )

    def handle(self, *args, database_url, **options):
        with tempfile.TemporaryDirectory(prefix="cartera-demo-") as folder:
            url = database_url or f"sqlite:///{Path(folder) / 'demo.sqlite3'}"
            # Its own files too: queued tasks, cache and uploads stay in the temporary
            # folder instead of reaching the worker of the database in use.
            environment = {
                **os.environ,
                "DATABASE_URL": url,
                "VAR_DIR": str(Path(folder) / "var"),
                "MEDIA_ROOT": str(Path(folder) / "var" / "media"),
                "REDIS_URL": "",
                "DEBUG": "True",
            }
            self.stdout.write(f"Base: {'la indicada' if database_url else 'SQLite temporal'}")
            migrate = self.step(MIGRATE, environment)
            seeds = sum(self.step(command, environment) for command in SEEDS)
        verdict = "OK" if seeds < TARGET_SECONDS else "LENTO"
        self.stdout.write(
            f"Datos de demostración: {seeds:.1f} s (objetivo < {TARGET_SECONDS} s) {verdict}; "
            f"con las migraciones: {migrate + seeds:.1f} s"
        )

    def step(self, arguments: tuple[str, ...], environment: dict) -> float:
        started = time.perf_counter()
        done = subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *arguments],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if done.returncode:
            raise CommandError(f"{' '.join(arguments)} falló:\n{done.stderr[-2000:]}")
        self.stdout.write(f"  {arguments[0]:<16} {elapsed:6.1f} s")
        return elapsed
