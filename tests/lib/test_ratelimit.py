"""Rate limits hold under parallel requests, on the counters a real deployment uses.

The suite's settings count in the locmem cache. These tests switch to what production and
the embedded default run: Redis (INCR) when REDIS_URL is set, as in CI; otherwise the
file cache of `make run` with the rate-limit counters in their SQLite file.
"""

import datetime
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from zoneinfo import ZoneInfo

import pytest
import responses
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from crm.models import Customer
from lib import ratelimit
from tests.factories import ChannelFactory

LIMA = ZoneInfo("America/Lima")
VERIFY_URL = "https://recaptcha.example/recaptcha/api/siteverify"
THREADS = 8
REQUESTS_PER_THREAD = 4
PREVIEW = {"annual_rate": "12", "term": "3", "method": "french", "frequency": "monthly"}
LEAD = {
    "first_name": "Lucía",
    "last_name": "Paredes Rojas",
    "document_type": "dni",
    "email": "lucia@example.pe",
    "phone": "987654321",
    "amount": "20000",
    "consent": "on",
    "recaptcha_token": "token-from-the-browser",
    "sim-amount": "12000",
    "sim-annual_rate": "12",
    "sim-term": "3",
    "sim-frequency": "monthly",
}


@pytest.fixture
def real_counters(settings, tmp_path):
    """Count where a deployment counts: Redis with REDIS_URL, else the embedded default."""
    if settings.REDIS_URL:
        settings.CACHES = {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": settings.REDIS_URL,
                # Only this test's keys, so the clean-up below touches nothing else.
                "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
                "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
            }
        }
        settings.RATELIMIT_STORE = "redis"
    else:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "cache"),
            }
        }
        settings.RATELIMIT_STORE = "sqlite"
        settings.RATELIMIT_SQLITE_PATH = tmp_path / "ratelimit.sqlite3"
    # Half past the hour, the clock running: no window turns while the requests run.
    with time_machine.travel(datetime.datetime(2026, 5, 4, 10, 30, tzinfo=LIMA)):
        yield settings
    if settings.REDIS_URL:
        cache.delete_pattern("*")


def fire_in_parallel(send: Callable[[Client, int], int]) -> tuple[Counter, list[str]]:
    """Send THREADS × REQUESTS_PER_THREAD requests from one address, all threads at once.

    Each thread has its own client and its own database connection. Return how many
    responses had each status code, and the errors raised.
    """
    start = threading.Barrier(THREADS)
    statuses: list[int] = []
    errors: list[str] = []

    def run(thread: int) -> None:
        client = Client()
        try:
            start.wait(timeout=30)
            for n in range(REQUESTS_PER_THREAD):
                statuses.append(send(client, thread * REQUESTS_PER_THREAD + n))
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(statuses), errors


def test_parallel_api_calls_get_exactly_the_limit_through(transactional_db, real_counters):
    real_counters.API_PREVIEW_RATE_LIMIT = "5/h"

    def send(client: Client, n: int) -> int:
        response = client.get(
            "/api/v1/schedule-preview",
            {**PREVIEW, "principal": str(1000 + n)},
        )
        return response.status_code

    statuses, errors = fire_in_parallel(send)

    assert errors == []
    assert statuses == {200: 5, 429: THREADS * REQUESTS_PER_THREAD - 5}


def test_parallel_lead_forms_record_exactly_the_limit(transactional_db, real_counters):
    real_counters.CALCULATOR_LEAD_RATE_LIMIT = "5/h"
    real_counters.RECAPTCHA_VERIFY_URL = VERIFY_URL
    real_counters.RECAPTCHA_SECRET_KEY = "recaptcha-secret"
    ChannelFactory(code="web", name="Web")

    def send(client: Client, n: int) -> int:
        data = {**LEAD, "document_number": f"4123{n:04d}"}
        return client.post(reverse("calculator_lead"), data).status_code

    with responses.RequestsMock() as google:
        answer = {
            "success": True,
            "score": 0.9,
            "action": "invest_lead",
            "hostname": "testserver",
        }
        google.add(responses.POST, VERIFY_URL, json=answer)
        statuses, errors = fire_in_parallel(send)
        asked_google = len(google.calls)

    assert errors == []
    # Accepted: a redirect to the thanks; refused: the form again, saying why.
    assert statuses == {302: 5, 200: THREADS * REQUESTS_PER_THREAD - 5}
    assert Customer.objects.count() == 5
    assert asked_google == 5


