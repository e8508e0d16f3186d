"""Cartera settings: every deploy-specific value comes from the environment.

Each variable is documented in `.env.example`. With no environment at all the app runs
embedded: SQLite and a serverless Celery broker under `var/`.
"""

import datetime
from decimal import Decimal
from email.utils import getaddresses
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Where the app keeps its local files without a server: the SQLite database, the file
# broker and cache, uploads. A benchmark points it at a temporary folder.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def env_id(name: str) -> int:
    """Read a provider's numeric id; unset or empty (as in .env.example) means 0, none."""
    value = env.str(name, default="").strip()
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_money(name: str, default: str) -> Decimal:
    """Read an amount with up to two decimals ("10.00"); anything else fails loudly."""
    value = env.str(name, default=default).strip()
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise ImproperlyConfigured(f"{name} must be an amount like 10.00, not {value!r}.") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ImproperlyConfigured(f"{name} must be an amount like 10.00, not {value!r}.")
    return amount


def env_time_range(name: str, default: str) -> tuple[datetime.time, datetime.time] | None:
    """Read "HH:MM-HH:MM" (20:00-08:00 spans midnight); "" means none."""
    value = env.str(name, default=default).strip()
    if not value:
        return None
    try:
        start, end = (datetime.time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be like 20:00-08:00, not {value!r}.") from None
    return start, end


def env_addresses(name: str) -> list[tuple[str, str]]:
    """Read e-mail addresses, comma-separated: "Ana Pérez <ana@example.pe>, ops@example.pe"."""
    value = env.str(name, default="").strip().strip(",")
    if not value:
        return []
    # What cannot be read comes back as an empty address.
    addresses = getaddresses([value])
    if any("@" not in address.strip("@") for _name, address in addresses):
        raise ImproperlyConfigured(f"{name} must be e-mail addresses, not {value!r}.")
    return addresses


# --- Core -------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production"  # noqa: S105
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Third party
    "django_htmx",
    "template_partials",
    "django_filters",
    "django_tables2",
    "crispy_forms",
    "crispy_bootstrap5",
    "phonenumber_field",
    "django_celery_beat",
    "config.apps.AxesConfig",  # django-axes, titled in Spanish
    "csp",
    # The API docs page: Swagger UI from ninja's own static files and template, no CDN.
    "ninja",
    # Cartera
    "crm",
    "credits",
    "crm.gestiones",
    "collections_app",
    "recovery",
    "callcenter",
    "integrations",
]

MIDDLEWARE = [
    # First: every log line about a request carries its id (lib/middleware.py says why
    # each of ours sits where it does).
    "lib.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "lib.middleware.FormCharsetMiddleware",
    "lib.middleware.NoStoreForSessionsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "lib.middleware.SessionRefreshMiddleware",
    # No LocaleMiddleware: the interface has one language (LANGUAGES), which LANGUAGE_CODE
    # already activates; reading Accept-Language per request would choose nothing.
    "django.middleware.common.CommonMiddleware",
    "lib.middleware.HtmxFragmentTrimMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "lib.middleware.LoginRequiredMiddleware",
    "lib.middleware.RefreshOfWhatIsGoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Inside CSP and the security headers, which its page gets too.
    "lib.error_pages.MethodNotAllowedPage",
    "lib.middleware.AdminDateDrilldownMiddleware",
    # Last, as django-axes asks: it turns lockouts into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "crm.context_processors.navigation",
            ],
        },
    },
    {
        # The busiest lists' tables only (config/jinja2.py says why); found by name after
        # the Django templates, in their own folder so neither engine reads the other's.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja_templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "config.jinja2.environment"},
    },
]
# Form widgets are written by Django's own Jinja2 templates, the admin's by Django
# templates (lib/form_renderer.py says why).
FORM_RENDERER = "lib.form_renderer.FormRenderer"

