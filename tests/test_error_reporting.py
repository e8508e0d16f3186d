"""Who hears of server errors comes from the environment: ADMINS by e-mail, Sentry by DSN.

Settings are read once, when a process starts: each test starts one with its environment.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
REPORT = """
import json
import django
import sentry_sdk
from django.conf import settings

django.setup()
client = sentry_sdk.get_client()
print(json.dumps({
    "admins": settings.ADMINS,
    "sentry_active": client.is_active(),
    "send_default_pii": client.options.get("send_default_pii"),
    "max_request_body_size": client.options.get("max_request_body_size"),
    "integrations": sorted(getattr(client, "integrations", {})),
}))
"""


def start_with(**environment: str) -> subprocess.CompletedProcess:
    """Start a process on the production settings with this environment; return its run."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SENTRY_", "ADMINS", "DJANGO_SETTINGS_MODULE"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="False",
        SECRET_KEY="tests-only-secret-key-not-used-anywhere-else-0123456789",
        **environment,
    )
    # This interpreter and a fixed script: nothing comes from outside.
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", REPORT],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def report(**environment: str) -> dict:
    run = start_with(**environment)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_admins_come_from_the_environment():
    admins = report(
        ADMINS='Ana Pérez <ana@example.pe>, ops@example.pe, "Díaz, Bruno" <b@example.pe>'
    )["admins"]

    assert admins == [
        ["Ana Pérez", "ana@example.pe"],
        ["", "ops@example.pe"],
        ["Díaz, Bruno", "b@example.pe"],
    ]


def test_no_admins_by_default():
    assert report()["admins"] == []


@pytest.mark.parametrize("value", ["ana", "Ana Pérez", "ana@, ops@example.pe", "a@b@c"])
def test_admins_that_are_not_addresses_stop_the_start(value):
    run = start_with(ADMINS=value)

    assert run.returncode != 0
    assert "ADMINS must be e-mail addresses" in run.stderr


def test_sentry_is_off_without_a_dsn():
    assert report()["sentry_active"] is False


def test_sentry_reports_requests_and_tasks_without_personal_data_when_a_dsn_is_set():
    # Nothing is sent: no error happens in the process.
    sentry = report(SENTRY_DSN="https://public@sentry.example.invalid/1")

    assert sentry["sentry_active"] is True
    assert {"django", "celery"} <= set(sentry["integrations"])
    assert sentry["send_default_pii"] is False
    assert sentry["max_request_body_size"] == "never"


def test_a_request_for_another_host_is_a_400_mailed_to_nobody(client, settings, mailoutbox):
    # Every scanner sends some: an e-mail to ADMINS each time would bury the real errors.
    settings.ADMINS = [("Soporte", "soporte@cartera.test")]
    settings.ALLOWED_HOSTS = ["cartera.test"]

    response = client.get("/healthz", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert mailoutbox == []
