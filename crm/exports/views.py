"""Screens of the queued exports: the person's own jobs, their progress, their file."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.exports import queries, services
from crm.models import ExportJob
from lib import files


def _context(request: HttpRequest) -> dict:
    jobs = list(queries.jobs_of(request.user)[: queries.JOBS_SHOWN])
    return {"jobs": jobs, "is_running": any(not job.is_finished for job in jobs)}


@require_GET
def export_list(request: HttpRequest) -> HttpResponse:
    """The person's exports, newest first; the page refreshes them while one is running."""
    return render(request, "crm/exports/export_list.html", _context(request))


@require_GET
def export_progress(request: HttpRequest) -> HttpResponse:
    """The jobs block alone: what the page asks for every 2 seconds while one is running."""
    return render(request, "crm/exports/partials/export_jobs.html", _context(request))


@require_GET
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The written file, as an attachment, to the person who asked for it alone, while
    they may still see its list (403 on their exports page, saying why, otherwise)."""
    job = queries.export_for(request.user, pk)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404(_("Esta exportación no tiene archivo."))
    refusal = services.download_refusal(job)
    if refusal:
        messages.error(
            request,
            _("No se entregó el archivo «%(name)s»: %(reason)s")
            % {"name": job.file_name, "reason": refusal},
        )
        return render(request, "crm/exports/export_list.html", _context(request), status=403)
    return files.serve(job.file, filename=job.file_name)
