"""Run callables at the same moment, each in its own thread with its own database
connection: what a double click or two agents do. On PostgreSQL only the code's locks keep
them apart; SQLite runs one write transaction at a time, so there such tests pass either way.
"""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def at_once(*jobs: Callable[[], Any]) -> tuple[list[Any], list[str]]:
    """Start the jobs together; return their results and the errors they raised (repr)."""
    start = threading.Barrier(len(jobs))
    done: list[Any] = []
    errors: list[str] = []

    def run(job: Callable[[], Any]) -> None:
        try:
            start.wait(timeout=30)
            done.append(job())
        except Exception as exc:  # a refusal, a deadlock or a lock timeout lands here
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return done, errors
