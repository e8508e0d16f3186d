"""One line a minute, not one per call, for an error that repeats (a cache server down).

django-redis logs every cache call it answers with a miss while Redis is down: dozens a
page, thousands a minute, each at ERROR (mailed, sent to Sentry). `ThrottleFilter`, put on
a logger in settings.LOGGING, lets the first record of a burst through as it is; the
same kind of record (same logger, same exception class) is then counted, not logged, and
one WARNING a window says how many there were. A burst ends when none came for a whole
window: the next one is let through again.

The filter sees only the records logged, not the calls that succeeded, so it cannot say
when the failing service answers again; the last count of a burst is logged when the next
burst starts ("... before they stopped").
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Set on the summaries the filter logs itself, so that it lets them through.
SUMMARY_ATTR = "log_throttle_summary"


@dataclass
class _Burst:
    reported: float  # when its first record or its last summary was logged
    last: float  # when its last record came
    dropped: int = 0  # records not logged since `reported`
    text: str = ""  # what the last of them said


class ThrottleFilter(logging.Filter):
    """Let one record of each kind through per `window` seconds; count the others."""

    def __init__(self, window: float = 60, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.window = window
        self.clock = clock
        self._bursts: dict[tuple[str, str], _Burst] = {}
        self._lock = threading.Lock()  # gunicorn threads log at the same time

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, SUMMARY_ATTR, False):
            return True
        key = (record.name, _kind(record))
        now = self.clock()
        summary = None
        with self._lock:
            burst = self._bursts.get(key)
            if burst is None or now - burst.last >= self.window:
                # A new burst: its first record is logged as it is.
                if burst is not None and burst.dropped:
                    summary = (
                        "%d more %s not logged in the %d s before they stopped: %s",
                        burst.dropped,
                        key[1],
                        burst.last - burst.reported,
                        burst.text,
                    )
                self._bursts[key] = _Burst(reported=now, last=now)
                keep = True
            else:
                burst.last = now
                burst.dropped += 1
                burst.text = _text(record)
                if now - burst.reported >= self.window:
                    summary = (
                        "%d more %s not logged in the last %d s: %s",
                        burst.dropped,
                        key[1],
                        now - burst.reported,
                        burst.text,
                    )
                    burst.reported = now
                    burst.dropped = 0
                keep = False
        # Logged outside the lock: the summary passes through this filter again.
        if summary:
            logging.getLogger(record.name).warning(*summary, extra={SUMMARY_ATTR: True})
        return keep


def _kind(record: logging.LogRecord) -> str:
    """The exception's class, or the message template of a record without one."""
    if record.exc_info and record.exc_info[0] is not None:
        return record.exc_info[0].__qualname__
    return str(record.msg)


def _text(record: logging.LogRecord) -> str:
    """The record's message, with its exception's when it has one."""
    message = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        return f"{message}: {record.exc_info[1]}"
    return message
