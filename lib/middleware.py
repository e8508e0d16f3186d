"""Middleware that knows no domain: request ids, form bodies we cannot read, private pages.

Their places in settings.MIDDLEWARE matter; each class says where it goes and why.
"""

import codecs
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseStopPolling,
    reswap,
    trigger_client_event,
)

from lib import error_pages, request_context

# The bodies Django parses into request.POST, decoding them with the declared charset.
_FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RequestIdMiddleware:
    """Give each request an id for its log lines, and send it back in X-Request-ID.

    The id is the proxy's (nginx: `proxy_set_header X-Request-ID $request_id;`) when it
    sends a sane one, else a new one. First in the list, so that every line logged about
    the request, a refused one included, carries it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_context.request_id_for(request)
        with request_context.bound(request_id=request.request_id, request=request):
            response = self.get_response(request)
        response[request_context.REQUEST_ID_HEADER] = request.request_id
        return response


class FormCharsetMiddleware:
    """Refuse with the 400 page a form body declared in a charset other than UTF-8.

    Django reads such a body only to raise BadRequest (urlencoded) or decodes it wrong
    (multipart), and an unknown charset it silently ignores. Its error handlers run the
    CSRF check first, which reads the body again and fails again inside the error page:
    the visitor got the server's bare 500. Before CsrfViewMiddleware and anything else
    that reads request.POST; only headers are read here, never the body (webhooks read
    theirs raw).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        charset = request.content_params.get("charset") if request.content_params else None
        if charset is not None and request.content_type in _FORM_CONTENT_TYPES:
            if not _is_utf8(charset):
                return error_pages.bad_request(request)
            # "UTF8", "utf_8": the same codec, in a spelling Django's check refuses.
            request.encoding = "utf-8"
        return self.get_response(request)


def _is_utf8(charset: str) -> bool:
    try:
        return codecs.lookup(charset).name == "utf-8"
    except LookupError:
        return False


class NoStoreForSessionsMiddleware:
    """Mark every response to a signed-in user `Cache-Control: no-store` (and private).

    A signed-in user's pages show customers, loans and documents: no browser cache or
    proxy may keep them (the back button after signing out, a shared computer). "Signed
    in" is read from the session cookie, sent or being set (the sign-in itself), so the
    check costs no query and holds when the database is down; a debtor's session-scoped
    portal pages are covered too. Pages for visitors without a session may be cached as
    before, and WhiteNoise answers static files before this runs. Before
    SessionMiddleware, so that it sees the cookie a response starts a session with.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        cookie = settings.SESSION_COOKIE_NAME
        if (
            cookie in request.COOKIES
            or cookie in response.cookies
            # An API client that authenticates with a token gets private data too.
            or "HTTP_AUTHORIZATION" in request.META
        ):
            add_never_cache_headers(response)
        return response


# Declared (hx-headers, value "1") by each element that refreshes itself: the call queue, the
# inbox, the notifications bell, the progress of an import, a catalog import or a campaign
# launch, the portfolio's figures. is_background_refresh says when a request is one.
BACKGROUND_REFRESH_HEADER = "X-Background-Refresh"
# The event (HX-Trigger) a refresh gets when the session ended, instead of the sign-in:
# detail {"login": the sign-in's URL, back to the page, "message": what to show}.
SESSION_ENDED_EVENT = "session-ended"


def is_background_refresh(request: HttpRequest) -> bool:
    """Say whether the request is a page refreshing itself, which is nobody's activity.

    htmx merges hx-headers from every ancestor (hx-disinherit does not stop them), so a
    sort or page link inside a refreshing list sends BACKGROUND_REFRESH_HEADER too when a
    person clicks it. A refresh is the element asking for itself: the element that fired
    it (HX-Trigger, its id) is the one its answer replaces (HX-Target, its id); htmx sends
    neither for an element without an id (the bell, filling its count). A click is
    another element (a link, a button) than the region it fills, and a boosted link says
    so (HX-Boosted). Refreshes only read: anything else is a person's doing.
    """
    headers = request.headers
    return (
        request.method == "GET"
        and headers.get("HX-Request") == "true"
        and bool(headers.get(BACKGROUND_REFRESH_HEADER))
        and "HX-Boosted" not in headers
        and headers.get("HX-Trigger") == headers.get("HX-Target")
    )


class SessionRefreshMiddleware:
    """Push a signed-in session's expiry forward at most every SESSION_REFRESH_SECONDS.

    Staff sessions end after SESSION_COOKIE_AGE without activity (a page's own refreshes,
    is_background_refresh, are none). Saving the session on
    every request (SESSION_SAVE_EVERY_REQUEST) kept that exact at the price of a write
    per request, the cost of a whole bare page; saving it when it is older than a few
    minutes keeps the expiry within those minutes of the last activity and writes once
    per few minutes. Only sessions the request already read are touched (a health check
    or a webhook never loads one). Right after SessionMiddleware, so that its response
    phase, which saves, runs after this one marks the session.
    """

    KEY = "_refreshed_at"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or not session.accessed or session.is_empty():
            return response
        if is_background_refresh(request):
            # A page refreshing itself is nobody's activity: an unattended queue, or an
            # import left queued, would keep its session open for ever.
            return response
        now = int(time.time())
        # A session being saved anyway (a sign-in, a message) is stamped for free.
        if session.modified or now - session.get(self.KEY, 0) >= settings.SESSION_REFRESH_SECONDS:
            session[self.KEY] = now  # marks it modified: SessionMiddleware saves it
        return response


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's, asking the view before the user: a public view loads no session.

    Django's reads `request.user` first, which loads the session and the user from the
    database for every public request that carries a cookie (a health check, a signed-in
    agent's browser fetching the public survey). In MIDDLEWARE's place of Django's.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(view_func, "login_required", True):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

    def handle_no_permission(self, request, view_func):
        """A person's HTMX request (a form in a page, a link in a list) takes the whole page
        to the sign-in, back to that page after it: a redirect followed in place put the
        sign-in form inside the queue's card and stopped its refreshes.

        A page refreshing itself does not take it away: the bell's refresh, on every page,
        did so within a minute of the session's end and wiped a half-written note. It
        stops refreshing (286), leaves its region as it is (HX-Reswap none) and says so
        with SESSION_ENDED_EVENT, for the page to show with the sign-in's link.
        """
        if request.headers.get("HX-Request") != "true":
            return super().handle_no_permission(request, view_func)
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = urlunsplit(("", "", page.path, page.query, "")) or request.get_full_path()
        if not url_has_allowed_host_and_scheme(back, allowed_hosts=None):
            back = "/"
        login = redirect_to_login(
            back, self.get_login_url(view_func), self.get_redirect_field_name(view_func)
        )
        if is_background_refresh(request):
            ended = reswap(HttpResponseStopPolling(), "none")
            return trigger_client_event(
                ended,
                SESSION_ENDED_EVENT,
                {"login": login.url, "message": _("Su sesión terminó: vuelva a ingresar.")},
            )
        return HttpResponseClientRedirect(login.url)


# The event (HX-Trigger) a refresh gets when what its region shows was deleted or is no
# longer the person's to see: detail {"message": what to show}.
REFRESH_ENDED_EVENT = "refresh-ended"


class RefreshOfWhatIsGoneMiddleware:
    """Stop a region refreshing itself when what it shows is gone (404) or no longer the
    person's to see (403), and say so.

    htmx swaps nothing for a 4xx and asks again at the next tick: an import's progress
    left open after the import was deleted asked for it every second, for as long as the
    tab stayed open, under a line saying the refresh failed and would be retried. Such a
    refresh gets 286 (htmx stops asking), HX-Reswap none (the region stays as it was) and
    REFRESH_ENDED_EVENT with the reason, which static/js/app.js shows before the region.
    A person's own request for the same address still gets the 404 or 403 page. Right
    after LoginRequiredMiddleware: every view's answer passes through it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code not in (403, 404) or not is_background_refresh(request):
            return response
        if response.status_code == 404:
            message = _("Lo que aquí se mostraba ya no existe: se dejó de actualizar.")
        else:
            message = _("Ya no tiene acceso a lo que aquí se mostraba: se dejó de actualizar.")
        stopped = reswap(HttpResponseStopPolling(), "none")
        return trigger_client_event(stopped, REFRESH_ENDED_EVENT, {"message": message})


