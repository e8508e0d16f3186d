"""Queue a list's large export, write it in a worker, and delete old files."""

import datetime
import logging
import tempfile
from functools import partial

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.http import Http404, HttpRequest
from django.urls import Resolver404, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import ExportJob
from lib import exports, queue
from lib import progress as lib_progress

logger = logging.getLogger(__name__)

# How long a written file (and its job) is kept: the daily cleanup deletes older ones.
EXPORT_KEEP_DAYS = 7
# How long a job's pulse is kept in the cache: longer than lib.progress.ABANDONED_AFTER.
PROGRESS_CACHE_SECONDS = 60 * 60


@transaction.atomic
def queue_export(request: HttpRequest, *, file_format: str, total: int, filename: str) -> str:
    """Record the export the list request asks for and send it to a worker; return the URL
    of the page that follows it (lib.exports' queuer)."""
    job = ExportJob.objects.create(
        created_by=request.user,
        list_name=filename,
        path=request.path_info,  # what resolve() reads: without a script prefix
        query=request.GET.urlencode(),
        file_format=file_format,
        total=total,
    )
    queue.enqueue("crm.run_export", job_id=job.pk)
    return reverse("exports:list")


def run_export(*, job_id: int) -> ExportJob | None:
    """Write a queued job's file as its owner's list shows it; None if it was not queued.

    Claimed first (queued → running), so a duplicate delivery does nothing; a job left
    running by a worker that died (no progress for lib.progress.ABANDONED_AFTER) is taken
    up again from the start when its task is delivered again (acks late). The rows
    written are saved every lib.exports.PROGRESS_EVERY rows. A person who lost the list's
    permission, a list that no longer exists or filters it no longer accepts fail the job
    with the reason.
    """
    if not lib_progress.claim(
        ExportJob.objects.all(),
        job_id,
        queued=ExportJob.Status.QUEUED,
        running=ExportJob.Status.RUNNING,
        key=_progress_key(job_id),
    ):
        return None
    job = ExportJob.objects.select_related("created_by").get(pk=job_id)
    try:
        with tempfile.TemporaryFile() as handle:
            target = exports.Target(handle, on_progress=partial(_save_progress, job.pk))
            exports.rebuild(user=job.created_by, path=job.path, query=job.query, target=target)
            handle.seek(0)
            job.file.save(target.filename, File(handle), save=False)
    except PermissionDenied:
        return _fail(job, _("Ya no tiene permiso para ver esta lista."))
    except (Resolver404, Http404):
        return _fail(job, _("La lista ya no existe."))
    except exports.Refused as error:
        return _fail(job, str(error))
    except Exception:
        logger.exception("Export %s failed", job.pk)
        return _fail(job, _("Error inesperado al escribir el archivo."))
    job.file_name = target.filename
    job.rows_written = target.rows
    job.total = target.total or 0
    job.status = ExportJob.Status.DONE
    job.finished_at = timezone.now()
    job.save()
    return job


def _save_progress(job_id: int, rows: int) -> None:
    ExportJob.objects.filter(pk=job_id).update(rows_written=rows)
    # The job's pulse (lib.progress.claim): a running job without it is abandoned.
    lib_progress.save(_progress_key(job_id), {"rows": rows}, PROGRESS_CACHE_SECONDS)


def _progress_key(job_id: int) -> str:
    return f"crm:export:{job_id}:progress"


def _fail(job: ExportJob, reason: str) -> ExportJob:
    if job.file:
        job.file.delete(save=False)
    job.status = ExportJob.Status.FAILED
    job.failure = reason
    job.finished_at = timezone.now()
    job.save()
    return job


def delete_old_exports(*, now: datetime.datetime | None = None) -> int:
    """Delete the jobs asked for more than EXPORT_KEEP_DAYS ago, files and all; return how
    many."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=EXPORT_KEEP_DAYS)
    deleted = 0
    for job in ExportJob.objects.filter(created_at__lt=cutoff).order_by("pk").iterator():
        if job.file:
            job.file.delete(save=False)
        job.delete()
        deleted += 1
    if deleted:
        logger.info("Deleted %s export(s) asked for before %s", deleted, cutoff)
    return deleted
