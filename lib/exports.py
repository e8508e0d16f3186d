"""List exports too large for a web request: queued, then rebuilt by a worker into a file.

A list's `?export=` (lib.lists.export_table) over EXPORT_MAX_ROWS rows is handed to the
queuer an app registers here (`register_queuer`; lib keeps no records). The worker then
calls the same list view, as the person who asked, with the same path and query string
(`rebuild`): the request carries a `Target`, and export_table writes the file into it
instead of answering, so the file has the rows, filters, order and columns the person saw,
and the view checks their permissions again.
"""

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.urls import resolve
from django.utils.translation import gettext as _
from django_htmx.middleware import HtmxDetails

# How often a queued export reports the rows it has written.
PROGRESS_EVERY = 5_000

_TARGET_ATTRIBUTE = "_lib_export_target"

# (request, file_format, total, filename) -> the URL of the page that lists the job.
Queuer = Callable[..., str]
_queuers: list[Queuer] = []


class Refused(Exception):
    """The worker cannot write the file; the message (Spanish) says why, for the person."""


class Target:
    """Where a queued export writes its file, and whom it tells how many rows it wrote."""

    def __init__(
        self,
        file: BinaryIO,
        *,
        on_progress: Callable[[int], None] = lambda rows: None,
        every: int | None = None,
    ) -> None:
        self.file = file
        self.on_progress = on_progress
        self.every = every or PROGRESS_EVERY
        self.rows = 0
        self.total: int | None = None
        # The file's name as the direct export names it ("clientes-2026-12-07.csv"); set
        # once the list wrote the file.
        self.filename: str | None = None

    def counting(self, rows: Iterable[list]) -> Iterator[list]:
        """Yield `rows`, reporting every `every` rows how many were written."""
        for row in rows:
            yield row
            self.rows += 1
            if self.rows % self.every == 0:
                self.on_progress(self.rows)

    def write(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.file.write(chunk)


def register_queuer(queuer: Queuer) -> None:
    """Let lists queue large exports: `queuer(request, file_format=, total=, filename=)`
    records the job, sends it to a worker and returns the URL where it is followed."""
    if queuer not in _queuers:
        _queuers[:] = [queuer]


def can_queue() -> bool:
    return bool(_queuers)


def queue(request: HttpRequest, *, file_format: str, total: int, filename: str) -> str:
    """Queue the export the request asks for; return the URL of the page that follows it."""
    return _queuers[0](request, file_format=file_format, total=total, filename=filename)


def target_of(request: HttpRequest) -> Target | None:
    """The file a worker's rebuilt request writes the export into (None: answer it)."""
    return getattr(request, _TARGET_ATTRIBUTE, None)


def rebuild(*, user, path: str, query: str, target: Target) -> HttpResponse:
    """Call the list view at `path?query` as `user` would, its export written to `target`.

    The view's own checks run: a user who lost the permission gets PermissionDenied, a
    path that no longer exists Resolver404. A view that answered without writing the file
    (filters it no longer accepts) raises Refused.
    """
    match = resolve(path)
    request = RequestFactory().get(f"{path}?{query}" if query else path)
    request.user = user
    request.htmx = HtmxDetails(request)
    setattr(request, _TARGET_ATTRIBUTE, target)
    response = match.func(request, *match.args, **match.kwargs)
    if target.filename is None:
        raise Refused(_("La lista no generó el archivo: sus filtros ya no son válidos."))
    return response