# The admin's date drill-down (a list's date_hierarchy: ?created_at__year=2026&…__month=5).
_DRILLDOWN_BOUNDS = {"year": (1, 9998), "month": (1, 12), "day": (1, 31)}


class AdminDateDrilldownMiddleware:
    """Send an admin list a date drill-down it cannot read to its "?e=1" page.

    Django's ChangeList builds the next year, month or day from the query with datetime():
    ?created_at__year=9999 made year 10000 (ValueError) and 99999999999 overflowed, both a
    500 on every list with a date hierarchy (Django 5.2's own behaviour; a
    `created_at__year` lookup in the query string fails the same way). A value
    that is not a whole number in its range gets the page admin shows for any lookup it
    cannot use. Anywhere in MIDDLEWARE: it reads only the path and the query string.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefix = "/admin/"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(self.prefix) and request.GET and "e" not in request.GET:
            for key, values in request.GET.lists():
                part = key.rpartition("__")[2]
                if part in _DRILLDOWN_BOUNDS and not all(
                    _whole_in(value, *_DRILLDOWN_BOUNDS[part]) for value in values
                ):
                    return HttpResponseRedirect(f"{request.path}?e=1")
        return self.get_response(request)


def _whole_in(value: str, low: int, high: int) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 5 and low <= int(value) <= high


class HtmxFragmentTrimMiddleware:
    """Trim the blank lines around an HTML fragment answered to HTMX.

    htmx keeps a fragment's leading and trailing whitespace as text nodes: a list that
    refreshes itself every 5 seconds (the call queue) grew by two nodes a refresh, 4,000
    after 2,000 refreshes, on a page left open all day. After CommonMiddleware in
    MIDDLEWARE, so its Content-Length is counted on the trimmed body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.headers.get("HX-Request") == "true"
            and not response.streaming
            and response.get("Content-Type", "").startswith("text/html")
        ):
            trimmed = response.content.strip()
            if len(trimmed) != len(response.content):
                response.content = trimmed
                if response.has_header("Content-Length"):
                    response["Content-Length"] = str(len(trimmed))
        return response