# --- Database ---------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'cartera.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL lets readers and one writer work at once,
    # and IMMEDIATE transactions wait for the lock instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # PostgreSQL's JIT compiled the collections effectiveness report's queries for 0.8 s of
    # its 3.1 s and helps none of the app's short queries: off, unless DATABASE_URL's own
    # `options` say otherwise.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and Celery broker -----------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Redis down must not take the site down: the cache answers misses (logged), so sessions
# (cached_db) are read from the database and permissions computed again; the rate limits,
# which talk to Redis directly, refuse public forms saying so (lib/ratelimit.py). A Redis
# that does not answer costs a request at most a second per call, not a hung worker.
REDIS_CACHE_OPTIONS = {
    "CLIENT_CLASS": "django_redis.client.DefaultClient",
    "IGNORE_EXCEPTIONS": True,
    "SOCKET_CONNECT_TIMEOUT": 1,
    "SOCKET_TIMEOUT": 1,
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
# Where it logs them: once per burst, then a count a minute (LOGGING below).
DJANGO_REDIS_LOGGER = "django_redis.cache"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
    }
else:
    # A cache every process on this machine shares (rate limits, lockouts).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery -----------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # kombu's filesystem transport: a broker with no server, shared through files.
    _broker_dir = VAR_DIR / "celery"
    for _sub in ("queue", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    # kombu's, with each message written aside and renamed into place (lib/file_broker.py).
    CELERY_BROKER_TRANSPORT = "lib.file_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_IGNORE_RESULT = True
# The worker logs through LOGGING below (request ids included) instead of its own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = env.str("TIME_ZONE", default="America/Lima")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # Every minute: send outbox messages whose next attempt is due. One that waited a
    # minute for a worker is dropped: the next one does its work (one sweep at a time).
    "integrations-deliver-due-outbox": {
        "task": "integrations.deliver_due_messages",
        "schedule": crontab(minute="*"),
        "options": {"expire_seconds": 60},  # django_celery_beat's name for expires
    },
    # Every 5 minutes: re-enqueue received webhooks whose processing never ran.
    "integrations-process-pending-webhooks": {
        "task": "integrations.process_pending_events",
        "schedule": crontab(minute="*/5"),
    },
    # Every 5 minutes: alert agents and supervisors about gestiones about to be late, and late.
    "gestiones-alert-due": {
        "task": "gestiones.alert_due_gestiones",
        "schedule": crontab(minute="*/5"),
    },
    # Every 5 minutes: campaign launches with no batch for 5 minutes (their worker died)
    # are sent again; they reach only the customers left.
    "gestiones-resume-campaign-launches": {
        "task": "gestiones.resume_campaign_launches",
        "schedule": crontab(minute="*/5"),
    },
    # Daily at 06:30: life-cycle events (thanks, service, renewal) whose day has come.
    "gestiones-run-lifecycle-events": {
        "task": "gestiones.run_lifecycle_events",
        "schedule": crontab(hour=6, minute=30),
    },
    # Every 5 minutes: refresh the dashboards' summary where gestiones changed (each day,
    # all of it); the dashboards say "se actualizan cada 5 minutos".
    "gestiones-refresh-report-summary": {
        "task": "gestiones.refresh_report_summary",
        "schedule": crontab(minute="*/5"),
    },
    # Daily at 01:15: charge late interest and refresh days past due and aging buckets.
    "credits-update-delinquency": {
        "task": "credits.update_delinquency",
        "schedule": crontab(hour=1, minute=15),
    },
    # Every hour at :05: payment links past their expiry are marked expired.
    "collections-expire-links": {
        "task": "collections_app.expire_links",
        "schedule": crontab(minute=5),
    },
    # Daily at 00:30: promises whose day has passed become kept or broken.
    "collections-resolve-promises": {
        "task": "collections_app.resolve_promises",
        "schedule": crontab(hour=0, minute=30),
    },
    # Daily at 00:05 local: written-off campaigns whose end date passed become finished
    # (the screens and the portal also finish them when they read them).
    "recovery-finish-ended-campaigns": {
        "task": "recovery.finish_ended_campaigns",
        "schedule": crontab(hour=0, minute=5),
    },
    # Daily at 09:00 local, after quiet hours: each active flow's steps due today.
    "collections-run-flows": {
        "task": "collections_app.run_flows",
        "schedule": crontab(hour=9, minute=0),
    },
    # Every 15 minutes: flow runs a dead worker left behind are taken up (today's), or
    # closed as failed (a past day's); after 09:00, steps with no run today are run.
    "collections-resume-flows": {
        "task": "collections_app.resume_flows",
        "schedule": crontab(minute="*/15"),
    },
    # Daily at 03:00 local: uploads left at *Por asignar columnas* for
    # IMPORT_ABANDONED_DAYS are discarded, files and all.
    "crm-discard-abandoned-uploads": {
        "task": "crm.discard_abandoned_uploads",
        "schedule": crontab(hour=3, minute=0),
    },
    # Daily at 03:10 local: list exports asked for more than 7 days ago are deleted,
    # files and all (crm.exports.services.EXPORT_KEEP_DAYS).
    "crm-delete-old-exports": {
        "task": "crm.delete_old_exports",
        "schedule": crontab(hour=3, minute=10),
    },
    # Daily at 03:20 local: outbox messages sent more than OUTBOX_KEEP_DAYS ago, and webhook
    # events processed or ignored more than WEBHOOK_EVENTS_KEEP_DAYS ago, are deleted
    # (integrations.housekeeping; failed ones stay).
    "integrations-delete-old-rows": {
        "task": "integrations.delete_old_rows",
        "schedule": crontab(hour=3, minute=20),
    },
    # Daily at 03:25 local: staff notifications read more than 90 days ago are deleted
    # (crm.gestiones.notifications.services.NOTIFICATIONS_KEEP_DAYS; unread ones stay).
    "gestiones-delete-old-notifications": {
        "task": "gestiones.delete_old_notifications",
        "schedule": crontab(hour=3, minute=25),
    },
    # Every 10 minutes: list exports queued or running without progress for 15 minutes
    # (their task lost by the broker, or their worker died) are sent again; one sent 3
    # times in all fails, saying so (crm.exports.services.EXPORT_MAX_ATTEMPTS).
    "crm-resume-abandoned-exports": {
        "task": "crm.resume_abandoned_exports",
        "schedule": crontab(minute="*/10"),
    },
    # Every 5 minutes: imports whose task was lost or whose worker died (a deploy, out of
    # memory) are sent again after 15 minutes without progress (lib.progress).
    "crm-resume-abandoned-imports": {
        "task": "crm.resume_abandoned_imports",
        "schedule": crontab(minute="*/5"),
    },
    # Every 5 minutes: write-off batches whose task was lost or whose worker died are sent
    # again after 15 minutes without progress (lib.progress); the run goes on with the
    # loans still pending. One sent 3 times in all is marked interrupted.
    "credits-resume-abandoned-write-offs": {
        "task": "credits.resume_abandoned_write_offs",
        "schedule": crontab(minute="*/5"),
    },
    "callcenter-resume-abandoned-catalog-imports": {
        "task": "callcenter.resume_abandoned_catalog_imports",
        "schedule": crontab(minute="*/5"),
    },
    # Every 10 minutes: convert again the generated documents whose PDF never came (their
    # task was lost); after an hour their follow-up says the PDF is missing.
    "gestiones-attach-missing-document-pdfs": {
        "task": "gestiones.attach_missing_document_pdfs",
        "schedule": crontab(minute="*/10"),
    },
    # Every 5 minutes: send again the loan contracts whose send to DocuSeal was cut off
    # (a worker killed, a publish lost); give up, failed, on those pending for 2 hours.
    "credits-send-stalled-contracts": {
        "task": "credits.send_stalled_contracts",
        "schedule": crontab(minute="*/5"),
    },
    # Every 5 minutes: recompute the portfolio report's figures of today (a new day's too,
    # before its first visitor) and of the last week's days changed since.
    "credits-refresh-portfolio-snapshot": {
        "task": "credits.refresh_portfolio_snapshot",
        "schedule": crontab(minute="*/5"),
    },
    # Every 5 minutes, two past the portfolio's: every investor's figures on the investors'
    # panel, in each currency (credits.investors.panel.REFRESH_SECONDS).
    "credits-refresh-investor-panel": {
        "task": "credits.refresh_investor_panel",
        "schedule": crontab(minute="2-59/5"),
    },
    # Every 5 minutes: the collections effectiveness report of the period its page opens on
    # (the last 30 days), so the page reads it kept
    # (collections_app.strategies.effectiveness.REFRESH_SECONDS).
    "collections-refresh-effectiveness": {
        "task": "collections_app.refresh_effectiveness",
        "schedule": crontab(minute="4-59/5"),
    },
}

