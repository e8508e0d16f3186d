"""Settings for the test suite: production settings with the few overrides tests need."""

import os

# Tests run the production settings, which want a secret key when DEBUG is off.
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-used-anywhere-else-0123456789")

from config.settings import *  # noqa: F403
from config.settings import BASE_DIR, DATABASES, REDIS_URL, STATIC_ROOT

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's shared in-memory database: threads in the race tests then get
    # SQLite's real locking (WAL, IMMEDIATE transactions that wait) instead of "table is
    # locked" errors, so those tests run here as they do on PostgreSQL.
    # TEST_SQLITE_NAME lets two suites run side by side on one checkout.
    _test_db = os.environ.get("TEST_SQLITE_NAME", "test.sqlite3")
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / _test_db)}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Rate limits count in that cache, which every test starts empty; tests/lib/test_ratelimit.py
# switches to the stores a deployment uses.
RATELIMIT_STORE = "cache"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
ALLOWED_HOSTS = ["*"]
# The browser tests sign in many times from one address.
AXES_ENABLED = False
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
# WhiteNoise warns when the collected-static folder is missing; tests use the finders.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# The file broker of `make run` lives in var/celery; the tests' real-worker test gets its
# own folders, so a running demo worker cannot take its tasks.
if not REDIS_URL:
    _broker_dir = BASE_DIR / "var" / "test-celery"
    for _sub in ("queue", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
    }

# Payment gateways answer from memory (integrations.fakes.FakeGateway); provider tests
# switch to the real clients with `responses` faking their HTTP.
PAYMENT_GATEWAYS_FAKE = True
COLLECTIONS_TEAM_EMAILS = ["cobranzas@cartera.test"]

# No quiet hours in tests: the suite runs at any hour; the quiet-hours tests set the policy.
MESSAGES_QUIET_HOURS = None
