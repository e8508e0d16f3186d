import logging

import redis
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_GET

from config.api import api
from crm import views as crm_views
from crm.gestiones.campaigns import urls as campaign_urls
from crm.gestiones.surveys import urls as survey_urls
from lib.login import AdminLoginForm, LoginForm, PasswordChangeView

logger = logging.getLogger(__name__)

admin.site.site_header = "Cartera · Administración"
admin.site.site_title = "Cartera"
admin.site.index_title = "Configuración"
admin.site.login_form = AdminLoginForm


@require_GET
@login_not_required
def healthz(request: HttpRequest) -> JsonResponse:
    """Answer that this process serves requests (docker-compose's check); it checks
    nothing else, and costs nothing. The load balancer asks `readyz`."""
    return JsonResponse({"status": "ok"})


@require_GET
@login_not_required
def readyz(request: HttpRequest) -> JsonResponse:
    """Answer the load balancer: 200 when the database and Redis answer, else 503 naming
    which failed. Without Redis (the embedded default) only the database is checked."""
    checks = {"database": _database_answers(), "redis": _redis_answers()}
    failed = [name for name, ok in checks.items() if ok is False]
    return JsonResponse(
        {
            "status": "unavailable" if failed else "ok",
            "checks": {
                name: "ok" if ok else ("failed" if ok is False else "not used")
                for name, ok in checks.items()
            },
        },
        status=503 if failed else 200,
    )


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any driver's error: the answer is "failed"
        logger.warning("readyz: the database did not answer", exc_info=True)
        return False
    return True


def _redis_answers() -> bool | None:
    """Ping REDIS_URL's Redis directly (the cache hides its errors, and may not be the
    Redis one, as in the tests); None without one."""
    if not settings.REDIS_URL:
        return None
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception:  # connection refused, timeout...
        logger.warning("readyz: Redis did not answer", exc_info=True)
        return False
    return True


urlpatterns = [
    path("", crm_views.home, name="home"),
    path(
        "ingresar/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=LoginForm
        ),
        name="login",
    ),
    path("salir/", auth_views.LogoutView.as_view(), name="logout"),
    path("cuenta/contrasena/", PasswordChangeView.as_view(), name="password_change"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("calculadora/", include("credits.calculator.urls")),
    path("exportaciones/", include("crm.exports.urls")),
    # Before the apps whose patterns are many, so their webhooks are found at once: their
    # own start with a few fixed prefixes.
    path("", include("collections_app.urls")),
    path("", include("callcenter.urls")),
    path("", include("recovery.urls")),
    path("", include("crm.urls")),
    path("", include("credits.urls")),
    path("", include("crm.gestiones.urls")),
    # Public pages of the gestiones app: an inbound campaign's form, a survey's link.
    path("campana/", include(campaign_urls.public_urlpatterns)),
    path("encuesta/", include(survey_urls.public_urlpatterns)),
]

# Spanish pages on a layout that needs no database or signed-in user (lib/error_pages.py).
handler400 = "lib.error_pages.bad_request"
handler403 = "lib.error_pages.permission_denied"
handler404 = "lib.error_pages.page_not_found"
handler500 = "lib.error_pages.server_error"
# No URL serves MEDIA_ROOT, under DEBUG either: uploaded and generated files are sent by
# views that check who asks (lib/files.py).
