"""The regular cast and the browser set-up shared by every test."""

import io
import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

from crm import roles as crm_roles
from crm.templatetags import memo
from integrations import webhooks
from lib import shared_versions
from tests.factories import CustomerFactory, UserFactory

CHROMIUM = Path("/usr/bin/chromium")

# Playwright's sync API runs an event loop in the test's thread; Django would refuse
# database access from "async" code there, though the test itself is synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    """Run browser tests where Chromium is installed; in CI its absence is a failure."""
    for item in items:
        if "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
    if CHROMIUM.exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(
            "CI=true but /usr/bin/chromium is missing: browser tests cannot run."
        )
    reason = "no /usr/bin/chromium on this machine (install Debian's chromium package)"
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Drive the system Chromium; never a downloaded browser."""
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(autouse=True)
def fresh_cache():
    """Start every test with an empty cache: rate-limit counters, throttles, cached reads,
    and with no memo of what the process read from it (the webhook inbox's drain key, the
    shared versions of small tables and dropdowns, the layout's blocks kept per process)."""
    cache.clear()
    webhooks.forget_drain_ask()
    shared_versions.forget()
    memo.forget()
    yield
    cache.clear()
    webhooks.forget_drain_ask()
    shared_versions.forget()
    memo.forget()


@pytest.fixture(autouse=True)
def debug_stays_as_it_was():
    """Fail the test that leaves DEBUG changed: every later page would be Django's
    technical one (no 404 template, no error page), far from the test that caused it."""
    debug = django_settings.DEBUG
    yield
    assert debug == django_settings.DEBUG, "The test left settings.DEBUG changed."


@pytest.fixture
def roles(transactional_db):
    """The role groups again, for tests that flush the database (live server, threads)."""
    crm_roles.sync_roles()


@pytest.fixture
def asesor(db):
    return UserFactory(username="asesor", first_name="Andrea", last_name="Quispe", role="Asesor")


@pytest.fixture
def supervisor(db):
    return UserFactory(username="supervisor", role="Supervisor")


@pytest.fixture
def cobranzas(db):
    return UserFactory(username="cobranzas", role="Cobranzas")


@pytest.fixture
def agente(db):
    return UserFactory(username="agente", role="Agente call center")


@pytest.fixture
def outsider(db):
    """A signed-in user with no role at all."""
    return UserFactory(username="outsider")


@pytest.fixture
def customer(db):
    return CustomerFactory(first_name="Rosa", last_name="Huamán Torres", document_number="45678912")


@pytest.fixture
def demo(db, settings):
    """The demo data, small: what `make run` loads, for tests that walk every screen."""
    settings.KOMMO_WEBHOOK_SECRET = "walk-secret"
    out = io.StringIO()
    call_command("seed_demo", customers=12, demo_instance=True, stdout=out)
    call_command("seed_credits", loans=20, stdout=out)
    call_command("seed_callcenter", stdout=out)
    call_command("seed_gestiones", gestiones=60, stdout=out)
    call_command("seed_collections", stdout=out)
    call_command("seed_strategies", stdout=out)
    call_command("seed_recovery", stdout=out)
    if connection.vendor == "postgresql":
        # The planner's statistics are what autovacuum last saw: often another test's
        # committed rows, since truncated. Once an admin list (allocations joined to their
        # payments, installments, loans and customers) ran 8 minutes on a plan made for
        # those; inside this transaction ANALYZE sees the demo's own rows.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
