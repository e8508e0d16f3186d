"""Fixed-window rate limits on the shared cache, for public endpoints and forms.

Every process reads and writes the same counters (Redis in production, the file cache in
`make run`, locmem in tests), so the limit holds however many web processes run. A fixed
window lets a client send up to twice the limit across a window boundary; that is
acceptable for slowing down abuse, which is all these limits are for.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext
from ninja.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


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


def hit(key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit on `key`; return False once the window holds more than `limit` hits."""
    window = int(time.time() // window_seconds)
    cache_key = f"ratelimit:{key}:{window_seconds}:{window}"
    # add() creates the counter only if missing; incr() is atomic on Redis and locmem.
    cache.add(cache_key, 0, timeout=window_seconds + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:
        # The counter expired between add() and incr(): this is the window's first hit.
        cache.set(cache_key, 1, timeout=window_seconds + 1)
        count = 1
    return count <= limit


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
    """Like `allow`, for a public form: when over the limit, say so on the form."""
    if allow(request, scope=scope, rate=rate):
        return True
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
