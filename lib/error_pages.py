"""The error pages (400, 403, CSRF, 404, 405, 500): Spanish, on a layout that needs nothing.

config/urls.py names these as Django's handlers, and settings.CSRF_FAILURE_VIEW the CSRF
one. Django's own handlers render with the request's context processors, and our
navigation asks the database for the user's permissions; they also run the CSRF check
again first, which reads the form body again: a body that could not be read fails a
second time, inside the error page, and the visitor gets the server's bare 500. These
render their template with a context of their own, so the 500 page shows even when the
database is down.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.template import loader


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, "400.html", status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render_error(request, "500.html", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Answer a form sent without a valid CSRF token: an expired page, or cookies refused."""
    return render_error(
        request, "403_csrf.html", status=403, no_cookie=reason == REASON_NO_CSRF_COOKIE
    )


def render_error(
    request: HttpRequest, template_name: str, *, status: int, **context
) -> HttpResponse:
    """Render an error page with no context processors: no database, no user, no session."""
    # The id of the request's log lines (lib.middleware.RequestIdMiddleware), for support.
    context["request_id"] = getattr(request, "request_id", "")
    context["home_url"] = home_of(request.path)
    return HttpResponse(loader.render_to_string(template_name, context), status=status)


def home_of(path: str) -> str:
    """Where "Ir al inicio" leads from `path`: a public area's own start (a debtor on the
    portal has no business at the staff's sign-in page), else the site's."""
    for start in settings.PUBLIC_AREA_STARTS:
        if path.startswith(start):
            return start
    return "/"


class MethodNotAllowedPage:
    """Give a 405 without a body (Django's require_POST & co.) the Spanish error page.

    A visitor who opens a form's address (a link shared from the payment page, the
    address bar) got a blank page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and not response.content:
            page = render_error(request, "405.html", status=405)
            if response.has_header("Allow"):
                page["Allow"] = response["Allow"]
            return page
        return response