@pytest.mark.parametrize("store", ["sqlite", "cache"])
def test_each_window_starts_counting_again(settings, tmp_path, store):
    settings.RATELIMIT_STORE = store
    settings.RATELIMIT_SQLITE_PATH = tmp_path / "ratelimit.sqlite3"

    with time_machine.travel(datetime.datetime(2026, 5, 4, 10, 0, 1, tzinfo=LIMA), tick=False):
        first_window = [ratelimit.hit("visitor", 2, 60) for _ in range(3)]
    with time_machine.travel(datetime.datetime(2026, 5, 4, 10, 1, 1, tzinfo=LIMA), tick=False):
        next_window = ratelimit.hit("visitor", 2, 60)

    assert first_window == [True, True, False]
    assert next_window is True


def test_the_embedded_counters_forget_windows_that_are_over(settings, tmp_path):
    settings.RATELIMIT_STORE = "sqlite"
    settings.RATELIMIT_SQLITE_PATH = tmp_path / "ratelimit.sqlite3"
    with time_machine.travel(datetime.datetime(2026, 5, 4, 10, 0, 1, tzinfo=LIMA), tick=False):
        for visitor in ("a", "b", "c"):
            ratelimit.hit(visitor, 5, 60)

    with time_machine.travel(datetime.datetime(2026, 5, 4, 10, 5, 1, tzinfo=LIMA), tick=False):
        ratelimit.hit("d", 5, 60)

    with closing(sqlite3.connect(tmp_path / "ratelimit.sqlite3")) as counters:
        keys = [key for (key,) in counters.execute("SELECT key FROM ratelimit_hit")]
    assert [key.split(":")[0] for key in keys] == ["d"]


@pytest.mark.parametrize("store", ["sqlite", "cache"])
def test_a_hold_is_one_callers_until_it_leaves_or_its_time_is_up(settings, tmp_path, store):
    settings.RATELIMIT_STORE = store
    settings.RATELIMIT_SQLITE_PATH = tmp_path / "ratelimit.sqlite3"

    with ratelimit.one_at_a_time("sign-in", seconds=30) as first:
        with ratelimit.one_at_a_time("sign-in", seconds=30) as second:
            assert (first, second) == (True, False)
        with ratelimit.one_at_a_time("another", seconds=30) as other:
            assert other is True
    with ratelimit.one_at_a_time("sign-in", seconds=30) as after:
        assert after is True


def test_a_hold_left_by_a_dead_process_is_taken_over_when_its_time_is_up(settings, tmp_path):
    settings.RATELIMIT_STORE = "sqlite"
    settings.RATELIMIT_SQLITE_PATH = tmp_path / "ratelimit.sqlite3"
    left = ratelimit.one_at_a_time("sign-in", seconds=30)
    with time_machine.travel(datetime.datetime(2026, 5, 4, 10, 0, tzinfo=LIMA), tick=False):
        assert left.__enter__() is True  # never left: its process died

        with ratelimit.one_at_a_time("sign-in", seconds=30) as meanwhile:
            assert meanwhile is False
    with (
        time_machine.travel(datetime.datetime(2026, 5, 4, 10, 0, 31, tzinfo=LIMA), tick=False),
        ratelimit.one_at_a_time("sign-in", seconds=30) as later,
    ):
        assert later is True


def test_holds_taken_at_once_go_to_one_caller(transactional_db, real_counters):
    from tests.races import at_once

    def take() -> bool:
        with ratelimit.one_at_a_time("sign-in") as held:
            if held:
                threading.Event().wait(0.5)  # still holding while the others try
            return held

    done, errors = at_once(*[take] * 8)

    assert errors == []
    assert sorted(done) == [False] * 7 + [True]
