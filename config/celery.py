"""The Celery app: settings come from Django's (CELERY_*), tasks from every app."""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from lib import request_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("cartera")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The app of every thread, not only the one that imported this module: a thread's
# `celery.current_app` (lib/queue.py) would otherwise be Celery's empty fallback app.
app.set_default()

# A task sent during a request logs that request's id and user (lib/request_context.py).
before_task_publish.connect(request_context.add_to_task_headers)
task_prerun.connect(request_context.bind_task)
task_postrun.connect(request_context.unbind_task)