# --- Auth, sessions, lockout ------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend with the permission sets in the cache (lib/auth.py).
    "lib.auth.CachedPermissionsBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Staff sessions end after 8 hours without activity: a request pushes the expiry when the
# session was last saved more than SESSION_REFRESH_SECONDS ago (lib.middleware says why
# not on every request).
SESSION_COOKIE_AGE = 8 * 60 * 60
SESSION_REFRESH_SECONDS = 5 * 60
# With Redis, a request reads its session from the cache; saves go to both.
if REDIS_URL:
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The client's address as the rate limits read it (RATELIMIT_TRUSTED_PROXIES): behind
# nginx, REMOTE_ADDR is the proxy's, and five wrong passwords from anyone locked the user
# out for everyone.
AXES_CLIENT_IP_CALLABLE = "lib.ratelimit.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# --- Security (production) --------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health checks come from inside the network, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The Spanish page on the error layout, never Django's English one (lib/error_pages.py).
CSRF_FAILURE_VIEW = "lib.error_pages.csrf_failure"
# The public areas whose error pages lead back to their own start, not the staff's.
PUBLIC_AREA_STARTS = ("/portal/", "/recovery/", "/calculadora/")
SESSION_COOKIE_HTTPONLY = True
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    },
}

# --- Language, time, money --------------------------------------------------------------
LANGUAGE_CODE = "es"
LANGUAGES = [("es", _("Español"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="America/Lima")
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True
# Django ships no es-PE formats: config/formats/es picks the configured country's.
FORMAT_MODULE_PATH = ["config.formats"]
COUNTRY = env.str("COUNTRY", default="PE")
CURRENCY = env.str("CURRENCY", default="PEN")
# Where the app is reached from outside: the links in e-mails (surveys, alerts) start here.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
PHONENUMBER_DEFAULT_REGION = COUNTRY
PHONENUMBER_DB_FORMAT = "E164"

# --- Static files -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
# Uploaded and generated files are private: no URL serves MEDIA_ROOT; views that check
# permissions send them (lib/files.py). Behind nginx set "nginx" and an internal location
# (PRIVATE_FILES_INTERNAL_URL) aliased to MEDIA_ROOT; behind Apache with mod_xsendfile,
# "apache". Empty: Django streams them itself.
PRIVATE_FILES_SERVER = env.str("PRIVATE_FILES_SERVER", default="")
if PRIVATE_FILES_SERVER not in ("", "nginx", "apache"):
    raise ImproperlyConfigured("PRIVATE_FILES_SERVER must be empty, 'nginx' or 'apache'.")
PRIVATE_FILES_INTERNAL_URL = env.str("PRIVATE_FILES_INTERNAL_URL", default="/private-files/")

# --- UI libraries -----------------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5-responsive.html"
DJANGO_TABLES2_TABLE_ATTRS = {"class": "table table-hover align-middle mb-0"}

# --- E-mail -----------------------------------------------------------------------------
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
# Seconds an SMTP connection may hang: without it a stalled server holds a worker forever
# and the outbox sweep sends the message again (integrations.outbox.SENDING_TIMEOUT).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
# Or through an e-mail provider's HTTP API with django-anymail: ANYMAIL_ESP names Anymail's
# backend module ("mailgun", "sendgrid", "postmark", "brevo", "amazon_ses"…) and ANYMAIL
# holds its settings as JSON ({"MAILGUN_API_KEY": "…", "MAILGUN_SENDER_DOMAIN": "…"}).
# https://anymail.dev/en/stable/esps/
ANYMAIL_ESP = env.str("ANYMAIL_ESP", default="").strip()
ANYMAIL = env.json("ANYMAIL", default={})
if ANYMAIL_ESP:
    if not ANYMAIL_ESP.replace("_", "").isalpha() or not ANYMAIL_ESP.islower():
        raise ImproperlyConfigured(
            f"ANYMAIL_ESP must be an Anymail backend name, not {ANYMAIL_ESP!r}."
        )
    EMAIL_BACKEND = f"anymail.backends.{ANYMAIL_ESP}.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Cartera <no-reply@cartera.local>")

# --- Providers: credentials empty by default, base URLs the provider's own --------------
KOMMO_SUBDOMAIN = env.str("KOMMO_SUBDOMAIN", default="")
KOMMO_BASE_URL = env.str(
    "KOMMO_BASE_URL", default=f"https://{KOMMO_SUBDOMAIN}.kommo.com" if KOMMO_SUBDOMAIN else ""
)
KOMMO_TOKEN = env.str("KOMMO_TOKEN", default="")
# The path token of /webhooks/kommo/<secret>/: Kommo does not sign its webhooks.
KOMMO_WEBHOOK_SECRET = env.str("KOMMO_WEBHOOK_SECRET", default="")
# Optional: also require this account id (account[id]) besides the subdomain.
KOMMO_ACCOUNT_ID = env.str("KOMMO_ACCOUNT_ID", default="")
# The stages of the call center; the first read copies them into admin's queue settings.
KOMMO_QUEUE_PIPELINE_ID = env_id("KOMMO_QUEUE_PIPELINE_ID")
KOMMO_QUEUE_STATUS_ID = env_id("KOMMO_QUEUE_STATUS_ID")
KOMMO_SOLD_STATUS_ID = env_id("KOMMO_SOLD_STATUS_ID")
MERCADOPAGO_ACCESS_TOKEN = env.str("MERCADOPAGO_ACCESS_TOKEN", default="")
MERCADOPAGO_WEBHOOK_SECRET = env.str("MERCADOPAGO_WEBHOOK_SECRET", default="")
# Payment links open MercadoPago's sandbox_init_point (test credentials) instead of init_point.
MERCADOPAGO_SANDBOX = env.bool("MERCADOPAGO_SANDBOX", default=False)
# What the payer's card statement shows for a MercadoPago payment ("" = MercadoPago's default).
MERCADOPAGO_STATEMENT_DESCRIPTOR = env.str("MERCADOPAGO_STATEMENT_DESCRIPTOR", default="")
# Clear (integrations/clear.py): no public API docs exist; the module's docstring is the contract.
CLEAR_API_URL = env.str("CLEAR_API_URL", default="")
CLEAR_API_KEY = env.str("CLEAR_API_KEY", default="")
CLEAR_WEBHOOK_SECRET = env.str("CLEAR_WEBHOOK_SECRET", default="")

# --- Collections ------------------------------------------------------------------------
# An upload left at *Por asignar columnas* this many days is discarded, files and all
# (a daily task): a file of personal data nobody imported is not kept.
IMPORT_ABANDONED_DAYS = env.int("IMPORT_ABANDONED_DAYS", default=7)
# Payment gateways answer from memory (integrations.fakes.FakeGateway): tests and a demo
# without credentials. Never in production: links would point nowhere.
PAYMENT_GATEWAYS_FAKE = env.bool("PAYMENT_GATEWAYS_FAKE", default=False)
# How long a payment link stays payable, in hours.
COLLECTIONS_LINK_HOURS = env.int("COLLECTIONS_LINK_HOURS", default=72)
# The least a custom-amount link (or an agreement's down payment) may ask for, less only
# when the whole debt is less: in soles, and in dollars for a dollar debt.
COLLECTIONS_MIN_LINK_AMOUNT = env_money("COLLECTIONS_MIN_LINK_AMOUNT", default="10.00")
COLLECTIONS_MIN_LINK_AMOUNT_USD = env_money("COLLECTIONS_MIN_LINK_AMOUNT_USD", default="3.00")
# Messages to customers (crm.messages): quiet hours that hold messages until morning, local
# time ("HH:MM-HH:MM"; "" for none), and how many messages we push (flows, campaigns) to one
# customer a day. Both only seed the policy's first row; agents then edit it under
# Cobranzas → Estrategias → Eventos.
MESSAGES_QUIET_HOURS = env_time_range("MESSAGES_QUIET_HOURS", default="20:00-08:00")
MESSAGES_DAILY_LIMIT = env.int("MESSAGES_DAILY_LIMIT", default=3)
# Conversations: an inbound message unanswered this long shows among the alerts.
COLLECTIONS_UNANSWERED_HOURS = env.int("COLLECTIONS_UNANSWERED_HOURS", default=4)
# Who is told by e-mail about every payment to verify (comma-separated).
COLLECTIONS_TEAM_EMAILS = [address for _name, address in env_addresses("COLLECTIONS_TEAM_EMAILS")]
DOCUSEAL_BASE_URL = env.str("DOCUSEAL_BASE_URL", default="https://api.docuseal.com")
DOCUSEAL_API_KEY = env.str("DOCUSEAL_API_KEY", default="")
DOCUSEAL_WEBHOOK_SECRET = env.str("DOCUSEAL_WEBHOOK_SECRET", default="")
# DocuSeal sends the secret in a header whose name the account chooses (Webhooks → Secret).
DOCUSEAL_WEBHOOK_HEADER = env.str("DOCUSEAL_WEBHOOK_HEADER", default="X-Docuseal-Secret")
DOCUSEAL_TEMPLATE_ID = env_id("DOCUSEAL_TEMPLATE_ID")
DOCUSEAL_SIGNER_ROLE = env.str("DOCUSEAL_SIGNER_ROLE", default="First Party")
# The template's roles of the other signers: the co-signer (products that ask for one)
# and the lender's representative, who signs every contract when an e-mail is set here
# (DocuSeal asks the signers in this order: borrower, co-signer, lender).
DOCUSEAL_COSIGNER_ROLE = env.str("DOCUSEAL_COSIGNER_ROLE", default="Aval")
DOCUSEAL_LENDER_ROLE = env.str("DOCUSEAL_LENDER_ROLE", default="Prestamista")
DOCUSEAL_LENDER_SIGNER_EMAIL = env.str("DOCUSEAL_LENDER_SIGNER_EMAIL", default="")
DOCUSEAL_LENDER_SIGNER_NAME = env.str("DOCUSEAL_LENDER_SIGNER_NAME", default="")
CALCOM_BASE_URL = env.str("CALCOM_BASE_URL", default="https://api.cal.com")
CALCOM_API_KEY = env.str("CALCOM_API_KEY", default="")
CALCOM_WEBHOOK_SECRET = env.str("CALCOM_WEBHOOK_SECRET", default="")

# --- Messaging channels (integrations/sms.py, integrations/whatsapp.py) -----------------
# "twilio", "log" (written to the log, sent nowhere) or a name an app registered;
# blank: Twilio when its account SID and auth token are set, else the log.
SMS_PROVIDER = env.str("SMS_PROVIDER", default="")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
# Also the key Twilio signs its webhooks with (X-Twilio-Signature).
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
# The sender: a number of the account, or a Messaging Service SID (which wins when both are set).
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_URL = env.str("TWILIO_API_URL", default="https://api.twilio.com")
# Where Twilio posts status callbacks and inbound SMS; it signs this exact URL.
# Empty (as .env.example leaves it) means the default too.
TWILIO_STATUS_CALLBACK_URL = (
    env.str("TWILIO_STATUS_CALLBACK_URL", default="").strip()
    or SITE_URL.rstrip("/") + "/webhooks/twilio/"
)
# Meta's Graph API, with its version.
WHATSAPP_API_URL = env.str("WHATSAPP_API_URL", default="https://graph.facebook.com/v21.0")
WHATSAPP_ACCESS_TOKEN = env.str("WHATSAPP_ACCESS_TOKEN", default="")
# The business number's id in WhatsApp Manager (not the number itself).
WHATSAPP_PHONE_NUMBER_ID = env.str("WHATSAPP_PHONE_NUMBER_ID", default="")
# The Meta app's secret: it signs the webhooks' bodies (X-Hub-Signature-256).
WHATSAPP_APP_SECRET = env.str("WHATSAPP_APP_SECRET", default="")
# Chosen when subscribing the webhook; Meta's GET handshake must echo it (hub.verify_token).
WHATSAPP_VERIFY_TOKEN = env.str("WHATSAPP_VERIFY_TOKEN", default="")

RECAPTCHA_VERIFY_URL = env.str(
    "RECAPTCHA_VERIFY_URL", default="https://www.google.com/recaptcha/api/siteverify"
)
RECAPTCHA_SITE_KEY = env.str("RECAPTCHA_SITE_KEY", default="")
RECAPTCHA_SECRET_KEY = env.str("RECAPTCHA_SECRET_KEY", default="")
RECAPTCHA_MIN_SCORE = env.float("RECAPTCHA_MIN_SCORE", default=0.5)

# --- Rate limits on public pages and the API (fixed window per client address) ---------
# Where the counters live (lib/ratelimit.py): Redis when there is one; otherwise a SQLite
# file every process on this machine shares, since the file cache cannot count atomically.
RATELIMIT_STORE = "redis" if REDIS_URL else "sqlite"
RATELIMIT_SQLITE_PATH = VAR_DIR / "ratelimit.sqlite3"
# Behind N proxies that append X-Forwarded-For, set N; 0 trusts only REMOTE_ADDR.
RATELIMIT_TRUSTED_PROXIES = env.int("RATELIMIT_TRUSTED_PROXIES", default=0)
API_PREVIEW_RATE_LIMIT = env.str("API_PREVIEW_RATE_LIMIT", default="60/m")
# Customer portal: code requests per client address.
PORTAL_IDENTIFY_RATE_LIMIT = env.str("PORTAL_IDENTIFY_RATE_LIMIT", default="10/h")
# Customer portal: code requests per document, whoever asks (each one messages the customer).
PORTAL_IDENTIFY_DOCUMENT_RATE_LIMIT = env.str("PORTAL_IDENTIFY_DOCUMENT_RATE_LIMIT", default="5/h")
# Customer portal: codes tried per client address.
PORTAL_CODE_RATE_LIMIT = env.str("PORTAL_CODE_RATE_LIMIT", default="20/h")
# Customer portal: "call me" requests without a code, per client address.
PORTAL_CALL_RATE_LIMIT = env.str("PORTAL_CALL_RATE_LIMIT", default="3/h")
# Customer portal: minutes without activity before the debtor must identify again.
PORTAL_SESSION_IDLE_MINUTES = env.int("PORTAL_SESSION_IDLE_MINUTES", default=20)
# The collection bot's requests per document number, whichever client asks (enumeration).
BOT_API_DOCUMENT_RATE_LIMIT = env.str("BOT_API_DOCUMENT_RATE_LIMIT", default="10/m")
CALCULATOR_RATE_LIMIT = env.str("CALCULATOR_RATE_LIMIT", default="120/m")
CALCULATOR_LEAD_RATE_LIMIT = env.str("CALCULATOR_LEAD_RATE_LIMIT", default="5/h")

# --- Integrations inbox and outbox ------------------------------------------------------
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=10)
OUTBOX_BACKOFF_BASE_SECONDS = env.int("OUTBOX_BACKOFF_BASE_SECONDS", default=30)
OUTBOX_BACKOFF_MAX_SECONDS = env.int("OUTBOX_BACKOFF_MAX_SECONDS", default=3600)
# Tries of a webhook before it waits for a replay from admin (integrations.services.retry_wait).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)
# A webhook body over this many bytes is refused with 413 before it is read or parsed.
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
# Days a sent outbox message, and a processed or ignored webhook event, are kept before the
# daily cleanup deletes them (integrations.housekeeping); failed ones are never deleted.
OUTBOX_KEEP_DAYS = env.int("OUTBOX_KEEP_DAYS", default=90)
WEBHOOK_EVENTS_KEEP_DAYS = env.int("WEBHOOK_EVENTS_KEEP_DAYS", default=90)
for _name in ("OUTBOX_KEEP_DAYS", "WEBHOOK_EVENTS_KEEP_DAYS"):
    if not 7 <= globals()[_name] <= 3650:
        raise ImproperlyConfigured(f"{_name} must be between 7 and 3650 days.")

