"""The database connection's own settings."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection


def _database_settings(url: str) -> dict:
    """The default database's settings as config/settings.py makes them for `url`, read
    in a fresh process (the settings are made once per process)."""
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "True"}
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default'], default=str))"
    )
    done = subprocess.run(  # noqa: S603 (this interpreter, our own code)
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_postgresql_connections_are_made_without_jit():
    """JIT compiled the effectiveness report's queries for 0.8 s of its 3.1 s (bench data)."""
    made = _database_settings("postgres://cartera@db.example:5432/cartera")

    assert made["OPTIONS"]["options"] == "-c jit=off"


def test_the_database_urls_own_options_take_its_place():
    made = _database_settings("postgres://cartera@db.example:5432/cartera?options=-c%20jit%3Don")

    assert made["OPTIONS"]["options"] == "-c jit=on"


@pytest.mark.django_db
def test_postgresql_runs_the_connection_without_jit():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's own setting; the two tests above check what is asked of it")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
