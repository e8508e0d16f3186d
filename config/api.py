"""The JSON API at /api/v1/: one NinjaAPI, its OpenAPI document and its docs page.

Each app adds its router here. The API authenticates on its own (session by default,
per-client tokens where an endpoint declares them), so its views are exempt from
LoginRequiredMiddleware, which would answer a client with a redirect to the login page.
"""

import functools
import json
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signals
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.log import log_response
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.openapi.docs import Swagger
from ninja.security import django_auth

from credits.api import router as credits_router
from crm.api_schemas import spanish_message
from lib import request_context

# How long a client waits before retrying when the database failed (503, Retry-After).
DATABASE_RETRY_SECONDS = 10


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


def unknown_path(request: HttpRequest, rest: str) -> JsonResponse:
    """Any other path under /api/v1/: a 404 in JSON, as the API answers, not the site's page."""
    return JsonResponse(
        {
            "detail": _("Esta dirección no existe en la API: vea %(docs)s.")
            % {"docs": reverse("api-v1:openapi-view")}
        },
        status=404,
    )


def json_not_allowed(view: Callable) -> Callable:
    """Wrap a ninja view so a method the path lacks gets a 405 in JSON (ninja answers it in
    plain English text), keeping its Allow header."""

    @functools.wraps(view)  # keeps ninja's csrf_exempt and login_not_required marks
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and "Allow" in response:
            allowed = response["Allow"]
            response = JsonResponse(
                {
                    "detail": _("Método %(method)s no admitido aquí; use %(allowed)s.")
                    % {"method": request.method, "allowed": allowed}
                },
                status=405,
            )
            response["Allow"] = allowed
        return response

    return wrapper


class CarteraAPI(NinjaAPI):
    @property
    def urls(self) -> tuple[list, str, str]:
        """Return ninja's URL patterns, each view marked `login_not_required` and answering
        a wrong method in JSON; the root (which ninja keeps to know its own path) answers
        with `api_home`, and any other path with a JSON 404."""
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if pattern.name == "api-root":
                pattern.callback = csrf_exempt(api_home)
            else:
                pattern.callback = json_not_allowed(pattern.callback)
            login_not_required(pattern.callback)
        # Unnamed: the URL walk (tests/test_url_walk.py) requests named patterns only. Neither
        # it nor the root writes anything: a client's POST gets their JSON, not the CSRF page.
        patterns.append(path("<path:rest>", csrf_exempt(login_not_required(unknown_path))))
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
    """Answer 429 in Spanish, saying when to come back (Retry-After): ninja sets it after a
    router's throttle, but not for a Throttled an endpoint raises (the bot's per-document
    limit)."""
    response = api.create_response(
        request,
        {"detail": _("Demasiadas solicitudes. Espere un momento e intente de nuevo.")},
        status=429,
    )
    if exc.wait is not None:
        response["Retry-After"] = str(math.ceil(exc.wait))
    return response


