"""Fixed-window rate limits, for public endpoints and forms.

Every process reads and writes the same counters, so a limit holds however many web
processes and threads run, and each hit is counted by one atomic operation: two
requests at the same moment can never both read the same count. Where the counters
live is settings.RATELIMIT_STORE:

- "redis" (production, REDIS_URL set): INCR on the cache's Redis, the key created with
  its expiry in the same MULTI/EXEC, so a counter never outlives its window;
- "sqlite" (the embedded default, no Redis): one UPSERT ... RETURNING per hit on a
  small SQLite file (settings.RATELIMIT_SQLITE_PATH) that every process on the machine
  shares; SQLite's file lock makes each statement atomic across threads and processes.
  The file cache of `make run` cannot count: its incr() reads, adds and writes a file;
- "cache" (the tests): the default cache's add() and incr(), atomic in locmem, which
  serves one process only.

A fixed window lets a client send up to twice the limit across a window boundary; that
is acceptable for slowing down abuse, which is all these limits are for.

A store that fails (Redis down) cannot count: `hit` and `allow` then refuse (a limit that
cannot count must not let a public form be hammered), and `allow_form` says the service
is not available now rather than "too many requests". `one_at_a_time` lets the attempt
through instead: it only guards the staff sign-in against simultaneous guesses, and
django-axes still counts wrong passwords in the database, so staff can still sign in.
"""

import contextlib
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy
from ninja.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Seconds a hit waits for another process's write on the SQLite counters (a write takes
# well under a millisecond; this only matters if the disk stalls).
_SQLITE_TIMEOUT = 20
# One connection per thread and file: sqlite3 connections must stay in their thread.
_sqlite = threading.local()


def parse_rate(rate: str) -> tuple[int, int]:
    """Return (limit, window_seconds) from a rate such as "60/m", "5/h" or "100/10m"."""
    try:
        count, period = rate.strip().split("/")
        multiplier = int(period[:-1] or 1)
        limit, seconds = int(count), multiplier * _PERIODS[period[-1]]
    except (ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"invalid rate {rate!r}: expected e.g. '60/m'") from exc
    if limit < 1 or seconds < 1:
        raise ValueError(f"invalid rate {rate!r}: limit and period must be positive")
    return limit, seconds


class Unavailable(Exception):
    """The counters' store failed (Redis down): nothing could be counted."""


UNAVAILABLE = gettext_lazy(
    "Este servicio no está disponible en este momento. Intente de nuevo en unos minutos."
)


def hit(key: str, limit: int, window_seconds: int, *, now: float | None = None) -> bool:
    """Count one hit on `key`; return False once the window holds more than `limit` hits
    (`now`, a Unix time, for a caller that counts another moment's window), and False
    when the store failed and nothing could be counted."""
    try:
        return _counted_hit(key, limit, window_seconds, now=now)
    except Unavailable:
        return False


def _counted_hit(key: str, limit: int, window_seconds: int, *, now: float | None) -> bool:
    """`hit`, raising Unavailable when the store fails."""
    now = time.time() if now is None else now
    window = int(now // window_seconds)
    counter = f"{key}:{window_seconds}:{window}"
    # The counter is kept a second past its window, for clocks a little apart.
    expires_at = (window + 1) * window_seconds + 1
    store = getattr(settings, "RATELIMIT_STORE", "cache")
    if store not in ("redis", "sqlite", "cache"):
        raise ValueError(f"unknown RATELIMIT_STORE {store!r}: expected redis, sqlite or cache")
    try:
        if store == "redis":
            count = _redis_hit(counter, ttl=max(1, int(expires_at - now)))
        elif store == "sqlite":
            count = _sqlite_hit(Path(settings.RATELIMIT_SQLITE_PATH), counter, expires_at, now)
        else:
            count = _cache_hit(counter, ttl=max(1, int(expires_at - now)))
    except Exception as exc:  # any store's error (redis, sqlite3, a cache backend's)
        logger.error("Rate limit %s not counted: its store failed", key, exc_info=True)
        raise Unavailable from exc
    return count <= limit


def _redis_hit(counter: str, *, ttl: int) -> int:
    """Return the counter after one INCR on the default cache's Redis."""
    from django_redis import get_redis_connection

    key = cache.make_key(f"ratelimit:{counter}")
    # MULTI/EXEC: create the key with its expiry (if missing) and count, as one step.
    with get_redis_connection("default").pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=ttl, nx=True)
        pipe.incr(key)
        _created, count = pipe.execute()
    return int(count)


def _sqlite_hit(path: Path, counter: str, expires_at: float, now: float) -> int:
    """Return the counter after one atomic UPSERT on the SQLite counters at `path`."""
    connection = _sqlite_connection(path)
    (count,) = connection.execute(
        "INSERT INTO ratelimit_hit (key, count, expires_at) VALUES (?, 1, ?) "
        "ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count",
        (counter, expires_at),
    ).fetchone()
    if count == 1:
        # A window's first hit: forget the windows that are over, so the file stays small.
        connection.execute("DELETE FROM ratelimit_hit WHERE expires_at < ?", (now,))
    return count


