"""A repeated error is logged once, then counted once a minute (lib/log_throttle.py); with
the settings' LOGGING, Redis down makes one ERROR line, not one per cache call."""

import logging

import pytest
from django.core.cache import cache

from lib import log_throttle

DOWN = "redis://127.0.0.1:1/0"  # nothing listens there: every call is refused


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def throttled(clock, caplog):
    """A logger of its own with a one-minute ThrottleFilter on the fake clock."""
    logger = logging.getLogger("tests.log_throttle")
    throttle = log_throttle.ThrottleFilter(window=60, clock=clock)
    logger.addFilter(throttle)
    caplog.set_level(logging.INFO, logger=logger.name)
    yield logger
    logger.removeFilter(throttle)


def fail(logger, exception=None):
    try:
        raise exception or ConnectionError("refused")
    except Exception:
        logger.exception("Exception ignored")


def test_the_first_error_is_logged_and_the_next_ones_in_the_minute_are_not(
    throttled, clock, caplog
):
    for _ in range(20):
        fail(throttled)
        clock.now += 1  # 20 errors in 20 s

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "Exception ignored")
    ]
    assert caplog.records[0].exc_info[0] is ConnectionError


def test_a_warning_counts_the_errors_of_the_minute_once_it_is_over(throttled, clock, caplog):
    fail(throttled)  # at 0 s: logged
    for _ in range(30):  # at 2, 4, ... 60 s: counted
        clock.now += 2
        fail(throttled)
    for _ in range(10):  # at 61 ... 70 s: counted in the next minute
        clock.now += 1
        fail(throttled)

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "Exception ignored"),
        (
            "WARNING",
            "30 more ConnectionError not logged in the last 60 s: Exception ignored: refused",
        ),
    ]
    assert caplog.records[1].name == "tests.log_throttle"


def test_after_a_quiet_minute_the_next_error_is_logged_again_with_the_last_count(
    throttled, clock, caplog
):
    fail(throttled)
    for _ in range(5):
        clock.now += 1
        fail(throttled)
    clock.now += 60  # nothing for a minute: the burst is over

    fail(throttled)

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "Exception ignored"),
        (
            "WARNING",
            "5 more ConnectionError not logged in the 5 s before they stopped: "
            "Exception ignored: refused",
        ),
        ("ERROR", "Exception ignored"),
    ]


def test_each_exception_class_is_counted_apart(throttled, clock, caplog):
    fail(throttled, ConnectionError("refused"))
    fail(throttled, TimeoutError("timed out"))
    fail(throttled, ConnectionError("refused"))
    fail(throttled, TimeoutError("timed out"))

    assert [r.exc_info[0] for r in caplog.records] == [ConnectionError, TimeoutError]


def test_fifty_cache_calls_with_redis_down_log_one_error(settings, caplog, monkeypatch):
    # The settings' LOGGING and django-redis options (production's), Redis a closed port.
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": DOWN,
            "OPTIONS": settings.REDIS_CACHE_OPTIONS,
        }
    }
    redis_logger = logging.getLogger(settings.DJANGO_REDIS_LOGGER)
    # Other tests' Redis-down errors may have opened a burst in this process: start anew.
    for throttle in redis_logger.filters:
        monkeypatch.setattr(throttle, "_bursts", {})
    caplog.set_level(logging.INFO)

    answers = [cache.get(f"key-{n}", "miss") for n in range(50)]

    assert answers == ["miss"] * 50
    records = [r for r in caplog.records if r.name == "django_redis.cache"]
    assert [(r.levelname, r.getMessage()) for r in records] == [("ERROR", "Exception ignored")]