# --- The lender, as generated documents name it ---------------------------------------
COMPANY_NAME = env.str("COMPANY_NAME", default="Cartera")
COMPANY_RUC = env.str("COMPANY_RUC", default="")
COMPANY_ADDRESS = env.str("COMPANY_ADDRESS", default="")

# --- Documents ----------------------------------------------------------------------------
# LibreOffice's soffice, which makes the PDF copy of generated documents (lib/office.py);
# empty: "soffice" on the PATH. Without it documents stay DOCX and say why.
LIBREOFFICE_BINARY = env.str("LIBREOFFICE_BINARY", default="")

# --- Demo -------------------------------------------------------------------------------
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="demo1234")

# --- Errors and logs --------------------------------------------------------------------
# Who gets an e-mail for each server error (500) when DEBUG is off; empty: nobody.
ADMINS = env_addresses("ADMINS")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
EMAIL_SUBJECT_PREFIX = "[Cartera] "
# Error reports to Sentry, only when a DSN is set: errors of requests and of tasks.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    from lib.request_context import tag_sentry_event

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # No user, cookies or client address; no form bodies either: they are customers'
        # names, documents and phones.
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
        # The request id of the log lines and of the 500 page, as a tag.
        before_send=tag_sentry_event,
    )
    # A request for another host is answered 400, not an error of ours (LOGGING below).
    from sentry_sdk.integrations.logging import ignore_logger

    ignore_logger("django.security.DisallowedHost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "lib.request_context.RequestContextFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        "once_a_minute": {"()": "lib.log_throttle.ThrottleFilter", "window": 60},
    },
    "formatters": {
        # request_id: X-Request-ID (lib/middleware.py), in tasks the sending request's;
        # user_id: the signed-in user's; "-" when there is none.
        "console": {
            "format": (
                "%(asctime)s %(levelname)s %(name)s "
                "[request_id=%(request_id)s user_id=%(user_id)s] %(message)s"
            ),
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_context"],
            "formatter": "console",
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's lines reach the console through the root; its errors also mail ADMINS.
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        # A request for another host (every scanner sends some) is answered 400: logged on
        # the console, not mailed to ADMINS (nor sent to Sentry) each time.
        "django.security.DisallowedHost": {
            "handlers": ["console"],
            "level": "WARNING",
            "propagate": False,
        },
        # Redis down: django-redis logs every cache call it answered with a miss, dozens a
        # page. The first of a burst is logged (an ERROR), then a WARNING a minute with
        # how many more there were (lib/log_throttle.py). On the logger, not a handler, so
        # that Sentry does not get the others either.
        DJANGO_REDIS_LOGGER: {"filters": ["once_a_minute"]},
        # The same outage, once per public form sent (a rate not counted, a hold not taken).
        "lib.ratelimit": {"filters": ["once_a_minute"]},
    },
}
