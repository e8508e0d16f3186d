"""Background work sent by task name once the current transaction commits.

Services never import their app's `tasks` module (tasks import services, so that would be
an import circle); they call `enqueue("credits.send_contract", contract_id=...)`, the way
Zulip's actions call `queue_json_publish` and never its workers. Nothing is sent when the
transaction rolls back.
"""

import threading
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction

# Held while task modules are imported: a second thread must wait for the first to finish,
# not find the import started and the task not yet registered.
_IMPORTING = threading.Lock()


def enqueue(task_name: str, /, **kwargs: Any) -> None:
    """Send the Celery task registered as `task_name`, with `kwargs`, after the commit.

    The broker failing then (Redis restarting) is logged, not raised: the change is
    committed, and a 500 would tell the user it was not. Whatever waits for such a task
    is swept again by beat (imports, the outbox, the webhook inbox…). In eager mode (the
    tests) the task's own errors still raise.
    """
    send = partial(send_now, task_name, kwargs)
    # Django's log of a failed robust callback names it by its __qualname__.
    send.__qualname__ = f"enqueue({task_name})"
    transaction.on_commit(send, robust=not runs_inline())


def runs_inline() -> bool:
    """Whether tasks run here, at once, as they are sent (eager mode: the tests)."""
    return bool(current_app.conf.task_always_eager)


def send_now(task_name: str, kwargs: dict[str, Any], *, countdown: float | None = None) -> None:
    """Send the task at once (to run `countdown` seconds later, if given); in eager mode
    (tests), run it here as `apply_async` would."""
    app = current_app
    if not app.conf.task_always_eager:
        # By name: the broker carries it to a worker, which has every task registered.
        app.send_task(task_name, kwargs=kwargs, countdown=countdown)
        return
    if task_name not in app.tasks:
        # Task modules are imported by the worker at start; this process may not have
        # imported the one that declares this task yet.
        with _IMPORTING:
            app.loader.import_default_modules()
    app.tasks[task_name].apply_async(kwargs=kwargs, countdown=countdown)