# ninja's own messages, for requests it refuses before any endpoint runs.
_NINJA_MESSAGES = {
    "Cannot parse request body": gettext_lazy(
        "No se pudo leer el cuerpo de la solicitud: envíe JSON válido o un formulario."
    ),
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


@api.exception_handler(TooManyFieldsSent)
@api.exception_handler(TooManyFilesSent)
def too_many_fields(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Answer 400 in JSON for more parameters or files than Django reads
    (DATA_UPLOAD_MAX_NUMBER_FIELDS, DATA_UPLOAD_MAX_NUMBER_FILES), not a server error."""
    return api.create_response(
        request,
        {
            "detail": _(
                "La solicitud trae demasiados parámetros o archivos (hasta %(fields)s "
                "parámetros y %(files)s archivos)."
            )
            % {
                "fields": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
                "files": settings.DATA_UPLOAD_MAX_NUMBER_FILES,
            }
        },
        status=400,
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """Answer ninja's refusals (an unreadable body) in Spanish; under DEBUG ninja adds the
    parser's own words in parentheses, which are dropped too."""
    message = str(exc)
    for english, spanish in _NINJA_MESSAGES.items():
        if message.startswith(english):
            message = str(spanish)
    return api.create_response(request, {"detail": message}, status=exc.status_code)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    """Answer 401 naming the scheme to use (RFC 6750), which some HTTP clients wait for
    before they send their credentials: every endpoint that needs one takes a token."""
    response = http_error(request, exc)
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    """Answer a 404 raised by Django (get_object_or_404) in Spanish, not ninja's "Not Found"."""
    return api.create_response(request, {"detail": _("No se encontró lo que pidió.")}, status=404)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """Answer 422 with each field's error in Spanish, whichever schema raised it (path and
    query parameters and public endpoints' schemas too), as type, loc and msg."""
    if _form_sent_otherwise(request, exc):
        # A JSON body to an endpoint that takes a form and a file: every field was
        # "missing", which is not what is wrong.
        errors = [
            {
                "type": "multipart_expected",
                "loc": ["body"],
                "msg": _(
                    "Este pedido se envía como multipart/form-data (los campos y el "
                    "archivo), no como %(type)s."
                )
                % {"type": request.content_type}
                if request.content_type
                else _("Este pedido se envía como multipart/form-data (los campos y el archivo)."),
            }
        ]
    else:
        errors = [
            {
                "type": error.get("type", ""),
                "loc": error.get("loc", []),
                "msg": spanish_message(error),
            }
            for error in exc.errors
        ]
    return api.create_response(request, {"detail": errors}, status=422)


@api.exception_handler(Exception)
def server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Answer an endpoint's unexpected error in JSON with the request's id, as every other
    refusal, not with the site's HTML page; a database that failed (dropped, a deadlock, a
    lock timeout) is a 503 with Retry-After, which a client may retry.

    Reported as Django reports what it gives up on: `got_request_exception` (Sentry) and
    an error line with the traceback on django.request (the console, and ADMINS by e-mail).
    What Django answers itself (403, 400) is left to it, as ninja did.
    """
    if isinstance(exc, (PermissionDenied, BadRequest, SuspiciousOperation, MultiPartParserError)):
        raise exc
    signals.got_request_exception.send(sender=None, request=request)
    request_id = getattr(request, "request_id", "") or request_context.current_request_id()
    if isinstance(exc, OperationalError):
        message = _(
            "El servicio no está disponible por un momento: la base de datos no respondió. "
            "Intente de nuevo en %(seconds)s segundos."
        ) % {"seconds": DATABASE_RETRY_SECONDS}
        status = 503
    else:
        message = _("Error interno: el servidor falló al atender la solicitud.")
        status = 500
    if request_id:
        message += " " + _("Si necesita ayuda, indique esta referencia: %(id)s.") % {
            "id": request_id
        }
    response = api.create_response(request, {"detail": message}, status=status)
    if status == 503:
        response["Retry-After"] = str(DATABASE_RETRY_SECONDS)
    log_response(
        "%s: %s",
        response.reason_phrase,
        request.path,
        response=response,
        request=request,
        exception=exc,
    )
    return response


def _form_sent_otherwise(request: HttpRequest, exc: ValidationError) -> bool:
    """Whether an endpoint that reads a form (fields and files) was sent another kind of
    body: its form's fields are then all reported missing."""
    return not request.content_type.startswith(
        ("multipart/form-data", "application/x-www-form-urlencoded")
    ) and any(error.get("loc", ("",))[0] in ("form", "file") for error in exc.errors)


api.add_router("/", credits_router, tags=["credits"])
api.add_router("/cobranzas/", "collections_app.api.router")
api.add_router("/recuperacion/", "recovery.api.router")
api.add_router("/cartera/", "crm.api.router")
api.add_router("/cartera/creditos", "credits.api.book_router")
