"""The WSGI application (gunicorn imports it once in each worker)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# What the app loaded to start (modules, URLconf, models, ~140,000 objects) lives as long as
# the worker: frozen, the garbage collector stops walking it on every older-generation pass.
# Those passes ran about once a request on a list page and cost ~1 ms each (make bench-web:
# 8% of a list page's time). Cycles made by requests are still collected.
gc.freeze()
