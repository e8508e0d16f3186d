"""Version numbers shared through the cache, each read by a process at most once a second.

Copies kept per process (small tables' rows, dropdown choices) are checked against a
version number in the cache that any process's change moves on. Asking for it on every
request cost a round trip (~0.2 ms, 2–3% of a list page) for a number that changes a few
times a day; a process now trusts what it read for READ_SECONDS. So a change made in
another process shows there within that second; one made in this process shows at once,
since its signal `forget`s the number it read.

    versions = shared_versions.recent(keys) or shared_versions.settle(cache.get_many(keys), keys)
"""

import secrets
import time

from django.core.cache import cache

READ_SECONDS = 1.0
_read: dict[str, tuple[object, float]] = {}  # key -> (version, time.monotonic() read)


def recent(keys: list[str]) -> dict[str, object] | None:
    """Return the versions of `keys` this process read less than READ_SECONDS ago, or None
    when any of them is older or was never read (then read them all from the cache)."""
    now = time.monotonic()
    found = {}
    for key in keys:
        kept = _read.get(key)
        if kept is None or now - kept[1] >= READ_SECONDS:
            return None
        found[key] = kept[0]
    return found


def settle(found: dict, keys: list[str]) -> dict[str, object]:
    """Return the versions of `keys` from `found` (a cache `get_many` that asked for them,
    maybe with other entries), setting in the cache those it lacks, and remember them.

    A missing version (first use, or an emptied cache) starts at a number no process kept:
    random, not 1 or the time, so a copy read before the cache was emptied never passes
    for current, even under a frozen or repeated clock."""
    versions = {}
    for key in keys:
        version = found.get(key)
        if version is None:
            version = secrets.randbits(62)
            cache.add(key, version, timeout=None)
        versions[key] = version
    remember(versions)
    return versions


def remember(versions: dict[str, object]) -> None:
    """Keep the versions just read from the cache."""
    now = time.monotonic()
    for key, version in versions.items():
        _read[key] = (version, now)


def forget(key: str | None = None) -> None:
    """Drop what this process read of `key` (all keys when None): it changed here, or a
    test starts with an emptied cache."""
    if key is None:
        _read.clear()
    else:
        _read.pop(key, None)
