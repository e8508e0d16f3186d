"""Settings of `make bench-web`: production settings plus the benchmark's anchor views.

The app runs as in production (DEBUG off, cached templates, PostgreSQL with persistent
connections, the Redis cache) except that it speaks plain HTTP on 127.0.0.1, and that
`bench` is installed: its anchor views (bench/urls.py) and a middleware that counts a
request's queries when the benchmark asks. Never used by a deployment.
"""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 40)
os.environ.setdefault("DEBUG", "False")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "bench"]
# First, so its count covers every query of the request (sessions and users included).
MIDDLEWARE = ["bench.middleware.QueryCountMiddleware", *MIDDLEWARE]
ROOT_URLCONF = "bench.urls"

# Plain HTTP on loopback: no TLS redirect, cookies sent over http.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# A benchmark signs in again and again from one address.
AXES_ENABLED = False
