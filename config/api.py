"""The JSON API at /api/v1/: one NinjaAPI, its OpenAPI document and its docs page.

Each app adds its router here. The API authenticates on its own (session by default,
per-client tokens where an endpoint declares them), so its views are exempt from
LoginRequiredMiddleware, which would answer a client with a redirect to the login page.
"""

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI
from ninja.errors import HttpError, Throttled, ValidationError
from ninja.openapi.docs import Swagger
from ninja.security import django_auth

from credits.api import router as credits_router


class SelfHostedSwagger(Swagger):
    """Swagger UI from django-ninja's bundled static files, never from its CDN.

    Ninja falls back to a CDN template when "ninja" is not in INSTALLED_APPS; rendering
    the bundled template directly fails loudly instead. That template passes its settings
    as application/json and starts Swagger UI from a static file, so CSP's
    script-src 'self' holds.
    """

    default_settings = {
        **Swagger.default_settings,
        # Swagger UI's default asks validator.swagger.io for a badge image: an outside call.
        "validatorUrl": None,
    }

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        swagger_settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        context = {
            "swagger_settings": json.dumps(swagger_settings),
            "api": api,
            # Session auth checks CSRF on writes; Swagger UI sends the token from the page.
            "add_csrf": True,
        }
        return render(request, "ninja/swagger.html", context)


def api_home(request: HttpRequest, **kwargs: Any) -> JsonResponse:
    """/api/v1/ itself: where the API is described, for anyone (ninja answered a 404 page)."""
    return JsonResponse(
        {
            "docs": request.build_absolute_uri(reverse("api-v1:openapi-view")),
            "openapi": request.build_absolute_uri(reverse("api-v1:openapi-json")),
        }
    )


class CarteraAPI(NinjaAPI):
    @property
    def urls(self) -> tuple[list, str, str]:
        """Return ninja's URL patterns, each view marked `login_not_required`; the root
        (which ninja keeps to know its own path) answers with `api_home`."""
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if pattern.name == "api-root":
                pattern.callback = api_home
            login_not_required(pattern.callback)
        return patterns, app_name, namespace


api = CarteraAPI(
    title="Cartera API",
    version="1",
    urls_namespace="api-v1",
    docs=SelfHostedSwagger(),
    docs_url="/docs",
    # Secure by default: an endpoint that names no auth needs a signed-in user, as the
    # rest of the site does; public endpoints say auth=None.
    auth=django_auth,
)


@api.exception_handler(Throttled)
def too_many_requests(request: HttpRequest, exc: Throttled) -> HttpResponse:
    """Answer 429 in Spanish; ninja adds the Retry-After header."""
    return api.create_response(
        request,
        {"detail": _("Demasiadas solicitudes. Espere un momento e intente de nuevo.")},
        status=429,
    )


# ninja's own messages, for requests it refuses before any endpoint runs.
_NINJA_MESSAGES = {
    "Cannot parse request body": gettext_lazy(
        "No se pudo leer el cuerpo de la solicitud: envíe JSON válido o un formulario."
    ),
    "Field required": gettext_lazy("Este campo es obligatorio."),
}


@api.exception_handler(RequestDataTooBig)
def body_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    """Answer 413 in JSON, not Django's HTML page, for a body over DATA_UPLOAD_MAX_MEMORY_SIZE."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1_000_000
    return api.create_response(
        request,
        {
            "detail": _(
                "La solicitud es demasiado grande (hasta %(mb).1f MB): divídala en varias o "
                "suba un archivo."
            )
            % {"mb": limit}
        },
        status=413,
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """Answer ninja's refusals (an unreadable body) in Spanish."""
    message = str(exc)
    return api.create_response(
        request, {"detail": str(_NINJA_MESSAGES.get(message, message))}, status=exc.status_code
    )


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """Answer 422 with each field's error; pydantic's "Field required" in Spanish."""
    errors = [
        {**error, "msg": str(_NINJA_MESSAGES.get(error.get("msg", ""), error.get("msg", "")))}
        for error in exc.errors
    ]
    return api.create_response(request, {"detail": errors}, status=422)


api.add_router("/", credits_router, tags=["credits"])
api.add_router("/cobranzas/", "collections_app.api.router")
api.add_router("/recuperacion/", "recovery.api.router")
api.add_router("/cartera/", "crm.api.router")
api.add_router("/cartera/creditos", "credits.api.book_router")