def _sqlite_connection(path: Path) -> sqlite3.Connection:
    connections = getattr(_sqlite, "connections", None)
    if connections is None:
        connections = _sqlite.connections = {}
    connection = connections.get(path)
    if connection is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit (isolation_level=None): each statement is its own transaction.
        connection = sqlite3.connect(path, timeout=_SQLITE_TIMEOUT, isolation_level=None)
        # Counters need no durability: a crash loses at most the last hits of a window.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS ratelimit_hit "
            "(key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_at REAL NOT NULL)"
        )
        connection.execute(
            "CREATE INDEX IF NOT EXISTS ratelimit_hit_expires_at ON ratelimit_hit (expires_at)"
        )
        connections[path] = connection
    return connection


def _cache_hit(counter: str, *, ttl: int) -> int:
    """Return the counter after add() and incr() on the default cache (atomic in locmem)."""
    key = f"ratelimit:{counter}"
    cache.add(key, 0, timeout=ttl)
    try:
        count = cache.incr(key)
        if count is None:
            # django-redis with IGNORE_EXCEPTIONS: the cache is down and counted nothing.
            raise Unavailable
        return count
    except ValueError:
        # The counter expired between add() and incr(): this is the window's first hit.
        cache.set(key, 1, timeout=ttl)
        return 1


@contextlib.contextmanager
def one_at_a_time(key: str, *, seconds: int = 30) -> Iterator[bool]:
    """Yield True to the one caller that holds `key` now, False to any other meanwhile.

    What a rate cannot do: keep two requests from being checked at the same moment. The
    hold ends when the holder leaves the block, or after `seconds` if its process died;
    set and checked in one atomic step in the same store as the counters.
    """
    name = f"hold:{key}"
    store = getattr(settings, "RATELIMIT_STORE", "cache")
    release = None
    try:
        held, release = _hold(store, name, seconds)
    except Exception:  # any store's error: let the attempt through (module docstring)
        logger.error("Hold %s not taken: its store failed; going ahead", key, exc_info=True)
        held = True
    try:
        yield held
    finally:
        if held and release is not None:
            with contextlib.suppress(Exception):  # a failing store: it expires on its own
                release()


def _hold(store: str, name: str, seconds: int) -> tuple[bool, functools.partial]:
    """Take the hold `name` in `store`: return whether it was taken, and how to release it."""
    if store == "redis":
        from django_redis import get_redis_connection

        redis, name = get_redis_connection("default"), cache.make_key(f"ratelimit:{name}")
        held = bool(redis.set(name, 1, ex=seconds, nx=True))
        release = functools.partial(redis.delete, name)
    elif store == "sqlite":
        connection = _sqlite_connection(Path(settings.RATELIMIT_SQLITE_PATH))
        now = time.time()
        # Taken over only once its holder's time is up.
        (count,) = connection.execute(
            "INSERT INTO ratelimit_hit (key, count, expires_at) VALUES (?, 1, ?) "
            "ON CONFLICT (key) DO UPDATE SET "
            "count = CASE WHEN expires_at < ? THEN 1 ELSE count + 1 END, "
            "expires_at = CASE WHEN expires_at < ? THEN excluded.expires_at ELSE expires_at END "
            "RETURNING count",
            (name, now + seconds, now, now),
        ).fetchone()
        held = count == 1
        release = functools.partial(
            connection.execute, "DELETE FROM ratelimit_hit WHERE key = ?", (name,)
        )
    elif store == "cache":
        name = f"ratelimit:{name}"
        held = cache.add(name, 1, timeout=seconds)
        release = functools.partial(cache.delete, name)
    else:
        raise ValueError(f"unknown RATELIMIT_STORE {store!r}: expected redis, sqlite or cache")
    return held, release


def client_ip(request: HttpRequest) -> str:
    """Return the client's address: REMOTE_ADDR, or X-Forwarded-For behind trusted proxies.

    With RATELIMIT_TRUSTED_PROXIES = n (default 0), the address the n-th proxy from us
    appended to X-Forwarded-For is the client's; anything further left is what the client
    itself sent, and may be forged.
    """
    proxies = getattr(settings, "RATELIMIT_TRUSTED_PROXIES", 0)
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.headers.get("X-Forwarded-For", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def allow(request: HttpRequest, *, scope: str, rate: str) -> bool:
    """Count one request of this client in `scope`; return False when over `rate`."""
    limit, seconds = parse_rate(rate)
    return hit(f"{scope}:{client_ip(request)}", limit, seconds)


def allow_form(request: HttpRequest, form, *, scope: str, rate: str) -> bool:
    """Like `allow`, for a public form: when over the limit, or when the limit cannot be
    counted (its store is down), say which on the form."""
    limit, seconds = parse_rate(rate)
    try:
        if _counted_hit(f"{scope}:{client_ip(request)}", limit, seconds, now=None):
            return True
    except Unavailable:
        form.add_error(None, UNAVAILABLE)
        return False
    form.add_error(
        None,
        gettext("Recibimos demasiadas solicitudes desde su conexión. Intente de nuevo más tarde."),
    )
    return False


class ApiRateLimit(BaseThrottle):
    """A django-ninja throttle over `allow`, its rate read from a setting on each request.

    Ninja runs throttles before it parses the parameters, so malformed requests count too.
    """

    def __init__(self, *, scope: str, setting: str, default: str) -> None:
        self.scope, self.setting, self.default = scope, setting, default

    def allow_request(self, request: HttpRequest) -> bool:
        return allow(request, scope=self.scope, rate=self._rate())

    def wait(self) -> float:
        """Return the seconds left in the current window (the Retry-After header)."""
        _limit, seconds = parse_rate(self._rate())
        return seconds - time.time() % seconds

    def _rate(self) -> str:
        return getattr(settings, self.setting, self.default)
