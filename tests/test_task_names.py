"""Every task name the code sends, and every task beat schedules, is a registered task."""

import re
from pathlib import Path

from celery import current_app
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
APPS = ("lib", "integrations", "crm", "credits", "collections_app", "recovery", "callcenter")
# queue.enqueue("app.task", ...) and queue.send_now("app.task", {...}), possibly wrapped.
SENT = re.compile(r"queue\.(?:enqueue|send_now)\(\s*\"([\w.]+)\"")


def sent_task_names() -> set[str]:
    names = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            names |= set(SENT.findall(path.read_text(encoding="utf-8")))
    return names


def registered_task_names() -> set[str]:
    current_app.loader.import_default_modules()
    return set(current_app.tasks)


def test_the_code_sends_only_tasks_a_worker_knows():
    sent = sent_task_names()

    assert sent, "no queue.enqueue/send_now call found: the pattern is out of date"
    assert sent <= registered_task_names(), sent - registered_task_names()


def test_beat_schedules_only_tasks_a_worker_knows():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert scheduled <= registered_task_names(), scheduled - registered_task_names()
